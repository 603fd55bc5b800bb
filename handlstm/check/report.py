"""The check's report for people: one line per check with ✓/✗, then the likely mistake, the
shrunk counterexample in the lesson's names and a hint. (The --json report is the dict itself.)"""

from __future__ import annotations

import json
from pathlib import Path

from reference import PARAM_NAMES

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
}
MAX_MISMATCHES = 4


EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}  # a folder exits with its worst file's code


def exit_code(report: dict) -> int:
    return EXIT_CODES[report["verdict"]]


def human(report: dict, diagnoses: list[dict] | None = None, hint=None) -> str:
    """The text `handlstm check` prints. `hint(id)` gives a diagnosis's hint, if diagnosis has one."""
    implementation = report["implementation"]
    title = implementation["path"] + (f":{implementation['class']}" if implementation.get("class") else "")
    lines = [f"handlstm check {title}"]
    interface = implementation.get("interface")
    if interface:
        lines.append(f"  {implementation['dtype']} · {interface['lstm_unit']} · "
                     f"{_lengths(implementation['sequence_lengths'])}")
    errors = {c["message"] for c in report["checks"] if c["status"] == "error"}
    if len(errors) == 1 and all(c["status"] == "error" for c in report["checks"]):
        lines.append(f"  ! {errors.pop()}")
    else:
        width = max(len(c["id"]) for c in report["checks"])
        lines += [f"  {MARKS[c['status']]} {c['id']:<{width}}  {c['message']}" for c in report["checks"]]
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    if failed:
        for diagnosis in diagnoses or [{"id": d, "detail": ""} for d in report["diagnoses"]]:
            detail = f" — {diagnosis['detail']}" if diagnosis.get("detail") else ""
            lines.append(f"  likely mistake: {diagnosis['id']}{detail}")
        first = failed[0]
        if first.get("counterexample"):
            lines.append("  counterexample:")
            lines += ["    " + line for line in counterexample_lines(first["counterexample"])]
        best = (diagnoses or [{}])[0].get("id") or (report["diagnoses"] or [None])[0]
        text = (hint(best) if hint and best else "") or CHECK_HINTS[first["id"]]
        lines.append(f"  hint: {text}")
    for note in (interface or {}).get("notes", []):
        lines.append(f"  note: {note}")
    lines.append(f"verdict: {VERDICTS[report['verdict']]} ({report['seconds']:.1f} s)")
    return "\n".join(lines)


def _lengths(lengths) -> str:
    from .verdict import _lengths_text

    return f"sequences of {_lengths_text(list(lengths))}" if lengths else ""


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
    mismatches = example.get("mismatches", [])
    for m in mismatches[:MAX_MISMATCHES]:
        lines.append(f"{m['quantity']}: expected {_number(m['expected'])}, got {_number(m['got'])}")
    if len(mismatches) > MAX_MISMATCHES:
        lines.append(f"... and {len(mismatches) - MAX_MISMATCHES} more")
    return lines


def _number(value) -> str:
    return f"{value:.9g}" if isinstance(value, float) else str(value)


def write_json(report: dict, path: str) -> None:
    try:
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
    except OSError as error:
        raise UserError(f"--json {path}: cannot write the report ({error.strerror})") from None
