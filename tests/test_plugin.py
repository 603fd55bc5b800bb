"""The pytest plugin, run by pytest's own pytester: one real item per check, outcomes and names as
pytest users expect (-k, --junitxml, xdist), the command's diagnosis in a failure, and nothing at
all unless --handlstm-impl is given."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# imported here, before pytester snapshots sys.modules: in-process runs restore it afterwards, and
# NumPy's C extension cannot be imported twice in one process
import handlstm.check.diagnose
import handlstm.check.run  # noqa: F401

pytest_plugins = ["pytester"]

CORPUS = Path(__file__).parent / "corpus" / "grading"
CHECKS = ("forward", "gradients", "training", "state")
FAST = ("--handlstm-examples", "2", "-p", "no:cacheprovider")


def test_a_correct_implementation_passes_one_item_per_check_and_k_selects(pytester):
    impl = CORPUS / "lesson_correct.py"
    result = pytester.runpytest("--handlstm-impl", str(impl), "-v", "-k", "not training", *FAST)
    result.assert_outcomes(passed=3, deselected=1)
    for check in ("forward", "gradients", "state"):
        result.stdout.fnmatch_lines([f"*lesson_correct.py::{check} PASSED*"])
    result.stdout.fnmatch_lines(["handlstm: checking *lesson_correct.py*",
                                 "handlstm: param map: lesson names*",
                                 "*handlstm*", "verdict: pass*",
                                 "implementation: *lesson_correct.py:LSTMbyHand · float64 + float32 · lstm_unit(*"])
    assert result.ret == 0


def test_a_buggy_implementation_fails_its_check_with_the_commands_diagnosis_under_xdist(pytester):
    impl = CORPUS / "loss_abs.py"
    junit = pytester.path / "report.xml"
    result = pytester.runpytest("--handlstm-impl", str(impl), "-n", "2", f"--junitxml={junit}", "-rA", *FAST)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*likely mistake: loss-function*", "*counterexample:*",
                                 "*hint: training_step computes loss = (output - label) ** 2*",
                                 "FAILED *loss_abs.py::training*"])
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == set(CHECKS)
    assert cases["training"].find("failure") is not None
    assert all(cases[check].find("failure") is None for check in ("forward", "gradients", "state"))


def test_a_file_that_cannot_be_checked_errors_every_item_with_its_one_line(pytester):
    result = pytester.runpytest("--handlstm-impl", str(CORPUS / "syntax_error.py"), *FAST)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(["*syntax_error.py, line 5: syntax error*"])
    # one short error per item, without pytest's or pluggy's internals, even without --tb=short
    assert len(result.stdout.lines) < 40, "\n".join(result.stdout.lines)
    assert not [line for line in result.stdout.lines if "pluggy/" in line or "Traceback" in line]


def test_a_bad_param_map_is_a_usage_error(pytester):
    (pytester.path / "map.json").write_text("[1, 2]")
    result = pytester.runpytest("--handlstm-impl", str(CORPUS / "lesson_correct.py"),
                                "--handlstm-param-map", str(pytester.path / "map.json"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--handlstm-param-map*JSON object*"])


def test_without_the_option_the_plugin_adds_nothing_and_imports_no_torch(pytester):
    pytester.makepyfile(test_plain="""
        import sys

        def test_nothing_heavy_was_imported():
            assert "torch" not in sys.modules
            assert "handlstm.check.run" not in sys.modules
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "handlstm:" not in result.stdout.str()


def test_a_users_reference_py_in_the_working_folder_shadows_nothing(pytester):
    """`python -m pytest` puts the working folder first on sys.path: a learner's own reference.py
    there must not replace handlstm's reference (installed inside the package)."""
    pytester.makepyfile(reference="raise SystemExit('the decoy reference.py was imported')")
    result = pytester.runpytest_subprocess("--handlstm-impl", str(CORPUS / "lesson_correct.py"), *FAST)
    result.assert_outcomes(passed=4)
