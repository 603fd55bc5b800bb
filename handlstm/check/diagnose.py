"""Naming the mistake: which classic mistake reproduces a failing learner's numbers.

Runs in the parent, on plain numbers: it asks the subject (the child's proxy) a few dozen
chosen questions and compares the answers with every mutation of the equations in
handlstm/mutants.py. A mutation explains the learner when it reproduces every answer within
`tolerances.match_tolerance`; nothing is read from the learner's source text.

    diagnose(subject, results, facts) -> [{"id": catalog id, "detail": human text}, ...]

best first, several when the behaviour fits several, one "unknown" entry when nothing fits.
The catalog and what each id means for a learner: docs/mistakes.md.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

import reference
from reference import GATE_PARAMS, PARAM_NAMES

from .. import tolerances
from ..mutants import GATE_OF, Mutation, classic_mistakes, combine, day_patterns, hand_off_slips

CATALOG = (
    "forget-gate-activation", "input-gate-activation", "candidate-activation", "output-gate-activation",
    "cell-output-activation", "weights-swapped", "gates-swapped", "cell-update", "returns-long-memory",
    "state-not-carried", "initial-state", "sequence-order", "gradient-blocked", "parameter-not-trainable",
    "parameter-not-registered", "optimizer-params", "loss-function", "state-leak", "unknown",
)  # fmt: skip

HINTS = {
    "forget-gate-activation": "the forget gate (wlr1, wlr2, blr1) squashes its sum with torch.sigmoid",
    "input-gate-activation": "the input gate (wpr1, wpr2, bpr1) squashes its sum with torch.sigmoid",
    "candidate-activation": "the candidate (wp1, wp2, bp1) squashes its sum with torch.tanh",
    "output-gate-activation": "the output gate (wo1, wo2, bo1) squashes its sum with torch.sigmoid",
    "cell-output-activation": "the new short memory is torch.tanh(new long memory) * output gate",
    "weights-swapped": "each gate is (short memory * w..1) + (input * w..2) + b..1 with its own three names",
    "gates-swapped": "new long = long * forget + input gate * candidate; new short = tanh(new long) * output",
    "cell-update": "the new long memory is long * forget + input gate * candidate",
    "returns-long-memory": "forward returns the short memory of the last day",
    "state-not-carried": "each day's lstm_unit gets the previous day's updated long and short memory",
    "initial-state": "forward starts both memories at 0",
    "sequence-order": "forward feeds every day once, first to last",
    "gradient-blocked": "no .detach(), .item(), .data or torch.tensor(...) between parameters and output",
    "parameter-not-trainable": "create each parameter with nn.Parameter(..., requires_grad=True)",
    "parameter-not-registered": "assign each of the 12 values as self.name = nn.Parameter(...) in __init__",
    "optimizer-params": "configure_optimizers passes self.parameters() to Adam",
    "loss-function": "training_step computes loss = (output - label) ** 2 and returns it",
    "state-leak": "forward starts from fresh zero memories every call; keep no memories on self",
    "unknown": "compare your code with the lesson's equations line by line",
}

Diagnosis = dict  # {"id": str, "detail": str}
DAYS = 4  # every learner's forward handles the lesson's four days
UNIT_PROBES = 8
FORWARD_PROBES = 6
SEED = 5  # the probes are fixed: a diagnosis is reproducible


def hint(mistake: str) -> str:
    """How the lesson's code does what this mistake gets wrong, in one line."""
    return HINTS.get(mistake, "")


def diagnose(subject, results, facts: Mapping | None) -> list[Diagnosis]:
    """The catalog's explanation of the failing checks in `results`, best first (never empty)."""
    failed = failed_checks(results)
    facts = Facts(facts or {})
    forward_failed = bool(failed & {"unit", "forward"})
    found: list[Diagnosis] = []
    if forward_failed or not failed:
        # a wrong forward explains every later failure: name it first, the facts after
        found = forward_mistakes(subject, counterexamples(results))
        if found:
            found += facts.mistakes()
    if not found:  # forward is right on every probe (its check may have run out of time)
        # parameters the module does not train explain missing gradients; missing gradients in
        # turn explain a loss without gradient and training that goes wrong
        found += facts.parameter_mistakes()
        if "gradients" in failed:
            found += gradient_mistakes(subject)
        found += facts.training_mistakes()
        if failed_checks(results, ("fail",)) & {"training"} and "gradients" not in failed:
            found += training_mistakes(subject, facts)
    if "state" in failed:
        found.append(_d("state-leak", "forward gives a different answer for the same days after other calls"))
    if forward_failed and not found:
        found.append(_d("unknown", "lstm_unit and forward agree with the lesson on every probe; they differ "
                        "only on the counterexample's values"))
    return _unique(found) or [_d("unknown", "no mistake in the catalog reproduces these numbers")]


# --- what the pipeline tells us ------------------------------------------------------------------

def _checks(results) -> list[dict]:
    if isinstance(results, Mapping):
        return [dict(check, id=check.get("id", key)) for key, check in results.items()]
    return list(results or [])


def failed_checks(results, statuses: tuple[str, ...] = ("fail", "error")) -> set[str]:
    """The ids of the checks that failed (or errored: a crash in backward is a symptom too)."""
    return {c["id"] for c in _checks(results) if c.get("status") in statuses}


def counterexamples(results) -> list[tuple[dict, tuple[float, ...]]]:
    """(parameters, days) of the shrunk forward counterexamples, to probe beside the fixed probes."""
    found = []
    for check in _checks(results):
        example = check.get("counterexample") or {}
        params, days = example.get("params") or example.get("parameters"), example.get("days")
        if check.get("id") == "forward" and isinstance(params, Mapping) and days:
            try:
                found.append(({n: float(params[n]) for n in PARAM_NAMES}, tuple(float(d) for d in days)))
            except (KeyError, TypeError, ValueError):
                continue  # a counterexample in another shape: the fixed probes still decide
    return found


class Facts:
    """What the child reports about the module's parameters, optimizer and training_step
    (the format: handlstm/check/sandbox/runner.py's docstring)."""

    def __init__(self, facts: Mapping):
        self.facts = facts
        self.params: Mapping = facts.get("parameters") or {}
        self.optimizer: Mapping = facts.get("optimizer") or {}
        self.training_step: Mapping = facts.get("training_step") or {}

    def names_where(self, key: str, value, leaving_out: Iterable[str] = ()) -> list[str]:
        return [n for n in PARAM_NAMES if isinstance(self.params.get(n), Mapping) and n not in leaving_out
                and self.params[n].get("found") is not False and self.params[n].get(key) is value]

    def mistakes(self) -> list[Diagnosis]:
        """What the facts alone show: parameters the optimizer cannot train, no loss to train on."""
        return self.parameter_mistakes() + self.training_mistakes()

    def untrained(self) -> tuple[list[str], list[str]]:
        """(names that are not registered parameters, registered ones with requires_grad off)."""
        unregistered = self.names_where("registered", False)
        return unregistered, self.names_where("requires_grad", False, leaving_out=unregistered)

    def parameter_mistakes(self) -> list[Diagnosis]:
        unregistered, frozen = self.untrained()
        found = []
        if unregistered:
            found.append(_d("parameter-not-registered", f"{_names(unregistered)}: not an nn.Parameter "
                            "of the module, so no optimizer sees it"))
        if frozen:
            found.append(_d("parameter-not-trainable", f"{_names(frozen)}: requires_grad is off"))
        return found

    def training_mistakes(self) -> list[Diagnosis]:
        unregistered, frozen = self.untrained()
        found = []
        missing = self.names_where("in_optimizer", False, leaving_out=unregistered + frozen)
        if missing:
            found.append(_d("optimizer-params", f"the optimizer does not update {_names(missing)}"))
        if self.optimizer.get("error"):
            found.append(_d("optimizer-params",
                            f"configure_optimizers gives no optimizer: {self.optimizer['error']}"))
        elif self.optimizer.get("class") not in (None, "Adam"):
            found.append(_d("optimizer-params",
                            f"the optimizer is {self.optimizer['class']}, the lesson's is Adam"))
        elif self.optimizer.get("lr") == 0:
            found.append(_d("optimizer-params", "the optimizer's learning rate is 0"))
        returned = self.training_step.get("returned")
        if self.training_step.get("returns_loss") is False:
            shown = "nothing" if returned == "None" else f"a {returned} that carries no gradient"
            found.append(_d("loss-function", f"training_step returns {shown}, not the loss"))
        return found

    def training_step_error(self) -> str | None:
        return self.training_step.get("error") if self.training_step.get("returns_loss") is None else None


# --- asking the subject ----------------------------------------------------------------------------

def _ask(call: Callable, *args):
    """The subject's answer, or None where the learner's code cannot answer this probe."""
    try:
        return call(*args)
    except Exception:  # the check that ran it already reported the learner's traceback
        return None


def _probe_params(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Tame values: weighted sums stay in the curved range of sigmoid and tanh, never zero."""
    signs = lambda: rng.choice((-1.0, 1.0), n)  # noqa: E731
    return {name: signs() * rng.uniform(0.2, 1.5 if name.startswith("b") else 2.0, n)
            for name in PARAM_NAMES}


@dataclass
class Probes:
    """The questions asked and the subject's answers; None where it could not answer."""

    dtype: str
    unit_params: dict[str, np.ndarray]
    unit_inputs: tuple[np.ndarray, np.ndarray, np.ndarray]  # x, long, short
    unit_got: np.ndarray  # (n, 2): updated long, updated short; NaN where unanswered
    forward_params: dict[str, np.ndarray]
    forward_days: np.ndarray  # (n, DAYS)
    forward_got: np.ndarray  # (n,)
    repeatable: bool


def probe(subject, extra: Iterable[tuple[dict, tuple[float, ...]]] = ()) -> Probes:
    rng = np.random.default_rng(SEED)
    unit_params = _probe_params(rng, UNIT_PROBES)
    x = rng.choice((-1.0, 1.0), UNIT_PROBES) * rng.uniform(0.2, 1.5, UNIT_PROBES)
    long = rng.choice((-1.0, 1.0), UNIT_PROBES) * rng.uniform(0.2, 2.0, UNIT_PROBES)
    short = rng.choice((-1.0, 1.0), UNIT_PROBES) * rng.uniform(0.1, 0.9, UNIT_PROBES)
    unit_got = np.full((UNIT_PROBES, 2), np.nan)
    for k in range(UNIT_PROBES):
        answer = _ask(subject.unit, _at(unit_params, k), float(x[k]), float(long[k]), float(short[k]))
        if answer is not None:
            unit_got[k] = answer
    forward_params = _probe_params(rng, FORWARD_PROBES)
    shape = (FORWARD_PROBES, DAYS)
    forward_days = rng.choice((-1.0, 1.0), shape) * rng.uniform(0.2, 1.5, shape)
    dtype = getattr(subject, "dtype", "float64")
    for params, days in extra:
        if len(days) == DAYS and _tame(params, days, dtype):
            forward_params = {n: np.append(forward_params[n], params[n]) for n in PARAM_NAMES}
            forward_days = np.vstack([forward_days, days])
    forward_got = np.array([_number(_ask(subject.forward, _at(forward_params, k), tuple(forward_days[k])))
                            for k in range(len(forward_days))])
    again = _number(_ask(subject.forward, _at(forward_params, 0), tuple(forward_days[0])))
    repeatable = bool(forward_got[0] == again or (np.isnan(forward_got[0]) and np.isnan(again)))
    return Probes(dtype, unit_params, (x, long, short), unit_got,
                  forward_params, forward_days, forward_got, repeatable)


def _tame(params: dict, days: tuple[float, ...], dtype: str) -> bool:
    """Whether the lesson's rounding bound stays a tenth of the match tolerance here, as it does on
    the fixed probes (a test checks them)."""
    trace = reference.run(params, days)
    rounding = tolerances.forward_tolerance(trace, dtype)
    return bool(rounding <= 0.1 * tolerances.match_tolerance(trace.final_short, dtype))


def _at(params: Mapping[str, np.ndarray], k: int) -> dict[str, float]:
    return {n: float(params[n][k]) for n in PARAM_NAMES}


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# --- matching mutations ------------------------------------------------------------------------------

def predictions(mutation: Mutation, probes: Probes) -> np.ndarray:
    """What the mutation answers to every probe: unit (long, short) pairs, then forward values."""
    with np.errstate(all="ignore"):
        forward = mutation.forward(probes.forward_params, probes.forward_days)
    return np.concatenate([unit_predictions(mutation, probes),
                           np.broadcast_to(forward, probes.forward_got.shape)])


def answers(probes: Probes, use_forward: bool = True) -> np.ndarray:
    forward = probes.forward_got if use_forward else np.full_like(probes.forward_got, np.nan)
    return np.concatenate([probes.unit_got.ravel(), forward])


def ratios(predicted: np.ndarray, got: np.ndarray, dtype: str) -> np.ndarray:
    """|got - predicted| over the match tolerance, for each answered probe (unanswered: dropped)."""
    answered = ~np.isnan(got)
    error = np.abs(got[answered] - predicted[answered])
    tolerance = tolerances.match_tolerance(predicted[answered], dtype)
    return np.where(np.isfinite(error), error / tolerance, np.inf)


# How the pipeline may have read lstm_unit's argument and return order: the lesson's first. A
# mistake in forward can make another order look consistent (a forward that returns the long
# memory chains like an lstm_unit whose memories are exchanged), so the others are tried too.
# a view: which probe input lstm_unit receives as its (x, long, short), and whether its two
# results come back exchanged
View = tuple[tuple[int, int, int], bool]
LESSON_VIEW: View = ((0, 1, 2), False)
VIEWS: tuple[View, ...] = (LESSON_VIEW,) + tuple(
    (order, exchanged) for order in itertools.permutations(range(3)) for exchanged in (False, True)
    if (order, exchanged) != LESSON_VIEW)


def unit_predictions(mutation: Mutation, probes: Probes, view: View = LESSON_VIEW) -> np.ndarray:
    order, exchanged = view
    inputs = tuple(probes.unit_inputs[k] for k in order)
    with np.errstate(all="ignore"):
        long, short = mutation.unit(probes.unit_params, *inputs)
    if exchanged:
        long, short = short, long
    return np.stack(np.broadcast_arrays(long, short), axis=-1).ravel()


def explains(mutation: Mutation, probes: Probes, got: np.ndarray, view: View = LESSON_VIEW) -> bool:
    """Whether the mutation reproduces every answered probe (lstm_unit's first: they are cheap)."""
    units = probes.unit_got.size
    r = ratios(unit_predictions(mutation, probes, view), got[:units], probes.dtype)
    if np.any(r > 1.0):
        return False
    answered = r.size
    if not np.all(np.isnan(got[units:])):
        with np.errstate(all="ignore"):
            forward = np.broadcast_to(mutation.forward(probes.forward_params, probes.forward_days),
                                      probes.forward_got.shape)
        r = ratios(forward, got[units:], probes.dtype)
        if np.any(r > 1.0):
            return False
        answered += r.size
    return answered > 0


@functools.cache
def _classic() -> tuple[Mutation, ...]:
    return tuple(classic_mistakes())


def candidates(unit_is_lesson: bool | None) -> list[Mutation]:
    """The mistakes to try, commonest first (ties between behaviours go to the first): those of
    lstm_unit where it differs from the lesson's, those of forward only where it does not, all of
    them where lstm_unit could not be asked (None)."""
    return [m for m in _classic() if unit_is_lesson is None or m.changes_unit != unit_is_lesson]


@functools.cache
def _hand_off_slips() -> tuple[Mutation, ...]:
    return tuple(hand_off_slips(DAYS))


def _day_patterns_explaining(probes: Probes) -> list[Mutation]:
    """The ways of reading the four days that reproduce forward, all evaluated in one batch."""
    found = []
    patterns = day_patterns(DAYS)
    for reads in sorted({len(m.order) for m in patterns}):
        group = [m for m in patterns if len(m.order) == reads]
        days = probes.forward_days[:, np.array([m.order for m in group])]  # (probes, patterns, reads)
        params = {n: v[:, None] for n, v in probes.forward_params.items()}
        with np.errstate(all="ignore"):
            predicted = Mutation().forward(params, days)  # (probes, patterns)
        error = np.abs(probes.forward_got[:, None] - predicted)
        ok = error <= tolerances.match_tolerance(predicted, probes.dtype)
        found += [m for m, good in zip(group, np.all(ok, axis=0)) if good]
    return found


def forward_mistakes(subject, extra=()) -> list[Diagnosis]:
    """The mutations that reproduce the subject's lstm_unit and forward answers; none where the
    lesson's equations do."""
    probes = probe(subject, extra)
    got = answers(probes, use_forward=probes.repeatable)
    unit_only = answers(probes, use_forward=False)
    unit_answered = not np.all(np.isnan(probes.unit_got))
    lesson_unit = explains(Mutation(), probes, unit_only) if unit_answered else None
    if not probes.repeatable:
        return _unrepeatable(subject, probes, lesson_unit)
    if np.all(np.isnan(probes.forward_got)) and lesson_unit:
        return [_d("unknown", "lstm_unit is right, but forward gives no number for four days")]
    if explains(Mutation(), probes, got):
        return []
    for view in VIEWS if unit_answered else (LESSON_VIEW,):
        unit_is_lesson = explains(Mutation(), probes, unit_only, view) if unit_answered else None
        matched = [m for m in candidates(unit_is_lesson) if explains(m, probes, got, view)]
        if not matched and unit_is_lesson is not False:
            matched = ([m for m in _hand_off_slips() if explains(m, probes, got, view)]
                       or _day_patterns_explaining(probes) or _fitted_initial_state(probes))
        if matched:
            return [_d(m.id, m.detail) for m in matched]
    # two mistakes of forward alone where lstm_unit is right; at least one in lstm_unit where it is not
    pool = [m for m in _classic() if lesson_unit is not True or not m.changes_unit]
    matched = _pairs(pool, probes, got, need_unit=lesson_unit is False)
    if matched:
        return [_d(m.id, m.detail) for m in matched]
    return [_d("unknown", _where_it_differs(subject, probes, lesson_unit))]


def _pairs(pool: list[Mutation], probes: Probes, got: np.ndarray, need_unit: bool) -> list[Mutation]:
    """Two mistakes at once: every pair that can coexist, the first found (in catalog order) wins."""
    for a_index, a in enumerate(pool):
        for b in pool[a_index + 1:]:
            if need_unit and not (a.changes_unit or b.changes_unit):
                continue
            both = combine(a, b)
            if both is not None and explains(both, probes, got):
                return [a, b]
    return []


def _fitted_initial_state(probes: Probes) -> list[Mutation]:
    """lstm_unit is right but forward is not: do some constant starting memories explain forward?"""
    def residual(start: np.ndarray) -> np.ndarray:
        predicted = Mutation(initial=(float(start[0]), float(start[1]))).forward(
            probes.forward_params, probes.forward_days)
        return np.asarray(predicted) - probes.forward_got

    for guess in ((0.5, 0.5), (-0.5, 0.5), (2.0, -0.5), (-2.0, -0.5)):
        start = _least_squares(residual, np.array(guess))
        if start is None:
            continue
        mutation = Mutation(initial=(float(start[0]), float(start[1])))
        if explains(mutation, probes, answers(probes)):
            long, short = (round(float(v), 4) for v in start)
            detail = f"memories start at long={long:g}, short={short:g} instead of 0"
            return [Mutation("initial-state", detail, initial=mutation.initial)]
    return []


def _least_squares(residual: Callable[[np.ndarray], np.ndarray], start: np.ndarray,
                   steps: int = 40) -> np.ndarray | None:
    """Gauss-Newton with a finite-difference Jacobian: a few unknowns, a handful of probes."""
    point = start.astype(float)
    for _ in range(steps):
        r = residual(point)
        if not np.all(np.isfinite(r)):
            return None
        h = 1e-7 * (1.0 + np.abs(point))
        jacobian = np.stack([(residual(point + h[j] * np.eye(len(point))[j]) - r) / h[j]
                             for j in range(len(point))], axis=-1)
        step, *_ = np.linalg.lstsq(jacobian, -r, rcond=None)
        point = point + step
        if np.max(np.abs(step)) < 1e-13 * (1.0 + np.max(np.abs(point))):
            break
    return point if np.all(np.isfinite(point)) else None


# For telling memories kept from the last call from random ones: the forget gate stays open
# (sigmoid(3) ~ 0.95) so the starting long memory still shows after four days
LEAK_PARAMS = {"wlr1": 0.5, "wlr2": 0.3, "blr1": 3.0, "wpr1": 0.4, "wpr2": -0.6, "bpr1": -0.5,
               "wp1": 0.8, "wp2": 1.2, "bp1": 0.3, "wo1": 0.3, "wo2": 0.5, "bo1": 1.0}
LEAK_DAYS = (0.5, -0.3, 0.8, 0.2)


def _unrepeatable(subject, probes: Probes, lesson_unit: bool | None) -> list[Diagnosis]:
    """forward answers the same question differently: memories kept from earlier calls, or random."""
    calls = [_number(_ask(subject.forward, LEAK_PARAMS, LEAK_DAYS)) for _ in range(3)]
    leak = _leak(LEAK_PARAMS, LEAK_DAYS, calls, probes.dtype) if lesson_unit else None
    if leak:
        return [_d("state-leak", leak)]
    found = [_d("state-leak", "forward's answer for the same days changes from call to call")]
    if lesson_unit:
        found.insert(0, _d("initial-state", "the memories start at different values on every call (random?)"))
    return found


def _leak(params: dict, days: tuple[float, ...], calls: list[float], dtype: str) -> str | None:
    """Does each call start from the memories the previous call ended with?"""
    def run_from(long: float, short: float) -> tuple[float, float]:
        trace = reference.run(params, days, long, short)
        return float(trace.long[-1]), float(trace.short[-1])

    first, second, third = calls
    for carried, shown in ((("long", "short"), "both memories"), (("long",), "the long memory"),
                           (("short",), "the short memory")):
        # after the first call the short memory is its answer; only the long one is unknown
        short0 = first if "short" in carried else 0.0
        if "long" in carried:
            grid = np.linspace(-20.0, 20.0, 8001)
            predicted = reference.run(params, days, grid, short0).short[..., -1]
            start = np.array([grid[int(np.argmin(np.abs(predicted - second)))]])
            fit = _least_squares(lambda c: np.atleast_1d(run_from(float(c[0]), short0)[1] - second), start)
            long0 = float(fit[0]) if fit is not None else math.nan
        else:
            long0 = 0.0
        long1, short1 = run_from(long0, short0)
        long2, short2 = run_from(long1 if "long" in carried else 0.0, short1 if "short" in carried else 0.0)
        got, predicted = np.array([second, third]), np.array([short1, short2])
        if np.all(np.isfinite(got)) and np.all(ratios(predicted, got, dtype) <= 1.0):
            return f"{shown} carried over from the previous call to forward (kept on self?)"
    return None


# i*g vanishes whether the slip is in the input gate (the candidate is 0) or in the candidate
# (the input gate is sigmoid(-40) ~ 4e-18)
SHUT_INPUT_TERM = {"wpr1": 0.0, "wpr2": 0.0, "bpr1": -40.0, "wp1": 0.0, "wp2": 0.0, "bp1": 0.0}


def _where_it_differs(subject, probes: Probes, lesson_unit: bool | None) -> str:
    """Where the numbers go wrong, for a mistake outside the catalog: which term of lstm_unit."""
    if lesson_unit is None:
        return "forward differs from the lesson's in a way no single mistake explains"
    if lesson_unit:
        return "lstm_unit agrees with the lesson, but forward does not, in a way no single mistake explains"
    long_ok = ratios(reference_unit_long(probes), probes.unit_got[:, 0], probes.dtype)
    if long_ok.size and np.all(long_ok <= 1.0):
        return ("lstm_unit's updated long memory is right but its updated short memory is not: look at the "
                "output gate (wo1, wo2, bo1) and h' = tanh(c') * o")
    # make one term of c' = c*f + i*g vanish: if the long memory is then right, the mistake is in it
    for term, change in (("c*f: the forget gate (wlr1, wlr2, blr1) or how it meets the long memory",
                          lambda params, x, long, short: (params, x, 0.0, short)),
                         ("i*g: the input gate (wpr1, wpr2, bpr1) or the candidate (wp1, wp2, bp1)",
                          lambda params, x, long, short: ({**params, **SHUT_INPUT_TERM}, x, long, short))):
        agree = []
        for k in range(3):
            args = change(_at(probes.unit_params, k), *(float(v[k]) for v in probes.unit_inputs))
            answer = _ask(subject.unit, *args)
            expected = Mutation().unit(*args)[0]
            got = np.array([_number(answer[0]) if answer is not None else math.inf])
            agree.append(bool(ratios(np.array([expected]), got, probes.dtype)[0] <= 1.0))
        if all(agree):
            return f"lstm_unit's updated long memory is wrong only through the term {term}"
    return "lstm_unit's updated long memory differs from the lesson's in a way no single mistake explains"


def reference_unit_long(probes: Probes) -> np.ndarray:
    return np.asarray(Mutation().unit(probes.unit_params, *probes.unit_inputs)[0], dtype=float)


# --- gradients and training -------------------------------------------------------------------------

def gradient_mistakes(subject) -> list[Diagnosis]:
    """forward is right but gradients are not: which parameters' gradients, and how."""
    rng = np.random.default_rng(SEED + 1)
    params = _at(_probe_params(rng, 1), 0)
    days = tuple(rng.choice((-1.0, 1.0), DAYS) * rng.uniform(0.2, 1.5, DAYS))
    label = 0.5
    answer = _ask(subject.loss_and_grads, params, days, label)
    if answer is None:
        return [_d("gradient-blocked", "taking the gradient of the loss fails")]
    _, got = answer
    trace = reference.run(params, days)
    expected = reference.backward(trace, 2.0 * (trace.final_short - label)).params
    tolerance = tolerances.gradient_tolerance(trace, label, getattr(subject, "dtype", "float64"))
    missing = [n for n in PARAM_NAMES if not math.isfinite(_number(got.get(n)))]
    wrong = [n for n in PARAM_NAMES if n not in missing
             and abs(_number(got[n]) - float(expected[n])) > float(tolerance[n])]
    if missing:
        return [_d("gradient-blocked", f"no gradient reaches {_names(missing)}")]
    if not wrong:
        return [_d("gradient-blocked", "gradients differ from the lesson's only on the counterexample")]
    # memories detached between days: only the last day's step passes gradients back
    last = reference.run(params, days[-1:], trace.long[-2], trace.short[-2])
    detached = reference.backward(last, 2.0 * (last.final_short - label)).params
    if all(abs(_number(got[n]) - float(detached[n])) <= float(tolerance[n]) for n in PARAM_NAMES):
        return [_d("gradient-blocked",
                   "gradients stop at the memories between days (.detach() or re-wrapping)")]
    return [_d("gradient-blocked", f"the gradients of {_names(wrong)} are wrong")]


TRAINING_STEPS = 6
# d loss / d output for the losses learners write instead of (output - label)^2
LOSSES = {
    "(output - label)^2": lambda out, label: 2.0 * (out - label),
    "output - label, not squared": lambda out, label: np.ones_like(out),
    "label - output, not squared": lambda out, label: -np.ones_like(out),
    "|output - label|": lambda out, label: np.sign(out - label),
    "-(output - label)^2, the sign flipped": lambda out, label: -2.0 * (out - label),
    "output^2, the label left out": lambda out, label: 2.0 * out,
    "(output - label)^3": lambda out, label: 3.0 * (out - label) ** 2,
}


def _trained_with(loss: str, params: dict, lr: float, steps: int) -> list[dict[str, float]]:
    """The lesson's Adam loop on the lesson's data, with another loss."""
    from ..data import LABELS, SEQUENCES

    current, optimizer, trajectory = dict(params), reference.Adam(lr=lr), []
    for step in range(steps):
        days, label = SEQUENCES[step % len(SEQUENCES)], LABELS[step % len(SEQUENCES)]
        trace = reference.run(current, days)
        grads = reference.backward(trace, LOSSES[loss](trace.final_short, label)).params
        current = {n: float(v) for n, v in optimizer.step(current, grads).items()}
        trajectory.append(current)
    return trajectory


def training_mistakes(subject, facts: Facts) -> list[Diagnosis]:
    """forward and gradients are right but training is not: the optimizer or the loss."""
    if facts.mistakes():
        return []  # already named from the facts
    error = facts.training_step_error()
    if error:
        return [_d("loss-function", f"training_step raises: {error}")]
    rng = np.random.default_rng(SEED + 2)
    params = _at(_probe_params(rng, 1), 0)
    answer = _ask(subject.train, params, TRAINING_STEPS) if hasattr(subject, "train") else None
    if answer is None:
        return [_d("loss-function", "training with the module's training_step does not run through"),
                _d("optimizer-params", "or configure_optimizers does not give a working optimizer")]
    lr, got = answer
    if lr is None or not got:
        return [_d("optimizer-params", "configure_optimizers does not give the lesson's Adam")]
    still = [n for n in PARAM_NAMES if all(step[n] == params[n] for step in got)]
    if len(still) == len(PARAM_NAMES):
        return [_d("loss-function", "no parameter ever changes: the loss training_step returns does not "
                   "reach the parameters")]
    if still:
        return [_d("optimizer-params", f"{_names(still)} never change in training")]
    steps = min(len(got), TRAINING_STEPS)
    moved = np.array([[step[n] for n in PARAM_NAMES] for step in got[:steps]])
    for loss in LOSSES:
        trained = _trained_with(loss, params, lr, steps)
        expected = np.array([[step[n] for n in PARAM_NAMES] for step in trained])
        if np.max(np.abs(moved - expected)) <= tolerances.TRAINING_MATCH * lr:
            if loss == "(output - label)^2":
                break
            return [_d("loss-function", f"the loss is {loss}")]
    return [_d("loss-function", "training moves the parameters unlike the lesson's loss with Adam"),
            _d("optimizer-params", "or the optimizer does not update every parameter as Adam does")]


# --- helpers ------------------------------------------------------------------------------------------

def _d(mistake: str, detail: str) -> Diagnosis:
    assert mistake in CATALOG, mistake
    return {"id": mistake, "detail": detail}


def _unique(found: list[Diagnosis]) -> list[Diagnosis]:
    """One entry per catalog id (its best detail), best first."""
    seen, unique = set(), []
    for d in found:
        if d["id"] not in seen:
            seen.add(d["id"])
            unique.append(d)
    return unique


def _names(names: list[str]) -> str:
    if set(names) == set(PARAM_NAMES):
        return "any of the 12 parameters"
    gates = {GATE_OF[n] for n in names}
    if len(names) == 3 and len(gates) == 1 and set(names) == set(GATE_PARAMS[next(iter(gates))]):
        return f"{', '.join(names)} (the whole {next(iter(gates))} gate)"
    return ", ".join(names)
