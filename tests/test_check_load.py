"""Definitions-only loading: what is kept, what is left out, and where errors point (no torch)."""

import ast
import json
import subprocess
import sys

import pytest

from handlstm.check import source as load
from handlstm.check.options import split_target
from handlstm.check.sandbox import definitions


def kept(text: str) -> list[str]:
    return [ast.unparse(s).splitlines()[0] for s in definitions.select(ast.parse(text))]


def test_training_prints_and_plots_at_top_level_are_left_out():
    text = """
import torch
from torch import nn
LR = 0.01
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
class LSTMbyHand(nn.Module):
    pass
def helper():
    pass
model = LSTMbyHand()
trainer.fit(model)
print(model(torch.tensor([0.0])))
plt.plot([1, 2])
for epoch in range(5000):
    pass
if __name__ == "__main__":
    main()
"""
    # an assignment is only a candidate: execute runs it when the class needs the name
    assert kept(text) == ["import torch", "from torch import nn", "LR = 0.01",
                          "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
                          "class LSTMbyHand(nn.Module):", "def helper():", "model = LSTMbyHand()"]


def test_a_top_level_object_runs_only_when_the_class_needs_it(tmp_path):
    from handlstm.check.sandbox.definitions import Source, execute

    text = """
class Config:
    hidden = 1
CFG = Config()
model = undefined_trainer_call()
class LSTMbyHand:
    def __init__(self, cfg=CFG):
        self.cfg = cfg
    def lstm_unit(self, x, c, h):
        return c, h
"""
    path = tmp_path / "learner.py"
    path.write_text(text)
    namespace, _ = execute(Source(str(path), text))
    assert namespace["LSTMbyHand"]().cfg is namespace["CFG"]
    assert "model" not in namespace


def test_an_if_that_only_defines_is_kept_and_the_main_guard_is_not():
    text = """
if torch.cuda.is_available():
    device = "cuda"
else:
    device = "cpu"
if torch.cuda.is_available():
    model.cuda()
if __name__ == "__main__":
    LR = 0.1
"""
    assert kept(text) == ["if torch.cuda.is_available():"]
    assert definitions.needed_names(definitions.select(ast.parse(text + "class A:\n    d = device\n"))) >= {"device", "torch"}


def test_a_try_of_imports_is_kept_and_a_try_that_trains_is_not():
    text = """
try:
    import lightning as L
except ImportError:
    import pytorch_lightning as L
try:
    trainer.fit(model)
except Exception:
    pass
"""
    assert kept(text) == ["try:"] and len(definitions.select(ast.parse(text))) == 1


def test_imports_only_plotting_code_needs_are_not_needed_by_the_class():
    tree = ast.parse("""
import torch
import matplotlib.pyplot as plt
import seaborn as sns
SCALE = 2.0
def squash(z):
    return torch.sigmoid(z) * SCALE
def plot(values):
    plt.plot(values); sns.lineplot(values)
class LSTMbyHand(torch.nn.Module):
    def lstm_unit(self, x, c, h):
        return squash(x), h
""")
    needed = definitions.needed_names(definitions.select(tree))
    assert {"torch", "squash", "SCALE"} <= needed
    assert not {"plt", "sns", "plot"} & needed


def notebook(tmp_path, cells: list[tuple[str, str]]) -> str:
    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": kind, "source": text, "metadata": {}}
                                          for kind, text in cells], "nbformat": 4, "nbformat_minor": 5}))
    return str(path)


def test_notebook_magics_are_blanked_and_lines_point_at_their_cell(tmp_path):
    path = notebook(tmp_path, [
        ("markdown", "# title"),
        ("code", "!pip install lightning\n%matplotlib inline\nimport torch"),
        ("code", "%%bash\nls"),
        ("code", "%%time\nx = (\n"),
        ("code", "class A:\n    pass\nprint(A)\nA?"),
    ])
    source = load.read_source(path)
    assert kept(source.text) == ["import torch", "class A:"]
    assert source.skipped == ["cell 3 (a cell magic)", "cell 4 (syntax error, line 2: '(' was never closed)"]
    class_line = source.text.splitlines().index("class A:") + 1
    assert source.where(class_line) == f"{path}, cell 5, line 1"


@pytest.mark.parametrize("name, text, expected", [
    ("missing.py", None, "missing.py: no such file"),
    ("notes.txt", "hello", "notes.txt: not a .py or .ipynb file"),
    ("broken.ipynb", "{not json", "broken.ipynb: not a Jupyter notebook"),
])
def test_unreadable_files_say_what_is_wrong_in_one_line(tmp_path, name, text, expected):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(load.CouldNotCheck) as error:
        load.read_source(str(path))
    assert str(error.value) == f"{tmp_path}/{expected}" or str(error.value).startswith(f"{tmp_path}/{expected}")
    assert "\n" not in str(error.value)


def test_a_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "lstm.py"
    path.write_text("import torch\n\nclass A(torch.nn.Module)\n    pass\n")
    with pytest.raises(load.CouldNotCheck, match=r"lstm.py, line 3: syntax error: expected ':'$"):
        load.parse(load.read_source(str(path)))


@pytest.mark.parametrize("target, expected", [
    ("lstm.py", ("lstm.py", None)),
    ("lstm.py:LSTMbyHand", ("lstm.py", "LSTMbyHand")),
    ("work/notebook.ipynb:My_LSTM2", ("work/notebook.ipynb", "My_LSTM2")),
])
def test_path_and_class_are_split_at_the_last_colon(target, expected):
    assert split_target(target) == expected


def test_a_writefile_cell_of_python_is_code_and_a_pasted_pip_line_is_not(tmp_path):
    path = notebook(tmp_path, [("code", "%%writefile lstm.py\nimport torch\nclass A:\n    pass")])
    assert kept(load.read_source(path).text) == ["import torch", "class A:"]
    script = tmp_path / "lstm.py"
    script.write_text("!pip install lightning\nimport torch\n")
    source = load.read_source(str(script))
    assert kept(source.text) == ["import torch"] and source.skipped == ["notebook commands (! and % lines)"]
    script.write_text("!pip install lightning\nimport torch\nclass A(\n")  # still broken: say so
    with pytest.raises(load.CouldNotCheck, match="line 1: syntax error"):
        load.parse(load.read_source(str(script)))


def test_every_name_lightning_2_moved_is_found_where_lightning_1_kept_it():
    from handlstm.check.sandbox.lightning_moves import MOVED_MODULES, MOVED_NAMES

    imports = [f"import {module}" for module in MOVED_MODULES]
    imports += [f"from {module} import {name}" for module, name in MOVED_NAMES]
    program = "\n".join(["from handlstm.check.sandbox import lightning_moves",
                         "lightning_moves.alias_pytorch_lightning()", *imports,
                         "from pytorch_lightning.utilities.seed import seed_everything",
                         "import lightning.fabric.utilities.seed as moved",
                         "assert seed_everything is moved.seed_everything",
                         "import pytorch_lightning.core.lightning as old, lightning.pytorch as new",
                         "assert old.LightningModule is new.LightningModule"])
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
