"""Short Lightning training runs of handlstm's own modules on the lesson's data, for the training
property: the same Trainer set-up the sandbox uses on a learner's module (check/sandbox/trajectory.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import lightning as L
import torch

from handlstm.reference import PARAM_NAMES

from ..check.sandbox import trajectory
from ..check.sandbox.trajectory import DTYPES, PRECISION, Trajectory
from ..data import LABELS, SEQUENCES


def dtype_name(precision: str) -> str:
    """float64 or float32 for a Lightning precision ("64-true" or "64", "32-true" or "32")."""
    for name, lightning in PRECISION.items():
        if str(precision) in (lightning, lightning.removesuffix("-true")):
            return name
    raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISION.values())}")


def dtype_of(precision: str) -> torch.dtype:
    """The torch dtype a Lightning precision trains in (only full precisions are supported)."""
    return DTYPES[dtype_name(precision)]


def lightning_trajectory(module: L.LightningModule, steps: int, precision: str = "64-true",
                         names: Mapping[str, str] | None = None,
                         read: Callable[[torch.nn.Module], dict[str, float]] | None = None,
                         ) -> tuple[float | None, Trajectory]:
    """Train `module` with lightning.Trainer for `steps` optimizer steps on the lesson's data:
    (Adam's learning rate or None, the 12 parameters by lesson name after every step).
    `names` maps lesson name -> attribute; `read` replaces the attribute reader entirely (e.g.
    for an nn.LSTM-based module: handlstm.torch_lstm.from_torch_lstm)."""
    dtype = dtype_name(precision)
    read = read or trajectory.attribute_reader(dict(names or {n: n for n in PARAM_NAMES}))
    return trajectory.lightning_trajectory(module, steps, dtype, read, SEQUENCES, LABELS)
