"""`handlstm train`: the lesson's training run with lightning.Trainer, end to end.

Trains LSTMByHand (or LightningLSTM with --model torch) on the lesson's two companies with the
lesson's settings, logs train_loss/out_0/out_1 (CSV always, TensorBoard when installed), writes
a checkpoint, prints the predictions next to the labels and plots out_0/out_1 over the epochs.
`fit` is the Lightning path itself, without any printing, so benchmarks can time it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .data import LABELS, SEQUENCES
from .errors import UserError

# the lesson's settings for each model
MODELS = {
    "hand": {"class": "LSTMByHand", "lr": 0.001, "epochs": 5000},
    "torch": {"class": "LightningLSTM", "lr": 0.1, "epochs": 300},
}
PRECISIONS = {"32": "32-true", "64": "64-true"}
# Lightning's logging interval, in steps: every 10th epoch (2 steps each) and the last reach the
# loggers in full. Writing every step would cost TensorBoard ~0.2 ms a step, more than Lightning's
# whole loop; 500 points a curve over the lesson's 5000 epochs still draw every detail.
LOG_EVERY_N_STEPS = 20
CHECKPOINT = "last.ckpt"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="hand", metavar="{hand,torch}",
                        help="hand: the lesson's LSTMByHand (default); torch: LightningLSTM (nn.LSTM)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="total epochs, counting any resumed ones (default: the lesson's, 5000 hand / 300 torch)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam's learning rate (default: the lesson's, 0.001 hand / 0.1 torch)")
    parser.add_argument("--seed", type=int, default=42, help="seed for the initial parameters (default 42)")
    parser.add_argument("--precision", default="32", metavar="{32,64}", help="float32 (default) or float64")
    parser.add_argument("--resume", metavar="CKPT", default=None,
                        help="continue from a checkpoint of an earlier run (as the lesson does after 2000 epochs)")
    parser.add_argument("--out", metavar="DIR", default="lightning_logs",
                        help="where logs, checkpoint and plot go (default: lightning_logs)")
    parser.add_argument("--json", metavar="FILE", default=None, help="write a machine-readable summary here")


@dataclass
class Settings:
    model: str
    epochs: int
    lr: float
    seed: int
    precision: str
    resume: Path | None
    out: Path
    json: Path | None


def settings_from(args: argparse.Namespace) -> Settings:
    """Check the flags; every mistake is one UserError line."""
    if args.model not in MODELS:
        raise UserError(f"unknown model {args.model!r}: use --model hand (the lesson's LSTMByHand) or --model torch")
    lesson = MODELS[args.model]
    epochs = lesson["epochs"] if args.epochs is None else args.epochs
    if epochs < 0:
        raise UserError(f"--epochs must be 0 or more, got {epochs}")
    lr = lesson["lr"] if args.lr is None else args.lr
    if not lr > 0:
        raise UserError(f"--lr must be a positive number, got {args.lr}")
    if str(args.precision) not in PRECISIONS:
        raise UserError(f"unknown precision {args.precision!r}: use --precision 32 or --precision 64")
    resume = Path(args.resume) if args.resume else None
    if resume is not None and not resume.is_file():
        raise UserError(f"cannot read checkpoint {resume}: no such file (pass the .ckpt an earlier run printed)")
    json_path = Path(args.json) if args.json else None
    if json_path is not None and not json_path.parent.is_dir():
        raise UserError(f"cannot write {json_path}: folder {json_path.parent} does not exist")
    return Settings(args.model, epochs, lr, args.seed, str(args.precision), resume, Path(args.out),
                    json_path)


def build_model(model: str, lr: float, seed: int):
    """The lesson's module with its initial parameters drawn after seeding, as the lesson does."""
    import lightning as L

    from . import model as models

    L.seed_everything(seed, verbose=False)
    return getattr(models, MODELS[model]["class"])(lr=lr)


def lesson_params(module) -> dict[str, float]:
    """The 12 values by the lesson's names, for either model (nn.LSTM through the mapping)."""
    from handlstm.reference import PARAM_NAMES

    from .torch_lstm import from_torch_lstm

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

    from .data import dataloader
    from .training import dtype_of, frozen_heap, one_thread, quiet_lightning

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
        with frozen_heap():
            trainer.fit(model, train_dataloaders=dataloader(dtype_of(lightning_precision)),
                        ckpt_path=os.fspath(resume) if resume else None, weights_only=False)
    if log:
        trainer.save_checkpoint(Path(trainer.log_dir) / "checkpoints" / CHECKPOINT, weights_only=False)
    return trainer


def predictions(module) -> dict[str, float]:
    """The trained module's outputs for company A and company B."""
    import torch

    dtype = next(module.parameters()).dtype
    with torch.no_grad():
        outputs = module(torch.tensor(SEQUENCES, dtype=dtype))
    return {"A": float(outputs[0]), "B": float(outputs[1])}


def plot(metrics_csv: Path, target: Path) -> str:
    """out_0 and out_1 over the epochs, from the CSV log, as a PNG; returns a line saying what happened."""
    if importlib.util.find_spec("matplotlib") is None:
        return "plot skipped: matplotlib is not installed (pip install matplotlib)"
    if not metrics_csv.is_file():
        return "plot skipped: nothing was logged (no epochs trained)"
    import csv

    from matplotlib.figure import Figure

    series: dict[str, list[tuple[float, float]]] = {"out_0": [], "out_1": []}
    with open(metrics_csv, newline="") as file:
        for row in csv.DictReader(file):
            for name, points in series.items():
                if row.get(name):
                    points.append((float(row["epoch"]), float(row[name])))
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for (name, points), company, label in zip(series.items(), ("A", "B"), LABELS):
        if points:
            axes.plot(*zip(*points), label=f"{name}: company {company} (label {label:g})")
    axes.set_xlabel("epoch")
    axes.set_ylabel("prediction for day 5")
    axes.set_title("The lesson's LSTM learning both companies")
    axes.legend()
    figure.savefig(target, dpi=100)
    return f"plot:       {target}"


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from .training import dtype_of

    model = build_model(settings.model, settings.lr, settings.seed).to(dtype_of(PRECISIONS[settings.precision]))
    initial = lesson_params(model)
    if settings.resume is not None:
        held, checkpoint = checkpoint_model(settings.resume)
        if held != settings.model:
            raise UserError(f"checkpoint {settings.resume} is of the {held} model; pass --model {held} to resume it")
        if checkpoint.get("epoch", 0) >= settings.epochs:
            raise UserError(f"checkpoint {settings.resume} already has {checkpoint['epoch']} epochs;"
                            f" pass --epochs with a larger total to train on")
        model.load_state_dict(checkpoint["state_dict"])
        initial = lesson_params(model)
    print(f"Training {type(model).__name__} on the lesson's two companies: {settings.epochs} epochs,"
          f" Adam lr {settings.lr:g}, seed {settings.seed}, float{settings.precision}"
          + (f", resuming from {settings.resume}" if settings.resume else ""))
    start = time.perf_counter()
    trainer = fit(model, settings.epochs, settings.out, precision=settings.precision, resume=settings.resume,
                  show_progress=sys.stdout.isatty())
    seconds = time.perf_counter() - start
    predicted = predictions(model)
    final = lesson_params(model)
    log_dir = Path(trainer.log_dir)

    print(f"\nPredictions after {trainer.current_epoch} epochs ({seconds:.1f} s):")
    for (company, value), days, label in zip(predicted.items(), SEQUENCES, LABELS):
        print(f"  company {company} {list(days)}: predicted {value:.4f}   label {label:g}")
    print(f"\nlogs:       {log_dir} (metrics.csv" + (", TensorBoard" if len(trainer.loggers) > 1 else "") + ")")
    print(f"checkpoint: {log_dir / 'checkpoints' / CHECKPOINT}")
    print(plot(log_dir / "metrics.csv", log_dir / "predictions.png"))
    if settings.json is not None:
        summary = {"model": settings.model, "epochs": trainer.current_epoch, "seed": settings.seed,
                   "lr": float(trainer.optimizers[0].param_groups[0]["lr"]), "precision": int(settings.precision),
                   "initial_params": initial, "final_params": final, "predictions": predicted,
                   "seconds": seconds}
        try:
            settings.json.write_text(json.dumps(summary, indent=2) + "\n")
        except OSError as error:
            raise UserError(f"cannot write {settings.json}: {error.strerror}") from None
        print(f"summary:    {settings.json}")
    return 0
