"""Mistakes that show only in gradients or only in training: the second and third catalogs of the
mutation self-test (handlstm/mutants.py holds the forward mistakes).

Each is the lesson's LSTMByHand with one change that leaves every forward value exactly the
lesson's, so the forward properties cannot see it: a gradient path cut (`.detach()` or `.item()`
re-wrapping, for one parameter, one gate or one day), a chain-rule factor with the wrong sign or
left out, or a training mistake (the loss, a skipped sample, zero_grad, Adam's settings, a
parameter left out of the optimizer). tests/meta/test_mutants.py proves the gradient and training
properties catch every one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Adam

from handlstm.reference import PARAM_NAMES

from .model import LSTMByHand


def _with_backward(forward: Callable, derivative: Callable) -> Callable:
    """forward(z) whose backward pass multiplies by derivative(z, forward(z)) instead of the true one."""

    class Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            out = forward(z)
            ctx.save_for_backward(z, out)
            return out

        @staticmethod
        def backward(ctx, grad):
            z, out = ctx.saved_tensors
            return grad * derivative(z, out)

    return Function.apply


SIGMOID_NEGATED = _with_backward(torch.sigmoid, lambda z, s: -s * (1 - s))
SIGMOID_WITHOUT_1_MINUS = _with_backward(torch.sigmoid, lambda z, s: s)
TANH_NEGATED = _with_backward(torch.tanh, lambda z, t: -(1 - t * t))
TANH_AS_IDENTITY = _with_backward(torch.tanh, lambda z, t: torch.ones_like(t))


class GradientMutant(LSTMByHand):
    """LSTMByHand whose forward values are the lesson's and whose backward pass is not.

    `cut(name, day)`: parameter `name` enters day `day`'s step detached (day 0 is the first, and
    a direct lstm_unit call); with `keep_connected` it still reaches the loss there, times zero
    (its term of that day dropped from the gradient, not its whole gradient); `squash`: gate -> replacement for its activation (forget, input,
    candidate, output, or "cell" for tanh of the new long memory); `cut_memory`: "short" or
    "long", passed on to the next day detached; `cut_cell_product`: c * f without its d/dc term.
    """

    def __init__(self, detail: str, cut: Callable[[str, int], bool] = lambda name, day: False,
                 squash: dict | None = None, cut_memory: str | None = None, cut_cell_product: bool = False,
                 keep_connected: bool = False):
        super().__init__()
        self.detail, self.cut, self.squash, self.keep_connected = detail, cut, dict(squash or {}), keep_connected
        self.cut_memory, self.cut_cell_product, self.day = cut_memory, cut_cell_product, 0

    def _p(self, name: str):
        value = getattr(self, name)
        if not self.cut(name, self.day):
            return value
        return value.detach() + 0 * value if self.keep_connected else value.detach()

    def lstm_unit(self, input_value, long_memory, short_memory):
        squash = {"forget": torch.sigmoid, "input": torch.sigmoid, "candidate": torch.tanh,
                  "output": torch.sigmoid, "cell": torch.tanh, **self.squash}
        p, h, x = self._p, short_memory, input_value
        f = squash["forget"](h * p("wlr1") + x * p("wlr2") + p("blr1"))
        i = squash["input"](h * p("wpr1") + x * p("wpr2") + p("bpr1"))
        g = squash["candidate"](h * p("wp1") + x * p("wp2") + p("bp1"))
        kept = (long_memory.detach() if self.cut_cell_product and torch.is_tensor(long_memory)
                else long_memory) * f
        long = kept + i * g
        o = squash["output"](h * p("wo1") + x * p("wo2") + p("bo1"))
        return [long, squash["cell"](long) * o]

    def forward(self, input):
        long_memory = short_memory = torch.zeros(input.shape[:-1], dtype=input.dtype)
        for day in range(input.shape[-1]):
            self.day = day
            long_memory, short_memory = self.lstm_unit(input[..., day], long_memory, short_memory)
            if self.cut_memory == "short":
                short_memory = short_memory.detach()
            elif self.cut_memory == "long":
                long_memory = long_memory.detach()
        self.day = 0  # a direct lstm_unit call is a first day
        return short_memory


def item_rewrapped(value: torch.Tensor) -> torch.Tensor:
    """torch.tensor(value.item()): the same number, no gradient behind it."""
    return torch.tensor(value.item(), dtype=value.dtype)


def gradient_mistakes() -> list[GradientMutant]:
    """Every gradient-only mistake of the catalog, each caught by the gradient properties."""
    found = [GradientMutant(f"{name}.detach() on every day", cut=lambda n, d, name=name: n == name)
             for name in PARAM_NAMES]
    found += [GradientMutant(f"{name}'s first-day term dropped from its gradient (shows only from non-zero memories)",
                             cut=lambda n, d, name=name: n == name and d == 0, keep_connected=True)
              for name in ("wlr1", "wpr1", "wp1", "wo1")]
    found += [GradientMutant(f"{name}.detach() on the last of four days",
                             cut=lambda n, d, name=name: n == name and d == 3)
              for name in ("wlr2", "bo1")]
    found += [GradientMutant(f"the {gate} gate's value re-wrapped with .item()",
                             squash={gate: (lambda z, act=act: item_rewrapped(act(z)))})
              for gate, act in (("forget", torch.sigmoid), ("output", torch.sigmoid), ("candidate", torch.tanh))]
    found += [GradientMutant(f"the {gate} gate's sigmoid with a negated derivative", squash={gate: SIGMOID_NEGATED})
              for gate in ("forget", "input", "output")]
    found += [GradientMutant("the candidate's tanh with a negated derivative", squash={"candidate": TANH_NEGATED}),
              GradientMutant("the output gate's derivative without its (1 - s) factor",
                             squash={"output": SIGMOID_WITHOUT_1_MINUS}),
              GradientMutant("tanh(new long memory) backpropagated as if it were the identity",
                             squash={"cell": TANH_AS_IDENTITY}),
              GradientMutant("the short memory detached between days", cut_memory="short"),
              GradientMutant("the long memory detached between days", cut_memory="long"),
              GradientMutant("c * f without its d/dc term", cut_cell_product=True)]
    return found


# --- training-level mistakes ---------------------------------------------------------------------

class TrainingMutant(LSTMByHand):
    """LSTMByHand (the lesson's forward and gradients) trained with one mistake."""

    detail = "the lesson's training"

    def training_step(self, batch, batch_idx):
        input_i, label_i = batch
        return self.loss(self(input_i[0]), label_i[0], batch_idx)

    def loss(self, output, label, batch_idx):
        return (output - label) ** 2


def _trainer(detail: str, **overrides) -> type[TrainingMutant]:
    return type("TrainingMutant", (TrainingMutant,), {"detail": detail, **overrides})


def _adam(**settings):
    return lambda self: Adam(self.parameters(), lr=self.lr, **settings)


def training_mistakes() -> list[TrainingMutant]:
    """Every training-only mistake of the catalog, each caught by the training property."""
    kinds = [
        _trainer("the loss |output - label|", loss=lambda self, o, y, i: (o - y).abs()),
        _trainer("the loss doubled", loss=lambda self, o, y, i: 2 * (o - y) ** 2),
        _trainer("the loss (output - label)^2 / 2", loss=lambda self, o, y, i: (o - y) ** 2 / 2),
        _trainer("the second sample skipped (training_step returns None)",
                 loss=lambda self, o, y, i: None if i == 1 else (o - y) ** 2),
        _trainer("zero_grad never called: gradients pile up",
                 optimizer_zero_grad=lambda self, epoch, batch_idx, optimizer: None),
        _trainer("Adam with betas (0.8, 0.999)", configure_optimizers=_adam(betas=(0.8, 0.999))),
        _trainer("Adam with eps 1e-4", configure_optimizers=_adam(eps=1e-4)),
        _trainer("Adam with weight decay 0.01", configure_optimizers=_adam(weight_decay=0.01)),
        _trainer("bo1 left out of the optimizer", configure_optimizers=lambda self: Adam(
            [p for n, p in self.named_parameters() if n != "bo1"], lr=self.lr)),
    ]
    return [kind() for kind in kinds]
