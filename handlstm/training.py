"""Short Lightning training runs for checks: the module's own optimizer and training_step, the
lesson's data, and the 12 parameters recorded after every optimizer step.

`handlstm train` (the user-facing run, with loggers and checkpoints) lives in handlstm/train.py;
this is the quiet, fast path that properties and `handlstm check` call a few times per example.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import warnings
from typing import Callable, Mapping

import lightning as L
import torch

from reference import PARAM_NAMES

from .data import dataloader

DTYPES = {"64-true": torch.float64, "64": torch.float64, "32-true": torch.float32, "32": torch.float32}

Trajectory = list[dict[str, float]]


def dtype_of(precision: str) -> torch.dtype:
    """The torch dtype a Lightning precision string trains in (only full precisions are supported)."""
    try:
        return DTYPES[str(precision)]
    except KeyError:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(DTYPES)}") from None


class _Recorder(L.Callback):
    """Reads the 12 parameters after each training batch, i.e. after its optimizer step."""

    def __init__(self, read: Callable[[torch.nn.Module], dict[str, float]]):
        self.read = read
        self.trajectory: Trajectory = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.trajectory.append(self.read(pl_module))


def attribute_reader(names: Mapping[str, str] | None = None) -> Callable[[torch.nn.Module], dict[str, float]]:
    """Reads 12 scalar parameters by lesson name; `names` maps lesson name -> the module's attribute."""
    names = dict(names or {n: n for n in PARAM_NAMES})

    def read(module: torch.nn.Module) -> dict[str, float]:
        with torch.no_grad():
            values = torch.stack([getattr(module, names[n]).detach().reshape(()) for n in PARAM_NAMES])
        return dict(zip(PARAM_NAMES, values.tolist()))

    return read


def check_trainer(steps: int, precision: str, batches_per_epoch: int, callbacks: list) -> L.Trainer:
    """A Trainer stripped of everything a check does not need: it only has to run the steps."""
    return L.Trainer(
        accelerator="cpu", devices=1, precision=precision,
        max_steps=steps,
        # a training_step that returns None skips its optimizer step; bound the epochs too so
        # such a module still stops
        max_epochs=math.ceil(steps / batches_per_epoch),
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, deterministic=True,
        callbacks=callbacks)


def lightning_trajectory(module: L.LightningModule, steps: int, precision: str = "64-true",
                         names: Mapping[str, str] | None = None,
                         read: Callable[[torch.nn.Module], dict[str, float]] | None = None,
                         ) -> tuple[float | None, Trajectory]:
    """Train `module` with lightning.Trainer for `steps` optimizer steps on the lesson's data.

    Uses the module's own configure_optimizers and training_step. Returns the optimizer's
    learning rate if it is a torch.optim.Adam (else None) and the 12 parameters by lesson name
    after every step. `names` maps lesson name -> attribute; `read` replaces the attribute
    reader entirely (e.g. for an nn.LSTM-based module: handlstm.torch_lstm.from_torch_lstm).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    dtype = dtype_of(precision)
    module.to(dtype)  # Lightning's 64-true would convert it too; 32-true leaves the dtype alone
    recorder = _Recorder(read or attribute_reader(names))
    loader = dataloader(dtype)
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        with quiet_lightning(), one_thread():
            trainer = check_trainer(steps, precision, len(loader), [recorder])
            trainer.fit(module, train_dataloaders=loader)
    finally:  # Trainer(deterministic=True) switches it on for the whole process
        torch.use_deterministic_algorithms(deterministic)
    optimizer = trainer.optimizers[0] if trainer.optimizers else None
    # exactly Adam: AdamW subclasses it but decays the weights, which the reference does not
    lr = float(optimizer.param_groups[0]["lr"]) if type(optimizer) is torch.optim.Adam else None
    return lr, recorder.trajectory[:steps]


@contextlib.contextmanager
def one_thread():
    """Run torch on one intra-op thread, then restore the count. The lesson's tensors hold one to
    four numbers: more threads only add synchronisation, and on a busy 2-core machine nn.LSTM's
    parallel kernels ran 9x slower with 2 threads than with 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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


class quiet_lightning:
    """Silence Lightning's start-up banner and its advice on workers/logging: checks print nothing."""

    LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
               "lightning.pytorch.accelerators.cuda", "lightning.fabric.utilities.seed",
               "lightning.pytorch.trainer.connectors.checkpoint_connector")

    def __enter__(self):
        self.levels = [(logging.getLogger(n), logging.getLogger(n).level) for n in self.LOGGERS]
        for logger, _ in self.levels:
            logger.setLevel(logging.WARNING)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.filterwarnings("ignore", message=r".*(does not have many workers|log_every_n_steps"
                                r"|training_step. returned .None|GPU available|TPU available"
                                r"|isinstance\(treespec, LeafSpec\)).*")
        return self

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        for logger, level in self.levels:
            logger.setLevel(level)
        return False
