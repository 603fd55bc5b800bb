"""`check(LSTMbyHand)` in a notebook cell, executed by nbclient in a fresh kernel as a learner runs
it: the verdict, the diagnosis located in the kernel's cell, HTML in the output, and a class that
loops forever ends the check, not the kernel."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent / "corpus" / "notebooks"


def executed(name: str) -> list[dict]:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    return [cell.get("outputs", []) for cell in notebook.cells]


def text(outputs: list) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def html(outputs: list) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs)


@pytest.mark.slow
def test_a_correct_class_passes_and_shows_as_html():
    outputs = executed("correct.ipynb")
    assert text(outputs[3]).startswith("pass [] {'forward': 'pass', 'gradients': 'pass', 'training': 'pass'")
    shown = html(outputs[2])
    assert "conforms to the lesson" in shown and shown.count("✓") == 4 and "isolation: process" in shown


@pytest.mark.slow
def test_a_slip_is_named_and_located_in_the_cell_that_defined_the_class():
    outputs = executed("slip.ipynb")
    assert text(outputs[5]).startswith("fail ['weights-swapped'")
    location = text(outputs[5]).splitlines()[1]
    # the class was redefined in the fourth cell run (In [4]), after a first, correct definition
    assert "'file': 'this notebook'" in location and "'cell': 4" in location and "self.wpr1" in location
    shown = html(outputs[4])
    assert "weights-swapped" in shown and "<svg" in shown and "this notebook, cell 4, line" in shown


@pytest.mark.slow
def test_renamed_parameters_are_mapped_with_auto():
    assert text(executed("renamed.ipynb")[3]).startswith("pass []")


@pytest.mark.slow
def test_a_class_that_loops_forever_ends_the_check_not_the_kernel():
    outputs = executed("loops_forever.ipynb")
    assert text(outputs[3]).startswith("error []")
    assert "timed out" in html(outputs[2]) or "did not finish" in html(outputs[2])
    assert text(outputs[4]) == "the kernel is still alive\n"


def test_outside_a_notebook_the_class_is_checked_in_its_own_file(tmp_path):
    import importlib.util

    from handlstm import check

    lesson = (Path(__file__).parent / "corpus" / "correct" / "x_short_long.py").read_text()
    (tmp_path / "my_lstm.py").write_text(lesson)
    spec = importlib.util.spec_from_file_location("my_lstm", tmp_path / "my_lstm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = next(v for v in vars(module).values() if isinstance(v, type) and hasattr(v, "lstm_unit"))
    result = check(cls, examples=3)
    assert result.passed and result.report["implementation"]["path"].endswith("my_lstm.py")
    assert result.report["isolation"] == "process" and "✓ forward" in repr(result)
