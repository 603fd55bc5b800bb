"""A check's entry in the report, from its properties' results: the worst status, said for the
dtype it happened in, and the failing example in the lesson's names (JSON-safe)."""

from __future__ import annotations

import math

from handlstm.reference import PARAM_NAMES

from .properties_run import PropertyResult, Raised

CHECK_PROPERTIES = {"forward": ("unit", "forward"), "gradients": ("gradients", "unit_gradients"),
                    "training": ("training",), "state": ("state",)}

MESSAGES = {
    "forward": "lstm_unit and forward agree with the reference",
    "gradients": "the gradients of the lesson's loss agree with the reference",
    "training": "Lightning training moves the parameters as the reference's Adam does",
    "state": "forward gives the same answer whatever was called before",
}
STATUS_ORDER = ("fail", "error", "skip", "pass")  # the worse first

def counterexample(failure) -> dict:
    """The failing example in the lesson's names, and each mismatch (JSON-safe)."""
    example = failure.example
    out = {"property": failure.name,
           "parameters": {n: example.params[n] for n in PARAM_NAMES},
           "days": list(example.days), "label": example.label}
    if failure.name == "unit":
        out["days"] = list(example.days[:1])
        out["memories"] = {"long": example.memories[0], "short": example.memories[1]}
    if isinstance(failure, Raised):
        out["error"] = failure.error
        out["mismatches"] = []
    else:
        out["mismatches"] = [{"quantity": c.quantity, "expected": finite_or_text(c.expected),
                              "got": finite_or_text(c.got), "tolerance": finite_or_text(c.tolerance)}
                             for c in failure.failed]
    return out


def finite_or_text(value: float):
    return value if math.isfinite(value) else str(value)


def check_entry(check_id: str, results: dict[str, PropertyResult], dtypes: list[str]) -> dict:
    """One check's entry: its properties' worst status, said for the dtype it happened in."""
    parts = [results[name] for name in CHECK_PROPERTIES[check_id] if name in results]
    statuses = {dtype: min((r.dtypes.get(dtype, r.status) for r in parts), key=STATUS_ORDER.index)
                for dtype in dtypes}
    for status in STATUS_ORDER[:-1]:
        bad = [r for r in parts if r.status == status]
        if bad:
            first = bad[0]
            entry = {"id": check_id, "status": status, "message": first.message, "counterexample": None,
                     "dtypes": statuses}
            if first.failure is not None:
                dtype = first.failure.dtype
                entry["message"] = first.message if len(dtypes) == 1 else f"in {dtype}: {first.message}"
                entry["counterexample"] = dict(counterexample(first.failure), dtype=dtype)
            return entry
    return {"id": check_id, "status": "pass", "message": f"{MESSAGES[check_id]} ({', '.join(dtypes)})",
            "counterexample": None, "dtypes": statuses}


def by_hand_entry(findings: list[dict]) -> dict:
    found = [f for f in findings if f["id"] == "not-by-hand"]
    if found:
        return {"id": "by-hand", "status": "fail", "message": found[0]["detail"], "counterexample": None,
                "dtypes": {}}
    return {"id": "by-hand", "status": "pass", "message": "the LSTM is written by hand (no fused LSTM kernel)",
            "counterexample": None, "dtypes": {}}
