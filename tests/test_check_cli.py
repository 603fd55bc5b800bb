"""`handlstm check` from the command line: exit codes, the one error line, the --json file."""

import json
from pathlib import Path

import pytest

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
