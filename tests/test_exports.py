"""The JUnit XML and Gradescope results.json files follow their consumers' rules.

JUnit: the rules of the JUnit XML schema CI systems read (Jenkins' junit-10.xsd, which GitLab,
GitHub test reporters and Azure follow): element nesting, required attributes, numeric times,
counts that match the testcases. Gradescope: the autograder specification's results.json
(gradescope-autograders.readthedocs.io/en/latest/specs/).
"""

import json
import xml.etree.ElementTree as ET

import pytest
from helpers import built_report, junit_violations

from handlstm.check import exports
from handlstm.check.report import error_report
from handlstm.errors import UserError

PASSING = built_report("pass", ["pass"] * 4)
FAILING = built_report("fail", ["fail", "skip", "fail", "pass"], ["forget-gate-activation", "unknown"], "bob.ipynb")
BROKEN = error_report("carol & dave's <lstm>.py", "carol & dave's <lstm>.py, line 3: syntax error: invalid syntax", 0.4, "sandbox")
REPORTS = [PASSING, FAILING, BROKEN]

# --- JUnit XML -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def junit():
    return exports.junit_xml(REPORTS, hint=lambda diagnosis: f"see the catalog entry for {diagnosis}")


def test_junit_xml_follows_the_schema_rules(junit):
    assert junit.startswith("<?xml")
    assert junit_violations(junit) == []


def test_the_junit_validator_catches_broken_documents(junit):
    root = ET.fromstring(junit.encode())
    root[0].set("tests", "7")
    ET.SubElement(root[1].find("testcase"), "error")  # a second outcome
    root[2].find("testcase").set("colour", "red")
    problems = "\n".join(junit_violations(ET.tostring(root, encoding="unicode")))
    for expected in ("tests=7 but 4 found", "several outcomes", "'colour'"):
        assert expected in problems


def test_junit_has_a_suite_per_file_and_a_case_per_check(junit):
    root = ET.fromstring(junit.encode())
    assert [suite.get("name") for suite in root] == [
        "class/alice.py", "bob.ipynb", "carol & dave's <lstm>.py"]
    assert [[case.get("name") for case in suite.iter("testcase")] for suite in root] == [
        ["forward", "gradients", "training", "state"]] * 3
    assert root.get("tests") == "12" and root.get("failures") == "2" and root.get("errors") == "4"


def test_junit_failures_carry_the_diagnosis_hint_and_counterexample(junit):
    bob = ET.fromstring(junit.encode())[1]
    failure = bob.find("testcase[@name='forward']/failure")
    assert failure.get("type") == "forget-gate-activation"
    assert failure.get("message") == "final short memory differs"
    assert ("likely mistake: forget-gate-activation — what forget-gate-activation means here\n"
            "  at bob.ipynb, line 12: f = torch.relu(...)\n"
            "likely mistake: unknown — what unknown means here\n  not located in the source") in failure.text
    assert "hint: see the catalog entry for forget-gate-activation" in failure.text
    assert "days: [1.0, 0.5]" in failure.text
    assert "final short memory: expected 0.12, got 0.31" in failure.text
    assert bob.find("testcase[@name='gradients']/skipped") is not None
    assert bob.find("testcase[@name='state']").findall("*") == []
    carol = ET.fromstring(junit.encode())[2]
    assert carol.find("testcase/error").get("message") == "carol & dave's <lstm>.py, line 3: syntax error: invalid syntax"


# --- Gradescope ------------------------------------------------------------------------------

TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def gradescope_violations(results: dict) -> list[str]:
    """Every way results.json breaks Gradescope's autograder specification (empty: valid)."""
    problems = [f"unknown key {key!r}" for key in set(results) - TOP_KEYS]
    tests = results.get("tests", [])
    if "score" not in results and not all("score" in t for t in tests):
        problems.append("no top-level score and a test without one")
    for key in ("visibility", "stdout_visibility"):
        if key in results and results[key] not in VISIBILITY:
            problems.append(f"{key}={results[key]!r}")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in results and results[key] not in FORMATS:
            problems.append(f"{key}={results[key]!r}")
    if not isinstance(results.get("execution_time", 0), int):
        problems.append("execution_time is not a whole number of seconds")
    for test in tests:
        problems += [f"test key {key!r}" for key in set(test) - TEST_KEYS]
        if test.get("status", "passed") not in ("passed", "failed"):
            problems.append(f"status {test['status']!r}")
        if test.get("visibility", "visible") not in VISIBILITY:
            problems.append(f"test visibility {test['visibility']!r}")
        if test.get("output_format", "text") not in FORMATS:
            problems.append(f"test output_format {test['output_format']!r}")
        if not (isinstance(test.get("score", 0.0), (int, float)) and 0 <= test.get("score", 0) <= test.get(
                "max_score", float("inf"))):
            problems.append(f"test {test.get('name')!r} score {test.get('score')} of {test.get('max_score')}")
        if not isinstance(test.get("output", ""), str) or not isinstance(test.get("number", ""), str):
            problems.append(f"test {test.get('name')!r}: output and number must be strings")
    if "score" in results and tests and results["score"] != sum(t["score"] for t in tests):
        problems.append("the total score is not the sum of the tests' scores")
    return problems


@pytest.mark.parametrize("one", REPORTS, ids=lambda r: r["verdict"])
def test_gradescope_results_follow_the_specification(one):
    results = exports.gradescope_results(one)
    assert gradescope_violations(json.loads(json.dumps(results))) == []
    assert [t["name"] for t in results["tests"]] == ["forward", "gradients", "training", "state"]


def test_the_gradescope_validator_catches_broken_results():
    results = exports.gradescope_results(FAILING)
    results["tests"][0].update(status="error", score=2.0)
    results["execution_time"] = 3.25
    assert len(gradescope_violations(results)) == 4  # status, score > max_score, total, execution_time


def test_gradescope_scores_each_passed_check_and_explains_each_failure():
    results = exports.gradescope_results(FAILING, hint=lambda diagnosis: "use sigmoid in the forget gate")
    assert [(t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        (0.0, 1.0, "failed"), (0.0, 1.0, "failed"), (0.0, 1.0, "failed"), (1.0, 1.0, "passed")]
    assert results["score"] == 1.0
    forward = results["tests"][0]["output"]
    assert "likely mistake: forget-gate-activation" in forward
    assert "hint: use sigmoid in the forget gate" in forward
    assert "got 0.31" in forward
    assert exports.gradescope_results(PASSING)["score"] == 4.0
    assert exports.gradescope_results(BROKEN)["score"] == 0.0


def test_gradescope_takes_exactly_one_submission(tmp_path):
    with pytest.raises(UserError, match="one file, not 2"):
        exports.write_gradescope(str(tmp_path / "results.json"), [PASSING, FAILING])
    exports.write_gradescope(str(tmp_path / "results.json"), [FAILING])
    assert gradescope_violations(json.loads((tmp_path / "results.json").read_text())) == []
