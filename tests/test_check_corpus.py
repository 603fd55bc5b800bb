"""`handlstm check` on the learner-style corpus: correct files in many styles pass, broken ones
could not be checked (one clear line), hostile ones never pass a wrong implementation and never hang.

Each file is checked with few examples: this tests the pipeline, not the properties (tests/
test_agreement.py and tests/meta/test_mutants.py do that with the full profiles).
"""

import json
import time
from pathlib import Path

import pytest
from helpers import check_of

from handlstm.check.report import CHECK_IDS, Check, Implementation, Report, error_line
from handlstm.check.run import check_file
from handlstm.check.sandbox.client import Zygote, choose_isolation

CORPUS = Path(__file__).parent / "corpus"
EXAMPLES = 3  # per property: enough to exercise every request the pipeline makes
TIMEOUT = 40.0
HANG_TIMEOUT = 4.0  # a hang while loading or probing is cut after a quarter of this


@pytest.fixture(scope="module", autouse=True)
def warm_fork_server():
    """Import torch and Lightning once for the module, outside any one file's time limit."""
    Zygote.shared(choose_isolation(None, many=False)).wait_ready(time.monotonic() + 120)


def check(name: str, **options) -> dict:
    options.setdefault("examples", EXAMPLES)
    options.setdefault("timeout", TIMEOUT)
    return check_file(str(CORPUS / name), **options)


CORRECT = {
    # file: (sequence lengths, dtype, lstm_unit interface)
    "correct/lesson_unrolled.py": ([4], "float64", "lstm_unit(input, long, short) -> [long, short]"),
    "correct/notebook.ipynb": ([4], "float64", "lstm_unit(input, long, short) -> [long, short]"),
    "correct/batch_of_one.py": ([4], "float64", "lstm_unit(input, long, short) -> [long, short]"),
    "correct/loop_pytorch_lightning.py": (list(range(1, 17)), "float64",
                                          "lstm_unit(input, long, short) -> [long, short]"),
    "correct/x_short_long.py": (list(range(1, 17)), "float64", "lstm_unit(input, short, long) -> [short, long]"),
    "correct/float32_hardcoded.py": (list(range(1, 17)), "float32",
                                     "lstm_unit(input, long, short) -> [long, short]"),
    "correct/unpack_four_days.py": ([4], "float64", "lstm_unit(input, long, short) -> [long, short]"),
    "correct/dataclass_config.py": (list(range(1, 17)), "float64",
                                    "lstm_unit(input, long, short) -> [long, short]"),
    # hand-written sigmoid and tanh (2 sigmoid(2z) - 1), and a Lightning 1.x import of seed_everything
    "correct/own_activations.py": (list(range(1, 17)), "float64",
                                   "lstm_unit(input, long, short) -> [long, short]"),
    "correct/exp_activations.py": (list(range(1, 17)), "float64",
                                   "lstm_unit(input, long, short) -> [long, short]"),
    # Lightning 1.x: LightningModule from pytorch_lightning.core.lightning, training_epoch_end
    "correct/lightning1_hooks.py": (list(range(1, 17)), "float64",
                                    "lstm_unit(input, long, short) -> [long, short]"),
}


def test_a_forward_that_reads_two_of_the_lessons_four_days_fails():
    # it runs on any length but ignores day 3 on: the lesson's four days are always checked
    report = check("hostile/reads_two_of_four_days.py")
    assert report["verdict"] == "fail"
    assert 4 in report["implementation"]["sequence_lengths"]


@pytest.mark.parametrize("name", CORRECT)
def test_correct_files_in_every_style_pass(name):
    report = check(name)
    assert report["verdict"] == "pass", report["checks"]
    assert [c["status"] for c in report["checks"]] == ["pass"] * 4
    lengths, dtype, interface = CORRECT[name]
    implementation = report["implementation"]
    assert (implementation["sequence_lengths"], implementation["dtype"],
            implementation["interface"]["lstm_unit"]) == (lengths, dtype, interface)


def test_a_formula_that_overflows_beyond_the_drawn_range_passes_with_a_finding_that_says_where():
    report = check("correct/exp_activations.py")
    assert report["verdict"] == "pass"
    unstable = [f["detail"] for f in report["findings"] if f["id"] == "numerically-unstable"]
    assert len(unstable) == 2  # float64 and float32
    assert "in float32, forward gives nan once the gates' weighted sums reach ±100 (fine up to ±50" in unstable[1]
    assert not [f for f in check("correct/own_activations.py")["findings"] if f["id"] == "numerically-unstable"]


def test_a_parameter_without_a_gradient_is_said_to_have_none_not_to_be_nan():
    report = check("buggy/gradient-blocked--one-parameter-detached.py")
    gradients = next(c for c in report["checks"] if c["id"] == "gradients")
    assert gradients["status"] == "fail"
    assert "d loss / d wlr1 is missing" in gradients["message"]
    assert "wlr1 has no gradient: not used in the output, or cut off from it" in gradients["message"]


def test_a_plain_torch_module_passes_without_a_training_check():
    report = check("correct/plain_module_device.py")
    assert report["verdict"] == "pass"
    assert [c["status"] for c in report["checks"]] == ["pass", "pass", "skip", "pass"]
    assert "not a LightningModule" in check_of(report, "training")["message"]


def test_renamed_parameters_pass_with_their_map_and_not_without():
    mapping = json.loads((CORPUS / "correct/renamed.map.json").read_text())
    assert check("correct/renamed.py", param_map=mapping)["verdict"] == "pass"
    without = check("correct/renamed.py")
    assert without["verdict"] == "error"
    assert "has no attribute wlr1" in error_line(without) and "--param-map auto" in error_line(without)


def test_a_typo_in_a_given_map_is_answered_with_the_name_it_likely_meant():
    mapping = json.loads((CORPUS / "correct/renamed.map.json").read_text())
    mapping["wlr1"] = "w_blu1"
    line = error_line(check("correct/renamed.py", param_map=mapping))
    assert "has no attribute w_blu1 (for wlr1); did you mean w_blue1 (not w_blu1)? Correct the --param-map" in line


def test_the_report_has_exactly_the_documented_shape():
    report = check("correct/lesson_unrolled.py")
    assert set(report) == set(Report.__annotations__)
    assert [c["id"] for c in report["checks"]] == list(CHECK_IDS)
    assert all(set(c) == set(Check.__annotations__) for c in report["checks"])
    assert set(report["implementation"]) == set(Implementation.__annotations__) - {"param_map"}
    assert report["implementation"]["class"] == "LSTMbyHand"
    json.dumps(report, allow_nan=False)  # strict JSON


BROKEN = {
    # file: what the one line must say
    "broken/syntax_error.py": "syntax_error.py, line 6: syntax error",
    "broken/no_class.py": "no torch.nn.Module class with an lstm_unit method (found: Helper (not a torch.nn.Module))",
    "broken/two_classes.py": "several classes have an lstm_unit method (LSTMbyHand, LSTMbyHandV2)",
    "broken/import_error.py": "import_error.py, line 3: `from lstm_helpers import gate` failed",
    "broken/crash.py": "crash.py, line 9, in __init__: RuntimeError: not finished yet",
    "broken/missing_parameters.py": "has no attribute wlr1",
    "broken/not_there.py": "not_there.py: no such file",
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_files_could_not_be_checked_with_one_clear_line(name):
    report = check(name)
    assert report["verdict"] == "error"
    line = error_line(report)
    assert BROKEN[name] in line and "\n" not in line
    assert all(c["status"] == "error" for c in report["checks"])


def test_a_forward_that_never_ends_is_cut_by_the_time_limit():
    started = time.monotonic()
    report = check("broken/infinite_loop.py", timeout=HANG_TIMEOUT)
    assert time.monotonic() - started < HANG_TIMEOUT
    assert report["verdict"] == "error"
    assert "timed out: forward did not finish" in error_line(report)


def test_a_check_that_hangs_is_cut_and_the_other_checks_still_run():
    timeout = 2 * HANG_TIMEOUT  # the properties share what loading and probing leave
    started = time.monotonic()
    report = check("broken/training_hangs.py", timeout=timeout)
    assert time.monotonic() - started < timeout
    assert [c["status"] for c in report["checks"]] == ["pass", "pass", "error", "pass"]
    assert "timed out: Lightning training did not finish" in check_of(report, "training")["message"]
    assert report["verdict"] == "error"


HOSTILE = {
    # file: the verdict it must get (each is a wrong implementation, or no implementation at all)
    "hostile/prints_all_passed.py": ("fail", None),
    "hostile/monkeypatches_torch_numpy.py": ("fail", None),
    "hostile/returns_nan.py": ("fail", None),  # a non-finite number is never a pass
    "hostile/monkeypatches_handlstm.py": ("fail", None),  # nothing of the checker is there to patch
    "hostile/imports_handlstm.py": ("error", "No module named 'handlstm'"),
    "hostile/sys_exit_in_init.py": ("error", "called sys.exit(0)"),
    "hostile/os_exit_in_init.py": ("error", "ended the checking process with exit code 0"),
    "hostile/exit_at_import.py": ("error", "ended the checking process with exit code 0"),
    "hostile/forward_exits.py": ("error", "ended the checking process with exit code 0"),
    # under a loaded machine filling 2 GiB may outlast the load time limit: either way, no pass
    "hostile/memory_bomb.py": ("error", ("MemoryError", "timed out")),
    "hostile/infinite_loop_in_init.py": ("error", "timed out: loading the file and creating the class"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_files_never_pass_and_never_hang(name):
    verdict_, says = HOSTILE[name]
    timeout = HANG_TIMEOUT if verdict_ == "error" else TIMEOUT
    started = time.monotonic()
    report = check(name, timeout=timeout)
    assert time.monotonic() - started < timeout
    assert report["verdict"] == verdict_, report["checks"]
    json.dumps(report, allow_nan=False)  # NaN answers are reported as text: the JSON stays strict
    if verdict_ == "fail":
        assert check_of(report, "forward")["status"] == "fail"  # the sigmoid candidate shows in forward
    else:
        assert any(text in error_line(report) for text in ((says,) if isinstance(says, str) else says))


def test_a_slip_in_a_notebook_is_located_by_cell_and_line_in_the_cell(tmp_path):
    notebook = json.loads((CORPUS / "correct/notebook.ipynb").read_text())
    cell = notebook["cells"][3]  # the class: the fourth cell, counted from 1 as Jupyter users count
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    slip = "(short_memory * self.wlr1) + (input_value * self.wlr2)"
    assert source.count(slip) == 1
    source = source.replace(slip, "(short_memory * self.wpr1) + (input_value * self.wlr2)")
    cell["source"] = source
    (tmp_path / "slip.ipynb").write_text(json.dumps(notebook))
    report = check_file(str(tmp_path / "slip.ipynb"), examples=EXAMPLES, timeout=TIMEOUT)
    first = report["diagnoses"][0]
    assert (report["verdict"], first["id"], first["gate"], first["parameters"]) == (
        "fail", "weights-swapped", "forget", ["wpr1", "wlr1"])
    line = next(i for i, text in enumerate(source.splitlines(), start=1) if "self.wpr1) +" in text)
    assert (first["location"]["cell"], first["location"]["line"]) == (4, line)
