"""What the user gives `handlstm check` (and the pytest plugin): targets, the parameter map, and
the numbers, each checked to one clear line. The parent's side; no torch."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from ..errors import UserError

DEFAULT_TIMEOUT = 60.0
EXAMPLES = 100  # Hypothesis examples per property, unless --examples says otherwise


def split_target(target: str) -> tuple[str, str | None]:
    """PATH[:CLASS] -> (path, class or None). `my_lstm.py:` (an empty class name) is refused."""
    path, colon, name = target.rpartition(":")
    if colon and not Path(target).exists():
        if name.isidentifier() and path:
            return path, name
        if not name and path:
            raise UserError(f"{target}: give a class name after the colon, or none at all")
    return target, None


def read_param_map(path: str | None) -> dict | str | None:
    if path is None or path == "auto":
        return path
    try:
        mapping = json.loads(Path(path).read_text())
    except OSError as error:
        raise UserError(f"--param-map {path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise UserError(f"--param-map {path}: not valid JSON ({error})") from None
    if not isinstance(mapping, dict):
        raise UserError(f"--param-map {path}: give a JSON object from lesson names to attribute names")
    return mapping


def seconds(text: str) -> float:
    """argparse type of --timeout: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def jobs(text: str) -> int:
    """argparse type of --jobs: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of files at a time, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(requested: int | None, files: int) -> int:
    """--jobs, capped at the cores this machine gives and at the number of files; default: the cores."""
    return max(1, min(requested or usable_cores(), usable_cores(), files))


def check_output_paths(outputs: dict[str, str | None]) -> None:
    """Each output file's folder exists and can be written, before any file is checked (a class of
    1000 must not be lost to a typo found at the end). `outputs`: option -> path or None."""
    for option, path in outputs.items():
        if path is None:
            continue
        if option == "--report-dir":  # asked for: made now, so a path that cannot be is found now
            try:
                Path(path).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(f"--report-dir {path}: cannot create it ({error.strerror})") from None
            continue
        folder = Path(path).parent
        existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
        if Path(path).is_dir():
            raise UserError(f"{option} {path}: is a folder; give a file name")
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise UserError(f"{option} {path}: cannot write there ({existing} is not a writable folder)")
        if existing != folder:
            raise UserError(f"{option} {path}: the folder {folder} does not exist")
