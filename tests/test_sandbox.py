"""Grading that cannot be fooled: each attack in tests/corpus/attacks/ against the sandbox.

Nothing correct is reachable from where the learner's code runs, nothing it starts outlives its
check, it writes nowhere outside its own temporary folder, it cannot signal the grader, and a
slip that shows only in float32 is still caught. Each test failed before the sandbox existed.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import check_of, grade_in_this_process

from handlstm.check.grading import descendants
from handlstm.check.run import check_file
from handlstm.check.sandbox import bwrap

ATTACKS = Path(__file__).parent / "corpus" / "attacks"
CORRECT = Path(__file__).parent / "corpus" / "grading" / "lesson_correct.py"
EXAMPLES = 3
TIMEOUT = 40.0

pytestmark = pytest.mark.skipif(bwrap.unavailable() is not None and not os.environ.get("CI"),
                                reason=f"the sandbox needs bubblewrap: {bwrap.unavailable()}")


def check(path, **options) -> dict:
    options.setdefault("examples", EXAMPLES)
    options.setdefault("timeout", TIMEOUT)
    return check_file(str(path), **options)


def planted(tmp_path: Path, name: str, canary: Path) -> Path:
    """The attack file with the test's canary path written into it."""
    text = (ATTACKS / name).read_text().replace("CANARY_PATH", str(canary))
    (tmp_path / "submission").mkdir(exist_ok=True)
    path = tmp_path / "submission" / name
    path.write_text(text)
    return path


def test_the_sandbox_is_what_a_check_uses_where_bubblewrap_works():
    assert check(CORRECT)["isolation"] == "sandbox"


@pytest.mark.parametrize("target", ["borrows_the_bundled_model.py:LSTMbyHand", "answers_from_the_reference.py"])
def test_a_wrong_class_cannot_borrow_the_checkers_correct_lstm(target):
    name, _, class_name = target.partition(":")
    report = check(ATTACKS / name, class_name=class_name or None)
    assert report["verdict"] == "fail", report["checks"]
    assert check_of(report, "forward")["status"] == "fail"  # the sigmoid candidate shows in forward


def test_the_learners_code_sees_no_trace_of_the_grader():
    report = check(ATTACKS / "finds_the_grader.py")
    assert report["verdict"] == "pass", [c["message"] for c in report["checks"]]


def test_the_learners_code_writes_nowhere_outside_its_own_temporary_folder(tmp_path, monkeypatch):
    canary = tmp_path / "canary.txt"
    canary.write_text("the grader's\n")
    monkeypatch.chdir(tmp_path)
    report = check(planted(tmp_path, "writes_outside_its_folder.py", canary))
    assert report["verdict"] == "fail"
    assert canary.read_text() == "the grader's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canary.txt", "submission"]


def test_nothing_the_learner_started_outlives_its_check_or_touches_the_reports(tmp_path):
    canary = tmp_path / "canary.txt"
    report_path = tmp_path / "report.json"
    path = planted(tmp_path, "daemon_rewrites_reports.py", canary)
    done = subprocess.run([sys.executable, "-m", "handlstm.cli", "check", str(path), "--examples", "2",
                           "--json", str(report_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    written = report_path.read_text()
    time.sleep(3.5)  # the daemon waits 2 s before it writes
    assert not canary.exists()
    assert report_path.read_text() == written and json.loads(written)["verdict"] == "fail"


def test_a_submission_that_stops_its_parent_costs_no_other_file_its_verdict():
    assert check(ATTACKS / "stops_its_parent.py")["verdict"] == "fail"
    assert check(CORRECT, timeout=20.0)["verdict"] == "pass"


def test_a_slip_that_shows_only_in_float32_is_caught_and_reported_in_its_dtype():
    report = check(ATTACKS / "wrong_only_in_float32.py")
    assert report["verdict"] == "fail"
    assert report["implementation"]["dtypes"] == ["float64", "float32"]
    forward = check_of(report, "forward")
    assert forward["dtypes"] == {"float64": "pass", "float32": "fail"}
    assert forward["counterexample"]["dtype"] == "float32" and forward["message"].startswith("in float32")


def test_a_fused_lstm_cell_is_named_not_by_hand_and_fails_only_when_asked():
    report = check(ATTACKS / "wraps_a_fused_lstm_cell.py")
    assert report["verdict"] == "pass"  # the numbers are right
    assert [f["id"] for f in report["findings"]] == ["not-by-hand"]
    assert "torch._VF.lstm_cell" in report["findings"][0]["detail"]
    strict = check(ATTACKS / "wraps_a_fused_lstm_cell.py", by_hand_only=True)
    assert strict["verdict"] == "fail" and strict["checks"][-1]["id"] == "by-hand"


def test_a_fused_lstm_cell_looked_up_by_built_names_through_an_alias_is_named_not_by_hand():
    report = check(ATTACKS / "hides_a_fused_lstm_cell.py")
    assert report["verdict"] == "pass" and [f["id"] for f in report["findings"]] == ["not-by-hand"]
    assert "T._C" in report["findings"][0]["detail"]


def test_the_lessons_own_file_is_not_flagged_as_not_by_hand():
    assert check(CORRECT)["findings"] == []


def test_grading_several_files_refuses_to_run_without_the_sandbox_unless_asked(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("a.py", "b.py"):
        shutil.copy(CORRECT, folder / name)
    no_bwrap = tmp_path / "bin"
    no_bwrap.mkdir()
    env = dict(os.environ, PATH=str(no_bwrap))
    command = [sys.executable, "-m", "handlstm.cli", "check", str(folder), "--examples", "1"]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "--isolation process" in refused.stderr
    allowed = subprocess.run(command + ["--isolation", "process", "--csv", str(tmp_path / "gb.csv")],
                             capture_output=True, text=True, env=env, timeout=300)
    assert allowed.returncode == 0, allowed.stderr
    assert "isolation: process" in allowed.stdout
    assert (tmp_path / "gb.csv").read_text().count(",process,") == 2


def test_every_process_a_submission_starts_ends_with_its_check():
    from handlstm.check.sandbox.client import Zygote

    zygote = Zygote.shared("sandbox")
    zygote.wait_ready(time.monotonic() + 120)
    before = set(descendants(zygote.process.pid))
    assert check(ATTACKS / "fork_bomb.py")["verdict"] == "fail"
    assert set(descendants(zygote.process.pid)) <= before  # the 100 it forked are gone with it


@pytest.mark.parametrize("name", ["broken/crash.py", "hostile/infinite_loop_in_init.py"])
def test_a_file_that_cannot_be_checked_leaves_no_process_behind(name):
    from handlstm.check.sandbox.client import Zygote

    zygote = Zygote.shared("sandbox")
    zygote.wait_ready(time.monotonic() + 120)
    before = set(descendants(zygote.process.pid))
    assert check(Path(__file__).parent / "corpus" / name, timeout=8.0)["verdict"] == "error"
    assert set(descendants(zygote.process.pid)) <= before


def test_a_fork_server_that_dies_mid_check_is_an_error_report_not_a_traceback():
    import threading

    from handlstm.check.sandbox.client import Zygote

    zygote = Zygote.shared("sandbox")
    zygote.wait_ready(time.monotonic() + 120)
    threading.Timer(2.0, zygote.process.kill).start()
    report = check(Path(__file__).parent / "corpus" / "broken" / "training_hangs.py", timeout=30.0)
    assert report["verdict"] == "error"
    said = {c["message"] for c in report["checks"] if c["status"] == "error"}
    assert said and all("\n" not in line and "Traceback" not in line for line in said)
    assert check(CORRECT)["verdict"] == "pass"  # the next check starts a fresh fork server


# --- what the sandbox says is the learner's to forge: the parent decides ------------------------

@pytest.mark.parametrize("name", ["raises_only_in_float32.py", "hides_that_it_is_lightning.py",
                                  "wrong_only_in_eval_mode.py"])
def test_a_class_cannot_choose_which_checks_it_gets(name):
    # float32, the lesson's dtype, is always checked; training is decided from the source too
    report = check(ATTACKS / name)
    assert report["verdict"] == "fail", [c["message"] for c in report["checks"]]


def test_auto_map_never_hides_a_swap_of_the_lessons_own_names():
    report = check(ATTACKS / "auto_map_hides_a_swap.py", param_map="auto")
    assert report["verdict"] == "fail"
    assert report["implementation"]["param_map"] == {n: n for n in report["implementation"]["param_map"]}


@pytest.mark.parametrize("name", ["sends_a_malformed_answer.py", "sends_deeply_nested_json.py"])
def test_garbage_from_the_sandbox_is_an_error_row_never_a_traceback(name, capsys):
    from handlstm.cli import main

    code = main(["check", str(ATTACKS / name), "--examples", "3"])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.startswith("handlstm check: error: ") and captured.err.count("\n") == 1


def test_the_learners_text_cannot_redraw_the_terminal_or_become_a_formula(tmp_path, capsys, monkeypatch):
    from handlstm.cli import main

    grade_in_this_process(monkeypatch)
    code = main(["check", str(ATTACKS / "spoofs_the_terminal.py"), "--examples", "3"])
    out = capsys.readouterr().out
    assert code == 1 and "\x1b" not in out and out.count("verdict:") == 1
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(ATTACKS / "forges_its_class_name.py", folder / "a.py")
    shutil.copy(CORRECT, folder / "b.py")
    main(["check", str(folder), "--examples", "2", "--csv", str(tmp_path / "gb.csv")])
    cells = [cell for line in (tmp_path / "gb.csv").read_text().splitlines() for cell in line.split(",")]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@"))]


def test_resource_limits_cannot_be_lifted_from_inside():
    assert check(ATTACKS / "lifts_its_limits.py")["verdict"] == "pass"
