"""The lesson's LSTM in NumPy float64: forward with a per-day gate trace, and hand-derived BPTT.

Every array broadcasts: parameters, days and initial memories may each carry batch
dimensions, so one call evaluates many parameter sets on many sequences.

For speed, each quantity lives in one array with the day first (`forget[t]` is day t, one
contiguous row) and every equation writes its result straight into that row (`out=`); the Trace
shows the same arrays with the day on the last axis. Memories have one row more than there are
days: `long[t]` is the long memory before day t, `long[t + 1]` the one after it. No sum is
reordered, so every number is bit for bit what the plain day-by-day loops give.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import cached_property
from types import EllipsisType
from typing import Mapping

import numpy as np

PARAM_NAMES = (
    "wlr1", "wlr2", "blr1",  # forget gate ("long remember %")
    "wpr1", "wpr2", "bpr1",  # input gate ("potential remember %")
    "wp1", "wp2", "bp1",     # candidate ("potential memory")
    "wo1", "wo2", "bo1",     # output gate
)  # fmt: skip

GATES = ("forget", "input", "candidate", "output")
# each gate's (weight on short memory h, weight on input x, bias)
GATE_PARAMS = {
    "forget": ("wlr1", "wlr2", "blr1"),
    "input": ("wpr1", "wpr2", "bpr1"),
    "candidate": ("wp1", "wp2", "bp1"),
    "output": ("wo1", "wo2", "bo1"),
}
Params = Mapping[str, "float | np.ndarray"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-z) = inf for z << 0 gives the exact limit 0
        return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_into(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """sigmoid(z) computed in place in out, with the same roundings (callers silence overflow)."""
    np.exp(np.negative(z, out=out), out=out)
    out += 1.0
    return np.divide(1.0, out, out=out)


@dataclass(frozen=True)
class Trace:
    """Everything the forward pass saw, one entry per day on the last axis."""

    params: dict[str, np.ndarray]
    days: np.ndarray  # x_t
    long_before: np.ndarray  # c_{t-1}
    short_before: np.ndarray  # h_{t-1}
    forget: np.ndarray  # f
    input: np.ndarray  # i
    candidate: np.ndarray  # g
    output: np.ndarray  # o
    long: np.ndarray  # c_t
    short: np.ndarray  # h_t

    @property
    def final_short(self) -> np.ndarray:
        return self.short[..., -1]

    @cached_property
    def tanh_long(self) -> np.ndarray:
        """tanh(c_t), which backward needs: `run` keeps the forward pass's own, any other Trace
        (one from dataclasses.replace, say) computes it from its own `long`."""
        return np.tanh(self.long)


@dataclass(frozen=True)
class Gradients:
    """Gradients of a scalar function of h_T, per batch element."""

    params: dict[str, np.ndarray]
    days: np.ndarray
    long_memory: np.ndarray  # with respect to the initial long memory c_0
    short_memory: np.ndarray  # with respect to the initial short memory h_0
    # per day t, the sensitivities that error analysis needs:
    long: np.ndarray  # d/dc_t
    short: np.ndarray  # d/dh_t
    gates: dict[str, np.ndarray]  # d/d(gate value), keys forget, input, candidate, output
    gate_sums: dict[str, np.ndarray]  # d/d(gate's weighted sum before its squashing function)


def _as_params(params: Params) -> dict[str, np.ndarray]:
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise KeyError(f"missing parameters: {', '.join(missing)}")
    return {name: np.asarray(params[name], dtype=np.float64) for name in PARAM_NAMES}


def _as_days(x) -> np.ndarray:
    days = np.asarray(x, dtype=np.float64)
    if days.ndim == 0 or days.shape[-1] == 0:
        raise ValueError("x needs at least one day on its last axis")
    return days


def _days_last(by_day: np.ndarray) -> np.ndarray:
    """A day-first array seen with the day on the last axis (a view, no copy)."""
    return by_day.transpose(*range(1, by_day.ndim), 0)


def _days_first(days_last: np.ndarray) -> np.ndarray:
    return days_last.transpose(days_last.ndim - 1, *range(days_last.ndim - 1))


def _rows(by_day: np.ndarray, days: int | None = None) -> list[np.ndarray]:
    """Each day's row of a day-first array, as a writable view (an array even for one sequence).
    Given more days than rows, the rows take turns: scratch for values no one reads later."""
    rows = by_day.shape[0]
    return [by_day[t % rows, ...] for t in range(rows if days is None else days)]


def run(params: Params, x, long_memory=0.0, short_memory=0.0) -> Trace:
    """Unroll the lesson's LSTM over the days on x's last axis, recording every gate."""
    return _run(_as_params(params), _as_days(x), long_memory, short_memory, _fresh)


def _fresh(name: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape)


def _run(p: dict[str, np.ndarray], days: np.ndarray, long_memory, short_memory, allocate) -> Trace:
    batch = np.broadcast(days[..., 0], *p.values(), long_memory, short_memory).shape
    steps = days.shape[-1]
    x = np.ascontiguousarray(_days_first(days))
    # long, short: before each day, and after the last
    memories = allocate("memories", (2, steps + 1) + batch)
    memories[0, 0], memories[1, 0] = long_memory, short_memory
    gates = allocate("gates", (5, steps) + batch)  # forget, input, candidate, output, and tanh(c_t)
    long, short = (_rows(m) for m in memories)
    forget, input_, candidate, output, tanh_long = (_rows(g) for g in gates)
    wlr1, wlr2, blr1, wpr1, wpr2, bpr1, wp1, wp2, bp1, wo1, wo2, bo1 = p.values()
    with np.errstate(over="ignore"):  # exp(-z) = inf for z << 0 gives sigmoid's exact limit 0
        for t in range(steps):
            _sigmoid_into(short[t] * wlr1 + x[t] * wlr2 + blr1, out=forget[t])
            _sigmoid_into(short[t] * wpr1 + x[t] * wpr2 + bpr1, out=input_[t])
            np.tanh(short[t] * wp1 + x[t] * wp2 + bp1, out=candidate[t])
            _sigmoid_into(short[t] * wo1 + x[t] * wo2 + bo1, out=output[t])
            np.add(long[t] * forget[t], input_[t] * candidate[t], out=long[t + 1])
            np.multiply(np.tanh(long[t + 1], out=tanh_long[t]), output[t], out=short[t + 1])
    before, after = [_days_last(m[:-1]) for m in memories], [_days_last(m[1:]) for m in memories]
    seen = [_days_last(g) for g in gates]
    trace = Trace(params=p, days=np.broadcast_to(_days_last(x), batch + (steps,)),
                  long_before=before[0], short_before=before[1], forget=seen[0], input=seen[1],
                  candidate=seen[2], output=seen[3], long=after[0], short=after[1])
    vars(trace)["tanh_long"] = seen[4]  # fill the cached_property: reuse the forward pass's tanh(c_t)
    return trace


def forward(params: Params, x, long_memory=0.0, short_memory=0.0) -> np.ndarray:
    """The final short memory h_T; shape is the broadcast batch shape (x.shape[:-1] for scalar params)."""
    return run(params, x, long_memory, short_memory).final_short


def backward(trace: Trace, d_final_short, d_final_long=0.0,
             derivative_slack: float | Mapping[str, np.ndarray] = 0.0) -> Gradients:
    """Backpropagation through time, derived by hand: the forward equations in reverse, day by day.

    d_final_short and d_final_long are the gradients of the function being differentiated with
    respect to h_T and c_T (for the lesson's loss: 2 (h_T - label) and 0). derivative_slack is
    added to every activation's derivative; only error analysis uses it (handlstm.tolerances):
    one number, or per day (day on the last axis) for each of "long" (the cell output's tanh)
    and the four gates.
    """
    return _backward(trace, d_final_short, d_final_long, derivative_slack, per_day=True, allocate=_fresh)


def _backward(trace: Trace, d_final_short, d_final_long, derivative_slack: float, per_day: bool,
              allocate) -> Gradients:
    """backward; without per_day, only the gradients for the 12 names (scratch rows serve every day)."""
    p = trace.params
    x, long_before, short_before = (_days_first(a) for a in (
        trace.days, trace.long_before, trace.short_before))
    forget, input_, candidate, output, tanh_long = (_rows(_days_first(a)) for a in (
        trace.forget, trace.input, trace.candidate, trace.output, trace.tanh_long))
    steps = x.shape[0]
    batch = np.broadcast_shapes(trace.final_short.shape, np.shape(d_final_short), np.shape(d_final_long))
    # sensitivities of the memories before each day, and (row `steps`) of the final ones
    d_memories = allocate("d_memories", (2, steps + 1 if per_day else 2) + batch)
    d_long, d_short = (_rows(m, steps + 1) for m in d_memories)
    d_long[steps][...], d_short[steps][...] = d_final_long, d_final_short
    d_gates = allocate("d_gates", (steps if per_day else 1, 4) + batch)  # d/d(gate value), in GATES order
    d_sums = allocate("d_sums", (steps if per_day else 1, 4) + batch)  # d/d(gate's weighted sum)
    d_forget, d_input, d_candidate, d_output = (_rows(d_gates[:, g], steps) for g in range(4))
    d_forget_sum, d_input_sum, d_candidate_sum, d_output_sum = (_rows(d_sums[:, g], steps) for g in range(4))
    # d_params[g] holds gate g's (weight on h, weight on x, bias): PARAM_NAMES' order
    d_params = allocate("d_params", (len(GATES), 3) + batch)
    d_params.fill(0.0)
    d_weights_short, d_weights_x, d_biases = d_params[:, 0], d_params[:, 1], d_params[:, 2]
    products = allocate("products", (4,) + batch)
    if isinstance(derivative_slack, Mapping):
        slacks = {key: _rows(_days_first(np.asarray(value, dtype=np.float64)))
                  for key, value in derivative_slack.items()}
    for t in reversed(range(steps)):
        if isinstance(derivative_slack, Mapping):
            slack = {key: rows[t] for key, rows in slacks.items()}
        else:
            slack = dict.fromkeys(("long",) + GATES, derivative_slack)
        # h_t = tanh(c_t) * o
        np.multiply(d_short[t + 1], tanh_long[t], out=d_output[t])
        d_long[t + 1] += d_short[t + 1] * output[t] * _slacked(1.0 - tanh_long[t] ** 2, slack["long"])
        # c_t = c_{t-1} * f + i * g
        np.multiply(d_long[t + 1], long_before[t], out=d_forget[t])
        np.multiply(d_long[t + 1], candidate[t], out=d_input[t])
        np.multiply(d_long[t + 1], input_[t], out=d_candidate[t])
        # back through each gate's squashing function to its weighted sum
        np.multiply(d_forget[t], _slacked(forget[t] * (1.0 - forget[t]), slack["forget"]),
                    out=d_forget_sum[t])
        np.multiply(d_input[t], _slacked(input_[t] * (1.0 - input_[t]), slack["input"]), out=d_input_sum[t])
        np.multiply(d_candidate[t], _slacked(1.0 - candidate[t] ** 2, slack["candidate"]),
                    out=d_candidate_sum[t])
        np.multiply(d_output[t], _slacked(output[t] * (1.0 - output[t]), slack["output"]),
                    out=d_output_sum[t])
        # each weight's gradient: its gate's d_sum times what the weight multiplied, summed over days
        d_sums_t = d_sums[t if per_day else 0]
        d_weights_short += np.multiply(d_sums_t, short_before[t], out=products)
        d_weights_x += np.multiply(d_sums_t, x[t], out=products)
        d_biases += d_sums_t
        # the day before: h_{t-1} feeds every weighted sum, c_{t-1} only the new long memory
        np.add(d_forget_sum[t] * p["wlr1"] + d_input_sum[t] * p["wpr1"] + d_candidate_sum[t] * p["wp1"],
               d_output_sum[t] * p["wo1"], out=d_short[t])
        np.multiply(d_long[t + 1], forget[t], out=d_long[t])
    d_params = {name: d_params[g, k]
                for g, gate in enumerate(GATES) for k, name in enumerate(GATE_PARAMS[gate])}
    if not per_day:
        return Gradients(params=d_params, days=None, long_memory=d_long[0], short_memory=d_short[0],
                         long=None, short=None, gates=None, gate_sums=None)
    # x_t feeds every weighted sum of its day
    d_days = (d_sums[:, 0] * p["wlr2"] + d_sums[:, 1] * p["wpr2"] + d_sums[:, 2] * p["wp2"]
              + d_sums[:, 3] * p["wo2"])
    return Gradients(params=d_params, days=_days_last(d_days), long_memory=d_long[0], short_memory=d_short[0],
                     long=_days_last(d_memories[0, 1:]), short=_days_last(d_memories[1, 1:]),
                     gates={gate: _days_last(d_gates[:, g]) for g, gate in enumerate(GATES)},
                     gate_sums={gate: _days_last(d_sums[:, g]) for g, gate in enumerate(GATES)})


def _slacked(derivative: np.ndarray, slack) -> np.ndarray:
    """derivative + slack, skipping the pass over the batch when there is no slack."""
    if isinstance(slack, np.ndarray) or slack:
        derivative = derivative + slack
    return derivative


def loss(params: Params, x, label, long_memory=0.0, short_memory=0.0) -> np.ndarray:
    """The lesson's loss (h_T - label)^2, per batch element."""
    return (forward(params, x, long_memory, short_memory) - np.asarray(label, dtype=np.float64)) ** 2


def loss_and_grads(params: Params, x, label, long_memory=0.0, short_memory=0.0
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The lesson's loss and its gradient for each of the 12 names, per batch element.

    A large batch runs in pieces of rows, each small enough that its working arrays stay in the
    caches; each element is computed exactly as it would be alone.
    """
    p, days = _as_params(params), _as_days(x)
    label, long_memory, short_memory = (np.asarray(v, dtype=np.float64)
                                        for v in (label, long_memory, short_memory))
    batch = np.broadcast(days[..., 0], *p.values(), label, long_memory, short_memory).shape
    out = np.empty((1 + len(PARAM_NAMES),) + batch)  # one block: the loss, then the 12 gradients
    loss, d_params = out[0, ...], out[1:].reshape((len(GATES), 3) + batch)

    def one_piece(rows: slice | EllipsisType) -> None:
        def part(v: np.ndarray, day_axis: int = 0) -> np.ndarray:
            """v's share of the rows (all of v where it broadcasts along them)."""
            if rows is ... or v.ndim - day_axis < len(batch) or v.shape[0] == 1:
                return v
            return v[rows]
        _loss_and_grads({name: part(v) for name, v in p.items()}, part(days, 1), part(label),
                        part(long_memory), part(short_memory), loss[rows], d_params[:, :, rows])

    for rows in _pieces(batch):
        one_piece(rows)
    return loss, dict(zip(PARAM_NAMES, out[1:]))


def _loss_and_grads(p, days, label, long_memory, short_memory, loss: np.ndarray, d_params: np.ndarray
                    ) -> None:
    """The loss into `loss` and the gradients into `d_params` ((gate, 3) + batch, PARAM_NAMES' order)."""
    trace = _run(p, days, long_memory, short_memory, _SCRATCH.empty)
    error = np.subtract(trace.final_short, label, out=loss)

    def allocate(name: str, shape: tuple[int, ...]) -> np.ndarray:
        return d_params if name == "d_params" else _SCRATCH.empty(name, shape)

    _backward(trace, 2.0 * error, 0.0, 0.0, per_day=False, allocate=allocate)
    np.square(error, out=loss)


# elements in one piece: small enough for its working arrays to stay in the caches, large enough
# that NumPy's per-call overhead stays small. (Running pieces on two threads gained nothing on the
# 2-core machine the benchmarks ran on, so they run one after another.)
PIECE = 16384


def _pieces(batch: tuple[int, ...]) -> list[slice | EllipsisType]:
    """Row ranges of the batch's first axis, about PIECE elements each (or ... for the whole batch)."""
    if not batch:
        return [...]
    rows = max(1, PIECE // max(1, math.prod(batch[1:])))
    if batch[0] < 2 * rows:
        return [...]
    return [slice(start, start + rows) for start in range(0, batch[0], rows)]


class _Scratch(threading.local):
    """Working arrays that loss_and_grads keeps from one call to the next, one set per thread.

    Fresh memory costs a page fault per 4 KiB on first touch, which for these short loops costs
    more than the arithmetic: reusing the arrays halves loss_and_grads' time. Only arrays whose
    contents stay inside loss_and_grads come from here (run and backward hand out fresh ones).
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def empty(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        array = self.arrays.get(name)
        if array is None or array.shape != shape:
            array = self.arrays[name] = np.empty(shape)
        return array


_SCRATCH = _Scratch()

