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
from handlstm.check.report import Diagnosis
from handlstm.cli import main

BUGGY = Path(__file__).parent / "corpus" / "buggy"
ALL = sorted(BUGGY.rglob("*.py"), key=lambda p: (p.parent != BUGGY, p.name))


def one_per_catalog_id() -> list[Path]:
    first: dict[str, Path] = {}
    for path in ALL:
        first.setdefault(path.stem.split("--")[0], path)
    return [first[mistake] for mistake in CATALOG] + [BUGGY / "weights-swapped--copy-paste-slip.py"]


FILES = ALL if os.environ.get("HANDLSTM_E2E") == "all" else one_per_catalog_id()
EXAMPLES = "10"  # a mistake shows on the lesson's own examples already; the corpus is not subtle
# where each file's mistake is, read from the file: a piece of the one line that holds it (and
# which of the lines holding that piece, where several do)
LOCATED = {
    "candidate-activation.py": "potential_memory = torch.sigmoid(",
    "cell-output-activation.py": "updated_short_memory = updated_long_memory * output_percent",
    "cell-update.py": "updated_long_memory = ((long_memory + long_remember_percent)",
    "forget-gate-activation.py": "long_remember_percent = torch.tanh(",
    "gates-swapped--one-way.py": "torch.tanh(updated_long_memory) * long_remember_percent",
    "gradient-blocked--one-parameter-detached.py": "self.wlr1.detach()",
    "initial-state--half.py": "long_memory = 0.5",
    "input-gate-activation.py": "potential_remember_percent = F.relu(",
    "optimizer-params--sgd.py": "torch.optim.SGD(",
    "output-gate-activation.py": "output_percent = torch.tanh(",
    "parameter-not-registered.py": "self.bp1 = torch.tensor(0.)",
    "parameter-not-trainable.py": "requires_grad=False",
    "returns-long-memory.py": "return long_memory",
    "sequence-order--reversed-loop.py": "reversed(range(len(input)))",
    "state-leak.py": "self.long_memory = 0",
    "state-not-carried--stale-memory.py": "self.lstm_unit(day3, long_memory2, short_memory1)",
    "weights-swapped--bias-slip.py": ("self.bp1)", 2),  # the second: the output gate's bias
    "weights-swapped--copy-paste-slip.py": "(short_memory * self.wpr1)",
}


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
    assert all(set(d) == set(Diagnosis.__annotations__) for d in report["diagnoses"])
    if path.name in LOCATED:
        lines = path.read_text().splitlines()
        piece, nth = LOCATED[path.name] if isinstance(LOCATED[path.name], tuple) else (LOCATED[path.name], 1)
        line = [i for i, text in enumerate(lines, start=1) if piece in text][nth - 1]
        location = report["diagnoses"][0]["location"]
        assert location and (location["line"], location["code"]) == (line, lines[line - 1].strip()), printed
        assert f"at {location['file']}, line {line}: " in printed


def test_the_table_of_located_mistakes_names_files_of_the_corpus():
    assert set(LOCATED) <= {p.name for p in ALL} and len(LOCATED) >= 15
