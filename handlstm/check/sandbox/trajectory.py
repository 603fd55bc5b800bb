"""Short Lightning training runs: the module's own optimizer and training_step on the data given,
and the 12 parameters recorded after every optimizer step.

Used inside the sandbox on a learner's module and by handlstm's own tests on the bundled ones
(handlstm/train/trajectory.py): torch and Lightning only, and no knowledge of the right answers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import lightning as L
import torch

try:
    from .lightning_moves import set_aside_removed_hooks
except ImportError:  # inside the sandbox these files sit side by side, outside any package
    from lightning_moves import set_aside_removed_hooks

Trajectory = list[dict[str, float]]


class _Recorder(L.Callback):
    """Reads the 12 parameters after each training batch, i.e. after its optimizer step."""

    def __init__(self, read: Callable[[torch.nn.Module], dict[str, float]]):
        self.read = read
        self.trajectory: Trajectory = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.trajectory.append(self.read(pl_module))


def attribute_reader(names: Mapping[str, str]) -> Callable[[torch.nn.Module], dict[str, float]]:
    """Reads scalar parameters by lesson name; `names` maps lesson name -> the module's attribute."""
    lesson_names, attributes = list(names), list(names.values())

    def read(module: torch.nn.Module) -> dict[str, float]:
        with torch.no_grad():
            values = torch.stack([getattr(module, a).detach().reshape(()) for a in attributes])
        return dict(zip(lesson_names, values.tolist()))

    return read


def dataloader(sequences: Sequence[Sequence[float]], labels: Sequence[float], dtype: torch.dtype):
    """Both samples, batch size 1, in order, so one optimizer step per sample (as the lesson's)."""
    from torch.utils.data import DataLoader, TensorDataset

    inputs = torch.tensor(sequences, dtype=dtype)
    targets = torch.tensor(labels, dtype=dtype)
    return DataLoader(TensorDataset(inputs, targets), batch_size=1, shuffle=False)


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


PRECISION = {"float64": "64-true", "float32": "32-true"}  # Lightning's name for each dtype
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def lightning_trajectory(module: L.LightningModule, steps: int, dtype: str,
                         read: Callable[[torch.nn.Module], dict[str, float]],
                         sequences: Sequence[Sequence[float]], labels: Sequence[float],
                         ) -> tuple[float | None, Trajectory]:
    """Train `module` with lightning.Trainer for `steps` optimizer steps on the data given.

    Uses the module's own configure_optimizers and training_step. Returns the optimizer's
    learning rate if it is a torch.optim.Adam (else None) and what `read` reads after every step.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    module.to(DTYPES[dtype])  # Lightning's 64-true would convert it too; 32-true leaves the dtype alone
    set_aside_removed_hooks(module)
    recorder = _Recorder(read)
    loader = dataloader(sequences, labels, DTYPES[dtype])
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        with quiet_lightning(), one_thread():
            trainer = check_trainer(steps, PRECISION[dtype], len(loader), [recorder])
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
