"""Asking the implementation a few dozen chosen questions, and comparing its answers with what a
mutation of the equations (handlstm/mutants.py) predicts."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from handlstm import reference
from handlstm.reference import PARAM_NAMES

from ... import tolerances
from ...data import LESSON_DAYS
from ...mutants import Mutation
from . import thresholds

DAYS = LESSON_DAYS  # every learner's forward handles the lesson's four days
UNIT_PROBES = 8
FORWARD_PROBES = 6
SEED = 5  # the probes are fixed: a diagnosis is reproducible


def ask(call: Callable, *args):
    """The implementation's answer, or None where the learner's code cannot answer this probe."""
    try:
        return call(*args)
    except Exception:  # the check that ran it already reported the learner's traceback
        return None


def probe_params(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Tame values: weighted sums stay in the curved range of sigmoid and tanh, never zero."""
    signs = lambda: rng.choice((-1.0, 1.0), n)
    return {name: signs() * rng.uniform(0.2, 1.5 if name.startswith("b") else 2.0, n)
            for name in PARAM_NAMES}


@dataclass
class Probes:
    """The questions asked and the implementation's answers; None where it could not answer."""

    dtype: str
    unit_params: dict[str, np.ndarray]
    unit_inputs: tuple[np.ndarray, np.ndarray, np.ndarray]  # x, long, short
    unit_got: np.ndarray  # (n, 2): updated long, updated short; NaN where unanswered
    forward_params: dict[str, np.ndarray]
    forward_days: np.ndarray  # (n, DAYS)
    forward_got: np.ndarray  # (n,)
    repeatable: bool


def probe(implementation, extra: Iterable[tuple[dict, tuple[float, ...]]] = ()) -> Probes:
    rng = np.random.default_rng(SEED)
    unit_params = probe_params(rng, UNIT_PROBES)
    x = rng.choice((-1.0, 1.0), UNIT_PROBES) * rng.uniform(0.2, 1.5, UNIT_PROBES)
    long = rng.choice((-1.0, 1.0), UNIT_PROBES) * rng.uniform(0.2, 2.0, UNIT_PROBES)
    short = rng.choice((-1.0, 1.0), UNIT_PROBES) * rng.uniform(0.1, 0.9, UNIT_PROBES)
    unit_got = np.full((UNIT_PROBES, 2), np.nan)
    for k in range(UNIT_PROBES):
        answer = ask(implementation.unit, at(unit_params, k), float(x[k]), float(long[k]), float(short[k]))
        if answer is not None:
            unit_got[k] = answer
    forward_params = probe_params(rng, FORWARD_PROBES)
    shape = (FORWARD_PROBES, DAYS)
    forward_days = rng.choice((-1.0, 1.0), shape) * rng.uniform(0.2, 1.5, shape)
    dtype = getattr(implementation, "dtype", "float64")
    for params, days in extra:
        if len(days) == DAYS and _tame(params, days, dtype):
            forward_params = {n: np.append(forward_params[n], params[n]) for n in PARAM_NAMES}
            forward_days = np.vstack([forward_days, days])
    forward_got = np.array([number(ask(implementation.forward, at(forward_params, k), tuple(forward_days[k])))
                            for k in range(len(forward_days))])
    again = number(ask(implementation.forward, at(forward_params, 0), tuple(forward_days[0])))
    repeatable = bool(forward_got[0] == again or (np.isnan(forward_got[0]) and np.isnan(again)))
    return Probes(dtype, unit_params, (x, long, short), unit_got,
                  forward_params, forward_days, forward_got, repeatable)


def _tame(params: dict, days: tuple[float, ...], dtype: str) -> bool:
    """Whether the lesson's rounding bound stays a tenth of the match tolerance here, as it does on
    the fixed probes (a test checks them)."""
    trace = reference.run(params, days)
    rounding = tolerances.forward_tolerance(trace, dtype)
    return bool(rounding <= 0.1 * thresholds.match_tolerance(trace.final_short, dtype))


def at(params: Mapping[str, np.ndarray], k: int) -> dict[str, float]:
    return {n: float(params[n][k]) for n in PARAM_NAMES}


def number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan



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
    tolerance = thresholds.match_tolerance(predicted[answered], dtype)
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
