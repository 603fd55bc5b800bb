"""pytest plugin: `pytest --handlstm-impl PATH[:CLASS]` checks a learner's implementation.

Registered under the pytest11 entry point; does nothing (and imports nothing heavy) unless
--handlstm-impl is given. Then it adds one real pytest item per check (forward, gradients,
training, state), so -k, -x, --junitxml and xdist work as usual. The checks are `handlstm check`'s
own: `run.check` runs the implementation in the same sandbox as the command, once per session (under
xdist, once in the controller, shared with the workers), and each item reports its check's
outcome with the same diagnosis, hint and counterexample as the command.
"""

from __future__ import annotations

import json

import pytest

REPORT_KEY = "handlstm_report"  # where xdist workers receive the controller's report


def pytest_addoption(parser):
    group = parser.getgroup("handlstm", "check a hand-coded LSTM against the reference")
    group.addoption("--handlstm-impl", metavar="PATH[:CLASS]", default=None,
                    help="a learner's .py or .ipynb whose LSTMbyHand to check")
    group.addoption("--handlstm-param-map", metavar="MAP.json", default=None,
                    help="JSON object from each lesson name to the learner's attribute name, or 'auto'")
    group.addoption("--handlstm-examples", metavar="N", type=int, default=None,
                    help="Hypothesis examples per property (default: as handlstm check)")
    group.addoption("--handlstm-isolation", choices=("sandbox", "process"), default=None,
                    help="sandbox (bubblewrap, the default where it works) or process (a child process only)")
    group.addoption("--handlstm-timeout", metavar="SECONDS", type=float, default=None,
                    help="time limit for the whole check (default: as handlstm check)")


def _enabled(config) -> bool:
    return bool(config.getoption("handlstm_impl", None))


def _settings(config) -> dict:
    """check_file's arguments from the command line; a bad option stops pytest with one line."""
    from .check.options import split_target
    from .errors import UserError

    path, class_name = split_target(config.getoption("handlstm_impl"))
    settings = {"path": path, "class_name": class_name}
    param_map = config.getoption("handlstm_param_map")
    if param_map:
        try:
            settings["param_map"] = _read_param_map(param_map)
        except UserError as error:
            reason = str(error).removeprefix("--param-map ")
            raise pytest.UsageError(f"--handlstm-param-map {reason}") from None
    for option, key in (("handlstm_examples", "examples"), ("handlstm_timeout", "timeout"),
                        ("handlstm_isolation", "isolation")):
        if config.getoption(option) is not None:
            settings[key] = config.getoption(option)
    if settings.get("examples", 1) < 1 or not settings.get("timeout", 1.0) > 0:
        raise pytest.UsageError("--handlstm-examples must be at least 1 and --handlstm-timeout positive")
    return settings


def _read_param_map(argument: str):
    """'auto', or the JSON object in the file, read as the command reads it."""
    from .check.options import read_param_map

    return "auto" if argument == "auto" else read_param_map(argument)


def _outcome(config) -> dict:
    """{"report": the check's report}, made once per session (or received from the xdist controller)."""
    cached = getattr(config, "_handlstm_outcome", None)
    if cached is None:
        workerinput = getattr(config, "workerinput", {})
        if REPORT_KEY in workerinput:
            cached = json.loads(workerinput[REPORT_KEY])
        else:
            from .check.run import check
            from .errors import UserError

            settings = _settings(config)
            try:
                outcome = check(settings.pop("path"), **settings)
            except UserError as error:
                raise pytest.UsageError(f"handlstm: {error}") from None
            cached = {"report": outcome.report}
        config._handlstm_outcome = cached
    return cached


def pytest_configure(config):
    if _enabled(config):
        _settings(config)  # a bad --handlstm-param-map is a usage error before anything runs


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: run the check once here and hand the report to every worker."""
    if _enabled(node.config):
        node.workerinput[REPORT_KEY] = json.dumps(_outcome(node.config))


def pytest_report_header(config):
    if not _enabled(config):
        return None
    from .check.options import DEFAULT_TIMEOUT, EXAMPLES

    settings = _settings(config)
    param_map = settings.get("param_map")
    lines = [f"handlstm: checking {settings['path']}"
             + (f" class {settings['class_name']}" if settings["class_name"] else " (class found by lstm_unit)")]
    mapping = "auto (inferred from behaviour)" if param_map == "auto" else "given" if param_map else "lesson names"
    options = [f"param map: {mapping}",
               f"examples per property: {settings.get('examples', EXAMPLES)}",
               f"time limit: {settings.get('timeout', DEFAULT_TIMEOUT):g} s",
               "run in a sandbox (bubblewrap where it works, else a child process), once per session"]
    return lines + ["handlstm: " + ", ".join(options)]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Add the check items before -k and -m deselect, so they select like any test."""
    if _enabled(config):
        import os
        from pathlib import Path

        path = Path(_settings(config)["path"]).resolve()
        nodeid = Path(os.path.relpath(path, config.rootpath)).as_posix()  # also outside the rootdir
        checks = HandlstmChecks.from_parent(session, path=path, nodeid=nodeid).collect()
        items.extend(checks)
        # announce them as collected, so pytest's "collected N items" counts them too
        session.ihook.pytest_collectreport(report=pytest.CollectReport(nodeid, "passed", None, checks))


class HandlstmChecks(pytest.File):
    """The implementation under test, as a file: one item per check `handlstm check` makes,
    named file::check like any test."""

    def collect(self):
        from .check.report import CHECK_IDS

        return [HandlstmCheck.from_parent(self, name=check) for check in CHECK_IDS]


class CheckFailed(AssertionError):
    """A check did not hold; the message is the command's explanation of it."""


class HandlstmCheck(pytest.Item):
    """One check's outcome from the session's report."""

    def setup(self):
        from .check.report import error_line

        report = _outcome(self.config)["report"]
        if report["verdict"] == "error" and self._check(report)["status"] == "error":
            # pytest shows a setup error with its own traceback, never repr_failure; a failure
            # without a Python traceback is one line under the item's name
            pytest.fail(f"could not be checked: {error_line(report) or 'no reason given'}", pytrace=False)

    def runtest(self):
        from .check.diagnose import hint
        from .check.exports import check_text

        outcome = _outcome(self.config)
        check = self._check(outcome["report"])
        if check["status"] == "skip":
            pytest.skip(check.get("message") or "skipped")
        if check["status"] != "pass":
            raise CheckFailed(check_text(check, outcome["report"]["diagnoses"], hint))

    def _check(self, report: dict) -> dict:
        for check in report["checks"]:
            if check["id"] == self.name:
                return check
        return {"id": self.name, "status": "error", "message": f"the check did not report {self.name!r}"}

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.parent.name}::{self.name} (handlstm)"


def pytest_terminal_summary(terminalreporter, config):
    outcome = getattr(config, "_handlstm_outcome", None)
    if not _enabled(config) or outcome is None:
        return
    from .check.report import where

    report = outcome["report"]
    implementation = report.get("implementation") or {}
    interface = implementation.get("interface") or {}
    write = terminalreporter.write_line
    terminalreporter.section("handlstm")
    write(f"verdict: {report['verdict']}"
          + (f"; likely mistake: {', '.join(d['id'] for d in report['diagnoses'])}" if report.get("diagnoses") else "")
          + f" ({report.get('seconds', 0):.1f} s)")
    lengths = implementation.get("sequence_lengths") or []
    if len(lengths) > 2 and lengths == list(range(lengths[0], lengths[-1] + 1)):
        lengths = f"{lengths[0]} to {lengths[-1]}"
    found = [f"{implementation.get('path')}" + (f":{implementation['class']}" if implementation.get("class") else ""),
             " + ".join(implementation.get("dtypes") or filter(None, [implementation.get("dtype")])),
             interface.get("lstm_unit"), lengths and f"sequence lengths {lengths}"]
    write("implementation: " + " · ".join(str(part) for part in found if part))
    if implementation.get("param_map"):
        write("param map: " + json.dumps(implementation["param_map"]))
    write(f"isolation: {report.get('isolation')}")
    for diagnosis in report.get("diagnoses", []):
        write(f"likely mistake: {diagnosis['id']} — {diagnosis['detail']} ({where(diagnosis.get('location'))})")
    for finding in report.get("findings", []):
        write(f"finding: {finding['id']} — {finding['detail']}")
    for note in interface.get("notes", []):
        if "(--param-map auto)" not in note:  # the param map line says it
            write(f"note: {note}")
