"""The lesson's LSTM in NumPy float64: forward with a per-day gate trace, and hand-derived BPTT.

Every array broadcasts: parameters, days and initial memories may each carry batch
dimensions, so one call evaluates many parameter sets on many sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def run(params: Params, x, long_memory=0.0, short_memory=0.0) -> Trace:
    """Unroll the lesson's LSTM over the days on x's last axis, recording every gate."""
    p = _as_params(params)
    days = np.asarray(x, dtype=np.float64)
    if days.ndim == 0 or days.shape[-1] == 0:
        raise ValueError("x needs at least one day on its last axis")
    batch = np.broadcast_shapes(days.shape[:-1], *(v.shape for v in p.values()),
                                np.shape(long_memory), np.shape(short_memory))
    long = np.broadcast_to(np.asarray(long_memory, dtype=np.float64), batch)
    short = np.broadcast_to(np.asarray(short_memory, dtype=np.float64), batch)
    record: dict[str, list[np.ndarray]] = {k: [] for k in (
        "long_before", "short_before", "forget", "input", "candidate", "output", "long", "short")}
    for t in range(days.shape[-1]):
        x_t = days[..., t]
        forget = sigmoid(short * p["wlr1"] + x_t * p["wlr2"] + p["blr1"])
        input_ = sigmoid(short * p["wpr1"] + x_t * p["wpr2"] + p["bpr1"])
        candidate = np.tanh(short * p["wp1"] + x_t * p["wp2"] + p["bp1"])
        output = sigmoid(short * p["wo1"] + x_t * p["wo2"] + p["bo1"])
        new_long = long * forget + input_ * candidate
        new_short = np.tanh(new_long) * output
        for key, value in (("long_before", long), ("short_before", short), ("forget", forget),
                           ("input", input_), ("candidate", candidate), ("output", output),
                           ("long", new_long), ("short", new_short)):
            record[key].append(np.broadcast_to(value, batch))
        long, short = new_long, new_short
    stacked = {k: np.stack(v, axis=-1) for k, v in record.items()}
    return Trace(params=p, days=np.broadcast_to(days, batch + days.shape[-1:]), **stacked)


def forward(params: Params, x, long_memory=0.0, short_memory=0.0) -> np.ndarray:
    """The final short memory h_T; shape is the broadcast batch shape (x.shape[:-1] for scalar params)."""
    return run(params, x, long_memory, short_memory).final_short


def backward(trace: Trace, d_final_short, d_final_long=0.0, derivative_slack: float = 0.0) -> Gradients:
    """Backpropagation through time, derived by hand: the forward equations in reverse, day by day.

    d_final_short and d_final_long are the gradients of the function being differentiated with
    respect to h_T and c_T (for the lesson's loss: 2 (h_T - label) and 0). derivative_slack is
    added to every activation's derivative; only error analysis uses it (handlstm.tolerances).
    """
    p = trace.params
    d_short = np.asarray(d_final_short, dtype=np.float64)
    d_long = np.asarray(d_final_long, dtype=np.float64)
    batch = np.broadcast_shapes(trace.final_short.shape, d_short.shape, d_long.shape)
    d_short, d_long = np.broadcast_to(d_short, batch), np.broadcast_to(d_long, batch)
    d_params = {name: np.zeros(batch) for name in PARAM_NAMES}
    days = trace.days.shape[-1]
    d_days, d_long_t, d_short_t = (np.zeros(batch + (days,)) for _ in range(3))
    d_gates = {gate: np.zeros(batch + (days,)) for gate in GATES}
    d_gate_sums = {gate: np.zeros(batch + (days,)) for gate in GATES}
    for t in reversed(range(days)):
        x_t, short_before = trace.days[..., t], trace.short_before[..., t]
        forget, input_ = trace.forget[..., t], trace.input[..., t]
        candidate, output = trace.candidate[..., t], trace.output[..., t]
        tanh_long = np.tanh(trace.long[..., t])
        d_short_t[..., t] = d_short
        # h_t = tanh(c_t) * o
        d_output = d_short * tanh_long
        d_long = d_long + d_short * output * (1.0 - tanh_long**2 + derivative_slack)
        d_long_t[..., t] = d_long
        # c_t = c_{t-1} * f + i * g
        d_forget = d_long * trace.long_before[..., t]
        d_input = d_long * candidate
        d_candidate = d_long * input_
        # back through each gate's squashing function to its weighted sum
        d_forget_sum = d_forget * (forget * (1.0 - forget) + derivative_slack)
        d_input_sum = d_input * (input_ * (1.0 - input_) + derivative_slack)
        d_candidate_sum = d_candidate * (1.0 - candidate**2 + derivative_slack)
        d_output_sum = d_output * (output * (1.0 - output) + derivative_slack)
        for gate, d_gate, d_sum in zip(GATES, (d_forget, d_input, d_candidate, d_output),
                                       (d_forget_sum, d_input_sum, d_candidate_sum, d_output_sum)):
            d_gates[gate][..., t], d_gate_sums[gate][..., t] = d_gate, d_sum
        for gate, d_sum in zip(GATES, (d_forget_sum, d_input_sum, d_candidate_sum, d_output_sum)):
            w_short, w_x, b = GATE_PARAMS[gate]
            d_params[w_short] = d_params[w_short] + d_sum * short_before
            d_params[w_x] = d_params[w_x] + d_sum * x_t
            d_params[b] = d_params[b] + d_sum
        d_days[..., t] = (d_forget_sum * p["wlr2"] + d_input_sum * p["wpr2"]
                          + d_candidate_sum * p["wp2"] + d_output_sum * p["wo2"])
        d_short = (d_forget_sum * p["wlr1"] + d_input_sum * p["wpr1"]
                   + d_candidate_sum * p["wp1"] + d_output_sum * p["wo1"])
        d_long = d_long * forget
    return Gradients(params=d_params, days=d_days, long_memory=d_long, short_memory=d_short,
                     long=d_long_t, short=d_short_t, gates=d_gates, gate_sums=d_gate_sums)


def loss(params: Params, x, label, long_memory=0.0, short_memory=0.0) -> np.ndarray:
    """The lesson's loss (h_T - label)^2, per batch element."""
    return (forward(params, x, long_memory, short_memory) - np.asarray(label, dtype=np.float64)) ** 2


def loss_and_grads(params: Params, x, label, long_memory=0.0, short_memory=0.0
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The lesson's loss and its gradient for each of the 12 names, per batch element."""
    trace = run(params, x, long_memory, short_memory)
    error = trace.final_short - np.asarray(label, dtype=np.float64)
    gradients = backward(trace, 2.0 * error)
    return error**2, gradients.params
