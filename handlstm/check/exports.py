"""Reports for CI, autograders and gradebooks, written from `check` reports (report.Report):
JUnit XML (a testsuite per file, a testcase per check), Gradescope's results.json, the CSV
gradebook, one JSON report per file, and the summary table.

Each only reformats what the check decided; none looks at anything the report does not say.
Every file is written whole or not at all (report.write_atomically).
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..errors import UserError
from .report import EXIT_CODES, diagnosis_ids, display_path, error_line, where, write_atomically

# Gradescope's autograder specification (gradescope-autograders.readthedocs.io/en/latest/specs/)
GRADESCOPE_STATUS = {"pass": "passed"}  # every other status scores 0 and is "failed"
POINTS_PER_CHECK = 1.0


def check_text(check: dict, diagnoses: Sequence, hint: Callable[[str], str] | None = None) -> str:
    """A check's explanation as `handlstm check` prints it: its message, then for a failure the
    likely mistakes (report.Diagnosis records: what, where), the counterexample and a hint."""
    from .report import CHECK_HINTS, counterexample_lines, diagnosis_lines

    lines = [check.get("message") or check["status"]]
    if check["status"] != "fail":
        return "\n".join(lines)
    found = list(diagnoses)
    for diagnosis in found:
        lines += diagnosis_lines(diagnosis)
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
              ) -> str:
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
        for key in ("class", "dtype", "dtypes", "interface", "sequence_lengths", "param_map"):
            if implementation.get(key) is not None:
                value = implementation[key]
                ET.SubElement(properties, "property", name=key,
                              value=value if isinstance(value, str) else json.dumps(value))
        ET.SubElement(properties, "property", name="verdict", value=report["verdict"])
        ET.SubElement(properties, "property", name="isolation", value=str(report.get("isolation", "")))
        for finding in report.get("findings", []):
            ET.SubElement(properties, "property", name=finding["id"], value=finding["detail"])
        ET.SubElement(properties, "property", name="diagnoses", value=", ".join(diagnosis_ids(report)))
        for check in checks:
            case = ET.SubElement(suite, "testcase", name=check["id"], classname=_classname(path),
                                 time=_seconds(check.get("seconds")))
            text = check_text(check, report.get("diagnoses", []), hint)
            if check["status"] == "fail":
                kind = (diagnosis_ids(report) or ["unknown"])[0]
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


def _classname(path: str) -> str:
    """A dotted name CI systems group by: handlstm.<file name without extension>."""
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return "handlstm." + ("".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem) or "file")


MAX_POINTS = 1e6  # per check: far above any real assignment, far below a total JSON cannot hold


def parse_points(spec: str | None, by_hand_only: bool = False) -> dict[str, float]:
    """--points forward=2,gradients=3,...: the points of each gradebook check (POINTS_PER_CHECK
    for a check not named), and of by-hand under --by-hand-only: every submission's results list
    these tests, in this order."""
    checks = GRADEBOOK_CHECKS + (("by-hand",) if by_hand_only else ())
    points = dict.fromkeys(checks, POINTS_PER_CHECK)
    named: set[str] = set()
    for item in [] if spec is None else spec.split(","):
        check, equals, text = (part.strip() for part in item.partition("="))
        if not equals or check not in checks:
            raise UserError(f"--points: {item.strip()!r} is not CHECK=POINTS with CHECK one of "
                            f"{', '.join(checks)}" + ("" if by_hand_only or check != "by-hand"
                                                      else " (by-hand goes with --by-hand-only)"))
        if check in named:
            raise UserError(f"--points: {check} is given twice")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 <= value <= MAX_POINTS):
            raise UserError(f"--points: {check}={text!r} is not a number of points (0 to {MAX_POINTS:g})")
        points[check] = value
        named.add(check)
    return points


def gradescope_results(report: dict, hint: Callable[[str], str] | None = None,
                       points: Mapping[str, float] | None = None) -> dict:
    """Gradescope's results.json for one submission: a test per check (worth its `points`,
    POINTS_PER_CHECK if not given), a total score. With `points`, exactly its tests, in its order,
    whatever the report holds (a check the report lacks is an error worth 0): every submission of
    an assignment has the same tests and the same total."""
    checks = report["checks"]
    if points:
        by_id = {c["id"]: c for c in checks}
        missing = error_line(report) or "not checked"
        checks = [by_id.get(name) or {"id": name, "status": "error", "message": missing, "counterexample": None,
                                      "dtypes": {}} for name in points]
    tests = []
    for number, check in enumerate(checks, start=1):
        passed = check["status"] == "pass"
        worth = (points or {}).get(check["id"], POINTS_PER_CHECK)
        output = (check.get("message") or "") if passed else check_text(
            check, report.get("diagnoses", []), hint)
        tests.append({"name": check["id"], "number": str(number),
                      "score": worth if passed else 0.0, "max_score": worth,
                      "status": GRADESCOPE_STATUS.get(check["status"], "failed"),
                      "output": output, "output_format": "text", "visibility": "visible"})
    implementation = report.get("implementation") or {}
    summary = f"handlstm check: {report['verdict']}"
    if report["verdict"] == "error":
        summary += f": {error_line(report)}"
    if implementation.get("class"):
        summary += f" ({implementation.get('path')}: {implementation['class']})"
    for diagnosis in report.get("diagnoses", []):
        summary += f"; likely mistake: {diagnosis['id']} — {diagnosis['detail']} ({where(diagnosis.get('location'))})"
    if implementation.get("param_map"):
        summary += "; parameter map: " + json.dumps(implementation["param_map"])
    for finding in report.get("findings", []):
        summary += f"; {finding['id']}: {finding['detail']}"
    summary += f"; isolation: {report.get('isolation', 'unknown')}"
    return {"score": sum(t["score"] for t in tests),
            "execution_time": round(float(report.get("seconds") or 0.0)),
            "output": summary, "output_format": "text", "stdout_visibility": "hidden", "tests": tests}


def write_junit_xml(path: str, reports: Sequence[dict], hint: Callable[[str], str] | None = None,
                    ) -> None:
    write_atomically(path, junit_xml(reports, hint), "--junit-xml")


def write_gradescope(path: str, reports: Sequence[dict], hint: Callable[[str], str] | None = None,
                     points: Mapping[str, float] | None = None) -> None:
    if len(reports) != 1:
        raise UserError(f"--gradescope writes one submission's results: give one file, not {len(reports)}")
    results = gradescope_results(reports[0], hint, points)
    write_atomically(path, json.dumps(results, indent=2) + "\n", "--gradescope")


# --- many files: the gradebook, a report per file, the table -----------------------------------

GRADEBOOK_CHECKS = ("forward", "gradients", "training", "state")


def worst_exit_code(reports: Sequence[dict]) -> int:
    """error (2) over fail (1) over pass (0)."""
    return max((EXIT_CODES.get(r["verdict"], 2) for r in reports), default=0)


def first_diagnosis(report: dict) -> str:
    """The table's and gradebook's one-word reason: the first diagnosis, or why it could not be checked."""
    if report["verdict"] == "error":
        return error_line(report) or "could not be checked"
    return (diagnosis_ids(report) or ["-"])[0] if report["verdict"] == "fail" else "-"


def summary_table(targets: Sequence, reports: Sequence[dict], width: int = 60) -> str:
    rows = [("file", "verdict", "first diagnosis", "seconds")] + [
        (t.shown, r["verdict"], _clip(_without_path(first_diagnosis(r), t.shown), width),
         f"{float(r.get('seconds') or 0):.1f}")
        for t, r in zip(targets, reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = {v: sum(r["verdict"] == v for r in reports) for v in EXIT_CODES}
    isolation = {r.get("isolation") for r in reports} - {None}
    lines.append(f"{len(reports)} files: {counts['pass']} pass, {counts['fail']} fail, "
                 f"{counts['error']} error" + (f"; isolation: {', '.join(sorted(isolation))}" if isolation else ""))
    return "\n".join(lines)


def _without_path(text: str, path: str) -> str:
    """An error line without the file name the table's first column already shows."""
    return text[len(path):].lstrip(":,/ ") if text.startswith(path) else text


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def write_csv(path: str, targets: Sequence, reports: Sequence[dict]) -> None:
    """One row per file: verdict, checks passed, each check's status, diagnoses, the error line,
    the isolation it was checked in, seconds."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["file", "class", "verdict", "score", "max_score", *GRADEBOOK_CHECKS,
                     "diagnoses", "where", "error", "param_map", "isolation", "seconds"])
    for target, report in zip(targets, reports):
        status = {c["id"]: c["status"] for c in report["checks"]}
        implementation = report.get("implementation") or {}
        param_map = implementation.get("param_map")
        writer.writerow([_cell(target.shown), _cell(implementation.get("class") or target.class_name or ""),
                         report["verdict"], sum(s == "pass" for s in status.values()), len(status),
                         *(status.get(c, "") for c in GRADEBOOK_CHECKS),
                         _cell(" ".join(diagnosis_ids(report))),
                         _cell("; ".join(f"{d['detail']} ({where(d.get('location'))})"
                                         for d in report.get("diagnoses", []))),
                         _cell(first_diagnosis(report)) if report["verdict"] == "error" else "",
                         _cell(json.dumps(param_map)) if param_map else "", report.get("isolation", ""),
                         f"{float(report.get('seconds') or 0):.2f}"])
    write_atomically(path, text.getvalue(), "--csv")


def _cell(text: str) -> str:
    """A gradebook cell a spreadsheet shows as text: one that starts like a formula gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_report_dir(directory: str, targets: Sequence, reports: Sequence[dict]) -> None:
    """One --json report per file, at the file's path (relative to the files' common folder) + .json.
    Names that escape alike (a byte that is not UTF-8 and its escape written out) get a number,
    so no report overwrites another."""
    used: set[Path] = set()
    for target, report in zip(targets, reports):
        stem = display_path(target.relative)
        destination = Path(directory) / (stem + ".json")
        count = 1
        while destination in used:
            count += 1
            destination = Path(directory) / f"{stem}.{count}.json"
        used.add(destination)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"--report-dir: cannot create {display_path(str(destination.parent))}: "
                            f"{error.strerror}") from None
        write_atomically(str(destination), json.dumps(report, indent=2) + "\n", "--report-dir")
