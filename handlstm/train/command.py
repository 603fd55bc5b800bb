"""`handlstm train`: the lesson's training run with lightning.Trainer, end to end.

Trains LSTMByHand (or LightningLSTM with --model torch) on the lesson's two companies with the
lesson's settings, logs train_loss/out_0/out_1 (CSV always, TensorBoard when installed), writes
a checkpoint, prints the predictions next to the labels and plots out_0/out_1 over the epochs.
The Trainer itself is trainer.fit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..data import LABELS, SEQUENCES
from ..errors import UserError
from .trainer import (
    CHECKPOINT,
    MODELS,
    PRECISIONS,
    build_model,
    checkpoint_model,
    fit,
    lesson_params,
    predictions,
)


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
    from .trajectory import dtype_of

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
