"""The JUnit XML and Gradescope results.json files follow their consumers' rules.

JUnit: the rules of the JUnit XML schema CI systems read (Jenkins' junit-10.xsd, which GitLab,
GitHub test reporters and Azure follow): element nesting, required attributes, numeric times,
counts that match the testcases. Gradescope: the autograder specification's results.json
(gradescope-autograders.readthedocs.io/en/latest/specs/).
"""

import json
import xml.etree.ElementTree as ET

import pytest
from handlstm.reference import PARAM_NAMES

from handlstm.check import exports
from handlstm.check.diagnose.catalog import finding
from handlstm.errors import UserError

COUNTEREXAMPLE = {"property": "forward", "parameters": {name: 0.5 for name in PARAM_NAMES},
                  "days": [1.0, 0.5], "label": 0.0,
                  "mismatches": [{"quantity": "final short memory", "expected": 0.12, "got": 0.31,
                                  "tolerance": 1e-15}]}


def report(verdict, statuses, diagnoses=(), path="class/alice.py"):
    messages = {"pass": "agrees with the reference", "fail": "final short memory differs",
                "error": "alice.py line 3: SyntaxError: invalid syntax", "skip": "not run: forward failed"}
    located = {"file": path, "line": 12, "cell": None, "code": "f = torch.relu(...)"}
    records = [dict(finding(d, f"what {d} means here"), location=located if i == 0 else None)
               for i, d in enumerate(diagnoses)]
    return {"verdict": verdict, "diagnoses": records, "seconds": 3.25,
            "implementation": {"path": path, "class": "LSTMbyHand", "sequence_lengths": [4],
                               "dtype": "float64", "interface": "lstm_unit(x, long, short) -> [long, short]"},
            "checks": [{"id": check, "status": status, "message": messages[status],
                        "counterexample": COUNTEREXAMPLE if status == "fail" else None}
                       for check, status in zip(("forward", "gradients", "training", "state"), statuses)]}


PASSING = report("pass", ["pass"] * 4)
FAILING = report("fail", ["fail", "skip", "fail", "pass"], ["forget-gate-activation", "unknown"], "bob.ipynb")
BROKEN = report("error", ["error"] * 4, path="carol & dave's <lstm>.py")
REPORTS = [PASSING, FAILING, BROKEN]

# --- JUnit XML -------------------------------------------------------------------------------

SUITE_ATTRIBUTES = {"name", "tests", "failures", "errors", "skipped", "disabled", "time", "timestamp",
                    "hostname", "id", "package", "file", "log", "url", "version"}
CASE_ATTRIBUTES = {"name", "classname", "time", "assertions", "status", "file", "line"}
CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err"}


def _decimal(value: str) -> None:
    assert float(value) >= 0, value


def junit_violations(text: str) -> list[str]:
    """Every way the document breaks junit-10.xsd's rules (empty: valid)."""
    problems = []
    root = ET.fromstring(text.encode())
    if root.tag != "testsuites":
        return [f"root is <{root.tag}>, not <testsuites>"]
    if set(root.attrib) - {"name", "tests", "failures", "errors", "disabled", "skipped", "time"}:
        problems.append(f"unknown <testsuites> attributes {set(root.attrib)}")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        if suite.tag != "testsuite":
            problems.append(f"<{suite.tag}> inside <testsuites>")
            continue
        if not {"name", "tests"} <= set(suite.attrib) or set(suite.attrib) - SUITE_ATTRIBUTES:
            problems.append(f"<testsuite> attributes {sorted(suite.attrib)}")
        order = [child.tag for child in suite]
        if order != sorted(order, key=["properties", "testcase", "system-out", "system-err"].index):
            problems.append(f"<testsuite> children out of order: {order}")
        for prop in suite.iter("property"):
            if set(prop.attrib) != {"name", "value"}:
                problems.append(f"<property> attributes {sorted(prop.attrib)}")
        cases = suite.findall("testcase")
        counted = dict(tests=len(cases), failures=sum(c.find("failure") is not None for c in cases),
                       errors=sum(c.find("error") is not None for c in cases),
                       skipped=sum(c.find("skipped") is not None for c in cases))
        for key, value in counted.items():
            if int(suite.get(key, "0")) != value:
                problems.append(f"testsuite {suite.get('name')!r}: {key}={suite.get(key)} but {value} found")
            totals[key] += value
        _decimal(suite.get("time", "0"))
        for case in cases:
            if "name" not in case.attrib or set(case.attrib) - CASE_ATTRIBUTES:
                problems.append(f"<testcase> attributes {sorted(case.attrib)}")
            _decimal(case.get("time", "0"))
            tags = [child.tag for child in case]
            if set(tags) - CASE_CHILDREN or tags.count("skipped") > 1:
                problems.append(f"<testcase> children {tags}")
            if sum(tag in ("skipped", "error", "failure") for tag in tags) > 1:
                problems.append(f"testcase {case.get('name')!r} has several outcomes: {tags}")
            for outcome in case:
                if set(outcome.attrib) - {"message", "type"}:
                    problems.append(f"<{outcome.tag}> attributes {sorted(outcome.attrib)}")
    for key, value in totals.items():
        if key in root.attrib and int(root.get(key)) != value:
            problems.append(f"testsuites: {key}={root.get(key)} but {value} found")
    return problems


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
    assert carol.find("testcase/error").get("message") == "alice.py line 3: SyntaxError: invalid syntax"


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
