"""`handlstm golden`: the regression baseline, the lesson's seed-42 training from the NumPy reference.

The golden file holds the 12 parameters after a few epochs up to the lesson's 5000 (float64,
reference.train from the seed-42 initial parameters that `handlstm train` draws), each with its
derived float64 tolerance, and the versions that produced it. Run it after upgrading torch,
Lightning or NumPy: without flags the command checks both sides against the file, (1) the NumPy
reference recomputed and (2) LSTMByHand trained by Lightning through `handlstm train`'s own fit,
in float64, for the lesson's 5000 epochs (`--reference-only` leaves out the second). It prints
what is beyond its tolerance first, then the harmless changes within it, then the versions
recorded against those installed. `--update` rewrites the file from the reference and prints
what changed.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from .data import LABELS, SEQUENCES
from .errors import UserError

GOLDEN = Path(__file__).with_name("golden.json")
SEED, LR = 42, 0.001  # the lesson's settings for LSTMByHand
EPOCHS = (1, 10, 100, 1000, 2000, 5000)  # 2000: where the lesson stops to look before resuming
STEPS_PER_EPOCH = len(SEQUENCES)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--update", action="store_true",
                        help="regenerate the golden file and print what changed")
    parser.add_argument("--file", metavar="JSON", default=None,
                        help=f"golden file to compare or write (default: the packaged {GOLDEN.name})")
    parser.add_argument("--reference-only", action="store_true",
                        help="check only the NumPy reference, not Lightning training (seconds, not a minute)")


def versions() -> dict[str, str]:
    import lightning
    import numpy
    import torch

    from . import __version__

    return {"handlstm": __version__, "numpy": numpy.__version__, "torch": torch.__version__,
            "lightning": lightning.__version__, "python": platform.python_version()}


def initial_params() -> dict[str, float]:
    """The lesson's seed-42 initial parameters, drawn exactly as `handlstm train` draws them."""
    from .train import build_model, lesson_params

    return lesson_params(build_model("hand", LR, SEED))


def generate(epochs: tuple[int, ...] | None = None) -> dict:
    """The golden content: the reference's trajectory at `epochs`, its tolerances, the versions."""
    from handlstm import reference

    from . import tolerances

    epochs = epochs or EPOCHS
    start = initial_params()
    trajectory = reference.train(start, SEQUENCES, LABELS, LR, max(epochs) * STEPS_PER_EPOCH)
    at = {str(e): e * STEPS_PER_EPOCH for e in epochs}  # steps taken after each epoch
    bounds = tolerances.propagated_trajectory_tolerance(start, trajectory, LR, "float64", SEQUENCES, LABELS,
                                                        at_steps=list(at.values()))
    return {
        "about": "LSTMByHand trained on the lesson's two companies (A then B, one Adam step each) from "
                 "the seed-42 initial parameters: NumPy reference, float64. Regenerate with "
                 "`handlstm golden --update`.",
        "versions": versions(),
        "seed": SEED, "lr": LR,
        "initial_params": start,
        "params": {e: {n: float(v) for n, v in trajectory[step - 1].items()} for e, step in at.items()},
        # tolerances.propagated_trajectory_tolerance for a float64 implementation, at each epoch
        "tolerance": {e: bounds[step] for e, step in at.items()},
    }


def load(path: Path = GOLDEN) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"no golden file at {path}: create it with `handlstm golden --update`") from None
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read golden file {path}: {error}") from None


def differences(old: dict, new: dict) -> list[str]:
    """What changed between two golden contents, one line per changed item; empty if nothing did."""
    lines = []
    for key in ("seed", "lr"):
        if old.get(key) != new[key]:
            lines.append(f"{key}: {old.get(key)!r} -> {new[key]!r}")
    for name, value in new["initial_params"].items():
        if old.get("initial_params", {}).get(name) != value:
            lines.append(f"initial {name}: {old.get('initial_params', {}).get(name)!r} -> {value!r}")
    for epoch, params in new["params"].items():
        before = old.get("params", {}).get(epoch)
        if before is None:
            lines.append(f"epoch {epoch}: new")
            continue
        moved = {n: abs(v - before[n]) for n, v in params.items() if v != before.get(n)}
        if moved:
            worst = max(moved, key=moved.get)
            ratio = moved[worst] / new["tolerance"][epoch][worst]
            lines.append(f"epoch {epoch}: {len(moved)} of 12 parameters changed, most {worst}"
                         f" by {moved[worst]:.3g} ({ratio:.3g} of its tolerance)")
    for epoch, bounds in new["tolerance"].items():
        before = old.get("tolerance", {}).get(epoch)
        if before is not None and before != bounds:
            lines.append(f"epoch {epoch}: tolerance now up to {max(bounds.values()):.3g}"
                         f" (was up to {max(before.values()):.3g})")
    for epoch in old.get("params", {}):
        if epoch not in new["params"]:
            lines.append(f"epoch {epoch}: removed")
    for package, version in new["versions"].items():
        if old.get("versions", {}).get(package) != version:
            lines.append(f"{package}: {old.get('versions', {}).get(package)} -> {version}")
    return lines


def lightning_params(epochs: tuple[int, ...], show_progress: bool = False) -> dict[str, dict[str, float]]:
    """LSTMByHand from the seed-42 start, trained in float64 by `handlstm train`'s own fit: the 12
    parameters after each of `epochs`, keyed as the golden file keys them."""
    import tempfile

    import lightning as L

    from .train import build_model, fit, lesson_params

    recorded: dict[str, dict[str, float]] = {}

    class AtEpochs(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch + 1 in epochs:
                recorded[str(trainer.current_epoch + 1)] = lesson_params(module)

    with tempfile.TemporaryDirectory() as out:
        fit(build_model("hand", LR, SEED), max(epochs), out, precision="64", log=False,
            callbacks=[AtEpochs()], show_progress=show_progress)
    return recorded


def compare(golden: dict, params: dict[str, dict[str, float]], source: str) -> tuple[list[str], list[str]]:
    """(values beyond their tolerance, one line each; harmless changes within it, one line per epoch)."""
    failing, harmless = [], []
    for epoch, expected in golden["params"].items():
        got = params.get(epoch)
        if got is None:
            failing.append(f"epoch {epoch}: {source} has no parameters for it")
            continue
        ratios = {}
        for name, value in expected.items():
            tolerance = golden["tolerance"][epoch][name]
            error = abs(got[name] - value)
            if not error <= tolerance:
                failing.append(f"epoch {epoch} {name}: golden {value!r}, {source} {got[name]!r}"
                               f" (off by {error:.3g}; tolerance {tolerance:.3g})")
            elif error:
                ratios[name] = error / tolerance if tolerance else 0.0
        if ratios:
            worst = max(ratios, key=ratios.get)
            harmless.append(f"epoch {epoch}: {len(ratios)} of 12 differ from the golden file within their"
                            f" tolerance ({source}; at most {ratios[worst]:.2g} of it, {worst})")
    return failing, harmless


def version_lines(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    return [f"{package}: {recorded.get(package, '?')} recorded, {version} now"
            + ("" if recorded.get(package) == version else "  (changed)") for package, version in now.items()]


def run(args: argparse.Namespace) -> int:
    import sys

    path = Path(args.file) if args.file else GOLDEN
    again = f"handlstm golden --update{f' --file {args.file}' if args.file else ''}"
    if args.update:
        old = load(path) if path.exists() else {}
        print(f"Recomputing the lesson's seed-{SEED} training with the NumPy reference"
              f" ({max(EPOCHS)} epochs, float64)...")
        new = generate()
        changed = differences(old, new)
        path.write_text(json.dumps(new, indent=1) + "\n")
        print("\n".join(["What changed:"] + [f"  {line}" for line in changed]) if changed else "Nothing changed.")
        print(f"wrote {path}")
        return 0
    old = load(path)
    epochs = tuple(sorted(int(e) for e in old.get("params", {}))) or EPOCHS
    failing, harmless = [], []
    if old.get("initial_params") != initial_params():
        failing.append("the seed-42 initial parameters differ from the file's: torch draws other numbers")
    steps = "1/1" if args.reference_only else "1/2"
    print(f"{steps} the NumPy reference, recomputed ({max(epochs)} epochs, float64)...", flush=True)
    trajectory = reference_params(old["initial_params"], epochs) if old.get("initial_params") else {}
    for found, lines in zip(compare(old, trajectory, "reference"), (failing, harmless)):
        lines += found
    if not args.reference_only:
        print(f"2/2 Lightning training of LSTMByHand ({max(epochs)} epochs, float64, `handlstm train`'s fit)...",
              flush=True)
        for found, lines in zip(compare(old, lightning_params(epochs, sys.stderr.isatty()), "Lightning"),
                                (failing, harmless)):
            lines += found
    if failing:
        print("Beyond tolerance:")
        print("\n".join(f"  {line}" for line in failing))
    if harmless:
        print("Within tolerance (last-bit changes, harmless):")
        print("\n".join(f"  {line}" for line in harmless))
    print("Versions:")
    print("\n".join(f"  {line}" for line in version_lines(old.get("versions", {}), versions())))
    checked = "the NumPy reference" if args.reference_only else "the NumPy reference and Lightning training"
    if failing:
        print(f"The golden file {path} does not hold for {checked}: if the change is expected, run `{again}`.")
        return 1
    print(f"The golden file {path} holds for {checked}.")
    return 0


def reference_params(start: dict[str, float], epochs: tuple[int, ...]) -> dict[str, dict[str, float]]:
    """The reference's 12 parameters after each of `epochs`, from `start`."""
    from handlstm import reference

    trajectory = reference.train(start, SEQUENCES, LABELS, LR, max(epochs) * STEPS_PER_EPOCH)
    return {str(e): {n: float(v) for n, v in trajectory[e * STEPS_PER_EPOCH - 1].items()} for e in epochs}
