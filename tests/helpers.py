"""What several test modules share: asserting a property with its headroom recorded, looking a
check up by id, and reports built the way the checker builds them."""

from __future__ import annotations

import sysconfig
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

from handlstm.reference import PARAM_NAMES

from handlstm import properties
from handlstm.check.diagnose.catalog import finding
from handlstm.check.entries import counterexample
from handlstm.check.report import CHECK_IDS
from handlstm.properties import Comparison, PropertyFailure
from handlstm.strategies import Example

# this test's worst |error| / tolerance per label; conftest.py moves it onto the test's report
# (user_properties, which crosses xdist) and prints the worst of the run in its summary
HEADROOM: dict[str, float] = {}


def agrees(name: str, comparisons: list, example, label: str | None = None) -> None:
    """properties.assert_agrees, with the worst ratio recorded for the headroom summary."""
    __tracebackhide__ = True
    label = label or name
    HEADROOM[label] = max(HEADROOM.get(label, 0.0), properties.worst_ratio(comparisons))
    properties.assert_agrees(name, comparisons, example, label)


def check_of(report: dict, check_id: str) -> dict:
    """A report's check by its id (never by position)."""
    return next(c for c in report["checks"] if c["id"] == check_id)


# a failing forward example, as run.counterexample writes it into a check
COUNTEREXAMPLE = dict(counterexample(PropertyFailure(
    "forward", Example(params=dict.fromkeys(PARAM_NAMES, 0.5), days=(1.0, 0.5), label=0.0),
    [Comparison("final short memory", 0.12, 0.31, 1e-15)])), dtype="float64")


def built_report(verdict: str, statuses: list[str], diagnoses=(), path: str = "class/alice.py") -> dict:
    """A report of the checker's shape (report.Report), its diagnoses built by diagnose.finding."""
    messages = {"pass": "agrees with the reference", "fail": "final short memory differs",
                "error": "alice.py line 3: SyntaxError: invalid syntax", "skip": "not run: forward failed"}
    located = {"file": path, "line": 12, "cell": None, "code": "f = torch.relu(...)"}
    records = [dict(finding(d, f"what {d} means here"), location=located if i == 0 else None)
               for i, d in enumerate(diagnoses)]
    return {"verdict": verdict, "diagnoses": records, "findings": [], "seconds": 3.25, "isolation": "sandbox",
            "implementation": {"path": path, "class": "LSTMbyHand", "sequence_lengths": [4], "dtype": "float64",
                               "dtypes": ["float64", "float32"],
                               "interface": {"lstm_unit": "lstm_unit(x, long, short) -> [long, short]",
                                             "notes": []}},
            "checks": [{"id": check, "status": status, "message": messages[status], "dtypes": {},
                        "counterexample": COUNTEREXAMPLE if status == "fail" else None}
                       for check, status in zip(CHECK_IDS, statuses)]}


# --- JUnit XML as CI systems read it (Jenkins' junit-10.xsd) ------------------------------------

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


# --- Gradescope's results.json (gradescope-autograders.readthedocs.io/en/latest/specs/) ----------

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


def fresh_venv(path: Path) -> Path:
    """A new virtual environment that sees this one's packages (torch, Lightning, NumPy, Hypothesis,
    pip) through a .pth line, but not its handlstm (an editable install's own .pth is not read
    there): what is installed into it is what a test imports."""
    venv.create(path, with_pip=False)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)}))
    site.mkdir(parents=True, exist_ok=True)
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return path / "bin" / "python"


def grade_in_this_process(monkeypatch) -> None:
    """`handlstm check FOLDER` (cli.main) checks the files one after another in this process, with
    the test worker's fork server (torch imported once per worker), instead of in fresh worker
    processes that each import torch again: for tests of what a folder's check writes. The workers
    themselves are tested in tests/test_grading.py and tests/test_cluster.py."""
    from handlstm.check import grading

    def one_after_another(targets, jobs, options, on_done=None):
        outcomes = []
        for done, target in enumerate(targets, start=1):
            outcomes.append(grading.error_outcome(target, target.problem, 0.0, options["isolation"])
                            if target.problem else grading.check_one(target, options))
            if on_done:
                on_done(target, outcomes[-1]["report"], done, len(targets))
        return outcomes

    monkeypatch.setattr(grading, "check_many", one_after_another)
