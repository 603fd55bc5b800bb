"""Grading a folder: --jobs 2 gives the verdicts one-at-a-time checking gives, a hostile file costs
only its own row, and the table, gradebook, per-file reports and JUnit file say the same."""

import csv
import io
import json
from pathlib import Path

import pytest
from helpers import check_of, junit_violations

from handlstm.check import exports, grading
from handlstm.check.report import diagnosis_ids
from handlstm.check.run import check_file
from handlstm.cli import main
from handlstm.errors import UserError

FOLDER = Path(__file__).parent / "corpus" / "grading"
OPTIONS = {"examples": 2, "timeout": 45.0}  # few examples: the verdicts below need no more
EXPECTED = {  # file: (verdict, first diagnosis)
    "lesson_correct.py": ("pass", None),
    "loss_abs.py": ("fail", "loss-function"),
    "syntax_error.py": ("error", None),
    "exits_in_init.py": ("error", None),
    "memory_bomb.py": ("error", None),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The folder graded by the command with --jobs 2: (exit code, stdout, output folder)."""
    out = tmp_path_factory.mktemp("graded")
    stdout = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(stdout):
        code = main(["check", str(FOLDER), "--jobs", "2", "--examples", str(OPTIONS["examples"]),
                     "--timeout", str(OPTIONS["timeout"]), "--report-dir", str(out / "reports"),
                     "--csv", str(out / "gradebook.csv"), "--junit-xml", str(out / "junit.xml")])
    return code, stdout.getvalue(), out


@pytest.fixture(scope="module")
def one_at_a_time():
    """Each file checked on its own, one after the other, in this process's own check_file."""
    return {name: check_file(str(FOLDER / name), **OPTIONS) for name in sorted(EXPECTED)}


def reports_of(out: Path) -> dict:
    return {name: json.loads((out / "reports" / f"{name}.json").read_text()) for name in EXPECTED}


def summary(report: dict) -> tuple:
    return (report["verdict"], (diagnosis_ids(report) or [None])[0],
            [(c["id"], c["status"]) for c in report["checks"]])


def test_jobs_2_gives_the_same_verdicts_as_one_file_at_a_time(graded, one_at_a_time):
    _, _, out = graded
    together = reports_of(out)
    assert {n: summary(r) for n, r in together.items()} == {n: summary(r) for n, r in one_at_a_time.items()}


def test_each_file_gets_its_own_verdict_whatever_its_neighbours_do(graded):
    _, _, out = graded
    got = {name: (r["verdict"], (diagnosis_ids(r) or [None])[0]) for name, r in reports_of(out).items()}
    assert got == EXPECTED


def test_the_exit_code_is_the_worst_of_the_files(graded):
    assert graded[0] == 2
    assert exports.worst_exit_code([{"verdict": "pass"}, {"verdict": "fail"}]) == 1
    assert exports.worst_exit_code([{"verdict": "pass"}]) == 0


def test_the_table_has_a_row_per_file_with_verdict_and_first_diagnosis(graded):
    _, stdout, _ = graded
    rows = {line.split()[0].rsplit("/", 1)[-1]: line.split() for line in stdout.splitlines()
            if line.split() and line.split()[0].endswith((".py", ".ipynb"))}
    assert {name: row[1] for name, row in rows.items()} == {n: v for n, (v, _) in EXPECTED.items()}
    assert rows["loss_abs.py"][2] == "loss-function"
    assert "syntax error" in " ".join(rows["syntax_error.py"])
    assert "5 files: 1 pass, 1 fail, 3 error" in stdout


def test_the_gradebook_has_one_row_per_file(graded):
    _, _, out = graded
    with open(out / "gradebook.csv", newline="") as source:
        rows = {Path(row["file"]).name: row for row in csv.DictReader(source)}
    assert set(rows) == set(EXPECTED)
    assert rows["lesson_correct.py"]["score"] == "4" and rows["lesson_correct.py"]["class"] == "LSTMbyHand"
    assert (rows["loss_abs.py"]["training"], rows["loss_abs.py"]["forward"]) == ("fail", "pass")
    assert rows["loss_abs.py"]["diagnoses"].startswith("loss-function")
    assert "exit code" in rows["exits_in_init.py"]["error"]


def test_the_junit_file_has_a_suite_per_file(graded):
    _, _, out = graded
    text = (out / "junit.xml").read_text()
    assert junit_violations(text) == []
    assert text.count("<testsuite ") == len(EXPECTED)


# --- discovery, without checking anything --------------------------------------------------------

LSTM_CLASS = "class LSTMbyHand:\n    def lstm_unit(self, x, long, short):\n        return [long, short]\n"


def test_discovery_finds_files_and_students_folders_and_skips_hidden_folders(tmp_path):
    for name, text in (("a.py", ""), ("sub/notes.txt", ""), (".hidden/c.py", ""), ("__pycache__/d.py", ""),
                       ("sub/.ipynb_checkpoints/b-checkpoint.py", LSTM_CLASS),
                       ("alice/src/lstm.py", LSTM_CLASS), ("alice/data_utils.py", ""),
                       ("alice/tests/test_mine.py", "from lstm import LSTMbyHand\n"),
                       ("group/x.py", LSTM_CLASS), ("group/y.py", LSTM_CLASS)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    targets = grading.discover([str(tmp_path), str(tmp_path / "a.py:MyLSTM"), str(tmp_path / "missing.py")])
    assert [(Path(t.path).relative_to(tmp_path).as_posix(), t.class_name, t.shown.split("/")[-1])
            for t in targets] == [
        ("a.py", None, "a.py"), ("alice/src/lstm.py", None, "alice"),  # one student, one row
        ("group/x.py", None, "x.py"), ("group/y.py", None, "y.py"),   # several LSTM files: a row each
        ("sub", None, "sub"), ("a.py", "MyLSTM", "a.py:MyLSTM"), ("missing.py", None, "missing.py")]
    assert [t.relative for t in targets] == ["a.py", "alice", "group/x.py", "group/y.py", "sub",
                                             "a.py.MyLSTM", "missing.py"]
    assert targets[4].problem.endswith("sub: no file in this folder defines a class with an lstm_unit method")


def test_a_students_loop_of_links_or_link_to_their_own_file_costs_no_row(tmp_path):
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob/lstm.py").write_text(LSTM_CLASS)
    (tmp_path / "bob/a.py").symlink_to("b.py")
    (tmp_path / "bob/b.py").symlink_to("a.py")  # a loop: resolving it raises
    (tmp_path / "bob/copy.py").symlink_to("lstm.py")  # the same file again, not a second submission
    targets = grading.discover([str(tmp_path)])
    assert [(Path(t.path).name, t.shown.split("/")[-1], t.problem) for t in targets] == [("copy.py", "bob", None)]


def test_a_class_laid_out_as_github_classroom_repositories_is_graded_one_row_per_student(tmp_path):
    """Each student's folder holds the LSTM file, a helper module it imports and a test file: one
    row per student, named after the folder, the helper importable inside the sandbox."""
    lesson = (Path(__file__).parent / "corpus" / "correct" / "lesson_unrolled.py").read_text()
    alice = tmp_path / "class" / "alice"
    alice.mkdir(parents=True)
    # the helper has the name of one of the sandbox runner's own files: the student's is the one imported
    (alice / "my_lstm.py").write_text("from facts import squash\n" + lesson.replace("torch.sigmoid(", "squash("))
    (alice / "facts.py").write_text("import torch\nsquash = torch.sigmoid\n")
    (alice / "test_mine.py").write_text("from my_lstm import LSTMbyHand\n\ndef test_it():\n    LSTMbyHand()\n")
    (tmp_path / "class" / "bob").mkdir()
    (tmp_path / "class" / "bob" / "helper.py").write_text("def f():\n    return 1\n")
    (tmp_path / "class" / "bob" / "borrowed.py").symlink_to(alice / "my_lstm.py")  # a classmate's file
    gradebook = tmp_path / "gradebook.csv"
    code = main(["check", str(tmp_path / "class"), "--jobs", "2", "--examples", "2", "--csv", str(gradebook)])
    rows = {row["file"].split("/")[-1]: row for row in csv.DictReader(gradebook.open())}
    assert sorted(rows) == ["alice", "bob"] and code == 2
    assert rows["alice"]["verdict"] == "pass", rows["alice"]
    assert rows["bob"]["verdict"] == "error"
    assert "no file in this folder defines a class with an lstm_unit method" in rows["bob"]["error"]


def test_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no .py or .ipynb files"):
        grading.discover([str(tmp_path)])


def test_the_progress_bar_draws_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    target, report = grading.Target("a.py", None, "a.py"), {"verdict": "fail"}
    shown, hidden = Terminal(), io.StringIO()
    grading.ProgressBar(2, stream=shown)(target, report, 1, 2)
    grading.ProgressBar(2, stream=hidden)(target, report, 1, 2)
    assert "1/2" in shown.getvalue() and "fail 1" in shown.getvalue()
    assert hidden.getvalue() == ""


def test_a_worker_that_overruns_its_limit_is_stopped_and_costs_only_its_own_row(monkeypatch):
    # check_file keeps its own time limits; this is the guard behind them, forced down to 2 s
    monkeypatch.setattr(grading, "WORKER_SLACK_S", 2.0 - 60.0)
    hang = Path(__file__).parent / "corpus" / "hostile" / "infinite_loop_in_init.py"
    targets = grading.discover([str(hang), str(FOLDER / "syntax_error.py")])
    outcomes = grading.check_many(targets, jobs=2, options={"timeout": 60.0, "examples": 1, "isolation": "sandbox"})
    hung, broken = (o["report"] for o in outcomes)
    assert hung["verdict"] == "error" and "no answer within 2 s; stopped" in check_of(hung, "forward")["message"]
    assert broken["verdict"] == "error" and "syntax error" in check_of(broken, "forward")["message"]


def test_a_stub_base_class_in_a_helper_and_a_file_nested_beyond_the_parser_cost_no_row(tmp_path):
    cls = tmp_path / "class"
    (cls / "hank").mkdir(parents=True)
    (cls / "hank" / "base.py").write_text(
        "import torch\nclass Base(torch.nn.Module):\n    def lstm_unit(self, x, c, h):\n        raise NotImplementedError\n")
    (cls / "hank" / "model.py").write_text("from base import Base\nclass LSTMbyHand(Base):\n    def lstm_unit(self, x, c, h):\n"
                                           "        return [c, h]\n")
    (cls / "hank" / "deep.py").write_text("x = " + "+".join(["1"] * 300000) + "\n")
    targets = grading.discover([str(cls)])
    assert [(Path(t.path).name, t.shown.rsplit("/", 1)[-1], t.problem) for t in targets] == [("model.py", "hank", None)]
    deep = check_file(str(cls / "hank" / "deep.py"))
    assert deep["verdict"] == "error" and "nested too deeply to read" in check_of(deep, "forward")["message"]


def test_reports_of_names_that_escape_alike_do_not_overwrite_each_other(tmp_path):
    report = {"verdict": "pass", "checks": []}
    twins = [grading.Target(name, None, name) for name in ("bad\udcff", "bad\\xff")]  # both shown as bad\xff
    exports.write_report_dir(str(tmp_path), twins, [dict(report, n=1), dict(report, n=2)])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == 2 and {json.loads((tmp_path / n).read_text())["n"] for n in written} == {1, 2}
