"""`handlstm check PATH[:CLASS]`: does a learner's LSTMbyHand compute, differentiate and train like
the lesson's? Exit code 0 conforms, 1 does not, 2 could not be checked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UserError

DEFAULT_TIMEOUT = 60.0
DEFAULT_EXAMPLES = 100  # keep equal to verdict.EXAMPLES (verdict is imported only when run)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="PATH[:CLASS]", nargs="+",
                        help="a learner's .py file or .ipynb notebook, optionally :ClassName; "
                             "several, or folders of them, are graded together")
    parser.add_argument("--param-map", metavar="MAP.json", default=None,
                        help="JSON object from each lesson name to the learner's attribute name, "
                             'e.g. {"wlr1": "w_blue1", ...}; or auto: inferred from behaviour')
    parser.add_argument("--json", metavar="REPORT.json", default=None, help="also write the report as JSON")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=DEFAULT_TIMEOUT,
                        help=f"time limit for the whole check (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--examples", metavar="N", type=int, default=DEFAULT_EXAMPLES,
                        help=f"Hypothesis examples per property (default {DEFAULT_EXAMPLES})")
    from .grading import configure as configure_grading  # many files; CI and autograder reports

    configure_grading(parser)


def split_target(target: str) -> tuple[str, str | None]:
    """PATH[:CLASS] -> (path, class or None)."""
    path, _, name = target.rpartition(":")
    if path and name.isidentifier() and not Path(target).exists():
        return path, name
    return target, None


def read_param_map(path: str | None) -> dict | None:
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


def run(args: argparse.Namespace) -> int:
    from . import report, verdict

    from . import grading

    if grading.is_many(args.target):
        return grading.run(args)
    path, class_name = split_target(args.target[0])
    outcome = verdict.check(path, class_name, read_param_map(args.param_map), args.timeout, args.examples)
    if args.json:
        report.write_json(outcome.report, args.json)
    statuses = {c["status"] for c in outcome.report["checks"]}
    if statuses != {"error"}:  # a file that could not be checked at all gets just its one line
        print(report.human(outcome.report, outcome.diagnoses, _hint_function()))
    if outcome.report["verdict"] == "error":
        print(f"handlstm check: error: {verdict.error_line(outcome.report)}", file=sys.stderr)
    grading.write_reports(args, args.target, [outcome.report], [outcome.diagnoses])  # --csv, --junit-xml, --gradescope, ...
    return report.exit_code(outcome.report)


def _hint_function():
    try:
        from . import diagnose
    except ModuleNotFoundError as missing:
        if missing.name != f"{__package__}.diagnose":
            raise
        return None
    return getattr(diagnose, "hint", None)
