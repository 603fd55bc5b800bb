"""Each property handlstm checks, defined once over implementations, and the one way they are asserted.

A property takes an implementation and a drawn example and returns the comparisons it made against the
reference; `assert_agrees` turns them into a pass or a failure that reads in the lesson's terms.
tests/, `handlstm check` and the pytest plugin all run these same functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from handlstm import reference
from handlstm.reference import PARAM_NAMES

from . import tolerances
from .strategies import Example


@dataclass(frozen=True)
class Comparison:
    quantity: str  # in the lesson's words: "final short memory", "d loss / d wlr1", ...
    expected: float
    got: float
    tolerance: float

    @property
    def error(self) -> float:
        return abs(self.got - self.expected) if math.isfinite(self.got) else math.inf

    @property
    def ratio(self) -> float:
        """How much of the tolerance this comparison used: above 1 is a failure."""
        if self.error == 0.0:
            return 0.0
        return self.error / self.tolerance if self.tolerance > 0 else math.inf

    @property
    def ok(self) -> bool:
        return self.ratio <= 1.0


class PropertyFailure(AssertionError):
    """A property did not hold; the message names the property, the example and each mismatch."""

    def __init__(self, name: str, example: Example, failed: list[Comparison]):
        self.name, self.example, self.failed = name, example, failed
        super().__init__(describe_failure(name, example, failed))


def describe_example(example: Example) -> str:
    params = ", ".join(f"{name}={example.params[name]!r}" for name in PARAM_NAMES)
    return (f"parameters: {params}\n  days: {list(example.days)}  label: {example.label!r}"
            f"  memories (long, short) for one step: {example.memories!r}")


def describe_failure(name: str, example: Example, failed: list[Comparison]) -> str:
    lines = [f"{name} does not hold for", "  " + describe_example(example)]
    for c in failed:
        lines.append(f"  {c.quantity}: expected {c.expected!r}, got {c.got!r}"
                     f" (|error| {c.error:.3g} > tolerance {c.tolerance:.3g})")
    return "\n".join(lines)


# --- the properties --------------------------------------------------------------------------

# Each property asks the implementation first and the reference after (see expected).
Expected = tuple[tuple[str, float, float], ...]  # (quantity, expected value, tolerance) each


def unit_agrees(implementation, example: Example) -> list[Comparison]:
    """One lstm_unit step from non-zero memories gives the reference's new long and short memory."""
    long, short = example.memories
    got = implementation.unit(example.params, example.days[0], long, short)
    return compared(expected(_unit_expected, example, implementation), got)


def _unit_expected(example: Example, dtype: str) -> Expected:
    trace = reference.run(example.params, example.days[:1], *example.memories)
    return (("updated long memory", float(trace.long[-1]),
             float(tolerances.forward_tolerance(trace, dtype, of="long"))),
            ("updated short memory", float(trace.short[-1]),
             float(tolerances.forward_tolerance(trace, dtype, of="short"))))


def forward_agrees(implementation, example: Example) -> list[Comparison]:
    """forward over the days, from zero memories, gives the reference's final short memory."""
    got = implementation.forward(example.params, example.days)
    return compared(expected(_forward_expected, example, implementation), [got])


def _forward_expected(example: Example, dtype: str) -> Expected:
    trace = reference.run(example.params, example.days)
    return (("final short memory", float(trace.final_short), float(tolerances.forward_tolerance(trace, dtype))),)


def gradients_agree(implementation, example: Example) -> list[Comparison]:
    """The gradient of (output - label)^2 for each of the 12 parameters is the reference's."""
    got_loss, got = implementation.loss_and_grads(example.params, example.days, example.label)
    return compared(expected(_gradients_expected, example, implementation),
                    [got_loss] + [got[name] for name in PARAM_NAMES])


def _gradients_expected(example: Example, dtype: str, trace=None, prefix: str = "") -> Expected:
    trace = trace or reference.run(example.params, example.days)
    gradients = reference.backward(trace, 2.0 * (trace.final_short - example.label)).params
    tolerance = tolerances.gradient_tolerance(trace, example.label, dtype)
    loss = float((trace.final_short - example.label) ** 2)
    loss_tolerance = float(tolerances.loss_tolerance(trace, example.label, dtype))
    return ((f"{prefix}loss", loss, loss_tolerance),) + tuple(
        (f"{prefix}d loss / d {name}", float(gradients[name]), float(tolerance[name])) for name in PARAM_NAMES)


def unit_gradients_agree(implementation, example: Example) -> list[Comparison]:
    """One lstm_unit step from non-zero memories: the gradient of (new short memory - label)^2 for
    each of the 12 parameters is the reference's, the terms of the memories it started from included
    (from zero memories, as forward starts, the first day's w..1 terms vanish)."""
    long, short = example.memories
    got_loss, got = implementation.unit_loss_and_grads(example.params, example.days[0], long, short, example.label)
    return compared(expected(_unit_gradients_expected, example, implementation),
                    [got_loss] + [got[name] for name in PARAM_NAMES])


def _unit_gradients_expected(example: Example, dtype: str) -> Expected:
    trace = reference.run(example.params, example.days[:1], *example.memories)
    return _gradients_expected(example, dtype, trace, prefix="one-day ")


def compared(expectations: Expected, got: list[float]) -> list[Comparison]:
    return [Comparison(quantity, value, found, tolerance)
            for (quantity, value, tolerance), found in zip(expectations, got, strict=True)]


REMEMBERED_LIMIT = 20_000  # examples times dtypes times properties: a few MB


def expected(of: Callable[..., Expected], example: Example, implementation, *more) -> Expected:
    """What the reference expects of this example in the implementation's dtype. An implementation
    with a `remembered` dict (the check's: handlstm check asks the same drawn examples of every file
    it grades) keeps it there; any other gets it computed afresh, so that a test that loosens a
    tolerance never sees, nor leaves behind, a bound computed with another."""
    dtype, remembered = implementation.dtype, getattr(implementation, "remembered", None)
    if remembered is None:
        return of(example, dtype, *more)
    key = (of.__name__, example.key, dtype, *more)
    found = remembered.get(key)
    if found is None:
        if len(remembered) >= REMEMBERED_LIMIT:
            remembered.clear()
        found = remembered[key] = of(example, dtype, *more)
    return found


def state_is_not_carried_over(implementation, example: Example) -> list[Comparison]:
    """forward gives the same answer again after other calls: nothing leaks between calls."""
    first = implementation.forward(example.params, example.days)
    # another sequence of the same length: a forward written for exactly four days accepts it
    implementation.forward(example.params, tuple(reversed(example.days[1:])) + (1.0,))
    implementation.loss_and_grads(example.params, example.days, example.label)
    again = implementation.forward(example.params, example.days)
    return [Comparison("final short memory, called again", first, again, 0.0)]


def gate_invariants(trace: reference.Trace) -> list[Comparison]:
    """Every gate value lies in [0, 1] (the candidate in [-1, 1]) and |h| <= 1, on every day."""
    checks = []
    for gate, low in (("forget", 0.0), ("input", 0.0), ("output", 0.0), ("candidate", -1.0)):
        values = getattr(trace, gate)
        outside = float(np.max(np.maximum(low - values, values - 1.0), initial=0.0))
        checks.append(Comparison(f"{gate} gate outside [{low:g}, 1] by", 0.0, max(outside, 0.0), 0.0))
    checks.append(Comparison("|short memory| above 1 by", 0.0,
                             max(float(np.max(np.abs(trace.short))) - 1.0, 0.0), 0.0))
    return checks


Property = Callable[[object, Example], list[Comparison]]
# what the reference expects for the properties that ask one thing per example
EXPECTATIONS = {"unit": _unit_expected, "forward": _forward_expected, "gradients": _gradients_expected,
                "unit_gradients": _unit_gradients_expected}
PROPERTIES: dict[str, Property] = {
    "unit": unit_agrees,
    "forward": forward_agrees,
    "gradients": gradients_agree,
    "unit_gradients": unit_gradients_agree,
    "state": state_is_not_carried_over,
}


# --- asserting ----------------------------------------------------------------------------------

def worst_ratio(comparisons: list[Comparison]) -> float:
    """The largest |error| / tolerance among the comparisons (the headroom left is 1 minus it)."""
    return max((c.ratio for c in comparisons), default=0.0)


def assert_agrees(name: str, comparisons: list[Comparison], example: Example, label: str | None = None) -> None:
    """Steer Hypothesis towards the worst error against its tolerance, and fail loudly."""
    __tracebackhide__ = True
    label = label or name
    _target(worst_ratio(comparisons), label)
    failed = [c for c in comparisons if not c.ok]
    if failed:
        raise PropertyFailure(name, example, failed)


def _target(worst: float, label: str) -> None:
    from hypothesis import target
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context() and math.isfinite(worst):
        target(worst, label=label)


# --- training ---------------------------------------------------------------------------------

TRAINING_STEPS = 6  # three epochs of the lesson's two samples: Adam's moments mix both companies


def training_agrees(implementation, example: Example) -> list[Comparison]:
    """Lightning training from the example's parameters on the lesson's data follows the
    reference's Adam loop: all 12 parameters after every optimizer step."""
    lr, got = implementation.train(example.params, TRAINING_STEPS)
    if lr is None:
        return [Comparison("optimizer is torch.optim.Adam (1 = yes)", 1.0, 0.0, 0.0)]
    if not lr > 0:  # nothing would move, in the reference either: no training to compare
        return [Comparison("Adam's learning rate is above 0 (1 = yes)", 1.0, 0.0, 0.0)]
    missing = {name: math.nan for name in PARAM_NAMES}
    return compared(expected(_training_expected, example, implementation, lr),
                    [float((got[step - 1] if step <= len(got) else missing)[name])
                     for step in range(1, TRAINING_STEPS + 1) for name in PARAM_NAMES])


def _training_expected(example: Example, dtype: str, lr: float) -> Expected:
    from .data import LABELS, SEQUENCES

    trajectory = reference.train(example.params, SEQUENCES, LABELS, lr, TRAINING_STEPS)
    tolerance = tolerances.trajectory_tolerance(example.params, trajectory, lr, dtype, SEQUENCES, LABELS)
    return tuple((f"{name} after step {step}", float(trajectory[step - 1][name]), float(tolerance[step - 1][name]))
                 for step in range(1, TRAINING_STEPS + 1) for name in PARAM_NAMES)


PROPERTIES["training"] = training_agrees
