"""The parent side of `handlstm check`: draws examples, asks the child, compares with the reference.

The parent never imports the learner's code (nor torch): the learner's module lives in a child
process (handlstm/check/child.py) that answers with plain numbers, and every verdict is
computed here with the one definition of each property (handlstm/properties.py).

Contract (the CLI, diagnosis and the plugin rely on it):

`check_file(path, class_name=None, param_map=None, timeout=60.0, examples=EXAMPLES) -> dict`
returns the `--json` report:

    {"verdict": "pass" | "fail" | "error",
     "checks": [{"id": "forward" | "gradients" | "training" | "state",
                 "status": "pass" | "fail" | "error" | "skip",
                 "message": str, "counterexample": dict | None}],
     "diagnoses": [catalog id, ...],
     "implementation": {"path", "class", "sequence_lengths", "dtype", "interface"},
     "seconds": float}

Every problem with the learner's file (missing, syntax error, no class, import error, timeout,
crash, memory limit) is *returned* as verdict "error", with each check "error" and the one clear
line as its message (`error_line(report)` gives it). `UserError` is raised only for bad
arguments from the caller (e.g. `examples < 1`, a param_map that is not a dict of lesson names).
"""

from __future__ import annotations

EXAMPLES = 100  # Hypothesis examples per property
CHECK_IDS = ("forward", "gradients", "training", "state")


def check_file(path: str, class_name: str | None = None, param_map: dict | None = None,
               timeout: float = 60.0, examples: int = EXAMPLES) -> dict:
    """Check the learner's class in `path` against the reference; the report as a dict (see above)."""
    raise NotImplementedError


def error_line(report: dict) -> str | None:
    """The one line that says why a report with verdict "error" could not be checked."""
    for check in report["checks"]:
        if check["status"] == "error":
            return check["message"]
    return None
