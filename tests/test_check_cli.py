"""`handlstm check` from the command line: exit codes, the one error line, the --json file."""

import json
from pathlib import Path

import pytest
from helpers import grade_in_this_process

from handlstm.cli import main

CORPUS = Path(__file__).parent / "corpus"


def test_a_correct_file_exits_0_and_writes_the_json_report(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    code = main(["check", str(CORPUS / "correct/x_short_long.py"), "--examples", "3",
                 "--json", str(report_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("✓") == 4 and "conforms" in out
    assert "lstm_unit takes (input, short, long)" in out
    assert json.loads(report_path.read_text())["verdict"] == "pass"


def test_a_wrong_file_exits_1_with_a_counterexample_in_the_lessons_names(capsys):
    code = main(["check", str(CORPUS / "hostile/prints_all_passed.py"), "--examples", "3"])
    out = capsys.readouterr().out
    assert code == 1
    assert "✗ forward" in out and "does not conform" in out
    assert "All checks passed" not in out  # the learner's printing never reaches the report
    assert "parameters: wlr1=" in out and "expected" in out and "hint:" in out


def test_a_learners_message_with_a_lone_surrogate_reaches_every_output(tmp_path, capsys, monkeypatch):
    """A message no UTF-8 writer accepts ("\\ud800") is escaped where it leaves the sandbox."""
    grade_in_this_process(monkeypatch)
    (tmp_path / "class").mkdir()
    (tmp_path / "class/a.py").write_text((CORPUS / "correct/x_short_long.py").read_text().replace(
        "def __init__(self, lr=0.001):", "def __init__(self, lr=0.001):\n        raise RuntimeError('bad \\ud800 byte')"))
    (tmp_path / "class/b.py").write_text((CORPUS / "correct/x_short_long.py").read_text())
    outputs = {"--csv": tmp_path / "g.csv", "--html": tmp_path / "r.html", "--junit-xml": tmp_path / "j.xml"}
    code = main(["check", str(tmp_path / "class"), "--examples", "3",
                 *[str(a) for pair in outputs.items() for a in pair]])
    assert code == 2
    assert all("bad \\ud800 byte" in path.read_text() for path in outputs.values())


@pytest.mark.parametrize("target, says", [
    ("broken/syntax_error.py", "syntax_error.py, line 6: syntax error: expected ':'"),
    ("broken/two_classes.py:Missing", "no class Missing (classes found: LSTMbyHand, LSTMbyHandV2)"),
])
def test_a_file_that_cannot_be_checked_exits_2_with_one_line(capsys, target, says):
    code = main(["check", str(CORPUS / target)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("handlstm check: error: ") and says in captured.err
    assert captured.err.count("\n") == 1


def test_a_bad_param_map_is_the_users_error(tmp_path, capsys):
    bad = tmp_path / "map.json"
    bad.write_text('{"wlr9": "w"}')
    code = main(["check", str(CORPUS / "correct/renamed.py"), "--param-map", str(bad)])
    assert code == 2
    assert "--param-map: not lesson names: wlr9" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, says", [
    (["--timeout", "inf"], "--timeout: must be a positive number of seconds"),
    (["--timeout", "nan"], "--timeout: must be a positive number of seconds"),
    (["--timeout", "0"], "--timeout: must be a positive number of seconds"),
    (["--jobs", "0"], "--jobs/-j: must be at least 1"),
    (["--jobs", "-2"], "--jobs/-j: must be at least 1"),
])
def test_a_bad_number_on_the_command_line_is_one_line_and_exit_2(capsys, arguments, says):
    with pytest.raises(SystemExit) as exited:
        main(["check", str(CORPUS / "correct/x_short_long.py"), *arguments])
    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert says in captured.err and captured.err.count("\n") == 1 and captured.out == ""


def test_jobs_are_capped_at_the_cores_and_the_files():
    from handlstm.check.options import usable_cores, worker_count

    assert worker_count(1000, 500) == usable_cores()
    assert worker_count(1000, 1) == 1
    assert worker_count(None, 500) == usable_cores()


def test_a_non_utf8_file_name_survives_the_table_and_every_gradebook_file(tmp_path, monkeypatch, capsys):
    import os

    grade_in_this_process(monkeypatch)
    folder = tmp_path / "class"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.py")  # a name written on a Latin-1 system
    (folder / name).write_bytes((CORPUS / "correct/x_short_long.py").read_bytes())
    monkeypatch.chdir(tmp_path)
    code = main(["check", str(folder), str(CORPUS / "correct/x_short_long.py"), "--examples", "2",
                 "--csv", "gb.csv", "--junit-xml", "junit.xml", "--report-dir", "reports"])
    assert code == 0, capsys.readouterr()
    assert "caf\\xe9.py" in capsys.readouterr().out
    assert "caf\\xe9.py" in (tmp_path / "gb.csv").read_text(encoding="utf-8")
    assert "caf\\xe9.py" in (tmp_path / "junit.xml").read_text(encoding="utf-8")
    # and nothing else is written into the current folder (no .hypothesis/ either)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class", "gb.csv", "junit.xml", "reports"]


@pytest.mark.parametrize("option", ["--csv", "--json", "--junit-xml", "--gradescope"])
def test_an_output_path_that_cannot_be_written_is_refused_before_any_file_is_checked(tmp_path, capsys, option):
    code = main(["check", str(CORPUS / "correct/x_short_long.py"), option, str(tmp_path / "missing" / "out")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "does not exist" in captured.err


@pytest.mark.parametrize("kind", ["pipe", "device"])
def test_a_submission_that_is_not_a_regular_file_is_one_line_not_a_hang(tmp_path, capsys, kind):
    import os

    path = tmp_path / "lstm.py"
    if kind == "pipe":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")  # read whole, it would take all the grader's memory
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and "not a regular file" in captured.err and captured.err.count("\n") == 1
