"""`handlstm check FILE --json` on the buggy corpus: verdict fail, exit code 1, the file's mistake
named first. Through the real CLI: child process, properties, diagnosis, report.

Each file costs a child process and a few Lightning runs (~3 s), so by default a few files stand
for the corpus: lstm_unit, forward (read through another argument order) and state; the child's
facts come through the child's own session in the in-process test, which runs every file always.
HANDLSTM_E2E=all runs every file here too, and those in buggy/other-style/ (pytorch_lightning,
lstm_unit(x, short, long) returning (short, long), float32 tensors made inside forward).
"""

import json
import os
from pathlib import Path

import pytest

from handlstm.cli import main

BUGGY = Path(__file__).parent / "corpus" / "buggy"
STANDING_FOR_ALL = ("weights-swapped--copy-paste-slip", "returns-long-memory", "state-leak")
FILES = (sorted(BUGGY.rglob("*.py")) if os.environ.get("HANDLSTM_E2E") == "all"
         else [BUGGY / f"{name}.py" for name in STANDING_FOR_ALL])
EXAMPLES = "10"  # a mistake shows on the lesson's own examples already; the corpus is not subtle


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_check_fails_the_file_and_names_its_mistake_first(path, tmp_path, capsys):
    report_path = tmp_path / "report.json"
    code = main(["check", str(path), "--json", str(report_path), "--examples", EXAMPLES])
    report = json.loads(report_path.read_text())
    printed = capsys.readouterr().out
    assert (code, report["verdict"]) == (1, "fail"), printed
    expected = path.stem.split("--")[0]
    assert report["diagnoses"][0] == expected, printed
    assert f"likely mistake: {expected}" in printed
