"""Short Lightning training runs of handlstm's own modules on the lesson's data, for the properties.

The Trainer set-up is the one the sandbox uses on a learner's module (check/sandbox/trajectory.py);
`handlstm train` (the user-facing run, with loggers and checkpoints) lives in handlstm/train.py.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Mapping

import lightning as L
import torch

from handlstm.reference import PARAM_NAMES

from .check.sandbox import trajectory
from .check.sandbox.trajectory import Trajectory, one_thread, quiet_lightning  # noqa: F401 (train.py)
from .data import LABELS, SEQUENCES

DTYPES = {"64-true": torch.float64, "64": torch.float64, "32-true": torch.float32, "32": torch.float32}


def dtype_of(precision: str) -> torch.dtype:
    """The torch dtype a Lightning precision string trains in (only full precisions are supported)."""
    try:
        return DTYPES[str(precision)]
    except KeyError:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(DTYPES)}") from None


def lightning_trajectory(module: L.LightningModule, steps: int, precision: str = "64-true",
                         names: Mapping[str, str] | None = None,
                         read: Callable[[torch.nn.Module], dict[str, float]] | None = None,
                         ) -> tuple[float | None, Trajectory]:
    """Train `module` with lightning.Trainer for `steps` optimizer steps on the lesson's data:
    (Adam's learning rate or None, the 12 parameters by lesson name after every step).
    `names` maps lesson name -> attribute; `read` replaces the attribute reader entirely (e.g.
    for an nn.LSTM-based module: handlstm.torch_lstm.from_torch_lstm)."""
    dtype = str(dtype_of(precision)).replace("torch.", "")
    read = read or trajectory.attribute_reader(dict(names or {n: n for n in PARAM_NAMES}))
    return trajectory.lightning_trajectory(module, steps, dtype, read, SEQUENCES, LABELS)


@contextlib.contextmanager
def frozen_heap():
    """Exempt every object alive now (torch's and Lightning's imports, ~400k) from the garbage
    collector's full passes while training: Lightning's per-step objects trigger them, and
    re-scanning the imports cost ~7% of each of the lesson's steps."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
