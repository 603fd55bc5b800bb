"""The check's report for people: one line per check with ✓/✗, then the likely mistake, the
shrunk counterexample in the lesson's names and a hint. (The --json report is the dict itself.)"""

from __future__ import annotations

import json
import os
import tempfile
from typing import NotRequired, TypedDict

from handlstm.reference import PARAM_NAMES

from ..errors import UserError

MARKS = {"pass": "✓", "fail": "✗", "error": "!", "skip": "-"}
VERDICTS = {"pass": "conforms to the lesson's LSTM", "fail": "does not conform",
            "error": "could not be checked"}
CHECK_HINTS = {
    "forward": "compare lstm_unit and forward with the lesson's equations for this example",
    "gradients": "keep every computation from the parameters to the output in torch, with no .item(), "
                 ".detach(), .data or torch.tensor(...) re-wrapping",
    "training": "configure_optimizers should give Adam all 12 parameters, and training_step should "
                "return (output - label) ** 2",
    "state": "forward should start from zero memories on every call and keep nothing on self",
    "by-hand": "write the four gates with the lesson's equations instead of nn.LSTM, nn.LSTMCell or a "
               "fused LSTM kernel",
}
MAX_MISMATCHES = 4


# --- the report's shape (the --json dict) -------------------------------------------------------

CHECK_IDS = ("forward", "gradients", "training", "state")

Check = TypedDict("Check", {
    "id": str,                      # one of CHECK_IDS, or "by-hand" under --by-hand-only
    "status": str,                  # pass, fail, error, skip
    "message": str,                 # one line
    "counterexample": "dict | None",  # the shrunk example in the lesson's names, and its mismatches
    # (a failing forward's also has unit_by_day: the learner's lstm_unit chained day by day)
    "dtypes": "dict[str, str]",     # the status in each dtype checked
})
Implementation = TypedDict("Implementation", {
    "path": str, "class": "str | None", "sequence_lengths": "list[int] | None",
    "dtype": "str | None",          # the dtype checked first
    "dtypes": "list[str] | None",   # every dtype checked
    "interface": "dict | None",     # {"lstm_unit", "arguments", "returns", "forward_input", "notes"}
    "param_map": "dict[str, str]",  # only with --param-map
})


class Location(TypedDict):
    file: str
    line: int                       # in the file; in a notebook, in its cell
    cell: int | None              # the notebook cell, counted from 1
    code: str                       # the line itself


class Diagnosis(TypedDict):
    id: str                         # the catalog id (docs/mistakes.md)
    detail: str                     # what exactly, in the learner's names where the class renames them
    gate: str | None              # forget, input, candidate, output; None where not one gate
    parameters: list[str]           # lesson names concerned: [misused, expected] for a slip
    location: Location | None     # where in the learner's file; None where no one place was found


class Finding(TypedDict):
    id: str  # e.g. "not-by-hand"
    detail: str


class Report(TypedDict):
    verdict: str                    # pass, fail, error
    checks: list[Check]
    diagnoses: list[Diagnosis]      # likely mistakes, best first
    findings: list[Finding]         # facts that do not decide the verdict unless asked to
    implementation: Implementation
    isolation: str                  # "sandbox" (bubblewrap) or "process"
    seconds: float
    phases: NotRequired[dict[str, float]]  # seconds per phase of the check (not for a file that errs early)


def verdict_of(checks: list[Check]) -> str:
    """Any fail is a fail; else any error is an error; a skipped check (training of a plain
    torch.nn.Module) is said in its message and does not stand in the way of a pass."""
    statuses = {c["status"] for c in checks}
    return "fail" if "fail" in statuses else "error" if "error" in statuses else "pass"


def error_report(path: str, message: str, seconds: float, isolation: str, class_name: str | None = None,
                 implementation: dict | None = None) -> Report:
    """A report for a file that could not be checked: every check "error", with the one line."""
    return {"verdict": "error",
            "checks": [{"id": c, "status": "error", "message": message, "counterexample": None, "dtypes": {}}
                       for c in CHECK_IDS],
            "diagnoses": [], "findings": [],
            "implementation": implementation or {"path": path, "class": class_name, "sequence_lengths": None,
                                                 "dtype": None, "dtypes": None, "interface": None},
            "isolation": isolation, "seconds": round(seconds, 2)}


def error_line(report: Report) -> str | None:
    """The one line that says why a report with verdict "error" could not be checked."""
    for check in report["checks"]:
        if check["status"] == "error":
            return check["message"]
    return None


# --- rendering it -----------------------------------------------------------------------------

EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}  # a folder exits with its worst file's code


def diagnosis_ids(report: dict) -> list[str]:
    return [d["id"] for d in report.get("diagnoses") or []]


def where(location: dict | None) -> str:
    """`at file, line N: code` (`at file, cell C, line N: code` in a notebook), or that it was not found."""
    if not location:
        return "not located in the source"
    cell = f"cell {location['cell']}, " if location.get("cell") else ""
    return f"at {location['file']}, {cell}line {location['line']}: {location['code']}"


def diagnosis_lines(diagnosis: dict) -> list[str]:
    """A likely mistake as every text output shows it: id and detail, then where."""
    detail = f" — {diagnosis['detail']}" if diagnosis.get("detail") else ""
    return [f"likely mistake: {diagnosis['id']}{detail}", f"  {where(diagnosis.get('location'))}"]


def exit_code(report: dict) -> int:
    return EXIT_CODES[report["verdict"]]


def human(report: dict, hint=None) -> str:
    """The text `handlstm check` prints. `hint(id)` gives a diagnosis's hint, if diagnosis has one."""
    implementation = report["implementation"]
    title = implementation["path"] + (f":{implementation['class']}" if implementation.get("class") else "")
    lines = [f"handlstm check {title}"]
    interface = implementation.get("interface")
    if interface:
        dtypes = " + ".join(implementation.get("dtypes") or [implementation["dtype"]])
        lines.append(f"  {dtypes} · {interface['lstm_unit']} · {_lengths(implementation['sequence_lengths'])}")
    errors = {c["message"] for c in report["checks"] if c["status"] == "error"}
    if len(errors) == 1 and all(c["status"] == "error" for c in report["checks"]):
        lines.append(f"  ! {errors.pop()}")
    else:
        width = max(len(c["id"]) for c in report["checks"])
        lines += [f"  {MARKS[c['status']]} {c['id']:<{width}}  {c['message']}" for c in report["checks"]]
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    if failed:
        for diagnosis in report["diagnoses"]:
            lines += ["  " + line for line in diagnosis_lines(diagnosis)]
        first = failed[0]
        if first.get("counterexample"):
            lines.append("  counterexample:")
            lines += ["    " + line for line in counterexample_lines(first["counterexample"])]
        best = (diagnosis_ids(report) or [None])[0]
        text = (hint(best) if hint and best else "") or CHECK_HINTS[first["id"]]
        lines.append(f"  hint: {text}")
    for finding in report.get("findings", []):
        lines.append(f"  finding: {finding['id']} — {finding['detail']}")
    for note in (interface or {}).get("notes", []):
        lines.append(f"  note: {note}")
    if report.get("isolation") == "process":
        lines.append("  isolation: process (the learner's code ran in a child process, not in a sandbox)")
    lines.append(f"verdict: {VERDICTS[report['verdict']]} ({report['seconds']:.1f} s)")
    return "\n".join(lines)


def _lengths(lengths) -> str:
    return f"sequences of {lengths_text(list(lengths))}" if lengths else ""


def lengths_text(lengths: list[int]) -> str:
    if len(lengths) == 1:
        return f"exactly {lengths[0]} days"
    if lengths == list(range(lengths[0], lengths[-1] + 1)):
        return f"{lengths[0]} to {lengths[-1]} days"
    return ", ".join(map(str, lengths)) + " days"


def counterexample_lines(example: dict) -> list[str]:
    """The example in the lesson's names: parameters, days, label, memories, and what differed."""
    params = example["parameters"]
    lines = ["parameters: " + ", ".join(f"{n}={params[n]!r}" for n in PARAM_NAMES[:6]),
             "            " + ", ".join(f"{n}={params[n]!r}" for n in PARAM_NAMES[6:])]
    if "memories" in example:
        memories = example["memories"]
        lines.append(f"one day: input={example['days'][0]!r}, long memory={memories['long']!r}, "
                     f"short memory={memories['short']!r}")
    elif example["property"] == "training":
        lines.append("data: the lesson's two companies, Adam from these parameters")
    else:
        lines.append(f"days: {example['days']!r}" + (f"  label: {example['label']!r}"
                                                      if example["property"] == "gradients" else ""))
    if example.get("error"):
        lines.append(f"raised: {example['error']}")
    mismatches = sorted(example.get("mismatches", []), key=_share, reverse=True)  # the worst first
    for m in mismatches[:MAX_MISMATCHES]:
        if "d loss / d" in m["quantity"] and m["got"] == "nan":  # autograd gave none: not used, or cut off
            lines.append(f"{m['quantity']}: expected {_digits(m['expected'])}, got no gradient")
            continue
        lines.append(f"{m['quantity']}: expected {_digits(m['expected'])}, got {_digits(m['got'])}"
                     + _difference(m))
    if len(mismatches) > MAX_MISMATCHES:
        lines.append(f"... and {len(mismatches) - MAX_MISMATCHES} more")
    return lines


def _share(mismatch: dict) -> float:
    """|got - expected| / tolerance (inf where a value is not a finite number)."""
    try:
        error = abs(float(mismatch["got"]) - float(mismatch["expected"]))
        return error / float(mismatch["tolerance"]) if float(mismatch["tolerance"]) > 0 else float("inf")
    except (TypeError, ValueError, ZeroDivisionError):
        return float("inf")


def _difference(mismatch: dict) -> str:
    """How far apart, against the tolerance: values that print alike can still differ."""
    try:
        error = abs(float(mismatch["got"]) - float(mismatch["expected"]))
        return f" (off by {error:.3g}; tolerance {float(mismatch['tolerance']):.3g})"
    except (TypeError, ValueError):
        return ""


def _digits(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # every digit that tells two apart


def write_json(report: Report, path: str) -> None:
    write_atomically(path, json.dumps(report, indent=2) + "\n", "--json")


def write_atomically(path: str, data: str | bytes, option: str) -> None:
    """Write the whole file or nothing: a temporary file beside it, then a rename over it (so no
    reader, and no process that outlived a check, ever sees or keeps a half-written report)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".handlstm-", suffix=".tmp")
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(descriptor, 0o666 & ~umask)  # as open() would make it, not mkstemp's 0600
            with open(descriptor, "wb") as out:
                out.write(data.encode("utf-8") if isinstance(data, str) else data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        raise UserError(f"{option} {display_path(path)}: cannot write it ({error.strerror})") from None


def display_path(path: str) -> str:
    """A path as text every output can hold: bytes that are not UTF-8 (a file name from another
    system) become \\xNN escapes instead of lone surrogates that no UTF-8 writer accepts, and so do
    control characters (a name must not redraw the terminal or break a line)."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text)
