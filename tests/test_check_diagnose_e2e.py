"""`handlstm check FILE --json` on the buggy corpus: verdict fail, exit code 1, the file's mistake
named first. Through the real CLI: sandbox, probing, properties, diagnosis, report.

Each file costs a sandboxed child and a few Lightning runs (~3 s), so CI runs a stated sample:
one file for every catalog id (the first in name order, from buggy/ and buggy/other-style/,
whose styles are pytorch_lightning, lstm_unit(x, short, long) returning (short, long), float32
tensors made inside forward). Every file of both folders goes through the same session, probing
and diagnosis in process in tests/test_check_diagnose_corpus.py. HANDLSTM_E2E=all runs every
file here too.
"""

import json
import os
from pathlib import Path

import pytest

from handlstm.check.diagnose import CATALOG
from handlstm.cli import main

BUGGY = Path(__file__).parent / "corpus" / "buggy"
ALL = sorted(BUGGY.rglob("*.py"), key=lambda p: (p.parent != BUGGY, p.name))


def one_per_catalog_id() -> list[Path]:
    first: dict[str, Path] = {}
    for path in ALL:
        first.setdefault(path.stem.split("--")[0], path)
    return [first[mistake] for mistake in CATALOG]


FILES = ALL if os.environ.get("HANDLSTM_E2E") == "all" else one_per_catalog_id()
EXAMPLES = "10"  # a mistake shows on the lesson's own examples already; the corpus is not subtle


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BUGGY)))
def test_check_fails_the_file_and_names_its_mistake_first(path, tmp_path, capsys):
    report_path = tmp_path / "report.json"
    code = main(["check", str(path), "--json", str(report_path), "--examples", EXAMPLES])
    report = json.loads(report_path.read_text())
    printed = capsys.readouterr().out
    assert (code, report["verdict"]) == (1, "fail"), printed
    expected = path.stem.split("--")[0]
    assert report["diagnoses"][0]["id"] == expected, printed
    assert f"likely mistake: {expected}" in printed
