"""The lesson's LSTM in plain float64, line for line from the lesson's equations: one parameter set,
one sequence, one day at a time, and each derivative written right under the formula it
differentiates. Slow and obviously right; the fast path (lstm.py) must agree with it
(tests/test_reference.py, within the derived rounding bound of handlstm.tolerances).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from .lstm import GATE_PARAMS, PARAM_NAMES


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700.0 else 0.0  # exp(700) is near float64's largest


def day(p: Mapping[str, float], x: float, long: float, short: float) -> dict[str, float]:
    """One lstm_unit step: the four gates, the new long memory c' and the new short memory h'."""
    f = sigmoid(short * p["wlr1"] + x * p["wlr2"] + p["blr1"])  # forget gate (long remember %)
    i = sigmoid(short * p["wpr1"] + x * p["wpr2"] + p["bpr1"])  # input gate (potential remember %)
    g = math.tanh(short * p["wp1"] + x * p["wp2"] + p["bp1"])  # candidate (potential memory)
    o = sigmoid(short * p["wo1"] + x * p["wo2"] + p["bo1"])  # output gate
    new_long = long * f + i * g  # c' = c f + i g
    new_short = math.tanh(new_long) * o  # h' = tanh(c') o
    return {"x": x, "long": long, "short": short, "forget": f, "input": i, "candidate": g, "output": o,
            "new_long": new_long, "new_short": new_short}


def forward(p: Mapping[str, float], days: Sequence[float], long: float = 0.0, short: float = 0.0) -> float:
    """The final short memory: forward starts from the memories given (the lesson's: 0 and 0)."""
    for x in days:
        step = day(p, float(x), long, short)
        long, short = step["new_long"], step["new_short"]
    return short


def loss_and_grads(p: Mapping[str, float], days: Sequence[float], label: float, long: float = 0.0,
                   short: float = 0.0) -> tuple[float, dict[str, float]]:
    """The lesson's loss (h_T - label)^2 and its derivative for each of the 12 parameters."""
    steps = []
    for x in days:
        steps.append(day(p, float(x), long, short))
        long, short = steps[-1]["new_long"], steps[-1]["new_short"]
    loss = (short - label) ** 2
    grads = dict.fromkeys(PARAM_NAMES, 0.0)
    d_short = 2.0 * (short - label)  # d loss / d h_T
    d_long = 0.0  # d loss / d c_T: c_T reaches the loss only through h_T
    for s in reversed(steps):
        # h' = tanh(c') o
        d_output = d_short * math.tanh(s["new_long"])
        d_long += d_short * s["output"] * (1.0 - math.tanh(s["new_long"]) ** 2)
        # c' = c f + i g
        d_forget = d_long * s["long"]
        d_input = d_long * s["candidate"]
        d_candidate = d_long * s["input"]
        d_long_before = d_long * s["forget"]
        # each gate = squash(h w..1 + x w..2 + b..1): sigmoid' = s (1 - s), tanh' = 1 - g^2
        d_sums = {"forget": d_forget * s["forget"] * (1.0 - s["forget"]),
                  "input": d_input * s["input"] * (1.0 - s["input"]),
                  "candidate": d_candidate * (1.0 - s["candidate"] ** 2),
                  "output": d_output * s["output"] * (1.0 - s["output"])}
        d_short_before = 0.0
        for gate, d_sum in d_sums.items():
            w_short, w_x, bias = GATE_PARAMS[gate]
            grads[w_short] += d_sum * s["short"]
            grads[w_x] += d_sum * s["x"]
            grads[bias] += d_sum
            d_short_before += d_sum * p[w_short]
        d_long, d_short = d_long_before, d_short_before
    return loss, grads
