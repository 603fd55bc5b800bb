"""Equivalent rewrites: the dual of the mutation self-test (handlstm/mutants.py).

Each is the lesson's LSTMByHand written another way that is exact in real arithmetic and sound in
floating point: hand-written sigmoid and tanh in several forms, sums reordered and regrouped,
gates through one stacked product, in-place updates, Python floats mixed with tensors. Every one
must pass every check (tests/meta/test_equivalents.py): a tolerance is right when this catalog
passes and the catalog of classic mistakes is still caught.

`unstable_rewrites()` are exact in real arithmetic but overflow to NaN for large gate inputs
(beyond the lesson's range): they too must pass on the lesson's range, and be reported as
`numerically-unstable`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .model import LSTMByHand

Activation = Callable[[torch.Tensor], torch.Tensor]

SIGMOIDS: dict[str, Activation] = {
    "1 / (1 + exp(-z))": lambda z: 1 / (1 + torch.exp(-z)),
    "1 - sigmoid(-z)": lambda z: 1 - torch.sigmoid(-z),
    "(1 + tanh(z / 2)) / 2": lambda z: 0.5 * (1.0 + torch.tanh(z / 2)),
    "exp(-softplus(-z))": lambda z: torch.exp(-torch.nn.functional.softplus(-z)),
    "torch.special.expit": torch.special.expit,
}
TANHS: dict[str, Activation] = {
    "2 sigmoid(2z) - 1": lambda z: 2 * torch.sigmoid(2 * z) - 1,
    "1 - 2 / (exp(2z) + 1)": lambda z: 1 - 2 / (torch.exp(2 * z) + 1),
    "2 / (1 + exp(-2z)) - 1": lambda z: 2 / (1 + torch.exp(-2 * z)) - 1,
    "nn.Tanh()": lambda z: torch.nn.Tanh()(z),
}
UNSTABLE_TANHS: dict[str, Activation] = {
    "(exp(z) - exp(-z)) / (exp(z) + exp(-z))":
        lambda z: (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z)),
    "sinh(z) / cosh(z)": lambda z: torch.sinh(z) / torch.cosh(z),
}
UNSTABLE_SIGMOIDS: dict[str, Activation] = {"exp(z) / (1 + exp(z))": lambda z: torch.exp(z) / (1 + torch.exp(z))}


class Rewrite(LSTMByHand):
    """LSTMByHand with its own sigmoid and tanh; subclasses rewrite lstm_unit or forward too."""

    detail = "the lesson's equations"
    sigmoid = staticmethod(torch.sigmoid)
    tanh = staticmethod(torch.tanh)

    def lstm_unit(self, input_value, long_memory, short_memory):
        s, t, h, x = self.sigmoid, self.tanh, short_memory, input_value
        f = s(h * self.wlr1 + x * self.wlr2 + self.blr1)
        i = s(h * self.wpr1 + x * self.wpr2 + self.bpr1)
        g = t(h * self.wp1 + x * self.wp2 + self.bp1)
        o = s(h * self.wo1 + x * self.wo2 + self.bo1)
        long = long_memory * f + i * g
        return [long, t(long) * o]


class Reordered(Rewrite):
    detail = "sums reordered (bias first) and products written weight first"

    def lstm_unit(self, input_value, long_memory, short_memory):
        h, x = short_memory, input_value
        f = torch.sigmoid(self.blr1 + self.wlr2 * x + self.wlr1 * h)
        i = torch.sigmoid(self.bpr1 + self.wpr2 * x + self.wpr1 * h)
        g = torch.tanh(self.bp1 + self.wp2 * x + self.wp1 * h)
        o = torch.sigmoid(self.bo1 + self.wo2 * x + self.wo1 * h)
        long = g * i + f * long_memory
        return [long, o * torch.tanh(long)]


class Regrouped(Rewrite):
    detail = "sums grouped as h w + (x w + b)"

    def lstm_unit(self, input_value, long_memory, short_memory):
        h, x = short_memory, input_value
        f = torch.sigmoid(h * self.wlr1 + (x * self.wlr2 + self.blr1))
        i = torch.sigmoid(h * self.wpr1 + (x * self.wpr2 + self.bpr1))
        g = torch.tanh(h * self.wp1 + (x * self.wp2 + self.bp1))
        o = torch.sigmoid(h * self.wo1 + (x * self.wo2 + self.bo1))
        return [long := long_memory * f + i * g, torch.tanh(long) * o]


class Stacked(Rewrite):
    detail = "all four gates from one stacked matrix product"

    def lstm_unit(self, input_value, long_memory, short_memory):
        weights = torch.stack([torch.stack([self.wlr1, self.wlr2]), torch.stack([self.wpr1, self.wpr2]),
                               torch.stack([self.wp1, self.wp2]), torch.stack([self.wo1, self.wo2])])
        biases = torch.stack([self.blr1, self.bpr1, self.bp1, self.bo1])
        inputs = torch.stack(torch.broadcast_tensors(torch.as_tensor(short_memory, dtype=weights.dtype),
                                                     torch.as_tensor(input_value, dtype=weights.dtype)), dim=-1)
        sums = inputs @ weights.T + biases  # [..., 4]
        f, i, o = torch.sigmoid(sums[..., [0, 1, 3]]).unbind(-1)
        g = torch.tanh(sums[..., 2])
        long = long_memory * f + i * g
        return [long, torch.tanh(long) * o]


class InPlace(Rewrite):
    detail = "memories updated in place (mul_, add_, addcmul_)"

    def lstm_unit(self, input_value, long_memory, short_memory):
        h, x = short_memory, input_value
        f = torch.sigmoid(h * self.wlr1 + x * self.wlr2 + self.blr1)
        i = torch.sigmoid(h * self.wpr1 + x * self.wpr2 + self.bpr1)
        g = torch.tanh(h * self.wp1 + x * self.wp2 + self.bp1)
        o = torch.sigmoid(h * self.wo1 + x * self.wo2 + self.bo1)
        long = (long_memory * f).clone()
        long.addcmul_(i, g)
        short = o.clone()
        short.mul_(torch.tanh(long))
        return [long, short]


class PythonFloats(Rewrite):
    detail = "memories start as Python floats, days read with .item()-free indexing into a list"

    def forward(self, input):
        long_memory, short_memory = 0.0, 0.0
        for value in list(input.unbind(-1)):
            long_memory, short_memory = self.lstm_unit(value, long_memory, short_memory)
        return short_memory


class Addcmul(Rewrite):
    detail = "weighted sums with torch.addcmul and the cell update with torch.addcmul"

    def lstm_unit(self, input_value, long_memory, short_memory):
        h, x = torch.as_tensor(short_memory, dtype=self.wlr1.dtype), input_value

        def gate(w_short, w_x, bias):
            return torch.addcmul(torch.addcmul(bias, h, w_short), x, w_x)
        f, i = torch.sigmoid(gate(self.wlr1, self.wlr2, self.blr1)), torch.sigmoid(gate(self.wpr1, self.wpr2, self.bpr1))
        g, o = torch.tanh(gate(self.wp1, self.wp2, self.bp1)), torch.sigmoid(gate(self.wo1, self.wo2, self.bo1))
        long = torch.addcmul(long_memory * f, i, g)
        return [long, torch.tanh(long) * o]


class Functional(Rewrite):
    detail = "torch.nn.functional activations and Tensor methods"

    def lstm_unit(self, input_value, long_memory, short_memory):
        F, h, x = torch.nn.functional, short_memory, input_value
        f = F.sigmoid(h * self.wlr1 + x * self.wlr2 + self.blr1)
        i = (h * self.wpr1 + x * self.wpr2 + self.bpr1).sigmoid()
        g = F.tanh(h * self.wp1 + x * self.wp2 + self.bp1)
        o = torch.nn.Sigmoid()(h * self.wo1 + x * self.wo2 + self.bo1)
        long = torch.add(torch.mul(long_memory, f), torch.mul(i, g))
        return [long, long.tanh().mul(o)]


def with_activations(detail: str, sigmoid: Activation = torch.sigmoid, tanh: Activation = torch.tanh) -> Rewrite:
    """The lesson's lstm_unit with these two activations (class attributes: not hyperparameters)."""
    kind = type("Rewrite", (Rewrite,), {"detail": detail, "sigmoid": staticmethod(sigmoid),
                                        "tanh": staticmethod(tanh)})
    return kind()


def equivalent_rewrites() -> list[Rewrite]:
    """Every rewrite of the catalog: each computes the lesson's LSTM and must pass every check."""
    found = [with_activations(f"sigmoid as {name}", sigmoid=s) for name, s in SIGMOIDS.items()]
    found += [with_activations(f"tanh as {name}", tanh=t) for name, t in TANHS.items()]
    found += [with_activations("sigmoid as 1 / (1 + exp(-z)) and tanh as 2 sigmoid(2z) - 1 (both hand-written)",
                      sigmoid=SIGMOIDS["1 / (1 + exp(-z))"], tanh=lambda z: 2 * SIGMOIDS["1 / (1 + exp(-z))"](2 * z) - 1)]
    found += [kind() for kind in (Reordered, Regrouped, Stacked, InPlace, PythonFloats, Addcmul, Functional)]
    return found


def unstable_rewrites() -> list[Rewrite]:
    """Exact in real arithmetic, NaN once a gate's input passes exp's overflow (|z| > ~88 in float32)."""
    return ([with_activations(f"tanh as {name}", tanh=t) for name, t in UNSTABLE_TANHS.items()]
            + [with_activations(f"sigmoid as {name}", sigmoid=s) for name, s in UNSTABLE_SIGMOIDS.items()])
