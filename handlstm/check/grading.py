"""Grading many files at once: `handlstm check PATH... [--jobs J] [--report-dir DIR] [--csv FILE]`.

Each file is checked by `verdict.check` exactly as for one file, by one of J worker processes;
the learner's code of each file runs in a fresh child of its own with the check's limits, so a
file that crashes, hangs or exhausts memory costs only its own row, which says why. A worker that
overruns anyway is killed with everything it started and replaced. The parent only schedules
workers and collects their reports; it never imports torch or the learners' code.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Callable, Sequence, TextIO

from ..errors import UserError
from .command import split_target
from .report import EXIT_CODES

SUFFIXES = (".py", ".ipynb")
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "node_modules", "site-packages"}
# check_file keeps to its own time limit; a worker gets this much more (its start-up, stopping
# the child, reporting) before it is taken for hung and killed.
WORKER_SLACK_S = 60.0


@dataclass(frozen=True)
class Target:
    path: str  # as the user will recognise it
    class_name: str | None
    relative: str  # where its JSON report goes under --report-dir


def discover(arguments: Sequence[str]) -> list[Target]:
    """Files (as given, even missing ones: their row says so) and folders' .py and .ipynb files, sorted."""
    found: list[tuple[str, str | None]] = []
    for argument in arguments:
        path, class_name = split_target(argument)
        if os.path.isdir(path):
            if class_name:
                raise UserError(f"{argument}: a class name goes with a file, not with the folder {path}")
            inside = sorted(str(p) for p in Path(path).rglob("*")
                            if p.suffix in SUFFIXES and p.is_file()
                            and not any(part in SKIPPED_DIRS or part.startswith(".")
                                        for part in p.relative_to(path).parts))
            if not inside:
                raise UserError(f"{path}: no .py or .ipynb files in this folder")
            found += [(p, None) for p in inside]
        else:
            found.append((path, class_name))
    seen: set[tuple[str, str | None]] = set()
    unique = [f for f in found if not (f in seen or seen.add(f))]
    absolute = [os.path.abspath(p) for p, _ in unique]
    root = os.path.commonpath([os.path.dirname(a) for a in absolute]) if absolute else ""
    return [Target(p, c, os.path.relpath(a, root) + (f".{c}" if c else ""))
            for (p, c), a in zip(unique, absolute)]


# --- running ---------------------------------------------------------------------------------

def _worker(connection: Connection, options: dict) -> None:
    """In a worker process: check the files the parent sends, one at a time, until it sends None.

    A worker outlives its files so that its fork server (torch imported once) serves them all;
    the learner's code never runs here but in a child forked for each file."""
    os.setpgrp()  # its own group: a kill on timeout takes whatever it started too
    from .verdict import check

    while (task := connection.recv()) is not None:
        target = task
        try:
            outcome = check(target.path, target.class_name, **options)
        except UserError as error:  # e.g. a --param-map that names no lesson parameter: its one line
            connection.send(error_outcome(target, str(error), 0.0))
        else:
            connection.send({"report": outcome.report, "diagnoses": outcome.diagnoses})
    connection.close()


def error_outcome(target: Target, message: str, seconds: float) -> dict:
    """The outcome of a file whose worker gave no answer: an error on every check."""
    import time

    from .verdict import error_report

    report = error_report(target.path, message, time.monotonic() - seconds, target.class_name)
    return {"diagnoses": [], "report": report}


def _context():
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(["handlstm.check.verdict"])
    return context


def check_many(targets: Sequence[Target], jobs: int, options: dict,
               on_done: Callable[[Target, dict, int, int], None] | None = None) -> list[dict]:
    """The check of every target, `jobs` at a time, in target order: {"report": the --json report,
    "diagnoses": diagnosis's details (which parameter is misused where)}.

    Up to `jobs` workers each check one file at a time. A worker that dies or overruns its limit
    is stopped (with everything it started), its file gets an error row, and a fresh worker
    takes the remaining files."""
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, not {jobs}")
    limit = float(options.get("timeout", 60.0)) + WORKER_SLACK_S
    context = _context()
    outcomes: dict[int, dict] = {}
    pending = list(enumerate(targets))
    idle: list[tuple[Connection, object]] = []
    busy: dict[Connection, tuple[object, int, float]] = {}  # connection -> (process, index, started)
    try:
        while pending or busy:
            while pending and len(busy) < jobs:
                connection, process = idle.pop() if idle else _start_worker(context, options)
                index, target = pending.pop(0)
                connection.send(target)
                busy[connection] = (process, index, time.monotonic())
            ready = wait(list(busy), timeout=1.0)
            now = time.monotonic()
            for connection in list(busy):
                process, index, started = busy[connection]
                target = targets[index]
                if connection in ready:
                    try:
                        outcome = connection.recv()
                    except (EOFError, OSError):
                        process.join(5)
                        outcome = error_outcome(target, f"{target.path}: the check stopped without an answer "
                                                f"(worker exit code {process.exitcode})", now - started)
                        _stop(connection, process)
                    else:
                        idle.append((connection, process))
                elif now - started > limit:
                    _stop(connection, process)
                    outcome = error_outcome(target, f"{target.path}: no answer within {limit:.0f} s; stopped",
                                            now - started)
                else:
                    continue
                del busy[connection]
                outcomes[index] = outcome
                if on_done:
                    on_done(target, outcome["report"], len(outcomes), len(targets))
    finally:
        for connection, process in idle:
            try:
                connection.send(None)  # done: the worker closes its fork server and exits
            except OSError:
                pass
        for connection, process in idle:
            process.join(10)
            _stop(connection, process)
        for connection, (process, _, _) in busy.items():
            _stop(connection, process)
    return [outcomes[i] for i in range(len(targets))]


def _start_worker(context, options: dict) -> tuple[Connection, object]:
    ours, theirs = context.Pipe()
    process = context.Process(target=_worker, args=(theirs, options), daemon=True)
    process.start()
    theirs.close()
    return ours, process


def _stop(connection: Connection, process) -> None:
    connection.close()
    if process.is_alive():
        _kill(process)
    process.join(5)


def _kill(process) -> None:
    """Stop a worker and everything it started: its own process group, and the descendants that
    left it (the learner's child runs in a session of its own)."""
    for pid in _descendants(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()
    process.join(5)


def _descendants(root: int) -> list[int]:
    """Every process below `root`, from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


# --- reporting -------------------------------------------------------------------------------

def worst_exit_code(reports: Sequence[dict]) -> int:
    """error (2) over fail (1) over pass (0)."""
    return max((EXIT_CODES.get(r["verdict"], 2) for r in reports), default=0)


def first_diagnosis(report: dict) -> str:
    """The table's and gradebook's one-word reason: the first diagnosis, or why it could not be checked."""
    if report["verdict"] == "error":
        from .verdict import error_line

        return error_line(report) or "could not be checked"
    return (report.get("diagnoses") or ["-"])[0] if report["verdict"] == "fail" else "-"


def summary_table(targets: Sequence[Target], reports: Sequence[dict], width: int = 60) -> str:
    rows = [("file", "verdict", "first diagnosis", "seconds")] + [
        (t.path + (f":{t.class_name}" if t.class_name else ""), r["verdict"],
         _clip(_without_path(first_diagnosis(r), t.path), width), f"{float(r.get('seconds') or 0):.1f}")
        for t, r in zip(targets, reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = {v: sum(r["verdict"] == v for r in reports) for v in EXIT_CODES}
    lines.append(f"{len(reports)} files: {counts['pass']} pass, {counts['fail']} fail, "
                 f"{counts['error']} error")
    return "\n".join(lines)


def _without_path(text: str, path: str) -> str:
    """An error line without the file name the table's first column already shows."""
    return text[len(path):].lstrip(":, ") if text.startswith(path) else text


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


GRADEBOOK_CHECKS = ("forward", "gradients", "training", "state")


def write_csv(path: str, targets: Sequence[Target], reports: Sequence[dict]) -> None:
    """One row per file: verdict, checks passed, each check's status, diagnoses, the error line, seconds."""
    with _open(path, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "class", "verdict", "score", "max_score", *GRADEBOOK_CHECKS,
                         "diagnoses", "error", "param_map", "seconds"])
        for target, report in zip(targets, reports):
            status = {c["id"]: c["status"] for c in report["checks"]}
            implementation = report.get("implementation") or {}
            param_map = implementation.get("param_map")
            writer.writerow([target.path, implementation.get("class") or target.class_name or "",
                             report["verdict"], sum(s == "pass" for s in status.values()), len(status),
                             *(status.get(c, "") for c in GRADEBOOK_CHECKS),
                             " ".join(report.get("diagnoses", [])),
                             first_diagnosis(report) if report["verdict"] == "error" else "",
                             json.dumps(param_map) if param_map else "",
                             f"{float(report.get('seconds') or 0):.2f}"])


def write_report_dir(directory: str, targets: Sequence[Target], reports: Sequence[dict]) -> None:
    """One --json report per file, at the file's path (relative to the files' common folder) + .json."""
    for target, report in zip(targets, reports):
        destination = Path(directory) / (target.relative + ".json")
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot create {destination.parent}: {error.strerror}") from None
        with _open(str(destination)) as out:
            json.dump(report, out, indent=2)
            out.write("\n")


def _open(path: str, newline: str | None = None) -> TextIO:
    try:
        return open(path, "w", encoding="utf-8", newline=newline)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror}") from None


class ProgressBar:
    """A one-line bar on stderr, redrawn as files finish; silent unless stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30):
        self.total, self.stream, self.width = total, stream or sys.stderr, width
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.counts = dict.fromkeys(EXIT_CODES, 0)

    def __call__(self, target: Target, report: dict, done: int, total: int) -> None:
        self.counts[report["verdict"]] = self.counts.get(report["verdict"], 0) + 1
        if not self.enabled:
            return
        filled = self.width * done // max(total, 1)
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} "
                          f"pass {self.counts['pass']} fail {self.counts['fail']} "
                          f"error {self.counts['error']} "
                          f"{elapsed:4.0f} s ")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def default_jobs() -> int:
    return os.cpu_count() or 1


def configure(parser) -> None:
    """The options for many files and for CI and autograder reports (added to `handlstm check`)."""
    parser.add_argument("--jobs", "-j", metavar="J", type=int, default=None,
                        help="with several files or a folder: check J files at a time "
                             "(default: the number of cores)")
    parser.add_argument("--report-dir", metavar="DIR", default=None,
                        help="write each file's JSON report to DIR/<its path>.json")
    parser.add_argument("--csv", metavar="FILE", default=None, help="write a gradebook: one row per file")
    parser.add_argument("--junit-xml", metavar="FILE", default=None,
                        help="write JUnit XML: a testsuite per file, a testcase per check")
    parser.add_argument("--gradescope", metavar="FILE", default=None,
                        help="write Gradescope's results.json for one submission (one file)")


def is_many(arguments: Sequence[str]) -> bool:
    """Several PATHs, or a folder: graded together with a summary table."""
    return len(arguments) > 1 or any(os.path.isdir(split_target(a)[0]) for a in arguments)


def run(args) -> int:
    """`handlstm check PATH... ` with several files or folders: check them all, table and reports."""
    from .command import read_param_map

    if args.json:
        raise UserError("--json writes one file's report; for several files use --report-dir DIR")
    options = {"param_map": read_param_map(args.param_map), "timeout": args.timeout,
               "examples": args.examples}
    if options["examples"] < 1 or not options["timeout"] > 0:
        raise UserError("--examples must be at least 1 and --timeout positive")
    _, _, code = grade(args.target, jobs=args.jobs, report_dir=args.report_dir, csv_path=args.csv,
                       junit_xml=args.junit_xml, gradescope=args.gradescope, options=options, hint=_hint())
    return code


def write_reports(args, arguments: Sequence[str], reports: Sequence[dict],
                  details: Sequence[list] | None = None) -> None:
    """For one file checked the usual way: the --report-dir, --csv, --junit-xml and --gradescope files."""
    from . import exports

    targets = discover(arguments)
    if args.report_dir:
        write_report_dir(args.report_dir, targets, reports)
    if args.csv:
        write_csv(args.csv, targets, reports)
    if args.junit_xml:
        exports.write_junit_xml(args.junit_xml, reports, _hint(), details)
    if args.gradescope:
        exports.write_gradescope(args.gradescope, reports, _hint(), details)


def _hint():
    from .diagnose import hint

    return hint


def grade(arguments: Sequence[str], *, jobs: int | None = None, report_dir: str | None = None,
          csv_path: str | None = None, junit_xml: str | None = None, gradescope: str | None = None,
          options: dict | None = None, out: TextIO | None = None, hint: Callable[[str], str] | None = None
          ) -> tuple[list[Target], list[dict], int]:
    """Check every file, write the requested reports, print the table; (targets, reports, exit code)."""
    from . import exports

    targets = discover(arguments)
    if gradescope and len(targets) != 1:
        raise UserError(f"--gradescope writes one submission's results: give one file, not {len(targets)}")
    outcomes = check_many(targets, jobs or default_jobs(), options or {}, on_done=ProgressBar(len(targets)))
    reports, details = [o["report"] for o in outcomes], [o["diagnoses"] for o in outcomes]
    if report_dir:
        write_report_dir(report_dir, targets, reports)
    if csv_path:
        write_csv(csv_path, targets, reports)
    if junit_xml:
        exports.write_junit_xml(junit_xml, reports, hint, details)
    if gradescope:
        exports.write_gradescope(gradescope, reports, hint, details)
    print(summary_table(targets, reports), file=out or sys.stdout)
    return targets, reports, worst_exit_code(reports)
