"""The JUnit XML and Gradescope results.json files follow their consumers' rules.

JUnit: the rules of the JUnit XML schema CI systems read (Jenkins' junit-10.xsd, which GitLab,
GitHub test reporters and Azure follow): element nesting, required attributes, numeric times,
counts that match the testcases. Gradescope: the autograder specification's results.json
(gradescope-autograders.readthedocs.io/en/latest/specs/).
"""

import json
import os
import stat
import xml.etree.ElementTree as ET

import pytest
from helpers import built_report, gradescope_violations, junit_violations

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


def test_a_written_file_has_the_permissions_the_users_umask_gives(tmp_path):
    """Written whole through a temporary file, yet readable as any file the user writes (a class
    page to share), not mkstemp's owner-only 0600."""
    old = os.umask(0o022)
    try:
        exports.write_gradescope(str(tmp_path / "results.json"), [FAILING])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == 0o644


def test_gradescope_takes_exactly_one_submission(tmp_path):
    with pytest.raises(UserError, match="one file, not 2"):
        exports.write_gradescope(str(tmp_path / "results.json"), [PASSING, FAILING])
    exports.write_gradescope(str(tmp_path / "results.json"), [FAILING])
    assert gradescope_violations(json.loads((tmp_path / "results.json").read_text())) == []


def test_gradescope_tests_are_worth_the_points_given():
    points = exports.parse_points("forward=2,training=4.5")
    results = exports.gradescope_results(FAILING, points=points)
    assert [(t["name"], t["score"], t["max_score"]) for t in results["tests"]] == [
        ("forward", 0.0, 2.0), ("gradients", 0.0, 1.0), ("training", 0.0, 4.5), ("state", 1.0, 1.0)]
    assert exports.gradescope_results(PASSING, points=points)["score"] == 2.0 + 1.0 + 4.5 + 1.0
    assert gradescope_violations(results) == []


def test_under_by_hand_only_every_submission_has_the_same_tests_by_hand_among_them():
    points = exports.parse_points("forward=2,by-hand=3", by_hand_only=True)
    assert list(points) == ["forward", "gradients", "training", "state", "by-hand"]
    could_not_check = exports.gradescope_results(built_report("error", ["error"] * 4), points=points)
    strict = built_report("fail", ["pass"] * 4)
    strict["checks"].append({"id": "by-hand", "status": "fail", "message": "not by hand", "dtypes": {},
                             "counterexample": None})
    checked = exports.gradescope_results(strict, points=points)
    for results in (could_not_check, checked):
        assert [(t["name"], t["max_score"]) for t in results["tests"]] == list(points.items())
        assert gradescope_violations(results) == []
    assert could_not_check["score"] == 0 and checked["score"] == 2 + 1 + 1 + 1
    with pytest.raises(UserError, match="by-hand goes with --by-hand-only"):
        exports.parse_points("by-hand=1")


@pytest.mark.parametrize("spec", ["forward", "forward=", "forwards=1", "forward=1,forward=2", "state=-1",
                                  "state=nan", "state=inf", "gradients=two", ",", "forward=1,", "state=1e308"])
def test_a_bad_points_spec_is_one_line(spec):
    with pytest.raises(UserError, match="^--points: [^\n]+$"):
        exports.parse_points(spec)
