"""Grading many files at once: `handlstm check PATH... [--jobs J]`, on local worker processes (or,
with `--scheduler ADDRESS`, on a Dask cluster's workers: cluster.py).

Each file is checked by `run.check` exactly as for one file, by one of J worker processes, each
with its own sandbox (one fork server, torch imported once); the learner's code of each file
runs in a fresh child of its own with the check's limits and namespaces, so a file that crashes,
hangs or exhausts memory costs only its own row, which says why. A worker that overruns anyway
is killed with everything it started and replaced. The parent only schedules workers and
collects their reports; it never imports torch or the learners' code.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TextIO

from ..errors import UserError
from .options import split_target
from .report import display_path
from .source import (
    SKIPPED_DIRS,
    CouldNotCheck,
    defines_lstm_class,
    imported_modules,
    parse,
    python_files,
    read_source,
)

SUFFIXES = (".py", ".ipynb")
# check_file keeps to its own time limit; a worker gets this much more (its start-up, stopping
# the child, reporting) before it is taken for hung and killed.
WORKER_SLACK_S = 60.0


@dataclass(frozen=True)
class Target:
    path: str  # as the file system has it (undecodable bytes as surrogates)
    class_name: str | None
    relative: str  # where its JSON report goes under --report-dir
    student: str | None = None  # the student's folder, when the file is the one LSTM file in it
    problem: str | None = None  # why there is nothing to check (a student's folder without an LSTM)

    @property
    def shown(self) -> str:
        """As every output shows it (see report.display_path): the student's folder, or the file
        with :CLASS where one was given."""
        if self.student:
            return display_path(self.student)
        return display_path(self.path) + (f":{self.class_name}" if self.class_name else "")


def _students(folder: str) -> list[tuple[str, str | None, str | None]]:
    """A class folder's submissions as (path, student folder, problem): each .py or .ipynb file
    in it is one; each subfolder is one student's, whose file defining a class with an lstm_unit
    is checked with the folder's other modules importable (a folder with several such files is
    a group of submissions, one row each)."""
    found: list[tuple[str, str | None, str | None]] = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
            continue
        if not entry.is_dir():
            if entry.suffix in SUFFIXES:  # not only regular files: a pipe named .py gets its row
                found.append((str(entry), None, None))
            continue
        candidates = python_files(entry, SUFFIXES)
        lstm_files = _main_files([str(p) for p in candidates if defines_lstm_class(str(p))])
        if len(lstm_files) == 1:
            found.append((lstm_files[0], str(entry), None))
        elif lstm_files:
            found += [(p, None, None) for p in lstm_files]
        else:
            why = f"{display_path(str(entry))}: no file in this folder defines a class with an lstm_unit method"
            unreadable = [str(p) for p in candidates if p.suffix in SUFFIXES]
            problem = _first_problem(unreadable)
            found.append((str(entry), str(entry), why + (f" ({problem})" if problem else "")))
    return found


def _main_files(lstm_files: list[str]) -> list[str]:
    """The LSTM files no other one imports: a base class with a stub lstm_unit in base.py, which
    model.py imports, is a helper of model.py, not a second submission."""
    imported = set()
    for path in lstm_files:
        imported |= imported_modules(path)
    main = [p for p in lstm_files if Path(p).stem not in imported]
    return main or lstm_files


def _first_problem(paths: list[str]) -> str | None:
    """The first reason one of these files cannot be read as Python (a syntax error), if any."""
    for path in paths:
        try:
            parse(read_source(path))
        except CouldNotCheck as error:
            return str(error)
    return None


def discover(arguments: Sequence[str]) -> list[Target]:
    """Files (as given, even missing ones: their row says so) and class folders' submissions (files,
    and students' folders), in order."""
    found: list[tuple[str, str | None, str | None, str | None]] = []  # path, class, student, problem
    for argument in arguments:
        path, class_name = split_target(argument)
        if os.path.isdir(path):
            if class_name:
                raise UserError(f"{argument}: a class name goes with a file, not with the folder {path}")
            inside = _students(path)
            if not inside:
                raise UserError(f"{path}: no .py or .ipynb files or student folders in this folder")
            found += [(p, None, student, problem) for p, student, problem in inside]
        else:
            found.append((path, class_name, None, None))
    seen: set[tuple] = set()
    unique = [f for f in found if not (f[:2] in seen or seen.add(f[:2]))]
    shown = [os.path.abspath(student or p) for p, _, student, _ in unique]
    root = os.path.commonpath([os.path.dirname(a) for a in shown]) if shown else ""
    return [Target(p, c, os.path.relpath(a, root) + (f".{c}" if c else ""), student, problem)
            for (p, c, student, problem), a in zip(unique, shown)]


# --- running ---------------------------------------------------------------------------------

def _worker(connection: Connection, options: dict) -> None:
    """In a worker process: check the files the parent sends, one at a time, until it sends None.

    A worker outlives its files so that its fork server (torch imported once) serves them all;
    the learner's code never runs here but in a child forked for each file."""
    os.setpgrp()  # its own group: a kill on timeout takes whatever it started too
    while (target := connection.recv()) is not None:
        connection.send(check_one(target, options))
    connection.close()


def check_one(target: Target, options: dict) -> dict:
    """In a worker (local or Dask): the check of one target, {"report": the --json report}."""
    from .properties_run import keep_hypothesis_files_in_cache
    from .run import check

    keep_hypothesis_files_in_cache()
    try:
        outcome = check(target.path, target.class_name, student_folder=target.student, **options)
    except UserError as error:  # e.g. a --param-map that names no lesson parameter: its one line
        return error_outcome(target, str(error), 0.0, options["isolation"])
    return {"report": outcome.report}


def error_outcome(target: Target, message: str, seconds: float, isolation: str) -> dict:
    """The outcome of a file whose worker gave no answer: an error on every check."""
    from .report import error_report

    report = error_report(display_path(target.path), message, seconds, isolation, target.class_name)
    return {"report": report}


def _context():
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(["handlstm.check.run"])
    return context


def check_many(targets: Sequence[Target], jobs: int, options: dict,
               on_done: Callable[[Target, dict, int, int], None] | None = None) -> list[dict]:
    """The check of every target, `jobs` at a time, in target order: {"report": the --json report}.

    Up to `jobs` workers each check one file at a time. A worker that dies or overruns its limit
    is stopped (with everything it started), its file gets an error row, and a fresh worker
    takes the remaining files."""
    isolation = options["isolation"]
    limit = float(options.get("timeout", 60.0)) + WORKER_SLACK_S
    context = _context()
    outcomes: dict[int, dict] = {}
    for index, target in enumerate(targets):
        if target.problem:  # nothing to check (a student's folder without an LSTM): its row says why
            outcomes[index] = error_outcome(target, target.problem, 0.0, isolation)
            if on_done:
                on_done(target, outcomes[index]["report"], len(outcomes), len(targets))
    pending = [(index, target) for index, target in enumerate(targets) if not target.problem]
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
                        outcome = error_outcome(target, f"{target.shown}: the check stopped without an answer "
                                                f"(worker exit code {process.exitcode})", now - started,
                                                isolation)
                        _stop(connection, process)
                    else:
                        idle.append((connection, process))
                elif now - started > limit:
                    _stop(connection, process)
                    outcome = error_outcome(target, f"{target.shown}: no answer within {limit:.0f} s; stopped",
                                            now - started, isolation)
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
    for pid in descendants(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()
    process.join(5)


def descendants(root: int) -> list[int]:
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


# --- the whole run ------------------------------------------------------------------------------

def grade(targets: Sequence[Target], jobs: int | None, options: dict,
          on_done: Callable[[Target, dict, int, int], None] | None = None,
          scheduler: str | None = None) -> list[dict]:
    """Check every target on `jobs` local workers (capped at the cores and the files), or on the
    workers of the Dask cluster whose scheduler is at `scheduler`."""
    from .options import worker_count

    if scheduler is not None:
        from .cluster import check_on_cluster

        return check_on_cluster(scheduler, targets, options, on_done)
    return check_many(targets, worker_count(jobs, len(targets)), options, on_done)


class ProgressBar:
    """A one-line bar on stderr, redrawn as files finish; silent unless stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30):
        self.total, self.stream, self.width = total, stream or sys.stderr, width
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.counts = {"pass": 0, "fail": 0, "error": 0}

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
