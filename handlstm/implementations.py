"""One small adapter per implementation under test. Plain numbers in, plain numbers out.

An implementation sets the 12 parameters (by the lesson's names), runs one lstm_unit step, runs a
sequence, and takes the gradients of the lesson's loss. The bundled modules, the mapped
nn.LSTM and the reference are all implementations, and so is a learner's class (in a child process).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import torch

from handlstm import reference
from handlstm.reference import PARAM_NAMES

from .model import LSTMByHand
from .torch_lstm import from_torch_lstm, grads_from_torch_lstm, to_torch_lstm

Numbers = Mapping[str, float]


class Implementation(Protocol):
    name: str
    dtype: str  # "float64" or "float32": what the implementation computes in

    def unit(self, params: Numbers, x: float, long: float, short: float) -> tuple[float, float]:
        """One day: (updated long memory, updated short memory)."""

    def forward(self, params: Numbers, days: tuple[float, ...]) -> float:
        """The final short memory after the days, from zero memories."""

    def loss_and_grads(self, params: Numbers, days: tuple[float, ...], label: float
                       ) -> tuple[float, dict[str, float]]:
        """The lesson's loss and its gradient by each of the 12 names."""

    def unit_loss_and_grads(self, params: Numbers, x: float, long: float, short: float, label: float
                            ) -> tuple[float, dict[str, float]]:
        """(new short memory - label)^2 after one lstm_unit step from these memories, and its
        gradient by each of the 12 names."""

    def train(self, params: Numbers, steps: int) -> tuple[float | None, list[dict[str, float]]]:
        """Lightning-train from these values (its own optimizer and training_step) for `steps`
        optimizer steps on the lesson's data: (Adam's learning rate or None, the 12 values after
        each step)."""


class ReferenceImplementation:
    """The NumPy reference as an implementation (used to test the properties themselves)."""

    name, dtype = "reference", "float64"

    def __init__(self, lstm_module=reference):
        self.lstm = lstm_module

    def unit(self, params, x, long, short):
        trace = self.lstm.run(params, [x], long, short)
        return float(trace.long[-1]), float(trace.short[-1])

    def forward(self, params, days):
        return float(self.lstm.forward(params, days))

    def loss_and_grads(self, params, days, label):
        loss, grads = self.lstm.loss_and_grads(params, days, label)
        return float(loss), {name: float(g) for name, g in grads.items()}

    def unit_loss_and_grads(self, params, x, long, short, label):
        loss, grads = self.lstm.loss_and_grads(params, [x], label, long, short)
        return float(loss), {name: float(g) for name, g in grads.items()}

    def train(self, params, steps, lr: float = 0.001):
        """The lesson's loop with the reference's Adam: (lr, parameters after each step)."""
        from .data import LABELS, SEQUENCES

        trajectory = reference.train(params, SEQUENCES, LABELS, lr, steps)
        return lr, [{name: float(v) for name, v in after.items()} for after in trajectory]


def _torch_dtype(dtype: str) -> torch.dtype:
    return {"float64": torch.float64, "float32": torch.float32}[dtype]


_PRECISION = {"float64": "64-true", "float32": "32-true"}  # Lightning's name for each dtype


class ModuleImplementation:
    """A module with an lstm_unit and 12 scalar parameters: the lesson's LSTMByHand or a learner's.

    `names` maps each lesson name to the module's attribute; `unit_call` calls the module's
    lstm_unit as (x, long, short) -> (long, short) whatever its own argument order.
    """

    def __init__(self, module: torch.nn.Module, dtype: str = "float64", name: str = "LSTMByHand",
                 names: Mapping[str, str] | None = None,
                 unit_call: Callable | None = None):
        self.module, self.dtype, self.name = module, dtype, name
        self.names = dict(names or {n: n for n in PARAM_NAMES})
        self.torch_dtype = _torch_dtype(dtype)
        self.unit_call = unit_call or (lambda m, x, c, h: m.lstm_unit(x, c, h))
        module.to(self.torch_dtype)

    def tensor(self, value) -> torch.Tensor:
        return torch.tensor(value, dtype=self.torch_dtype)

    def set_params(self, params: Numbers) -> None:
        with torch.no_grad():
            for name in PARAM_NAMES:
                getattr(self.module, self.names[name]).copy_(self.tensor(params[name]))

    def unit(self, params, x, long, short):
        self.set_params(params)
        with torch.no_grad():
            new_long, new_short = self.unit_call(self.module, self.tensor(x), self.tensor(long),
                                                 self.tensor(short))
        return float(new_long), float(new_short)

    def forward(self, params, days):
        self.set_params(params)
        with torch.no_grad():
            return float(self.module(self.tensor(days)))

    def loss_and_grads(self, params, days, label):
        self.set_params(params)
        self.module.zero_grad(set_to_none=True)
        return self._backward((self.module(self.tensor(days)) - label) ** 2)

    def unit_loss_and_grads(self, params, x, long, short, label):
        self.set_params(params)
        self.module.zero_grad(set_to_none=True)
        _, new_short = self.unit_call(self.module, self.tensor(x), self.tensor(long), self.tensor(short))
        return self._backward((new_short - label) ** 2)

    def _backward(self, loss: torch.Tensor) -> tuple[float, dict[str, float]]:
        if loss.requires_grad:  # else every path to the parameters is cut: no gradient at all
            loss.backward()
        grads = {}
        for name in PARAM_NAMES:
            grad = getattr(self.module, self.names[name]).grad
            grads[name] = float("nan") if grad is None else float(grad)
        return float(loss.detach()), grads

    def train(self, params, steps):
        """Lightning-train the module (its own optimizer and training_step) from these values:
        (the Adam learning rate or None, the 12 values after each optimizer step)."""
        from .train.trajectory import lightning_trajectory

        self.set_params(params)
        return lightning_trajectory(self.module, steps, precision=_PRECISION[self.dtype], names=self.names)


class TorchLSTMImplementation:
    """torch.nn.LSTM(1, 1) with the 12 values mapped onto its stacked gates."""

    name = "nn.LSTM"

    def __init__(self, dtype: str = "float64"):
        self.dtype = dtype
        self.lstm = to_torch_lstm({n: 0.0 for n in PARAM_NAMES}, dtype=_torch_dtype(dtype))

    def tensor(self, value) -> torch.Tensor:
        return torch.tensor(value, dtype=self.lstm.weight_ih_l0.dtype)

    def _run(self, params, days, long=0.0, short=0.0):
        to_torch_lstm(params, lstm=self.lstm)
        state = (self.tensor([[[short]]]), self.tensor([[[long]]]))  # nn.LSTM takes (h_0, c_0)
        out, (h, c) = self.lstm(self.tensor(days).reshape(-1, 1, 1), state)
        return out[-1, 0, 0], c[0, 0, 0]

    def unit(self, params, x, long, short):
        with torch.no_grad():
            h, c = self._run(params, [x], long, short)
        return float(c), float(h)

    def forward(self, params, days):
        with torch.no_grad():
            return float(self._run(params, days)[0])

    def loss_and_grads(self, params, days, label):
        self.lstm.zero_grad(set_to_none=True)
        loss = (self._run(params, days)[0] - label) ** 2
        loss.backward()
        return float(loss.detach()), grads_from_torch_lstm(self.lstm)

    def unit_loss_and_grads(self, params, x, long, short, label):
        self.lstm.zero_grad(set_to_none=True)
        loss = (self._run(params, [x], long, short)[0] - label) ** 2
        loss.backward()
        return float(loss.detach()), grads_from_torch_lstm(self.lstm)

    def train(self, params, steps):
        """Lightning-train the lesson's LightningLSTM initialised through the mapping.

        nn.LSTM keeps two biases per gate that always receive the same gradient, so Adam moves
        their sum twice as far as the lesson's one bias; bias_hh stays frozen at zero, so the
        merged bias is one parameter, as in the lesson.
        """
        from .model import LightningLSTM
        from .train.trajectory import lightning_trajectory

        model = LightningLSTM().to(_torch_dtype(self.dtype))
        to_torch_lstm(params, lstm=model.lstm)
        model.lstm.bias_hh_l0.requires_grad_(False)
        return lightning_trajectory(model, steps, precision=_PRECISION[self.dtype],
                                    read=lambda module: from_torch_lstm(module.lstm))


def hand_module(dtype: str = "float64") -> ModuleImplementation:
    return ModuleImplementation(LSTMByHand(), dtype=dtype)


def bundled_implementations(dtype: str = "float64") -> list:
    """The implementations handlstm ships, each checked against the reference."""
    return [hand_module(dtype), TorchLSTMImplementation(dtype)]


