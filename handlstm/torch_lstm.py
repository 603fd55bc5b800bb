"""The one table between the lesson's 12 names and nn.LSTM(1, 1)'s stacked gates, both ways."""

from __future__ import annotations

import torch
from torch import nn

from handlstm.reference import PARAM_NAMES

# PyTorch stacks the gates as rows (input, forget, cell, output) of each tensor.
# weight_hh multiplies the short memory h, weight_ih the input x; bias = bias_ih + bias_hh.
MAPPING: tuple[tuple[str, str, int], ...] = (
    # lesson name, nn.LSTM tensor, row
    ("wlr1", "weight_hh_l0", 1), ("wlr2", "weight_ih_l0", 1), ("blr1", "bias", 1),  # forget
    ("wpr1", "weight_hh_l0", 0), ("wpr2", "weight_ih_l0", 0), ("bpr1", "bias", 0),  # input
    ("wp1", "weight_hh_l0", 2), ("wp2", "weight_ih_l0", 2), ("bp1", "bias", 2),    # cell (candidate)
    ("wo1", "weight_hh_l0", 3), ("wo2", "weight_ih_l0", 3), ("bo1", "bias", 3),    # output
)  # fmt: skip
assert tuple(name for name, _, _ in MAPPING) == PARAM_NAMES


def _as_values(params) -> dict[str, float]:
    if isinstance(params, nn.Module):
        return {name: float(getattr(params, name).detach()) for name in PARAM_NAMES}
    return {name: float(params[name]) for name in PARAM_NAMES}


def to_torch_lstm(params, dtype: torch.dtype = torch.float64, lstm: nn.LSTM | None = None) -> nn.LSTM:
    """An nn.LSTM(1, 1) computing the same function as these 12 values (a dict or an LSTMByHand).

    Pass `lstm` to overwrite an existing module's parameters in place instead of building one.
    """
    values = _as_values(params)
    lstm = lstm if lstm is not None else nn.LSTM(input_size=1, hidden_size=1).to(dtype)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
        for name, tensor, row in MAPPING:
            target = lstm.bias_ih_l0 if tensor == "bias" else getattr(lstm, tensor)
            target.view(-1)[row] = values[name]
    return lstm


def from_torch_lstm(lstm: nn.LSTM) -> dict[str, float]:
    """The 12 lesson values of an nn.LSTM(1, 1); the two biases of each gate are merged."""
    return _rows(lstm.weight_hh_l0, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0)


def grads_from_torch_lstm(lstm: nn.LSTM) -> dict[str, float]:
    """The gradients of an nn.LSTM(1, 1) under the 12 lesson names (d/d bias_ih = d/d merged bias)."""
    return _rows(lstm.weight_hh_l0.grad, lstm.weight_ih_l0.grad, lstm.bias_ih_l0.grad)


def _rows(weight_hh, weight_ih, bias) -> dict[str, float]:
    tensors = {"weight_hh_l0": weight_hh, "weight_ih_l0": weight_ih, "bias": bias}
    return {name: float(tensors[tensor].detach().reshape(-1)[row]) for name, tensor, row in MAPPING}
