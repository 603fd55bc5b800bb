"""`handlstm autograder gradescope`: the zip holds what Gradescope's autograder specification
asks for (gradescope-autograders.readthedocs.io/en/latest/specs/), and run as Gradescope runs it
(unpacked into /autograder/source, setup.sh once, run_autograder per submission in /autograder)
it grades a correct, a wrong and a hostile submission, and only handlstm writes results.json."""

import base64
import hashlib
import json
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import tomllib
from helpers import fresh_venv, gradescope_violations

from handlstm.check import exports
from handlstm.cli import main

ROOT = Path(__file__).parent.parent
CORRECT = ROOT / "tests/corpus/correct/lesson_unrolled.py"
WRONG = ROOT / "tests/corpus/buggy/forget-gate-activation.py"
WRONG_LINE = "long_remember_percent = torch.tanh("
POINTS = "forward=2,gradients=3,training=4,state=1"
TOTAL = sum(exports.parse_points(POINTS).values())

FORGE = '''
import json, os, time

def forge():
    """Claims full marks every way it can: a results.json in Gradescope's folder and the test's,
    the same on stdout, and a daemon that writes it again once the check is over."""
    if getattr(forge, "done", False):
        return
    forge.done = True
    forged = json.dumps({"score": 100.0, "output": "forged", "tests": []})
    print(forged)

    def write():
        for folder in ("/autograder/results", RESULTS):
            try:
                with open(folder + "/results.json", "w") as out:
                    out.write(forged)
            except OSError:
                pass

    write()
    if os.fork() == 0:
        os.setsid()
        time.sleep(1.5)
        write()
        os._exit(0)

'''


def build(tmp_path: Path, *options: str) -> Path:
    out = tmp_path / "autograder.zip"
    assert main(["autograder", "gradescope", "--out", str(out), *options]) == 0
    return out


def grade(root: Path, *options: str) -> dict:
    """gradescope-run in this process (for submissions that never reach the sandbox)."""
    assert main(["autograder", "gradescope-run", "--root", str(root), *options]) == 0
    results = json.loads((root / "results/results.json").read_text())
    assert gradescope_violations(results) == []
    return results


def test_the_zip_holds_setup_and_run_autograder_at_its_root_with_the_chosen_options(tmp_path):
    zip_path = build(tmp_path, "--file-name", "my lstm.py", "--points", POINTS, "--by-hand-only")
    with zipfile.ZipFile(zip_path) as archive:
        entries = {entry.filename: entry for entry in archive.infolist()}
        run_autograder = archive.read("run_autograder").decode()
    assert set(entries) == {"setup.sh", "run_autograder", "handlstm-0.1.0-py3-none-any.whl"}
    for script in ("setup.sh", "run_autograder"):
        assert entries[script].external_attr >> 16 & 0o111 == 0o111
    assert f"--points {POINTS}" in run_autograder and "--by-hand-only" in run_autograder
    assert "--file-name 'my lstm.py'" in run_autograder
    assert zip_path.read_bytes() == build(tmp_path, "--file-name", "my lstm.py", "--points", POINTS,
                                          "--by-hand-only").read_bytes()


def test_the_wheel_holds_every_package_its_data_and_a_true_record(tmp_path):
    with zipfile.ZipFile(build(tmp_path)) as archive:
        wheel = zipfile.ZipFile(archive.open("handlstm-0.1.0-py3-none-any.whl"))
    names = set(wheel.namelist())
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {name[: -len("/__init__.py")].replace("/", ".") for name in names if name.endswith("/__init__.py")}
    assert packages == set(setuptools["packages"])
    for package, patterns in setuptools["package-data"].items():
        folder = ROOT / package.replace(".", "/")
        assert {f"{package.replace('.', '/')}/{p.name}" for g in patterns for p in folder.glob(g)} <= names
    assert {"handlstm/reference/equations.py", "handlstm/check/sandbox/runner.py"} <= names
    record = wheel.read("handlstm-0.1.0.dist-info/RECORD").decode().splitlines()
    assert {line.split(",")[0] for line in record} == names
    for line in record:
        path, digest, size = line.split(",")
        if digest:
            data = wheel.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(data)), path
    assert "handlstm = handlstm.cli:main" in wheel.read("handlstm-0.1.0.dist-info/entry_points.txt").decode()


@pytest.mark.parametrize("options", [["--file-name", "lstm/x.py"], ["--file-name", "lstm.txt"],
                                     ["--points", "forward=1,forward=2"], ["--examples", "0"]])
def test_a_bad_option_is_one_line(tmp_path, capsys, options):
    assert main(["autograder", "gradescope", "--out", str(tmp_path / "a.zip"), *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith("handlstm autograder: error: ") and error.count("\n") == 1
    assert not (tmp_path / "a.zip").exists()


def test_points_without_gradescope_is_one_line(capsys):
    assert main(["check", str(CORRECT), "--points", POINTS]) == 2
    assert "give --gradescope FILE too" in capsys.readouterr().err


@pytest.mark.parametrize("files, options, reason", [
    ({}, [], "found: no .py or .ipynb file"),
    ({"notes.txt": "hi"}, [], "found: no .py or .ipynb file"),
    ({"a.py": "x = 1\n", "b.ipynb": "{}"}, [], "found: a.py, b.ipynb"),
    ({"lstm.py": "x = 1\n"}, ["--file-name", "model.py"], "one file named model.py, not 0 (found: lstm.py)"),
    ({"a/lstm.py": "x = 1\n", "b/lstm.py": "x = 1\n"}, ["--file-name", "lstm.py"], "not 2"),
], ids=["empty", "no-python", "several", "misnamed", "twice"])
def test_a_submission_that_cannot_be_checked_scores_zero_with_its_reason(tmp_path, files, options, reason):
    for name, text in files.items():
        (tmp_path / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "submission" / name).write_text(text)
    (tmp_path / "submission").mkdir(exist_ok=True)
    results = grade(tmp_path, "--points", POINTS, *options)
    assert results["score"] == 0 and sum(t["max_score"] for t in results["tests"]) == TOTAL
    assert reason in results["output"] and "\n" not in results["output"]
    assert all(reason in t["output"] for t in results["tests"])


def test_a_link_out_of_the_submission_is_not_the_submission(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission/lstm.py").symlink_to(CORRECT)
    assert "found: no .py or .ipynb file" in grade(tmp_path)["output"]


def test_a_crash_of_handlstm_still_leaves_an_error_result(tmp_path, monkeypatch, capsys):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission/lstm.py").write_text(CORRECT.read_text())

    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("handlstm.check.run.check", crash)
    results = grade(tmp_path)
    assert results["score"] == 0 and "RuntimeError" in results["output"]
    assert "a bug" in capsys.readouterr().out  # the traceback, for the instructor only


# --- end to end: the zip as Gradescope runs it -------------------------------------------------

@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> dict:
    """Gradescope's /autograder after the image build: the zip in source/, run_autograder copied
    beside it, setup.sh run (as PYTHON, a fresh environment; no package index)."""
    base = tmp_path_factory.mktemp("gradescope")
    root = base / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(build(base, "--file-name", "lstm.py", "--points", POINTS, "--examples", "5")) as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)  # zipfile does not restore modes; Gradescope's unzip does
    (root / "run_autograder").write_bytes((root / "source/run_autograder").read_bytes())
    (root / "run_autograder").chmod(0o755)
    env = dict(os.environ, PYTHON=str(fresh_venv(base / "venv")), AUTOGRADER_ROOT=str(root), PIP_NO_INDEX="1",
               XDG_CACHE_HOME=str(base / "cache"))
    setup = subprocess.run(["bash", str(root / "source/setup.sh")], env=env, capture_output=True, text=True,
                           timeout=300)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    where = subprocess.run([env["PYTHON"], "-I", "-c", "import handlstm; print(handlstm.__file__)"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(base / "venv")), where  # the wheel's handlstm, not this checkout's
    return {"root": root, "env": env}


def run_autograder(autograder: dict, name: str, text: str) -> dict:
    root = autograder["root"]
    for folder in ("submission", "results"):
        (root / folder).mkdir(exist_ok=True)
        for old in (root / folder).iterdir():
            old.unlink()
    (root / "submission" / name).write_text(text)
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=autograder["env"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((root / "results/results.json").read_text())
    assert gradescope_violations(results) == []
    assert [(t["name"], t["max_score"]) for t in results["tests"]] == list(exports.parse_points(POINTS).items())
    return results


@pytest.mark.slow
def test_a_correct_submission_gets_every_point(autograder):
    results = run_autograder(autograder, "lstm.py", CORRECT.read_text())
    assert results["score"] == TOTAL and {t["status"] for t in results["tests"]} == {"passed"}


@pytest.mark.slow
def test_a_wrong_submission_shows_the_diagnosis_its_line_and_the_hint(autograder):
    text = WRONG.read_text()
    line = next(n for n, code in enumerate(text.splitlines(), start=1) if WRONG_LINE in code)
    results = run_autograder(autograder, "lstm.py", text)
    forward = results["tests"][0]
    assert forward["score"] == 0 and forward["status"] == "failed"
    assert "likely mistake: forget-gate-activation" in forward["output"]
    assert f"lstm.py, line {line}: {WRONG_LINE}" in forward["output"]
    assert "\nhint: " in forward["output"] and forward["visibility"] == "visible"
    assert results["score"] < TOTAL


@pytest.mark.slow
def test_a_hostile_submission_cannot_forge_its_score(autograder):
    results_folder = autograder["root"] / "results"
    hostile = CORRECT.read_text().replace("super().__init__()", "super().__init__()\n        forge()", 1)
    hostile = FORGE.replace("RESULTS", repr(str(results_folder))) + hostile
    results = run_autograder(autograder, "lstm.py", hostile)
    written = (results_folder / "results.json").read_text()
    assert "forged" not in written and results["score"] == TOTAL  # its LSTM is the lesson's: graded as such
    time.sleep(2.5)  # the daemon's time to write again, had it outlived the sandbox
    assert (results_folder / "results.json").read_text() == written
    assert [p.name for p in results_folder.iterdir()] == ["results.json"]
