"""Grading many files on an existing Dask cluster: `handlstm check PATH... --scheduler ADDRESS`.

This process is Dask's client: it sends each file's Target to the cluster and collects plain
report dicts, never importing torch nor a learner's code. On a Dask worker, `check_on_worker`
checks the file exactly as a local worker does (grading.check_one): the worker's fork server
lives on between its files, and each file's code runs in a fresh sandboxed child of its own. The
workers open the files at the paths given here (made absolute), so they must see them there (a
shared file system); `--isolation process` is refused, since a learner's code outside the sandbox
could reach the cluster over the network.

A Dask worker that dies mid-file (killed, out of memory, or ended by `check_on_worker`'s watchdog)
has its files rerun elsewhere by the scheduler; a file during which
`distributed.scheduler.allowed-failures` + 1 workers died gets an error row (KilledWorker). Every
target gets exactly one row, in target order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import threading
import warnings
from collections.abc import Callable, Sequence

from ..errors import UserError
from . import grading
from .grading import Target, descendants, error_outcome
from .report import display_path

CONNECT_TIMEOUT_S = 10.0  # for the scheduler to answer
WORKERS_TIMEOUT_S = 30.0  # for a first worker to join it


def cluster_isolation(isolation: str | None) -> str:
    """The isolation for --scheduler: the sandbox, which the workers must have (checked there)."""
    if isolation == "process":
        raise UserError("--isolation process cannot go with --scheduler: a learner's code outside the "
                        "sandbox could reach the cluster over the network and forge every result; "
                        "install bubblewrap on the workers (apt-get install bubblewrap)")
    return "sandbox"


def check_on_cluster(address: str, targets: Sequence[Target], options: dict,
                     on_done: Callable[[Target, dict, int, int], None] | None = None) -> list[dict]:
    """The check of every target on the Dask cluster at `address`, in target order, as
    grading.check_many gives it."""
    client = _connect(address)
    try:
        sent = [dataclasses.replace(t, path=os.path.abspath(t.path),
                                    student=t.student and os.path.abspath(t.student)) for t in targets]
        _refuse_workers_that_cannot_check(client, address, [t.path for t in sent if os.path.exists(t.path)])
        return _check_all(client, sent, targets, options, on_done)
    finally:
        client.close()


def _connect(address: str):
    if not address.strip():  # Dask would start a cluster of its own here for an empty address
        raise UserError("--scheduler: give the address of the Dask scheduler, such as tcp://HOST:8786")
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--scheduler needs Dask's distributed package: "
                        "pip install 'handlstm[cluster]'") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"--scheduler {address}: no Dask scheduler answers there ({error}); start one with "
                        "`dask scheduler` and give the address it prints (tcp://HOST:8786)") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except (TimeoutError, asyncio.TimeoutError):  # asyncio's is a class of its own before Python 3.11
        client.close()
        raise UserError(f"--scheduler {address}: no worker joined it within {WORKERS_TIMEOUT_S:.0f} s; start "
                        f"some with `dask worker {address} --nthreads 1`") from None
    return client


def _refuse_workers_that_cannot_check(client, address: str, paths: list[str]) -> None:
    try:
        problems = client.run(worker_problem, paths)
    except ImportError as error:
        raise UserError(f"--scheduler {address}: a worker cannot import handlstm ({error}); install handlstm "
                        "on every worker, the same version as here") from None
    for worker, problem in sorted(problems.items()):
        if problem:
            raise UserError(f"--scheduler {address}: the worker at {worker} {problem}")


def worker_problem(paths: list[str]) -> str | None:
    """On a Dask worker: why it cannot check these files (None when it can)."""
    from .sandbox import bwrap

    why = bwrap.unavailable()
    if why:
        return f"cannot sandbox: {why}; install bubblewrap there (apt-get install bubblewrap)"
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        more = f" (nor {len(missing) - 1} more)" if missing[1:] else ""
        return (f"cannot see {display_path(missing[0])}{more}; give the workers the submissions at the "
                "same path (a shared file system)")
    return None


def _check_all(client, sent: Sequence[Target], targets: Sequence[Target], options: dict,
               on_done: Callable[[Target, dict, int, int], None] | None) -> list[dict]:
    from distributed import as_completed

    isolation = options["isolation"]
    limit = float(options.get("timeout", 60.0)) + grading.WORKER_SLACK_S
    outcomes: dict[int, dict] = {}

    def finished(index: int, outcome: dict) -> None:
        outcomes[index] = outcome
        if on_done:
            on_done(targets[index], outcome["report"], len(outcomes), len(targets))

    for index, target in enumerate(targets):
        if target.problem:  # nothing to check (a student's folder without an LSTM): its row says why
            finished(index, error_outcome(target, target.problem, 0.0, isolation))
    futures = {client.submit(check_on_worker, target, options, limit, pure=False): index
               for index, target in enumerate(sent) if not target.problem}
    for future in as_completed(futures, loop=client.loop):
        index = futures[future]
        finished(index, _outcome(future, sent[index], isolation))
    return [outcomes[i] for i in range(len(targets))]


def _outcome(future, target: Target, isolation: str) -> dict:
    """A finished task's outcome; a task that gave none (its workers died, it was cancelled, the
    check itself raised) is an error row saying why."""
    from distributed import KilledWorker

    if future.status == "finished":
        return future.result()
    error = future.exception() if future.status == "error" else None
    if isinstance(error, KilledWorker):
        why = (f"each of the {error.allowed_failures + 1} Dask workers that ran it died: killed, out of "
               "memory or hung past the time limit; not run again")
    elif error is not None:
        why = f"{type(error).__name__}: {error}".splitlines()[0]
    else:
        why = f"the Dask task was {future.status}"
    message = f"{target.shown}: the check stopped without an answer ({why})"
    return error_outcome(target, message, 0.0, isolation)


def check_on_worker(target: Target, options: dict, limit: float) -> dict:
    """In a Dask worker: the check of one target. A check still running after `limit` seconds ends
    this worker with everything it started, as a local worker past its limit is ended: the
    scheduler then reruns the file elsewhere, or gives it up (KilledWorker)."""
    # Dask's own threads draw from `random` while a task runs, which Hypothesis takes for a strategy
    # that does (a deprecation warning in the worker's log for every file); ours never do
    warnings.filterwarnings("ignore", message="Do not use the `random` module inside strategies")
    watchdog = threading.Timer(limit, _end_this_worker)
    watchdog.daemon = True
    watchdog.start()
    try:
        return grading.check_one(target, options)
    finally:
        watchdog.cancel()


def _end_this_worker() -> None:
    for pid in [*descendants(os.getpid()), os.getpid()]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
