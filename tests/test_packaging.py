"""What a release would carry: `python -m build` makes the sdist and builds the wheel from it (what
pip does with an sdist), the wheel installs into a fresh virtual environment, and `handlstm check`
works there with a decoy reference.py and handlstm.py in the working folder (nothing of handlstm
can be shadowed by a user's file)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from helpers import fresh_venv

ROOT = Path(__file__).parent.parent
CORRECT = ROOT / "tests/corpus/correct/lesson_unrolled.py"
BUGGY = ROOT / "tests/corpus/buggy/weights-swapped.py"


def test_every_package_folder_of_the_source_is_in_the_wheel_list():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "handlstm").rglob("__init__.py")}
    on_disk |= {"handlstm." + ".".join(p.parent.relative_to(ROOT).parts)
                for p in (ROOT / "reference").rglob("__init__.py")}
    assert listed == on_disk


def test_the_package_is_cheap_to_import_and_its_public_names_arrive_on_first_use():
    program = ("import sys\nimport handlstm\n"
               "assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')], 'torch at import'\n"
               "from handlstm import LSTMByHand, LSTMbyHand, LightningLSTM, from_torch_lstm, to_torch_lstm\n"
               "from handlstm import reference\n"
               "lstm = to_torch_lstm({n: 0.5 for n in reference.PARAM_NAMES})\n"
               "assert from_torch_lstm(lstm)['wo1'] == 0.5 and LSTMbyHand is LSTMByHand\n"
               "assert 'LightningLSTM' in dir(handlstm)\n"
               "try:\n    handlstm.no_such_name\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit(1)\n")
    subprocess.run([sys.executable, "-c", program], check=True, timeout=120)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The sdist, and the wheel built from it (as `python -m build` does)."""
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("source") / "handlstm"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.fail("tests/test_packaging.py builds from the git checkout: git ls-files failed")
    for name in tracked.stdout.splitlines():  # a clean tree: no build/ or .egg-info of the editable install
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {"wheel": next(out.glob("*.whl")), "sdist": next(out.glob("*.tar.gz"))}


@pytest.mark.slow
def test_the_wheel_built_from_the_sdist_installs_and_checks_with_decoys_in_the_working_folder(built, tmp_path):
    python = fresh_venv(tmp_path / "venv")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                              "--no-deps", str(built["wheel"])], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    work = tmp_path / "work"
    work.mkdir()
    (work / "reference.py").write_text("raise SystemExit('the decoy reference.py was imported')\n")
    (work / "handlstm.py").write_text("raise SystemExit('the decoy handlstm.py was imported')\n")
    handlstm = str(python.parent / "handlstm")
    for path, code in ((CORRECT, 0), (BUGGY, 1)):
        done = subprocess.run([handlstm, "check", str(path), "--examples", "5"], cwd=work,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
    imported = subprocess.run([str(python), "-c", "import handlstm.reference, handlstm.check.sandbox.runner; "
                               "print(handlstm.reference.__file__)"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0 and str(tmp_path / "venv") in imported.stdout, imported.stderr
