"""The lesson's LSTM in NumPy float64, the fast path: forward with a per-day gate trace, and
hand-derived BPTT. equations.py writes the same function plainly, line for line from the lesson
(tests hold the two together); parallel.py runs a large batch in pieces on threads.

Every array broadcasts: parameters, days and initial memories may each carry batch
dimensions, so one call evaluates many parameter sets on many sequences.

For speed, each quantity lives in one array with the day first (`long[t]` is day t, one
contiguous row), the four gates of a day sit in one block (so that one call does all four where
the equations agree), and every equation writes its result straight into its row (`out=`); the
Trace shows the same arrays with the day on the last axis. Memories have one row more than there
are days: `long[t]` is the long memory before day t, `long[t + 1]` the one after it. Every batch
element is computed exactly as it would be alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .parallel import Rows, in_pieces, scratch

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
    # tanh(c_t), which backward needs: `run` gives the forward pass's own; left out, it is computed
    tanh_long: np.ndarray | None = None
    # the gates as backward reads them, (days, 5) + batch in _ORDER then tanh(c_t); left out, stacked anew
    gates_by_day: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tanh_long is None:
            object.__setattr__(self, "tanh_long", np.tanh(self.long))

    @property
    def final_short(self) -> np.ndarray:
        return self.short[..., -1]

    def replaced(self, **changes) -> "Trace":
        """A copy with some values changed; what is derived from them (tanh_long, gates_by_day)
        is derived anew unless given too."""
        return dataclasses.replace(self, **{"tanh_long": None, "gates_by_day": None, **changes})


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


# Inside, the gates are stacked in this order, so that one call squashes the three sigmoid gates.
_ORDER = ("forget", "input", "output", "candidate")
_SIGMOID_GATES = slice(0, 3)
# each name's place in a (3, 4) block: (weight on h, weight on x or bias; gate in _ORDER)
_PLACE = {GATE_PARAMS[gate][kind]: (kind, g) for kind in range(3) for g, gate in enumerate(_ORDER)}


def _by_gate(p: dict[str, np.ndarray], batch_ndim: int) -> np.ndarray:
    """The 12 parameters in one (3, 4) block, places as in _PLACE: row 0 each gate's weight on h,
    row 1 on x, row 2 its bias, the gates in _ORDER; it broadcasts against (3, 4) + batch."""
    stacked = np.array(np.broadcast_arrays(*(p[name] for name in _PLACE)))  # _PLACE lists them row by row
    return stacked.reshape((3, 4) + (1,) * (batch_ndim + 1 - stacked.ndim) + stacked.shape[1:])


def run(params: Params, x, long_memory=0.0, short_memory=0.0) -> Trace:
    """Unroll the lesson's LSTM over the days on x's last axis, recording every gate."""
    return _run(_as_params(params), _as_days(x), long_memory, short_memory, _fresh)


def _fresh(name: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape)


def _run(p: dict[str, np.ndarray], days: np.ndarray, long_memory, short_memory, allocate) -> Trace:
    batch = np.broadcast(days[..., 0], *p.values(), long_memory, short_memory).shape
    steps, n = days.shape[-1], len(batch)
    x = np.ascontiguousarray(_days_first(days))
    # a sigmoid gate's value is 1 / (1 + exp(-sum)): its weights enter negated, which is exact
    sign = np.array([-1.0, -1.0, -1.0, 1.0]).reshape((4,) + (1,) * n)
    weights_short, weights_x, biases = sign * _by_gate(p, n)
    x_by_gate = x.reshape((steps,) + (1,) * (n - x.ndim + 1) + x.shape[1:])
    # long, short: before each day, and after the last
    memories = allocate("memories", (2, steps + 1) + batch)
    memories[0, 0], memories[1, 0] = long_memory, short_memory
    long, short = (_rows(m) for m in memories)
    gates = allocate("gates", (steps, 5) + batch)  # per day: forget, input, output, candidate, tanh(c_t)
    work = allocate("work", (4,) + batch)
    product = work[0, ...]  # i g, once the weighted sums no longer need work
    with np.errstate(over="ignore"):  # exp(-sum) = inf for sum << 0 gives sigmoid's exact limit 0
        for t in range(steps):
            # each gate's weighted sum h_{t-1} w_h + x_t w_x + b (a sigmoid gate's negated)
            sums = gates[t, :4]
            np.multiply(short[t], weights_short, out=sums)
            sums += np.multiply(x_by_gate[t], weights_x, out=work)
            sums += biases
            # f, i, o = sigmoid(sum) = 1 / (1 + exp(-sum)); g = tanh(sum)
            squashed = sums[_SIGMOID_GATES]
            np.divide(1.0, np.add(np.exp(squashed, out=squashed), 1.0, out=squashed), out=squashed)
            forget, input_, output, candidate, tanh_long = _rows(gates[t])
            np.tanh(candidate, out=candidate)
            np.multiply(long[t], forget, out=long[t + 1])  # c_t = c_{t-1} f + i g
            long[t + 1] += np.multiply(input_, candidate, out=product)
            np.multiply(np.tanh(long[t + 1], out=tanh_long), output, out=short[t + 1])  # h_t = tanh(c_t) o
    before, after = [_days_last(m[:-1]) for m in memories], [_days_last(m[1:]) for m in memories]
    seen = {name: _days_last(gates[:, row]) for row, name in enumerate(_ORDER + ("tanh_long",))}
    return Trace(params=p, days=np.broadcast_to(_days_last(x), batch + (steps,)),
                 long_before=before[0], short_before=before[1], forget=seen["forget"], input=seen["input"],
                 candidate=seen["candidate"], output=seen["output"], long=after[0], short=after[1],
                 tanh_long=seen["tanh_long"], gates_by_day=gates)


def _gates_by_day(trace: Trace) -> np.ndarray:
    """(days, 5) + batch: forget, input, output, candidate, tanh(c_t)."""
    gates = trace.gates_by_day
    if gates is None:
        seen = np.broadcast_arrays(*(getattr(trace, name) for name in _ORDER + ("tanh_long",)))
        gates = np.stack([_days_first(v) for v in seen], axis=1)
    return gates


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


def _backward(trace: Trace, d_final_short, d_final_long, derivative_slack, per_day: bool,
              allocate) -> Gradients:
    """backward; without per_day, only the gradients for the 12 names (scratch rows serve the days)."""
    x, long_before, short_before = (_days_first(a) for a in (
        trace.days, trace.long_before, trace.short_before))
    steps = x.shape[0]
    batch = np.broadcast_shapes(trace.final_short.shape, np.shape(d_final_short), np.shape(d_final_long))
    gates = _gates_by_day(trace)  # its batch axes padded to batch's, so that the gate axes line up
    gates = gates.reshape(gates.shape[:2] + (1,) * (len(batch) + 2 - gates.ndim) + gates.shape[2:])
    weights_short, weights_x, _ = _by_gate(trace.params, len(batch))
    slack_long, slack_gates = _slack_by_day(derivative_slack, batch, steps)
    # sensitivities of the memories before each day, and (row `steps`) of the final ones
    d_memories = allocate("d_memories", (2, steps + 1 if per_day else 2) + batch)
    d_long, d_short = (_rows(m, steps + 1) for m in d_memories)
    d_long[steps][...], d_short[steps][...] = d_final_long, d_final_short
    d_gates = allocate("d_gates", (steps if per_day else 1, 4) + batch)  # d/d(gate value), in _ORDER
    d_sums = allocate("d_sums", (steps, 4) + batch)  # d/d(gate's weighted sum)
    work = allocate("work", (4,) + batch)
    work_sigmoids, work_candidate = work[_SIGMOID_GATES], work[3, ...]
    d_tanh = work[0, ...]
    for t in reversed(range(steps)):
        forget, input_, output, candidate, tanh_long = _rows(gates[t])
        d_gate = d_gates[t if per_day else 0]
        d_forget, d_input, d_output, d_candidate = _rows(d_gate)
        d_sum = d_sums[t]
        # h_t = tanh(c_t) o
        np.multiply(d_short[t + 1], tanh_long, out=d_output)
        np.subtract(1.0, np.multiply(tanh_long, tanh_long, out=d_tanh), out=d_tanh)
        if slack_long is not None:
            d_tanh += slack_long[t]
        d_long[t + 1] += np.multiply(np.multiply(d_tanh, output, out=d_tanh), d_short[t + 1], out=d_tanh)
        # c_t = c_{t-1} f + i g
        np.multiply(d_long[t + 1], long_before[t], out=d_forget)
        np.multiply(d_long[t + 1], candidate, out=d_input)
        np.multiply(d_long[t + 1], input_, out=d_candidate)
        # back through each gate's squashing function to its weighted sum: s (1 - s) and 1 - g^2
        squashed = gates[t, _SIGMOID_GATES]
        np.multiply(np.subtract(1.0, squashed, out=work_sigmoids), squashed, out=work_sigmoids)
        np.subtract(1.0, np.multiply(candidate, candidate, out=work_candidate), out=work_candidate)
        if slack_gates is not None:
            work += slack_gates[t]
        np.multiply(d_gate, work, out=d_sum)
        # the day before: h_{t-1} feeds every weighted sum, c_{t-1} only the new long memory
        # (for the initial memories, only backward's own callers ask)
        if t > 0 or per_day:
            np.sum(np.multiply(d_sum, weights_short, out=work), axis=0, out=d_short[t])
            np.multiply(d_long[t + 1], forget, out=d_long[t])
    # each weight's gradient: its gate's d_sum times what the weight multiplied, summed over days
    d_params = allocate("d_params", (3, 4) + batch)  # places as in _PLACE
    np.einsum("tg...,t...->g...", d_sums, short_before, out=d_params[0])
    np.einsum("tg...,t...->g...", d_sums, x, out=d_params[1])
    np.sum(d_sums, axis=0, out=d_params[2])
    d_params = {name: d_params[_PLACE[name]] for name in PARAM_NAMES}
    if not per_day:
        return Gradients(params=d_params, days=None, long_memory=None, short_memory=None,
                         long=None, short=None, gates=None, gate_sums=None)
    # x_t feeds every weighted sum of its day
    d_days = np.sum(d_sums * weights_x, axis=1)
    by_gate = {gate: g for g, gate in enumerate(_ORDER)}
    return Gradients(params=d_params, days=_days_last(d_days), long_memory=d_long[0], short_memory=d_short[0],
                     long=_days_last(d_memories[0, 1:]), short=_days_last(d_memories[1, 1:]),
                     gates={gate: _days_last(d_gates[:, by_gate[gate]]) for gate in GATES},
                     gate_sums={gate: _days_last(d_sums[:, by_gate[gate]]) for gate in GATES})


def _slack_by_day(slack: float | Mapping[str, np.ndarray], batch: tuple[int, ...], steps: int):
    """derivative_slack as (days,) + batch for the cell output's tanh and (days, 4) + batch for the
    gates in _ORDER; None where there is no slack (so no pass over the batch adds a zero)."""
    if not isinstance(slack, Mapping):
        return (np.full(steps, float(slack)),) * 2 if slack else (None, None)

    def by_day(key: str) -> np.ndarray:
        return _days_first(np.broadcast_to(np.asarray(slack[key], dtype=np.float64), batch + (steps,)))

    return by_day("long"), np.stack([by_day(gate) for gate in _ORDER], axis=1)


def loss(params: Params, x, label, long_memory=0.0, short_memory=0.0) -> np.ndarray:
    """The lesson's loss (h_T - label)^2, per batch element."""
    return (forward(params, x, long_memory, short_memory) - np.asarray(label, dtype=np.float64)) ** 2


def loss_and_grads(params: Params, x, label, long_memory=0.0, short_memory=0.0
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The lesson's loss and its gradient for each of the 12 names, per batch element.

    A large batch runs in pieces of rows, each through all days before the next, on several threads;
    each element is computed exactly as it would be alone.
    """
    p, days = _as_params(params), _as_days(x)
    label, long_memory, short_memory = (np.asarray(v, dtype=np.float64)
                                        for v in (label, long_memory, short_memory))
    batch = np.broadcast(days[..., 0], *p.values(), label, long_memory, short_memory).shape
    out = np.empty((1 + len(PARAM_NAMES),) + batch)  # one block: the loss, then the 12 gradients
    loss, d_params = out[0, ...], out[1:].reshape((3, 4) + batch)

    def one_piece(rows: Rows) -> None:
        def part(v: np.ndarray, day_axis: int = 0) -> np.ndarray:
            """v's share of the rows (all of v where it broadcasts along them)."""
            if rows is ... or v.ndim - day_axis < len(batch) or v.shape[0] == 1:
                return v
            return v[rows]
        _loss_and_grads({name: part(v) for name, v in p.items()}, part(days, 1), part(label),
                        part(long_memory), part(short_memory), loss[rows], d_params[:, :, rows])

    in_pieces(batch, one_piece)
    return loss, {name: d_params[_PLACE[name]] for name in PARAM_NAMES}


def _loss_and_grads(p, days, label, long_memory, short_memory, loss: np.ndarray, d_params: np.ndarray
                    ) -> None:
    """The loss into `loss` and the gradients into `d_params` ((3, 4) + batch, places as in _PLACE)."""
    trace = _run(p, days, long_memory, short_memory, scratch)
    error = np.subtract(trace.final_short, label, out=loss)

    def allocate(name: str, shape: tuple[int, ...]) -> np.ndarray:
        return d_params if name == "d_params" else scratch(name, shape)

    _backward(trace, 2.0 * error, 0.0, 0.0, per_day=False, allocate=allocate)
    np.square(error, out=loss)
