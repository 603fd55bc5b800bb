"""`check(LSTMbyHand)` in a notebook cell, executed by nbclient in a Jupyter kernel as a learner runs
it: the verdict, the diagnosis located in the kernel's cell, HTML in the output, and a class that
loops forever ends the check, not the kernel.

The notebooks run one after another in one kernel, as a learner runs several in a session (each
defines its own class): the kernel, and the checker's fork server inside it, start once (under
xdist a module's tests run on one worker: --dist loadfile in pyproject.toml)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent / "corpus" / "notebooks"


class Kernel:
    def __init__(self):
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.cells_run = 0  # the kernel numbers its cells In [1], In [2], ... across notebooks


@pytest.fixture(scope="module")
def kernel():
    shared = Kernel()
    shared.manager.start_kernel()
    yield shared
    shared.manager.shutdown_kernel(now=True)


def executed(kernel: Kernel, name: str) -> list[nbformat.NotebookNode]:
    """The notebook's cells, run in the shared kernel, with their outputs; each code cell's
    "kernel_count" is the In [n] the kernel gave it (nbclient's execution_count restarts at 1)."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(notebook, timeout=300, km=kernel.manager)
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            kernel.cells_run += 1
            cell.kernel_count = kernel.cells_run
    return notebook.cells


def text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))


@pytest.mark.slow
def test_a_correct_class_passes_and_shows_as_html(kernel):
    cells = executed(kernel, "correct.ipynb")
    assert text(cells[3]).startswith("pass [] {'forward': 'pass', 'gradients': 'pass', 'training': 'pass'")
    shown = html(cells[2])
    assert "conforms to the lesson" in shown and shown.count("✓") == 4 and "isolation: process" in shown


@pytest.mark.slow
def test_a_slip_is_named_and_located_in_the_cell_that_defined_the_class(kernel):
    cells = executed(kernel, "slip.ipynb")
    assert text(cells[5]).startswith("fail ['weights-swapped'")
    location = text(cells[5]).splitlines()[1]
    # the class was redefined in the notebook's fourth cell, after a first, correct definition
    run_as = cells[3].kernel_count
    assert "'file': 'this notebook'" in location and f"'cell': {run_as}," in location and "self.wpr1" in location
    shown = html(cells[4])
    assert "weights-swapped" in shown and "<svg" in shown and f"this notebook, cell {run_as}, line" in shown


@pytest.mark.slow
def test_renamed_parameters_are_mapped_with_auto(kernel):
    assert text(executed(kernel, "renamed.ipynb")[3]).startswith("pass []")


@pytest.mark.slow
def test_a_class_that_loops_forever_ends_the_check_not_the_kernel(kernel):
    cells = executed(kernel, "loops_forever.ipynb")
    assert text(cells[3]).startswith("error []")
    assert "timed out" in html(cells[2]) or "did not finish" in html(cells[2])
    assert text(cells[4]) == "the kernel is still alive\n"


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
