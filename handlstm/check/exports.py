"""Reports for CI and autograders, written from `check_file` reports (the --json dicts):
JUnit XML (a testsuite per file, a testcase per check) and Gradescope's results.json.

Both only reformat what the check decided; neither looks at anything the report does not say.
"""

from __future__ import annotations

import json
import platform
import xml.etree.ElementTree as ET
from typing import Callable, Sequence

from ..errors import UserError

# Gradescope's autograder specification (gradescope-autograders.readthedocs.io/en/latest/specs/)
GRADESCOPE_STATUS = {"pass": "passed"}  # every other status scores 0 and is "failed"
POINTS_PER_CHECK = 1.0


def check_text(check: dict, diagnoses: Sequence, hint: Callable[[str], str] | None = None) -> str:
    """A check's explanation as `handlstm check` prints it: its message, then for a failure the
    likely mistakes (ids, or diagnosis dicts with their detail), the counterexample and a hint."""
    from .report import CHECK_HINTS, counterexample_lines

    lines = [check.get("message") or check["status"]]
    if check["status"] != "fail":
        return "\n".join(lines)
    found = [d if isinstance(d, dict) else {"id": d} for d in diagnoses]
    for diagnosis in found:
        lines.append(f"likely mistake: {diagnosis['id']}"
                     + (f" — {diagnosis['detail']}" if diagnosis.get("detail") else ""))
    if check.get("counterexample"):
        lines += ["counterexample:"] + ["  " + line for line in counterexample_lines(check["counterexample"])]
    best = found[0]["id"] if found else None
    lines.append("hint: " + ((hint(best) if hint and best else "") or CHECK_HINTS.get(check["id"], "")))
    return "\n".join(lines)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _seconds(value) -> str:
    return f"{float(value or 0.0):.3f}"


def junit_xml(reports: Sequence[dict], hint: Callable[[str], str] | None = None,
              details: Sequence[list] | None = None) -> str:
    """JUnit XML as CI systems read it: <testsuites> of one <testsuite> per file, a <testcase> per check."""
    root = ET.Element("testsuites", name="handlstm check")
    totals = dict(tests=0, failures=0, errors=0, skipped=0)
    for index, report in enumerate(reports):
        implementation = report.get("implementation") or {}
        path = str(implementation.get("path") or "?")
        checks = report["checks"]
        counts = dict(tests=len(checks),
                      failures=sum(c["status"] == "fail" for c in checks),
                      errors=sum(c["status"] == "error" for c in checks),
                      skipped=sum(c["status"] == "skip" for c in checks))
        suite = ET.SubElement(root, "testsuite", name=path, **{k: str(v) for k, v in counts.items()},
                              time=_seconds(report.get("seconds")), hostname=platform.node() or "localhost")
        properties = ET.SubElement(suite, "properties")
        for key in ("class", "dtype", "interface", "sequence_lengths", "param_map"):
            if implementation.get(key) is not None:
                value = implementation[key]
                ET.SubElement(properties, "property", name=key,
                              value=value if isinstance(value, str) else json.dumps(value))
        ET.SubElement(properties, "property", name="verdict", value=report["verdict"])
        ET.SubElement(properties, "property", name="diagnoses", value=", ".join(report.get("diagnoses", [])))
        for check in checks:
            case = ET.SubElement(suite, "testcase", name=check["id"], classname=_classname(path),
                                 time=_seconds(check.get("seconds")))
            text = check_text(check, _diagnoses(report, details, index), hint)
            if check["status"] == "fail":
                kind = (report.get("diagnoses") or ["unknown"])[0]
                ET.SubElement(case, "failure", message=_first_line(text), type=kind).text = text
            elif check["status"] == "error":
                ET.SubElement(case, "error", message=_first_line(text), type="could-not-check").text = text
            elif check["status"] == "skip":
                ET.SubElement(case, "skipped", message=_first_line(text))
        for key in totals:
            totals[key] += counts[key]
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.set("time", _seconds(sum(float(r.get("seconds") or 0.0) for r in reports)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _diagnoses(report: dict, details: Sequence[list] | None, index: int) -> list:
    """Diagnosis's details for the report where given (which parameter is misused where), else its ids."""
    return (details[index] if details and details[index] else None) or report.get("diagnoses", [])


def _classname(path: str) -> str:
    """A dotted name CI systems group by: handlstm.<file name without extension>."""
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return "handlstm." + ("".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem) or "file")


def gradescope_results(report: dict, hint: Callable[[str], str] | None = None,
                       points_per_check: float = POINTS_PER_CHECK, details: list | None = None) -> dict:
    """Gradescope's results.json for one submission: a test per check, a total score."""
    tests = []
    for number, check in enumerate(report["checks"], start=1):
        passed = check["status"] == "pass"
        output = (check.get("message") or "") if passed else check_text(
            check, details or report.get("diagnoses", []), hint)
        tests.append({"name": check["id"], "number": str(number),
                      "score": points_per_check if passed else 0.0, "max_score": points_per_check,
                      "status": GRADESCOPE_STATUS.get(check["status"], "failed"),
                      "output": output, "output_format": "text", "visibility": "visible"})
    implementation = report.get("implementation") or {}
    summary = f"handlstm check: {report['verdict']}"
    if implementation.get("class"):
        summary += f" ({implementation.get('path')}: {implementation['class']})"
    if report.get("diagnoses"):
        summary += "; likely mistake: " + ", ".join(report["diagnoses"])
    if implementation.get("param_map"):
        summary += "; parameter map: " + json.dumps(implementation["param_map"])
    return {"score": sum(t["score"] for t in tests),
            "execution_time": round(float(report.get("seconds") or 0.0)),
            "output": summary, "output_format": "text", "stdout_visibility": "hidden", "tests": tests}


def write_junit_xml(path: str, reports: Sequence[dict], hint: Callable[[str], str] | None = None,
                    details: Sequence[list] | None = None) -> None:
    _write(path, junit_xml(reports, hint, details))


def write_gradescope(path: str, reports: Sequence[dict], hint: Callable[[str], str] | None = None,
                     details: Sequence[list] | None = None) -> None:
    if len(reports) != 1:
        raise UserError(f"--gradescope writes one submission's results: give one file, not {len(reports)}")
    results = gradescope_results(reports[0], hint, details=details[0] if details else None)
    _write(path, json.dumps(results, indent=2) + "\n")


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror}") from None
