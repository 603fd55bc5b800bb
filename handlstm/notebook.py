"""`check(LSTMbyHand)` in a Jupyter cell: the checks of `handlstm check`, on the class as it is
defined in the running kernel.

The kernel's cells run so far (its input history, magics included) are written as a notebook,
one cell for each execution count, and checked like any notebook: definitions only, the class
in a child process (process isolation: a learner's own kernel is not a hostile grader, and the
report says so), the verdict decided here against the reference. Locations read "cell N" for
the cell that ran as In [N]. Outside IPython the class's own file is checked. The child keeps
the check's time limit, so a class that loops or exhausts memory ends the check, not the kernel.
"""

from __future__ import annotations

import html
import inspect
import json
import tempfile
from pathlib import Path

from .check.options import DEFAULT_TIMEOUT, EXAMPLES

SHOWN_AS = "this notebook"  # the path every output shows for the kernel's cells


class Result:
    """What `check` found: `verdict` ("pass", "fail", "error"), `passed`, `checks` ({id: status}),
    `diagnoses` (the likely mistakes, with their lines), and `report` (the whole --json report).
    Shown as HTML in Jupyter and as `handlstm check`'s text elsewhere."""

    def __init__(self, report: dict):
        self.report = report

    @property
    def verdict(self) -> str:
        return self.report["verdict"]

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def checks(self) -> dict[str, str]:
        return {c["id"]: c["status"] for c in self.report["checks"]}

    @property
    def diagnoses(self) -> list[dict]:
        return self.report["diagnoses"]

    def __repr__(self) -> str:
        from .check.diagnose import hint
        from .check.report import human

        return human(self.report, hint)

    def _repr_html_(self) -> str:
        from .check.html import example_plot
        from .check.report import VERDICTS, counterexample_lines, where

        e = html.escape
        rows = "".join(
            f"<tr><td style='font-size:1.2em'>{'✓' if c['status'] == 'pass' else '✗' if c['status'] == 'fail' else '!'}"
            f"</td><td><b>{e(c['id'])}</b></td><td>{e(c['message'])}</td></tr>" for c in self.report["checks"])
        parts = [f"<div><p><b>handlstm check</b> {e(str(self.report['implementation'].get('class')))}: "
                 f"{e(VERDICTS[self.verdict])}</p><table>{rows}</table>"]
        for d in self.diagnoses:
            parts.append(f"<p>likely mistake: <b>{e(d['id'])}</b> — {e(d['detail'])}<br>"
                         f"<code>{e(where(d.get('location')))}</code></p>")
        failed = [c for c in self.report["checks"] if c.get("counterexample")]
        if failed:
            example = failed[0]["counterexample"]
            parts.append(example_plot(example))
            parts.append("<pre>" + e("\n".join(counterexample_lines(example))) + "</pre>")
        if self.report.get("isolation") == "process":
            parts.append("<p><small>isolation: process (a child process of this kernel, not a sandbox)</small></p>")
        return "".join(parts) + "</div>"


def check(cls, param_map: dict | str | None = None, *, examples: int = EXAMPLES,
          timeout: float = DEFAULT_TIMEOUT) -> Result:
    """Check the class as this kernel defines it (or, outside IPython, as its file does)."""
    from .check.run import check as check_file
    from .errors import UserError

    if not isinstance(cls, type):
        raise UserError(f"check() takes the class itself (check(LSTMbyHand)), not {type(cls).__name__}")
    cells = _kernel_cells()
    with tempfile.TemporaryDirectory(prefix="handlstm-notebook-") as folder:
        if cells is None:
            path = _source_file(cls)
            if path is None:
                raise UserError(f"cannot find the source of {cls.__name__}: define it in a notebook or a .py file")
            shown = path
        else:
            path = str(Path(folder) / "kernel.ipynb")
            Path(path).write_text(json.dumps(_as_notebook(cells)))
            shown = SHOWN_AS
        outcome = check_file(path, cls.__name__, param_map, timeout, examples, isolation="process")
    report = json.loads(json.dumps(outcome.report).replace(json.dumps(path)[1:-1], shown))
    return Result(report)


def _source_file(cls) -> str | None:
    """The file the class was defined in: where its lstm_unit's code comes from, else inspect's answer."""
    code = getattr(getattr(cls, "lstm_unit", None), "__code__", None)
    if code is not None and Path(code.co_filename).is_file():
        return code.co_filename
    try:
        return inspect.getsourcefile(cls)
    except TypeError:  # a class whose module has no file
        return None


def _kernel_cells() -> list[str] | None:
    """The kernel's inputs, In [1] on (as typed, magics included), or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    return list(shell.history_manager.input_hist_raw[1:])


def _as_notebook(cells: list[str]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": text} for text in cells]}

