"""One check of a learner's file: the parent's side, from reading the file to the report.

The parent never imports the learner's code (nor torch): the learner's module lives in a
sandboxed runner (check/sandbox/) that answers with plain numbers, and every verdict is decided
here with the one definition of each property (handlstm/properties.py).

`check(path, class_name=None, param_map=None, timeout=60.0, examples=EXAMPLES, isolation=None,
by_hand_only=False) -> Outcome` gives the `--json` report (its shape: report.Report) and
diagnosis. Every problem with the learner's file (missing, syntax error, no class,
import error, timeout, crash, memory limit) is *returned* as verdict "error", each check "error"
with the one clear line as its message. `UserError` is raised only for bad arguments from the
caller. A fail anywhere makes the verdict "fail" even if another check could not finish.

Time: the check's limit covers everything: the fork server's start (on the first check), loading
and probing (a quarter of it each at most, so a hang shows early), and the properties, which
share what is left (training, which runs Trainers, three shares). Every property runs in each
dtype the class runs in (float64 and float32, each with its own tolerances).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from handlstm.reference import PARAM_NAMES
from handlstm.strategies import Example, lesson_examples

from ..errors import UserError
from . import report
from .automap import AmbiguousMap, infer_from_source, infer_param_map
from .by_hand import not_by_hand
from .entries import CHECK_PROPERTIES, by_hand_entry, check_entry, counterexample, finite_or_text
from .examples import count_for, draw_ahead, drawn_as, explicit_for, fitted, strategy_for
from .interface import Interface, probe
from .options import EXAMPLES
from .properties_run import PropertyResult, SandboxImplementation, run_property
from .report import CHECK_IDS, Report
from .sandbox.client import Child, SandboxError, Zygote, choose_isolation, one_line
from .sandbox.protocol import CouldNotCheck, LearnerError
from .source import declares_lightning, parse, read_helpers, read_source
from .stability import numerically_unstable

SHARE = {"unit": 1, "forward": 1, "gradients": 1, "unit_gradients": 1, "training": 3,
         "state": 1}  # training runs Trainers
PROBE_SHARE = 0.25  # of the time limit, for probing
LOAD_SHARE = 0.25  # of the time limit, for loading the definitions and creating the class
CHECK_FAILURES = (CouldNotCheck, SandboxError, LearnerError)  # each ends a check as "error"


class Stopwatch:
    """Seconds per phase of one check (the report's "phases"): where a check's time goes."""

    def __init__(self):
        self.last, self.seconds = time.monotonic(), {}

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self.last, 3)
        self.last = now


@dataclass
class Outcome:
    report: Report  # the --json report

    @property
    def diagnoses(self) -> list[dict]:
        """The likely mistakes, best first (report.Diagnosis records)."""
        return self.report["diagnoses"]


def check_file(path: str, class_name: str | None = None, param_map: dict | str | None = None,
               timeout: float = 60.0, examples: int = EXAMPLES, isolation: str | None = None,
               by_hand_only: bool = False) -> Report:
    """Check the learner's class in `path` against the reference; the report (see report.Report)."""
    return check(path, class_name, param_map, timeout, examples, isolation, by_hand_only).report


def validate(timeout: float, examples: int) -> None:
    """The caller's numbers: one line for each mistake."""
    if not isinstance(examples, int) or examples < 1:
        raise UserError(f"--examples must be a whole number, at least 1, not {examples!r}")
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise UserError(f"--timeout must be a positive number of seconds, not {timeout!r}")


def lesson_names(param_map: dict | None) -> dict[str, str]:
    if param_map is None:
        return {n: n for n in PARAM_NAMES}
    if not isinstance(param_map, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in param_map.items()):
        raise UserError("--param-map: give a JSON object from lesson names to attribute names")
    unknown = sorted(set(param_map) - set(PARAM_NAMES))
    if unknown:
        raise UserError(f"--param-map: not lesson names: {', '.join(unknown)} "
                        f"(the lesson's names are {', '.join(PARAM_NAMES)})")
    return {n: param_map.get(n, n) for n in PARAM_NAMES}


def check(path: str, class_name: str | None = None, param_map: dict | str | None = None,
          timeout: float = 60.0, examples: int = EXAMPLES, isolation: str | None = None,
          by_hand_only: bool = False, student_folder: str | None = None) -> Outcome:
    """check_file, as an Outcome (the report, and its likely mistakes as `diagnoses`).
    With `student_folder`, the student's other modules beside the file are importable by it."""
    started = time.monotonic()
    watch = Stopwatch()
    validate(timeout, examples)
    isolation = choose_isolation(isolation, many=False)
    auto = param_map == "auto"  # --param-map auto: inferred from behaviour (automap.py)
    names = {} if auto else lesson_names(param_map)
    path = str(path)
    shown = report.display_path(path)

    def failed(message: str, found_class=None, interface=None) -> Outcome:
        text = message if message.startswith(shown) else f"{shown}: {message}"
        implementation = _implementation(shown, found_class, interface, names, param_map) if interface else None
        return Outcome(report.error_report(shown, text, time.monotonic() - started, isolation, found_class,
                                           implementation))

    try:
        source = read_source(path)
        if student_folder:
            source.helpers, skipped = read_helpers(path, student_folder)
            source.skipped += skipped
        source.path = shown
        parse(source)
    except CouldNotCheck as error:
        return failed(str(error), class_name)
    # everything must be over by the time limit: leave a moment to stop the child and report
    total_deadline = started + timeout - min(1.0, timeout / 10)
    child = Child(isolation, cpu_seconds=int(timeout) + 30)
    child.setup = [("load", {"source": source.as_dict(), "class_name": class_name, "names": names})]
    found_class, interface = class_name, None
    try:
        zygote = Zygote.shared(isolation)
        if not zygote.ready:  # while it imports torch and Lightning, this process draws the examples
            draw_ahead(examples)
        zygote.wait_ready(total_deadline)
        watch.lap("start")
        # loading takes well under a second once torch is imported: a hang shows here
        child.deadline = min(total_deadline, time.monotonic() + LOAD_SHARE * timeout)
        child.start()
        watch.lap("load")
        found_class = child.setup_answers[0]["class"]
        if not (isinstance(found_class, str) and found_class.isidentifier()):
            raise SandboxError("the checking process named a class that cannot be one")
        notes = [str(n) for n in child.setup_answers[0].get("notes") or []]
        if auto:
            names, note = _infer_names(child, source, found_class)
            notes.append(note)
            child.setup.append(("set_names", {"names": names}))  # a restarted child loads with it too
        # a forward that hangs is found here: probing takes well under a second when it does not
        child.deadline = min(total_deadline, time.monotonic() + PROBE_SHARE * timeout)
        interface = probe(child)
        interface.notes[:0] = notes
        watch.lap("probe")
        child.deadline = total_deadline
        # a class that says it is a Lightning module (in its source, or in the sandbox) is trained
        lightning = child.setup_answers[0].get("lightning") is True or declares_lightning(source, class_name)
        results = _run_properties(child, found_class, interface, examples, total_deadline, lightning, path, watch)
        findings = []
        if _any_ran(results):
            findings = not_by_hand(source, child, interface) + numerically_unstable(child, interface)
        watch.lap("findings")
    except CHECK_FAILURES as error:
        child.close()
        return failed(str(error), found_class, interface)
    except Exception as error:  # an answer of the sandbox's that fits no question: never a traceback
        child.close()
        return failed(f"the checking process sent answers the checker cannot use "
                      f"({type(error).__name__}: {one_line(error, 120)})", found_class, interface)
    try:
        checks = [check_entry(check_id, results, interface.dtypes) for check_id in CHECK_IDS]
        if by_hand_only:
            checks.append(by_hand_entry(findings))
        verdict = report.verdict_of(checks)
        numbers_failed = any(c["status"] == "fail" for c in checks if c["id"] in CHECK_IDS)
        diagnoses = _diagnose(child, found_class, interface, results, total_deadline) if numbers_failed else []
        if numbers_failed:
            _add_unit_by_day(child, found_class, interface, checks)
        if diagnoses:
            from .diagnose.locate import located

            diagnoses = located(diagnoses, source, found_class, names)
        watch.lap("diagnosis")
    finally:
        child.close()
    outcome: Report = {"verdict": verdict, "checks": checks, "diagnoses": diagnoses,
                       "findings": findings,
                       "implementation": _implementation(shown, found_class, interface, names, param_map),
                       "isolation": isolation, "seconds": round(time.monotonic() - started, 2),
                       "phases": watch.seconds}
    return Outcome(outcome)


def _implementation(path: str, class_name, interface: Interface, names: dict, param_map) -> dict:
    implementation = {"path": path, "class": class_name, "sequence_lengths": interface.lengths,
                      "dtype": interface.dtype, "dtypes": list(interface.dtypes),
                      "interface": interface.as_dict()}
    if param_map:
        implementation["param_map"] = dict(names)
    return implementation


def _infer_names(child: Child, source, class_name: str) -> tuple[dict[str, str], str]:
    """--param-map auto. A class that has all 12 of the lesson's names is checked by those names,
    never remapped: otherwise a lesson-named class with two weights or gates swapped would pass
    with the swap hidden in the inferred map."""
    found = child.call("scalar_parameters", lesson_names=list(PARAM_NAMES))
    if found["has_lesson_names"]:
        names = {name: name for name in PARAM_NAMES}
        note = "--param-map auto: the class has the lesson's 12 names, so it is checked by them"
    else:
        scalars = [n for n in found["scalars"] if isinstance(n, str) and n.isidentifier()]
        try:
            names = infer_param_map(scalars, lambda values, days: child.call("probe_forward", values=values,
                                                                             days=list(days)))
            how = "found by behaviour"
        except AmbiguousMap as by_behaviour:  # a wrong class: read how lstm_unit is written instead
            try:
                names, how = infer_from_source(source.text, class_name, scalars)
            except AmbiguousMap as by_reading:
                raise AmbiguousMap(f"{by_behaviour} — and {by_reading}") from None
        note = f"parameters {how} (--param-map auto): " + ", ".join(
            f"{lesson}={attribute}" for lesson, attribute in names.items())
        if any(attribute in PARAM_NAMES and attribute != lesson for lesson, attribute in names.items()):
            # a lesson name playing another lesson role is a swap to catch, not a renaming to hide
            names = {name: name for name in PARAM_NAMES}
            note = ("--param-map auto: the class uses the lesson's names for other roles, so it is checked "
                    "by the lesson's names")
    child.call("set_names", names=names)
    return names, note


def _run_properties(child: Child, class_name: str, interface: Interface, examples: int,
                    total_deadline: float, lightning: bool, path: str,
                    watch: Stopwatch) -> dict[str, PropertyResult]:
    """{property: result} for every property, each example evaluated in every dtype, sharing the
    time left."""
    order = [name for check_id in CHECK_IDS for name in CHECK_PROPERTIES[check_id]]
    results: dict[str, PropertyResult] = {}
    implementations = _configured(child, class_name, interface)
    shrunk: list[Example] = []  # each failing property's counterexample, offered to the next ones
    for index, name in enumerate(order):
        if name == "training" and not lightning:
            results[name] = PropertyResult(name, "skip", "not a LightningModule: training is not checked")
            continue
        left = total_deadline - time.monotonic()
        if left <= 0:
            results[name] = PropertyResult(name, "error", "not run: the time limit was used up")
            continue
        child.deadline = time.monotonic() + left * SHARE[name] / sum(SHARE[n] for n in order[index:])
        try:
            if not child.alive:
                child.restart()
                implementations = _configured(child, class_name, interface)
            result = run_property(name, implementations, strategy_for(name, interface.lengths),
                                  explicit_for(name, interface.lengths), count_for(name, examples),
                                  child.deadline, drawn_as(name, interface.lengths),
                                  [fitted(name, e, interface.lengths) for e in shrunk])
            failed_on = result.failure.example if result.failure is not None else None
            if failed_on is not None and failed_on not in shrunk + lesson_examples():  # those are tried anyway
                shrunk.append(failed_on)
            notes = [note for implementation in implementations for note in implementation.notes]
            if name in ("gradients", "unit_gradients") and result.status == "fail" and notes:
                result.message += f" ({notes[0]})"  # why a gradient was NaN, as the runner said
            results[name] = result
        except CHECK_FAILURES as error:  # LearnerError: on a restart
            text = str(error)
            results[name] = PropertyResult(name, "error", text if text.startswith(path) else f"{path}: {text}")
            child.stop()
        watch.lap(name)
    child.deadline = total_deadline
    return results


def _configured(child: Child, class_name: str, interface: Interface) -> list[SandboxImplementation]:
    """The learner's class in each dtype, as implementations the properties run on."""
    if not child.alive:
        child.restart()
    child.call("configure", dtypes=list(interface.dtypes), order=list(interface.order),
               returns=list(interface.returns), batched=interface.batched)
    return [SandboxImplementation(child, class_name, dtype) for dtype in interface.dtypes]


def _any_ran(results: dict[str, PropertyResult]) -> bool:
    return any(r.status in ("pass", "fail") for r in results.values())


def _add_unit_by_day(child: Child, class_name: str, interface: Interface, checks: list) -> None:
    """A failing forward example gets `unit_by_day`: the learner's short memory after each day, by
    its own lstm_unit chained from zero memories (the HTML report's plot; forward gives only the
    last day's, and may take no shorter sequence)."""
    example = next((c["counterexample"] for c in checks if c["counterexample"]), None)
    if not example or example["property"] != "forward" or example.get("error"):
        return
    try:
        unit = next(s for s in _configured(child, class_name, interface) if s.dtype == example["dtype"])
        long = short = 0.0
        by_day = []
        for x in example["days"]:
            long, short = unit.unit(example["parameters"], x, long, short)
            by_day.append(finite_or_text(short))
    except CHECK_FAILURES:
        return
    example["unit_by_day"] = by_day


def _diagnose(child: Child, class_name: str, interface: Interface, results: dict, deadline: float) -> list[dict]:
    """Diagnosis in the dtype the first failure was found in."""
    from ..data import LABELS, SEQUENCES
    from . import diagnose

    failed = [r.failure for r in results.values() if r.status == "fail" and r.failure is not None]
    dtype = failed[0].dtype if failed else interface.dtype
    child.deadline = deadline
    try:
        implementation = next(s for s in _configured(child, class_name, interface) if s.dtype == dtype)
        facts = child.call("facts", dtype=dtype, sequences=SEQUENCES, labels=LABELS)
        plain = {name: {"id": name, "status": r.status, "message": r.message,
                        "counterexample": counterexample(r.failure) if r.failure else None}
                 for name, r in results.items()}
        found = diagnose.diagnose(implementation, plain, facts)
    except CHECK_FAILURES:
        found = []
    except Exception:  # facts or answers of a shape diagnosis cannot read: the verdict stands, unexplained
        found = []
    return found or [diagnose.finding("unknown", "no single mistake from the catalog reproduces these numbers")]
