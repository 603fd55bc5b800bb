"""The Trainer `handlstm train` runs (and `handlstm golden`, and benchmarks): the lesson's settings,
building the module as the lesson does, `fit` with its loggers, progress bar and checkpoint, and
reading the trained module's parameters and predictions. No printing."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from pathlib import Path

from ..data import SEQUENCES
from ..errors import UserError

# the lesson's settings for each model
MODELS = {
    "hand": {"class": "LSTMByHand", "lr": 0.001, "epochs": 5000},
    "torch": {"class": "LightningLSTM", "lr": 0.1, "epochs": 300},
}
PRECISIONS = {"32": "32-true", "64": "64-true"}  # handlstm train --precision -> Lightning's name
# Lightning's logging interval, in steps: every 10th epoch (2 steps each) and the last reach the
# loggers in full. Writing every step would cost TensorBoard ~0.2 ms a step, more than Lightning's
# whole loop; 500 points a curve over the lesson's 5000 epochs still draw every detail.
LOG_EVERY_N_STEPS = 20
CHECKPOINT = "last.ckpt"


def build_model(model: str, lr: float, seed: int):
    """The lesson's module with its initial parameters drawn after seeding, as the lesson does."""
    import lightning as L

    from .. import model as models
    from .speed import quiet_lightning

    with quiet_lightning():  # its "Seed set to" line (Lightning < 2.3 has no verbose=False)
        L.seed_everything(seed)
    return getattr(models, MODELS[model]["class"])(lr=lr)


def lesson_params(module) -> dict[str, float]:
    """The 12 values by the lesson's names, for either model (nn.LSTM through the mapping)."""
    from handlstm.reference import PARAM_NAMES

    from ..torch_lstm import from_torch_lstm

    if hasattr(module, "lstm"):
        return from_torch_lstm(module.lstm)
    return {name: float(getattr(module, name).detach()) for name in PARAM_NAMES}


def checkpoint_model(path: Path) -> tuple[str, dict]:
    """Which model a checkpoint holds ("hand" or "torch") and its state dict; UserError if unreadable."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # any unpickling failure means the same thing to the user
        raise UserError(f"cannot read checkpoint {path}: {type(error).__name__}: {error}") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise UserError(f"cannot read checkpoint {path}: it is not a Lightning checkpoint (no state_dict)")
    if "wlr1" in state:
        return "hand", checkpoint
    if "lstm.weight_ih_l0" in state:
        return "torch", checkpoint
    raise UserError(f"checkpoint {path} holds neither of the lesson's models (parameters: {', '.join(list(state)[:4])}...)")


def progress_bar(refresh_epochs: int = 25):
    """Lightning's tqdm bar, one bar over all epochs: the lesson's epochs are 2 batches each, and
    Lightning's default bar (a new bar per epoch, redrawn every batch) costs more than the step."""
    from lightning.pytorch.callbacks import TQDMProgressBar
    from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

    class EpochBar(TQDMProgressBar):
        def on_train_start(self, trainer, pl_module):
            self.train_progress_bar = Tqdm(
                desc="Epochs", total=trainer.max_epochs, initial=trainer.current_epoch, leave=True,
                disable=self.is_disabled, dynamic_ncols=True, file=sys.stdout, smoothing=0,
                bar_format=self.BAR_FORMAT)

        def on_train_epoch_start(self, trainer, *_):
            pass

        def on_train_batch_end(self, *_):
            pass

        def on_train_epoch_end(self, trainer, pl_module):
            done = trainer.current_epoch + 1
            if done % refresh_epochs == 0 or done == trainer.max_epochs:
                self.train_progress_bar.n = done
                self.train_progress_bar.refresh()

    return EpochBar()


def loggers(out: Path, name: str) -> list:
    """CSV always; TensorBoard too when it is installed. Both write into the same version folder."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    csv = CSVLogger(out, name=name)
    chosen = [csv]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        chosen.append(TensorBoardLogger(out, name=name, version=csv.version, default_hp_metric=False))
    return chosen


def fit(model, epochs: int, out: str | os.PathLike, *, precision: str = "32", resume: str | os.PathLike | None = None,
        show_progress: bool = False, log: bool = True, callbacks: list | None = None):
    """Train `model` with lightning.Trainer on the lesson's data for `epochs` (total) epochs.

    The same Trainer `handlstm train` uses, without printing anything: `out` receives the logs
    (CSV, TensorBoard when installed) and `<log dir>/checkpoints/last.ckpt`; `log=False` leaves
    out loggers and checkpoint. `callbacks` are added to the Trainer's. Returns the Trainer.
    """
    import lightning as L

    from ..data import dataloader
    from .speed import frozen_heap, one_thread, quiet_lightning
    from .trajectory import dtype_of

    lightning_precision = PRECISIONS.get(str(precision), precision)
    # in the training dtype before Lightning restores a checkpoint into it, so float64 values
    # are not rounded through float32 parameters on the way
    model.to(dtype_of(lightning_precision))
    chosen_loggers = loggers(Path(out), type(model).__name__) if log else False
    # quiet: Lightning's banner and its advice on workers (the lesson's data is 2 samples)
    with quiet_lightning(), one_thread():
        trainer = L.Trainer(
            max_epochs=epochs, accelerator="cpu", devices=1, precision=lightning_precision,
            logger=chosen_loggers,
            log_every_n_steps=LOG_EVERY_N_STEPS,  # see LOG_EVERY_N_STEPS
            # Lightning's ModelCheckpoint saves after every epoch (a file write per 2 steps here); the
            # one checkpoint worth keeping is written once, after fit, below
            enable_checkpointing=False,
            # the default bar redraws every batch and restarts every epoch; EpochBar shows all epochs
            enable_progress_bar=show_progress,
            callbacks=([progress_bar()] if show_progress else []) + list(callbacks or []),
            enable_model_summary=False,  # a table of 12 scalars (or one nn.LSTM) says nothing new
            default_root_dir=out,
        )
        # Lightning >= 2.5 asks whether a checkpoint may hold more than weights (ours holds the
        # optimizer's state too); earlier versions take no such argument
        full = {"weights_only": False} if "weights_only" in inspect.signature(trainer.fit).parameters else {}
        with frozen_heap():
            trainer.fit(model, train_dataloaders=dataloader(dtype_of(lightning_precision)),
                        ckpt_path=os.fspath(resume) if resume else None, **full)
    if log:
        trainer.save_checkpoint(Path(trainer.log_dir) / "checkpoints" / CHECKPOINT, **full)
    return trainer


def predictions(module) -> dict[str, float]:
    """The trained module's outputs for company A and company B."""
    import torch

    dtype = next(module.parameters()).dtype
    with torch.no_grad():
        outputs = module(torch.tensor(SEQUENCES, dtype=dtype))
    return {"A": float(outputs[0]), "B": float(outputs[1])}
