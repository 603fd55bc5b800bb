"""Grading on a Dask cluster (--scheduler): a LocalCluster of 2 worker processes gives the verdicts
--jobs 2 gives, even when a worker is killed mid-run (its files are rerun elsewhere and the
gradebook has every row exactly once); a file that ends every worker that runs it is an error row;
and what cannot work is one line, not a traceback."""

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from multiprocessing import resource_tracker
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from helpers import check_of

from handlstm.check import cluster as dask_grading
from handlstm.check import grading
from handlstm.check.report import diagnosis_ids
from handlstm.cli import main

CORPUS = Path(__file__).parent / "corpus"
FOLDER = CORPUS / "grading"
FILES = sorted(p.name for p in FOLDER.iterdir())
COMMON = ["--examples", "2", "--timeout", "45"]  # few examples: the verdicts need no more


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread each, under nannies that restart a killed one; a file
    may end at most 2 of them (allowed_failures=1) before it is given up. Leaves no process behind."""
    resource_tracker.ensure_running()  # multiprocessing's, kept until this process ends: not the cluster's
    before = set(grading.descendants(os.getpid()))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      scheduler_kwargs={"allowed_failures": 1}) as local, Client(local) as client:
        yield local.scheduler_address, client
    deadline = time.monotonic() + 10
    while (left := set(grading.descendants(os.getpid())) - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left behind: {[command_line(pid) for pid in left]}"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return str(pid)


def graded(out: Path, *options: str) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["check", str(FOLDER), *COMMON, "--report-dir", str(out / "reports"),
                     "--csv", str(out / "gradebook.csv"), *options])
    return code, stdout.getvalue()


@pytest.fixture(scope="module")
def with_jobs_2(tmp_path_factory):
    out = tmp_path_factory.mktemp("jobs2")
    return (*graded(out, "--jobs", "2"), out)


class KillABusyWorkerAtTheFirstFile:
    """The progress bar's place: records each file done, and SIGKILLs a worker that is checking a
    file when the first one is done."""

    def __init__(self, client: Client):
        self.client, self.done, self.killed = client, [], None

    def __call__(self, total: int):
        return self.on_done

    def on_done(self, target, report, done, total):
        self.done.append((target.shown, done, total))
        if self.killed is None:
            pids = self.client.run(os.getpid)
            busy = [worker for worker, keys in self.client.processing().items() if keys]
            self.killed = busy[0] if busy else ""
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)


@pytest.fixture(scope="module")
def on_the_cluster(cluster, tmp_path_factory):
    """The folder graded through the cluster, a busy worker SIGKILLed once the first file is done."""
    address, client = cluster
    out = tmp_path_factory.mktemp("cluster")
    killer = KillABusyWorkerAtTheFirstFile(client)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grading, "ProgressBar", killer)
        code, stdout = graded(out, "--scheduler", address)
    return code, stdout, out, killer


def summaries(out: Path) -> dict:
    def summary(report):
        return (report["verdict"], diagnosis_ids(report), [(c["id"], c["status"]) for c in report["checks"]])

    return {name: summary(json.loads((out / "reports" / f"{name}.json").read_text())) for name in FILES}


def gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as source:
        return list(csv.DictReader(source))


# one test, so that under xdist the two runs are made once, on one worker
def test_a_worker_killed_mid_run_loses_no_file_and_the_verdicts_are_those_of_jobs_2(with_jobs_2, on_the_cluster):
    code, stdout, out, killer = on_the_cluster
    assert killer.killed, "no worker was checking a file when the first was done: nothing was killed"
    assert summaries(out) == summaries(with_jobs_2[2])  # verdicts, diagnoses, each check's status
    assert {s[0] for s in summaries(out).values()} == {"pass", "fail", "error"}  # a mixed folder
    assert code == with_jobs_2[0]
    assert stdout.splitlines()[-1] == with_jobs_2[1].splitlines()[-1]  # the table's count line

    rows = gradebook(out)  # every row exactly once, as --jobs 2 has it
    assert Counter(Path(r["file"]).name for r in rows) == Counter(FILES)

    def verdicts(rows):
        return {r["file"]: (r["verdict"], r["score"], r["diagnoses"]) for r in rows}

    assert verdicts(rows) == verdicts(gradebook(with_jobs_2[2]))
    assert sorted(n for _, n, _ in killer.done) == list(range(1, len(FILES) + 1))  # each file done once
    assert {shown for shown, _, _ in killer.done} == {str(FOLDER / name) for name in FILES}


def test_a_file_that_ends_every_worker_it_runs_on_is_an_error_row(cluster, tmp_path, monkeypatch):
    # its check would stop it at --timeout; the workers' watchdog, forced down to 3 s, ends them first
    address, _ = cluster
    monkeypatch.setattr(grading, "WORKER_SLACK_S", 3.0 - 45.0)
    hang = CORPUS / "hostile" / "infinite_loop_in_init.py"
    targets = grading.discover([str(hang), str(FOLDER / "syntax_error.py")])
    outcomes = grading.grade(targets, None, {"timeout": 45.0, "examples": 1, "isolation": "sandbox"},
                             scheduler=address)
    hung, broken = (o["report"] for o in outcomes)
    assert hung["verdict"] == "error"
    assert "each of the 2 Dask workers that ran it died" in check_of(hung, "forward")["message"]
    assert broken["verdict"] == "error" and "syntax error" in check_of(broken, "forward")["message"]


def test_the_client_imports_neither_torch_nor_lightning(cluster):
    # the client's side does the same whatever the file; a file that fails to parse keeps it quick
    address, _ = cluster
    script = ("import sys; from handlstm.cli import main; "
              f"code = main(['check', {str(FOLDER / 'syntax_error.py')!r}, '--scheduler', {address!r}]); "
              "print('imported:', sorted({'torch', 'lightning'} & set(sys.modules)), 'exit code:', code)")
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True,
                          timeout=120)
    assert "imported: [] exit code: 2" in done.stdout, done.stdout + done.stderr
    assert "syntax error" in done.stderr


# --- what cannot work: one line, exit code 2 -------------------------------------------------------

def refused(capsys, *options: str) -> str:
    assert main(["check", str(FOLDER), *options]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_a_scheduler_that_cannot_be_reached_is_one_line_saying_what_to_do(capsys, monkeypatch):
    monkeypatch.setattr(dask_grading, "CONNECT_TIMEOUT_S", 1.0)
    with socket_nobody_listens_on() as address:
        err = refused(capsys, "--scheduler", address)
    assert f"--scheduler {address}: no Dask scheduler answers there" in err and "dask scheduler" in err


def test_a_scheduler_without_workers_is_one_line_saying_to_start_some(capsys, monkeypatch):
    monkeypatch.setattr(dask_grading, "WORKERS_TIMEOUT_S", 1.0)
    with LocalCluster(n_workers=0, dashboard_address=":0") as empty:
        err = refused(capsys, "--scheduler", empty.scheduler_address)
    assert "no worker joined it within 1 s" in err and f"dask worker {empty.scheduler_address}" in err


def test_without_dask_installed_the_line_names_the_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import distributed` meets without it
    assert "pip install 'handlstm[cluster]'" in refused(capsys, "--scheduler", "tcp://127.0.0.1:1")


def test_jobs_and_process_isolation_do_not_go_with_a_scheduler(capsys):
    nowhere = "tcp://127.0.0.1:1"  # refused before any connection
    assert "--jobs sets the local workers" in refused(capsys, "--scheduler", nowhere, "--jobs", "2")
    assert "--isolation process cannot go with --scheduler" in refused(
        capsys, "--scheduler", nowhere, "--isolation", "process")
    assert "give the address of the Dask scheduler" in refused(capsys, "--scheduler", "")


@contextlib.contextmanager
def socket_nobody_listens_on():
    """A local TCP address that refuses connections: a port bound but never listened on."""
    import socket

    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"tcp://127.0.0.1:{bound.getsockname()[1]}"
