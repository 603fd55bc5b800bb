"""Mistakes that show in lstm_unit and forward: one mutation (or a pair) that reproduces every answer."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from handlstm import reference

from ...mutants import GATE_OF, Mutation, classic_mistakes, combine, day_patterns, hand_off_slips
from . import thresholds
from .catalog import Diagnosis, finding
from .probes import DAYS, LESSON_VIEW, VIEWS, Probes, answers, ask, at, explains, number, probe, ratios


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
        ok = error <= thresholds.match_tolerance(predicted, probes.dtype)
        found += [m for m, good in zip(group, np.all(ok, axis=0)) if good]
    return found


def forward_mistakes(implementation, extra=()) -> list[Diagnosis]:
    """The mutations that reproduce the implementation's lstm_unit and forward answers; none where the
    lesson's equations do."""
    probes = probe(implementation, extra)
    got = answers(probes, use_forward=probes.repeatable)
    unit_only = answers(probes, use_forward=False)
    unit_answered = not np.all(np.isnan(probes.unit_got))
    lesson_unit = explains(Mutation(), probes, unit_only) if unit_answered else None
    if not probes.repeatable:
        return _unrepeatable(implementation, probes, lesson_unit)
    if np.all(np.isnan(probes.forward_got)) and lesson_unit:
        return [finding("unknown", "lstm_unit is right, but forward gives no number for four days")]
    if explains(Mutation(), probes, got):
        return []
    for view in VIEWS if unit_answered else (LESSON_VIEW,):
        unit_is_lesson = explains(Mutation(), probes, unit_only, view) if unit_answered else None
        matched = [m for m in candidates(unit_is_lesson) if explains(m, probes, got, view)]
        if not matched and unit_is_lesson is not False:
            matched = ([m for m in _hand_off_slips() if explains(m, probes, got, view)]
                       or _day_patterns_explaining(probes) or _fitted_initial_state(probes))
        if matched:
            return [finding(m.id, m.detail, *structure(m)) for m in matched]
    # two mistakes of forward alone where lstm_unit is right; at least one in lstm_unit where it is not
    pool = [m for m in _classic() if lesson_unit is not True or not m.changes_unit]
    matched = _pairs(pool, probes, got, need_unit=lesson_unit is False)
    if matched:
        return [finding(m.id, m.detail, *structure(m)) for m in matched]
    return [finding("unknown", _where_it_differs(implementation, probes, lesson_unit))]


def structure(mutation: Mutation) -> tuple[str | None, list[str]]:
    """(the gate, the lesson names concerned) of a mistake: for a slip, [misused, expected]."""
    if mutation.uses:
        expected, misused = next(iter(mutation.uses.items()))
        parameters = [misused, expected] if misused in GATE_OF else [expected]
        return GATE_OF[expected], parameters
    if mutation.activations:
        return next(iter(mutation.activations)), []
    if mutation.gate_roles:
        return next(iter(mutation.gate_roles)), []
    return None, []


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


def _unrepeatable(implementation, probes: Probes, lesson_unit: bool | None) -> list[Diagnosis]:
    """forward answers the same question differently: memories kept from earlier calls, or random."""
    calls = [number(ask(implementation.forward, LEAK_PARAMS, LEAK_DAYS)) for _ in range(3)]
    leak = _leak(LEAK_PARAMS, LEAK_DAYS, calls, probes.dtype) if lesson_unit else None
    if leak:
        return [finding("state-leak", leak)]
    found = [finding("state-leak", "forward's answer for the same days changes from call to call")]
    if lesson_unit:
        found.insert(0, finding("initial-state", "the memories start at different values on every call (random?)"))
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


def _where_it_differs(implementation, probes: Probes, lesson_unit: bool | None) -> str:
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
            args = change(at(probes.unit_params, k), *(float(v[k]) for v in probes.unit_inputs))
            answer = ask(implementation.unit, *args)
            expected = Mutation().unit(*args)[0]
            got = np.array([number(answer[0]) if answer is not None else math.inf])
            agree.append(bool(ratios(np.array([expected]), got, probes.dtype)[0] <= 1.0))
        if all(agree):
            return f"lstm_unit's updated long memory is wrong only through the term {term}"
    return "lstm_unit's updated long memory differs from the lesson's in a way no single mistake explains"


def reference_unit_long(probes: Probes) -> np.ndarray:
    return np.asarray(Mutation().unit(probes.unit_params, *probes.unit_inputs)[0], dtype=float)
