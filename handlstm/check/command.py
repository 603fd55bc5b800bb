"""`handlstm check PATH[:CLASS]...`: does a learner's LSTMbyHand compute, differentiate and train
like the lesson's? One file, or many graded together (a table and gradebook files)."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UserError
from .options import (
    DEFAULT_TIMEOUT,
    EXAMPLES,
    check_output_paths,
    jobs,
    read_param_map,
    seconds,
    split_target,
)

EPILOG = ("exit codes: 0 every file conforms, 1 a file does not conform, 2 a file could not be checked "
          "or the command line is wrong. The mistakes handlstm names: docs/mistakes.md.")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("target", metavar="PATH[:CLASS]", nargs="+",
                        help="a learner's .py file or .ipynb notebook, optionally :ClassName; "
                             "several, or folders of them, are graded together")
    parser.add_argument("--param-map", metavar="MAP.json", default=None,
                        help="JSON object from each lesson name to the learner's attribute name, "
                             'e.g. {"wlr1": "w_blue1", ...}; or auto: inferred from behaviour')
    parser.add_argument("--json", metavar="REPORT.json", default=None, help="also write the report as JSON")
    parser.add_argument("--timeout", metavar="SECONDS", type=seconds, default=DEFAULT_TIMEOUT,
                        help=f"time limit for each file's whole check (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--examples", metavar="N", type=int, default=EXAMPLES,
                        help=f"Hypothesis examples per property (default {EXAMPLES})")
    parser.add_argument("--isolation", choices=("sandbox", "process"), default=None,
                        help="sandbox: each file in a bubblewrap sandbox (the default where bubblewrap "
                             "works; required for several files unless process is given); process: "
                             "a child process only")
    parser.add_argument("--by-hand-only", action="store_true",
                        help="fail a class whose forward uses nn.LSTM, nn.LSTMCell or a fused LSTM "
                             "kernel (otherwise a not-by-hand finding that does not decide the verdict)")
    parser.add_argument("--jobs", "-j", metavar="J", type=jobs, default=None,
                        help="with several files or a folder: check J files at a time "
                             "(default and most: the cores this machine gives)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="check the files on the Dask cluster whose scheduler is at ADDRESS "
                             "(tcp://HOST:8786), each worker in its own sandbox (docs/cluster.md; "
                             "pip install 'handlstm[cluster]')")
    parser.add_argument("--report-dir", metavar="DIR", default=None,
                        help="write each file's JSON report to DIR/<its path>.json")
    parser.add_argument("--csv", metavar="FILE", default=None, help="write a gradebook: one row per file")
    parser.add_argument("--junit-xml", metavar="FILE", default=None,
                        help="write JUnit XML: a testsuite per file, a testcase per check")
    parser.add_argument("--gradescope", metavar="FILE", default=None,
                        help="write Gradescope's results.json for one submission (one file)")
    parser.add_argument("--points", metavar="CHECK=N,...", default=None,
                        help="with --gradescope: points per check, e.g. forward=2,gradients=3,training=4,state=1 "
                             "(default 1 each)")
    parser.add_argument("--html", metavar="FILE", default=None,
                        help="write a self-contained HTML page: verdicts, the mistakes across the class, "
                             "a table of the files, each failed file's counterexample with a plot")


def is_many(arguments: list[str]) -> bool:
    """Several PATHs, or a folder: graded together with a summary table."""
    return len(arguments) > 1 or any(os.path.isdir(split_target(a)[0]) for a in arguments)


def run(args: argparse.Namespace) -> int:
    from . import exports, grading
    from .cluster import cluster_isolation
    from .sandbox.client import Zygote, choose_isolation

    targets = grading.discover(args.target)
    many = is_many(args.target)
    if args.json and many:
        raise UserError("--json writes one file's report; for several files use --report-dir DIR")
    if args.gradescope and len(targets) != 1:
        raise UserError(f"--gradescope writes one submission's results: give one file, not {len(targets)}")
    if args.points is not None and not args.gradescope:
        raise UserError("--points sets the points of --gradescope's tests: give --gradescope FILE too")
    exports.parse_points(args.points, args.by_hand_only)  # a bad spec is found before any file is checked
    if args.examples < 1:
        raise UserError(f"--examples must be at least 1, not {args.examples}")
    if args.scheduler is not None and args.jobs:
        raise UserError("--jobs sets the local workers; with --scheduler the cluster's workers check the files "
                        "(start more with `dask worker ADDRESS --nworkers N --nthreads 1`)")
    check_output_paths({"--json": args.json, "--csv": args.csv, "--junit-xml": args.junit_xml,
                        "--gradescope": args.gradescope, "--report-dir": args.report_dir, "--html": args.html})
    writes_reports = any((args.csv, args.junit_xml, args.gradescope, args.report_dir, args.html))
    options = {"param_map": read_param_map(args.param_map), "timeout": args.timeout,
               "examples": args.examples, "by_hand_only": args.by_hand_only,
               "isolation": cluster_isolation(args.isolation) if args.scheduler is not None
               else choose_isolation(args.isolation, many or writes_reports)}
    if not many and args.scheduler is None:  # the sandbox imports torch and Lightning meanwhile
        Zygote.shared(options["isolation"])
    from .properties_run import keep_hypothesis_files_in_cache

    keep_hypothesis_files_in_cache()
    if many or args.scheduler is not None:
        outcomes = grading.grade(targets, args.jobs, options, on_done=grading.ProgressBar(len(targets)),
                                 scheduler=args.scheduler)
    else:
        from .run import check

        target = targets[0]
        outcomes = [check(target.path, target.class_name, **options)]
        outcomes = [{"report": o.report} for o in outcomes]
    reports = [o["report"] for o in outcomes]
    _write_reports(args, targets, reports)
    if many:
        from .exports import summary_table, worst_exit_code

        print(summary_table(targets, reports))
        return worst_exit_code(reports)
    return _print_one(reports[0])


def _print_one(report: dict) -> int:
    from . import report as reporting
    from .diagnose import hint

    if {c["status"] for c in report["checks"]} != {"error"}:  # a file that could not be checked: its one line
        print(reporting.human(report, hint))
    if report["verdict"] == "error":
        print(f"handlstm check: error: {reporting.error_line(report)}", file=sys.stderr)
    return reporting.exit_code(report)


def _write_reports(args, targets, reports: list[dict]) -> None:
    """--json, --report-dir, --csv, --junit-xml, --gradescope and --html, each written whole (after every
    sandbox of the run has ended)."""
    from . import exports
    from .diagnose import hint
    from .report import write_json

    if args.json:
        write_json(reports[0], args.json)
    if args.report_dir:
        exports.write_report_dir(args.report_dir, targets, reports)
    if args.csv:
        exports.write_csv(args.csv, targets, reports)
    if args.junit_xml:
        exports.write_junit_xml(args.junit_xml, reports, hint)
    if args.gradescope:
        exports.write_gradescope(args.gradescope, reports, hint, exports.parse_points(args.points, args.by_hand_only))
    if args.html:
        from .html import write_html

        write_html(args.html, reports)
