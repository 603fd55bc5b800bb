"""`handlstm golden`: the regression baseline, the lesson's seed-42 training from the NumPy reference.

The golden file holds the 12 parameters after a few epochs up to the lesson's 5000 (float64,
reference.train from the seed-42 initial parameters that `handlstm train` draws), each with its
derived float64 tolerance, and the versions that produced it. Without flags the command
recomputes and says whether the stored file still holds; `--update` rewrites it and prints what
changed. Run it after upgrading torch, Lightning or NumPy; tests/test_golden.py checks Lightning
training against the file.
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


def holds(old: dict, new: dict) -> bool:
    """The same start and epochs, and every parameter within its tolerance of the recomputed one."""
    if old.get("initial_params") != new["initial_params"] or set(old.get("params", {})) != set(new["params"]):
        return False
    return all(abs(value - old["params"][epoch][name]) <= new["tolerance"][epoch][name]
               for epoch, params in new["params"].items() for name, value in params.items())


def run(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else GOLDEN
    old = load(path) if (path.exists() or not args.update) else {}
    print(f"Recomputing the lesson's seed-{SEED} training with the NumPy reference"
          f" ({max(EPOCHS)} epochs, float64)...")
    new = generate()
    changed = differences(old, new)
    if args.update:
        path.write_text(json.dumps(new, indent=1) + "\n")
        print("\n".join(["What changed:"] + [f"  {line}" for line in changed]) if changed else "Nothing changed.")
        print(f"wrote {path}")
        return 0
    for line in changed:
        print(f"  {line}")
    if not holds(old, new):
        print(f"The golden file {path} no longer holds: run `handlstm golden --update` if the change is expected.")
        return 1
    print(f"The golden file {path} holds (recorded with {old['versions']}).")
    return 0
