"""`handlstm autograder gradescope`: the zip an instructor uploads to Gradescope; and
`handlstm autograder gradescope-run`, what that zip's run_autograder runs for each submission.

Gradescope's autograder specification (gradescope-autograders.readthedocs.io/en/latest/specs/):
the zip holds `setup.sh` and `run_autograder` at its root and is unpacked into /autograder/source;
setup.sh runs once, as root, while Gradescope builds the image; run_autograder is copied to
/autograder/run_autograder and runs for each submission, in /autograder, with the learner's files
in /autograder/submission; what it leaves in /autograder/results/results.json is the grade.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import io
import json
import shlex
import sys
import time
import traceback
import zipfile
from pathlib import Path

from .errors import UserError

ROOT = "/autograder"  # Gradescope's; --root (run_autograder: $AUTOGRADER_ROOT) for a test tree
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
SUFFIXES = (".py", ".ipynb")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the same options give the same zip, byte for byte

SETUP_SH = """\
#!/usr/bin/env bash
# handlstm's Gradescope autograder, setup: Gradescope runs it once, as root, when it builds the
# image. It installs bubblewrap (the sandbox learners' code runs in), a CPU build of torch and
# handlstm from the wheel beside this file; what is already installed is kept.
# PYTHON picks the interpreter (default python3); run_autograder must be given the same one.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
python="${{PYTHON:-python3}}"
# Ubuntu 24.04's system Python refuses pip without this (PEP 668); older pips ignore it
export PIP_BREAK_SYSTEM_PACKAGES=1
if ! command -v bwrap >/dev/null || ! "$python" -m pip --version >/dev/null 2>&1; then
    apt-get update && apt-get install -y bubblewrap python3 python3-pip
fi
if ! "$python" -c "import torch" >/dev/null 2>&1; then
    "$python" -m pip install {torch} --index-url {index}
fi
"$python" -m pip install "$here/{wheel}"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# handlstm's Gradescope autograder, run for each submission: checks the learner's file from
# /autograder/submission in the sandbox and writes /autograder/results/results.json once the
# sandbox has ended. PYTHON: as for setup.sh. AUTOGRADER_ROOT: another /autograder (for a test).
# -I: nothing from the working folder or PYTHON* variables can stand in for handlstm.
exec "${{PYTHON:-python3}}" -I -m handlstm autograder gradescope-run {arguments} \\
    ${{AUTOGRADER_ROOT:+--root "$AUTOGRADER_ROOT"}}
"""


def configure(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="autograder", metavar="KIND", required=True, parser_class=type(parser))
    build = kinds.add_parser(
        "gradescope", help="write the zip to upload as a Gradescope autograder",
        description="Write the zip to upload as a Gradescope autograder: setup.sh, run_autograder "
                    "and handlstm's wheel. Each submission is checked in the sandbox and gets a "
                    "test per check in results.json.")
    build.add_argument("--out", metavar="ZIP", required=True, help="where to write the zip")
    _grading_options(build)
    grade = kinds.add_parser(
        "gradescope-run", help="what the zip's run_autograder runs: one submission into results.json",
        description="Check the submission in ROOT/submission and write ROOT/results/results.json "
                    "(an error result, score 0, when it cannot be checked).")
    grade.add_argument("--root", metavar="DIR", default=ROOT, help=f"Gradescope's folder (default {ROOT})")
    _grading_options(grade)


def _grading_options(parser: argparse.ArgumentParser) -> None:
    from .check.options import DEFAULT_TIMEOUT, EXAMPLES, seconds

    parser.add_argument("--file-name", metavar="NAME", default=None,
                        help="the file learners submit, e.g. lstm.py (default: the one .py or "
                             ".ipynb file that defines a class with an lstm_unit)")
    parser.add_argument("--points", metavar="CHECK=N,...", default=None,
                        help="points per check, e.g. forward=2,gradients=3,training=4,state=1 (default 1 each)")
    parser.add_argument("--by-hand-only", action="store_true",
                        help="fail a class whose forward uses nn.LSTM, nn.LSTMCell or a fused LSTM kernel")
    parser.add_argument("--param-map", choices=("auto",), default=None,
                        help="auto: learners may rename the twelve parameters (inferred from behaviour)")
    parser.add_argument("--examples", metavar="N", type=int, default=EXAMPLES,
                        help=f"Hypothesis examples per property (default {EXAMPLES})")
    parser.add_argument("--timeout", metavar="SECONDS", type=seconds, default=DEFAULT_TIMEOUT,
                        help=f"time limit for the whole check (default {DEFAULT_TIMEOUT:g})")


def run(args: argparse.Namespace) -> int:
    from .check.exports import parse_points

    points = parse_points(args.points, args.by_hand_only)  # a bad spec is found now, not by the first learner
    if args.file_name is not None and (Path(args.file_name).name != args.file_name or args.file_name.startswith(".")
                                       or Path(args.file_name).suffix not in SUFFIXES):
        raise UserError(f"--file-name {args.file_name!r}: give a file name ending in .py or .ipynb, with no folder and not hidden (.name)")
    if args.examples < 1:
        raise UserError(f"--examples must be at least 1, not {args.examples}")
    if args.autograder == "gradescope":
        write_zip(args)
        print(f"wrote {args.out}: upload it on the assignment's Configure Autograder page "
              f"(total points {sum(points.values()):g})")
        return 0
    return grade(Path(args.root), args)


# --- the zip ----------------------------------------------------------------------------------

def write_zip(args: argparse.Namespace) -> None:
    from .check.options import check_output_paths
    from .check.report import write_atomically

    check_output_paths({"--out": args.out})
    wheel_name, wheel = package_wheel()
    torch = "torch==" + importlib.metadata.version("torch").split("+")[0]  # the one handlstm runs with here
    chosen = [arg for option, value in (("--file-name", args.file_name), ("--points", args.points),
                                        ("--param-map", args.param_map), ("--examples", str(args.examples)),
                                        ("--timeout", f"{args.timeout:g}"))
              if value is not None for arg in (option, value)] + ["--by-hand-only"] * args.by_hand_only
    files = {"setup.sh": SETUP_SH.format(torch=torch, index=CPU_TORCH_INDEX, wheel=wheel_name).encode(),
             "run_autograder": RUN_AUTOGRADER.format(arguments=shlex.join(chosen)).encode(),
             wheel_name: wheel}
    write_atomically(args.out, _zip(files, executable=("setup.sh", "run_autograder")), "--out")


def package_wheel() -> tuple[str, bytes]:
    """handlstm as a wheel (file name, bytes), written from the running package's own files.

    Written, not built (`python -m build`, `pip wheel`): a build needs a source tree and a build
    backend, perhaps fetched from an index, while the running package is at hand whether it was
    installed from a wheel or is an editable checkout. It is pure Python, so its files, its
    metadata and the RECORD of their hashes are the whole wheel."""
    try:
        distribution = importlib.metadata.distribution("handlstm")
    except importlib.metadata.PackageNotFoundError:
        raise UserError("handlstm is not installed here (pip install -e . in a checkout), "
                        "so it cannot be packed into the autograder") from None
    name, version = distribution.metadata["Name"], distribution.version
    info = f"{name}-{version}.dist-info"
    files = {path: source.read_bytes() for path, source in package_files().items()}
    # METADATA of an install; PKG-INFO (the same fields) of the .egg-info a checkout's folder may show first
    metadata = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO") or ""
    files[f"{info}/METADATA"] = metadata.encode()
    files[f"{info}/entry_points.txt"] = (distribution.read_text("entry_points.txt") or "").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: handlstm autograder\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    return f"{name}-{version}-py3-none-any.whl", _zip(files)


def package_files() -> dict[str, Path]:
    """{path in the wheel: file}: every module of handlstm's packages (the folders with an
    __init__.py, handlstm.reference wherever it lives) and handlstm's *.json (package data, as
    pyproject.toml's [tool.setuptools.package-data] says)."""
    import handlstm
    from handlstm import reference

    roots = {"handlstm": Path(handlstm.__file__).parent, "handlstm/reference": Path(reference.__file__).parent}
    files: dict[str, Path] = {}
    for prefix, root in roots.items():
        for module in sorted(root.rglob("*.py")):
            folders = module.relative_to(root).parents
            if all((root / folder / "__init__.py").is_file() for folder in folders):
                files[f"{prefix}/{module.relative_to(root).as_posix()}"] = module
    files.update({f"handlstm/{data.name}": data for data in sorted(roots["handlstm"].glob("*.json"))})
    return files


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip(files: dict[str, bytes], executable: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, ZIP_TIME)
            entry.external_attr = (0o755 if path in executable else 0o644) << 16
            archive.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


# --- one submission ---------------------------------------------------------------------------

def grade(root: Path, args: argparse.Namespace) -> int:
    """Check the submission and write results.json: handlstm's results, written whole after the
    sandbox has ended, or an error result with score 0 and the one line that says why."""
    from .check import exports
    from .check.diagnose import hint
    from .check.report import display_path, error_report, write_atomically

    started = time.monotonic()
    try:
        report = check_submission(root / "submission", args)
    except UserError as error:
        report = error_report("submission", str(error), time.monotonic() - started, "sandbox")
    except Exception as error:  # noqa: BLE001  a bug of handlstm's: results.json still gives the learner a line
        traceback.print_exc(file=sys.stdout)  # stdout is the instructor's (stdout_visibility hidden)
        report = error_report("submission", f"handlstm failed while checking it ({type(error).__name__}): "
                              "your instructor sees the details", time.monotonic() - started, "sandbox")
    results = exports.gradescope_results(report, hint, exports.parse_points(args.points, args.by_hand_only))
    (root / "results").mkdir(parents=True, exist_ok=True)
    write_atomically(str(root / "results" / "results.json"), json.dumps(results, indent=2) + "\n", "results.json")
    print(display_path(results["output"]))
    return 0


def check_submission(folder: Path, args: argparse.Namespace) -> dict:
    """The report of the learner's file in `folder`, checked in the sandbox (never without it:
    outside it, the learner's code could write results.json itself)."""
    from .check.properties_run import keep_hypothesis_files_in_cache
    from .check.run import check

    path = find_submission(folder, args.file_name)
    keep_hypothesis_files_in_cache()
    return check(str(path), param_map=args.param_map, timeout=args.timeout, examples=args.examples,
                 isolation="sandbox", by_hand_only=args.by_hand_only, student_folder=str(folder)).report


def find_submission(folder: Path, file_name: str | None) -> Path:
    """The learner's file: the one named `file_name`, else the one .py or .ipynb file (of several,
    the one that defines a class with an lstm_unit). Links that lead outside `folder` are not its."""
    from .check.report import display_path
    from .check.source import defines_lstm_class, python_files

    if not folder.is_dir():
        raise UserError(f"no submission folder at {folder}")
    candidates = python_files(folder, SUFFIXES)
    shown = ", ".join(display_path(str(p.relative_to(folder))) for p in candidates) or "no .py or .ipynb file"
    if file_name:
        named = [p for p in candidates if p.name == file_name]
        if len(named) != 1:
            raise UserError(f"the submission must hold one file named {file_name}, not {len(named)} "
                            f"(found: {shown})")
        return named[0]
    if len(candidates) > 1:
        candidates = [p for p in candidates if defines_lstm_class(str(p))] or candidates
    if len(candidates) != 1:
        raise UserError(f"the submission must hold one .py or .ipynb file with the LSTM class; found: {shown}")
    return candidates[0]
