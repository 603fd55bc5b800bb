"""Every Hypothesis strategy handlstm draws from: parameters, days, memories, labels, examples.

The lesson's own set-up hides mistakes (zero biases hide a bias slip, company A's first day
of 0 hides a skipped first day, zero memories hide swapped memories), so these draw non-zero
biases, non-zero first days and memories, mostly multi-day sequences, and weights large enough
to saturate the gates as well as ones in tanh's curved range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from handlstm.reference import PARAM_NAMES

from .data import LABELS, SEQUENCES

MAX_DAYS = 16
SATURATING = 12.0  # |weighted sum| beyond ~10 saturates sigmoid and tanh to within float32 rounding
BIAS = 3.0
LARGEST_DAY = 2.0
# the largest |weighted sum| any drawn example gives a gate: |h| < 1, |x| <= LARGEST_DAY
LARGEST_GATE_SUM = SATURATING * 1.0 + SATURATING * LARGEST_DAY + BIAS


def _finite(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def nonzero(magnitude: float, at_least: float = 0.05) -> st.SearchStrategy[float]:
    """A float in ±[at_least, magnitude]: never zero, so it cannot hide a term."""
    return st.tuples(st.sampled_from((1.0, -1.0)), _finite(at_least, magnitude)).map(lambda s: s[0] * s[1])


def weights() -> st.SearchStrategy[float]:
    """Mostly tanh's curved range (two branches of three); sometimes large enough to saturate."""
    return st.one_of(_finite(-3.0, 3.0), _finite(-3.0, 3.0), nonzero(SATURATING, at_least=3.0))


def params() -> st.SearchStrategy[dict[str, float]]:
    """All 12 parameters by the lesson's names; biases are non-zero so no two gates look alike."""
    return st.fixed_dictionaries(
        {name: (nonzero(BIAS) if name.startswith("b") else weights()) for name in PARAM_NAMES})


def days(min_days: int = 1, max_days: int = MAX_DAYS) -> st.SearchStrategy[tuple[float, ...]]:
    """A sequence of daily values; the first day is never zero, and most have two days or more."""
    length = st.integers(min_days - 1, max_days).map(lambda n: max(min_days, n))
    return length.flatmap(lambda n: st.tuples(
        nonzero(LARGEST_DAY), *(_finite(-LARGEST_DAY, LARGEST_DAY) for _ in range(n - 1))))


def memories() -> st.SearchStrategy[tuple[float, float]]:
    """A non-zero (long, short) pair; the short memory is a tanh times a gate, so inside (-1, 1)."""
    return st.tuples(nonzero(3.0), nonzero(0.99))


def labels() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from(LABELS), _finite(-1.0, 1.0))


@dataclass(frozen=True)
class Example:
    """One drawn case: the parameters, the days and the label (initial memories are zero, as in forward)."""

    params: dict[str, float]
    days: tuple[float, ...]
    label: float = 0.0
    memories: tuple[float, float] = field(default=(0.0, 0.0))  # (long, short), for one lstm_unit step

    @property
    def key(self) -> tuple:
        """The example as a dictionary key (its parameters are a dict, so it has no hash)."""
        return tuple(self.params.items()), self.days, self.label, self.memories


def examples(min_days: int = 1, max_days: int = MAX_DAYS) -> st.SearchStrategy[Example]:
    return st.builds(Example, params=params(), days=days(min_days, max_days), label=labels(),
                     memories=memories())


def lesson_examples() -> list[Example]:
    """The lesson's own two samples and labels, with the lesson's zero biases and unit weights:
    always tried as explicit examples (@example), beside everything drawn."""
    lesson_params = {name: (0.0 if name.startswith("b") else 1.0) for name in PARAM_NAMES}
    return [Example(params=lesson_params, days=sequence, label=label, memories=(0.0, 0.0))
            for sequence, label in zip(SEQUENCES, LABELS)]
