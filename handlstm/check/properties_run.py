"""Running one property on the learner's class under Hypothesis: examples drawn and shrunk here,
each one answered by the sandboxed runner, every comparison made here with the one definition of
the property (handlstm/properties.py) and its derived tolerances."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hypothesis import Phase

from handlstm.reference import PARAM_NAMES

from .. import properties, strategies
from ..properties import PropertyFailure
from .examples import BATCHED, REMEMBERED, drawn, evaluate, hypothesis_run
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

    remembered = REMEMBERED  # what the reference expects of each example, for every file (properties.expected)

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


def _fails(outcome) -> bool:
    return isinstance(outcome, LearnerError) or not all(c.ok for c in outcome)


def _failure(name: str, example, outcome) -> PropertyFailure | Raised:
    if isinstance(outcome, LearnerError):
        return Raised(name, example, str(outcome))
    return PropertyFailure(name, example, [c for c in outcome if not c.ok])


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
                 deadline: float, drawn_as: tuple | None = None, borrowed: list = ()) -> PropertyResult:
    """Hypothesis draws examples for one property, each evaluated in every implementation's dtype (drawn,
    targeted and shrunk once for all of them); a failure comes back shrunk, with its dtype.

    With `drawn_as`, the key of its strategy, a property (BATCHED) runs in three steps, with the
    verdict Hypothesis alone would give on the same draws: the examples Hypothesis draws (once per
    process, with a fixed seed: the same for every file), all asked of the sandbox in batches, and
    only where one fails, Hypothesis again to shrink it, with the answers already known.

    `borrowed`: the counterexamples earlier properties shrank to, fitted to this property's days.
    The shrinking run tries them right after the explicit ones: a mistake that made lstm_unit fail
    usually fails forward on the same small example, and shrinking again takes seconds to find
    about the same one."""
    if name not in BATCHED or drawn_as is None:
        return _run_property(name, implementations, strategy, explicit, examples, deadline)
    cases = drawn(drawn_as, strategy, explicit, examples)
    known = evaluate(name, implementations, cases, deadline)
    failed_in = {dtype for outcomes in known.values() for dtype, outcome in outcomes.items() if _fails(outcome)}
    if not failed_in:
        return PropertyResult(name, "pass", dtypes={s.dtype: "pass" for s in implementations})
    try:
        result = _run_property(name, implementations, strategy, explicit + list(borrowed), examples, deadline, known)
    except SandboxError:  # out of time, or the child died, while shrinking: the failure stands
        result = PropertyResult(name, "error")
    if result.status != "fail":  # the failure drawn first fails again from `known`: never a pass
        first = next(case for case in cases if any(_fails(o) for o in known[case.key].values()))
        dtype, outcome = next((d, o) for d, o in known[first.key].items() if _fails(o))
        failure = _failure(name, first, outcome)
        failure.dtype = dtype
        result = PropertyResult(name, "fail", failure_message(failure), failure)
    result.dtypes = {s.dtype: "fail" if s.dtype in failed_in else "pass" for s in implementations}
    return result


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
        answered = known.get(example.key, {})
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

    run = hypothesis_run(test, strategy, explicit, examples, PHASES)
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


