"""Running one property on the learner's class under Hypothesis: examples drawn and shrunk here,
each one answered by the sandboxed runner, every comparison made here with the one definition of
the property (handlstm/properties.py) and its derived tolerances."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import example as explicit_example
from hypothesis import strategies as st

from handlstm.reference import PARAM_NAMES

from .. import properties, strategies
from ..properties import PropertyFailure
from .sandbox.client import Child, SandboxError, number_sent
from .sandbox.protocol import LearnerError


def keep_hypothesis_files_in_cache() -> None:
    """Hypothesis caches what it reads of the source it runs (and would write .hypothesis/ into the
    user's current folder): `handlstm check` keeps it in $XDG_CACHE_HOME/handlstm/hypothesis."""
    import os
    from pathlib import Path

    from hypothesis.configuration import set_hypothesis_home_dir

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    set_hypothesis_home_dir(cache / "handlstm" / "hypothesis")


class SandboxImplementation:
    """The learner's class as an implementation the properties run on: every call is a request to
    the sandboxed runner, in the dtype it was configured with."""

    remembered: dict = {}  # what the reference expects of each example, for every file (properties.expected)

    def __init__(self, child: Child, name: str, dtype: str):
        self.child, self.name, self.dtype = child, name, dtype
        self.notes: list[str] = []  # why a gradient was NaN, as the child said

    def unit(self, params, x, long, short):
        out = self.child.call("unit", dtype=self.dtype, params=dict(params), x=x, long=long, short=short)
        if not isinstance(out, list) or len(out) != 2:
            raise SandboxError("the checking process sent a malformed answer to unit")
        return number_sent(out[0]), number_sent(out[1])

    def forward(self, params, days):
        return number_sent(self.child.call("forward", dtype=self.dtype, params=dict(params), days=list(days)))

    def loss_and_grads(self, params, days, label):
        out = self.child.call("loss_and_grads", dtype=self.dtype, params=dict(params), days=list(days),
                              label=label)
        return self._loss_and_grads(out, "loss_and_grads")

    def _loss_and_grads(self, out, op: str):
        grads = out.get("grads") if isinstance(out, dict) else None
        if not isinstance(grads, dict):
            raise SandboxError(f"the checking process sent a malformed answer to {op}")
        if out.get("note") and out["note"] not in self.notes:
            self.notes.append(str(out["note"]))
        return number_sent(out.get("loss")), {name: number_sent(grads.get(name)) for name in PARAM_NAMES}

    def unit_loss_and_grads(self, params, x, long, short, label):
        out = self.child.call("unit_loss_and_grads", dtype=self.dtype, params=dict(params), x=x, long=long,
                              short=short, label=label)
        return self._loss_and_grads(out, "unit_loss_and_grads")

    def train(self, params, steps):
        from ..data import LABELS, SEQUENCES

        out = self.child.call("train", dtype=self.dtype, params=dict(params), steps=steps, sequences=SEQUENCES,
                              labels=LABELS)
        trajectory = out.get("trajectory") if isinstance(out, dict) else None
        if not isinstance(trajectory, list) or not all(isinstance(s, dict) for s in trajectory):
            raise SandboxError("the checking process sent a malformed answer to train")
        lr = None if out.get("lr") is None else number_sent(out["lr"])
        return lr, [{name: number_sent(step.get(name)) for name in PARAM_NAMES} for step in trajectory]



@dataclass
class Raised(AssertionError):
    """The learner's code raised on a drawn example (a failing example, shrunk like any other)."""

    name: str
    example: strategies.Example
    error: str

    def __str__(self) -> str:
        return f"{self.name} raised {self.error}"


@dataclass
class PropertyResult:
    name: str
    status: str  # pass, fail, error, skip
    message: str = ""
    failure: PropertyFailure | Raised | None = None  # with .dtype: where it failed
    dtypes: dict[str, str] = field(default_factory=dict)  # the status in each dtype


class _OutOfTime(BaseException):
    pass


TARGET_LABEL = "learner's check"  # what Hypothesis steers towards: the worst error against its tolerance
# Shrinking a 12-parameter, 16-day example can take thousands of calls; after this long the
# smallest failing example found so far is reported (each one Hypothesis tried is a real failure).
SHRINK_SECONDS = 2.0
# no "explain" phase: it re-runs the failing example many times to annotate source lines of the
# test function, which here are the checker's own, not the learner's
PHASES = (Phase.explicit, Phase.generate, Phase.target, Phase.shrink)


def run_property(name: str, implementations: list[SandboxImplementation], strategy, explicit: list, examples: int,
                 deadline: float, drawn_as: tuple | None = None) -> PropertyResult:
    """Hypothesis draws examples for one property, each evaluated in every implementation's dtype (drawn,
    targeted and shrunk once for all of them); a failure comes back shrunk, with its dtype.

    With `drawn_as`, the key of its strategy, a property (BATCHED) runs in three steps, with the
    verdict Hypothesis alone would give on the same draws: the examples Hypothesis draws (once per
    process, with a fixed seed: the same for every file), all asked of the sandbox in batches, and
    only where one fails, Hypothesis again to shrink it, with the answers already known."""
    if name not in BATCHED or drawn_as is None:
        return _run_property(name, implementations, strategy, explicit, examples, deadline)
    cases = drawn(drawn_as, strategy, explicit, examples)
    known = _evaluate(name, implementations, cases, deadline)
    failed_in = {dtype for outcomes in known.values() for dtype, outcome in outcomes.items() if _fails(outcome)}
    if not failed_in:
        return PropertyResult(name, "pass", dtypes={s.dtype: "pass" for s in implementations})
    try:
        result = _run_property(name, implementations, strategy, explicit, examples, deadline, known)
    except SandboxError:  # out of time, or the child died, while shrinking: the failure stands
        result = PropertyResult(name, "error")
    if result.status != "fail":  # the failure drawn first fails again from `known`: never a pass
        first = next(case for case in cases if any(_fails(o) for o in known[_key(case)].values()))
        dtype, outcome = next((d, o) for d, o in known[_key(first)].items() if _fails(o))
        failure = _failure(name, first, outcome)
        failure.dtype = dtype
        result = PropertyResult(name, "fail", failure_message(failure), failure)
    result.dtypes = {s.dtype: "fail" if s.dtype in failed_in else "pass" for s in implementations}
    return result


# Properties whose examples are asked in batches: all (a property's requests do not depend on the
# answers to its earlier ones; where one would, it asks the child itself).
BATCHED = ("unit", "forward", "gradients", "unit_gradients", "state", "training")
BATCH_SIZE = 64  # requests per message: the deadline is checked between messages
_drawn: dict[tuple, list[strategies.Example]] = {}


def drawn(drawn_as: tuple, strategy, explicit: list, examples: int) -> list[strategies.Example]:
    """The examples Hypothesis tries first for this strategy, explicit ones first, in its order."""
    key = (drawn_as, examples)
    if key not in _drawn:
        cases: list[strategies.Example] = []
        _hypothesis_run(lambda example: cases.append(example), strategy, explicit, examples,
                        (Phase.explicit, Phase.generate))()
        _drawn[key] = cases
    return _drawn[key]


def _key(example: strategies.Example) -> tuple:
    return tuple(example.params.values()), example.days, example.label, example.memories


def _fails(outcome) -> bool:
    return isinstance(outcome, LearnerError) or not all(c.ok for c in outcome)


def _failure(name: str, example, outcome) -> PropertyFailure | Raised:
    if isinstance(outcome, LearnerError):
        return Raised(name, example, str(outcome))
    return PropertyFailure(name, example, [c for c in outcome if not c.ok])


# What a property is told while its requests are only being written down: answers of the right
# shape, never compared (the property runs again on the child's real answers).
PLACEHOLDERS = {"unit": [0.0, 0.0], "forward": 0.0,
                "loss_and_grads": {"loss": 0.0, "grads": dict.fromkeys(PARAM_NAMES, 0.0)},
                "unit_loss_and_grads": {"loss": 0.0, "grads": dict.fromkeys(PARAM_NAMES, 0.0)},
                "train": {"lr": None, "trajectory": []}}


class _Asked:
    """Stands in for the child while a property runs on one example: its requests are written down
    (`recorded`), or answered, in order, with what the child said to them (`answers`); a request
    not written down goes to the child itself."""

    def __init__(self, child: Child, recorded: list | None = None, answers: list | None = None):
        self.child, self.recorded, self.answers = child, recorded, list(answers or [])

    def call(self, op: str, **arguments):
        if self.recorded is not None:
            self.recorded.append((op, arguments))
            return PLACEHOLDERS[op]
        request, value = self.answers.pop(0) if self.answers else (None, None)
        if request != (op, arguments):
            self.answers = []
            return self.child.call(op, **arguments)
        if isinstance(value, LearnerError):
            raise value
        return value


def _evaluate(name: str, implementations: list[SandboxImplementation], cases: list, deadline: float
              ) -> dict[tuple, dict[str, list | LearnerError]]:
    """{example: {dtype: its comparisons, or what the learner's code raised}}: every request of
    every example written down, sent in batches in the order one by one would send them, and the
    property run again on the answers."""
    prop = properties.PROPERTIES[name]
    child = implementations[0].child
    groups: list[list] = []  # each example's requests in each dtype
    for case in cases:
        for implementation in implementations:
            groups.append([])
            implementation.child = _Asked(child, recorded=groups[-1])
            try:
                prop(implementation, case)
            finally:
                implementation.child = child
    requests = [request for group in groups for request in group]
    answers = []
    for start in range(0, len(requests), BATCH_SIZE):
        if time.monotonic() > deadline:
            raise SandboxError("timed out: the check did not finish within its time limit")
        answers += child.call_many(requests[start:start + BATCH_SIZE])
    asked = iter(zip(requests, answers))
    known: dict[tuple, dict[str, list | LearnerError]] = {}
    groups_left = iter(groups)
    for case in cases:
        for implementation in implementations:
            implementation.child = _Asked(child, answers=[next(asked) for _ in next(groups_left)])
            try:
                outcome = prop(implementation, case)
            except LearnerError as error:
                outcome = error
            finally:
                implementation.child = child
            known.setdefault(_key(case), {})[implementation.dtype] = outcome
    return known


# A fixed seed, not derandomize (which seeds from the test function): the examples drawn ahead and
# the ones Hypothesis tries again when one fails come in the same order.
DRAW_SEED = 20241203


def _hypothesis_run(test, strategy, explicit: list, examples: int, phases):
    run = settings(max_examples=examples, deadline=None, database=None,
                   report_multiple_bugs=False, phases=phases,
                   verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))(given(strategy)(test))
    run = seed(DRAW_SEED)(run)
    for case in explicit:
        run = explicit_example(case)(run)

    def without_local_constants():
        with _no_local_constants():
            return run()

    return without_local_constants


@contextlib.contextmanager
def _no_local_constants():
    """Hypothesis mixes numbers found in the source of the "local" modules loaded so far into what
    it draws (an editable handlstm is local, and a failing file imports the diagnosis): the same
    seed would draw other examples for the next file. Drawn with none (Hypothesis's internals,
    where this version has them: tests/test_check_batched.py fails where it does not)."""
    from hypothesis.internal.conjecture import providers

    local, cache = getattr(providers, "_get_local_constants", None), getattr(providers, "CONSTANTS_CACHE", None)
    if local is None or cache is None:
        yield
        return
    none = type(providers.GLOBAL_CONSTANTS)()
    providers._get_local_constants = lambda: none
    cache.cache.clear()  # permitted constants, remembered with the local ones
    try:
        yield
    finally:
        providers._get_local_constants = local
        cache.cache.clear()


def _run_property(name: str, implementations: list[SandboxImplementation], strategy, explicit: list, examples: int,
                  deadline: float, known: dict | None = None) -> PropertyResult:
    failures: list[PropertyFailure | Raised] = []
    failed_in: set[str] = set()
    known = known or {}

    def test(example):
        now = time.monotonic()
        if now > deadline or (failures and now > failures[0].found + SHRINK_SECONDS):
            raise _OutOfTime()
        found = []  # every dtype is evaluated, so each one's status is known for every example
        answered = known.get(_key(example), {})
        for implementation in implementations:
            try:
                outcome = answered.get(implementation.dtype)
                if isinstance(outcome, LearnerError):
                    raise outcome
                comparisons = outcome if outcome is not None else properties.PROPERTIES[name](implementation, example)
                properties.assert_agrees(name, comparisons, example, label=f"{TARGET_LABEL} {implementation.dtype}")
            except LearnerError as error:
                found.append(Raised(name, example, str(error)))
            except PropertyFailure as failure:
                found.append(failure)
            else:
                continue
            found[-1].dtype, found[-1].found = implementation.dtype, time.monotonic()
        if found:
            failed_in.update(f.dtype for f in found)
            failures.append(found[0])
            raise found[0]

    run = _hypothesis_run(test, strategy, explicit, examples, PHASES)
    statuses = lambda: {s.dtype: "fail" if s.dtype in failed_in else "pass" for s in implementations}
    try:
        run()
    except _OutOfTime:
        if not failures:
            raise SandboxError("timed out: the check did not finish within its time limit") from None
    except (PropertyFailure, Raised) as failure:
        return PropertyResult(name, "fail", failure_message(failure), failure, statuses())
    except Exception as error:  # Hypothesis's own (Flaky: a failure that does not repeat, itself a sign)
        if not failures:  # never a pass, never a traceback: the check could not be completed
            return PropertyResult(name, "error", f"the checker could not complete this check: "
                                                 f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}",
                                  dtypes={s.dtype: "error" for s in implementations})
    if failures:
        return PropertyResult(name, "fail", failure_message(failures[-1]), failures[-1], statuses())
    return PropertyResult(name, "pass", dtypes=statuses())


SUBJECT_OF = {"unit": "lstm_unit, one day: ", "forward": "forward: ", "gradients": "",
              "unit_gradients": "lstm_unit, one day from non-zero memories: ", "training": "",
              "state": ""}  # the check's own name already heads its line


def failure_message(failure: PropertyFailure | Raised) -> str:
    """One line: the worst mismatch in the lesson's words (or what the learner's code raised)."""
    if isinstance(failure, Raised):
        return f"{SUBJECT_OF[failure.name] or failure.name + ': '}raised {failure.error}"
    worst = max(failure.failed, key=lambda c: c.ratio)
    more = len(failure.failed) - 1
    if failure.name == "state":
        text = f"forward gave {worst.expected:.6g}, then {worst.got:.6g} for the same days after other calls"
    elif "d loss / d" in worst.quantity and worst.got != worst.got:  # autograd gave no gradient at all
        text = f"{worst.quantity} is missing where the reference gives {worst.expected!r}"
    else:
        text = (f"{worst.quantity} is {worst.got!r} where the reference gives {worst.expected!r} "
                f"(off by {worst.error:.3g}; tolerance {worst.tolerance:.3g})")
    return f"{SUBJECT_OF[failure.name]}{text}" + (f" (and {more} more differ)" if more > 0 else "")


def strategy_for(name: str, lengths: list[int]):
    if name in ("unit", "unit_gradients"):  # lstm_unit itself: one day, whatever forward handles
        return strategies.examples(1, 1)
    if lengths == list(range(lengths[0], lengths[-1] + 1)):
        return strategies.examples(lengths[0], lengths[-1])
    return st.sampled_from(lengths).flatmap(lambda n: strategies.examples(n, n))


@dataclass(frozen=True)
class _Expecting:
    """What properties.expected needs of a SandboxImplementation, before there is one."""

    dtype: str
    remembered: dict = field(default_factory=lambda: SandboxImplementation.remembered)


def drawn_as(name: str, lengths: list[int]) -> tuple:
    """What the examples drawn for this property depend on (see strategy_for and explicit_for)."""
    if name in ("unit", "unit_gradients"):
        return ("one day",)
    return (("trained",) if name == "training" else ()) + tuple(lengths)


def draw_ahead(examples: int, dtypes=("float64", "float32")) -> None:
    """Draw the examples for the usual interfaces (forward over 1 to 16 days, or over exactly the
    lesson's 4), and what the reference expects of them, while the sandbox is still importing torch
    and Lightning."""
    from ..data import LESSON_DAYS

    for lengths in (list(range(1, strategies.MAX_DAYS + 1)), [LESSON_DAYS]):
        for name in BATCHED:
            cases = drawn(drawn_as(name, lengths), strategy_for(name, lengths), explicit_for(name, lengths),
                          count_for(name, examples))
            for case in cases if name in properties.EXPECTATIONS else ():
                for dtype in dtypes:
                    properties.expected(properties.EXPECTATIONS[name], case, _Expecting(dtype))


def explicit_for(name: str, lengths: list[int]) -> list:
    if name == "training":  # it trains on the lesson's data from the example's parameters: one is enough
        return strategies.lesson_examples()[:1]
    return [e for e in strategies.lesson_examples()
            if name in ("unit", "unit_gradients") or len(e.days) in lengths]


def count_for(name: str, examples: int) -> int:
    """Training runs a Lightning Trainer per example and state reuses forward: fewer of each (two
    drawn parameter sets catch every training mistake of the catalog: tests/meta/test_mutants.py);
    the one-step gradients from non-zero memories repeat what the gradients through forward already
    drew for every day but the first, so a quarter suffices there."""
    return {"training": max(1, examples // 50), "state": max(1, examples // 10),
            "unit_gradients": max(1, examples // 4)}.get(name, examples)
