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

def unit_agrees(implementation, example: Example) -> list[Comparison]:
    """One lstm_unit step from non-zero memories gives the reference's new long and short memory."""
    long, short = example.memories
    trace = reference.run(example.params, example.days[:1], long, short)
    got_long, got_short = implementation.unit(example.params, example.days[0], long, short)
    return [
        Comparison("updated long memory", float(trace.long[-1]), got_long,
                   float(tolerances.forward_tolerance(trace, implementation.dtype, of="long"))),
        Comparison("updated short memory", float(trace.short[-1]), got_short,
                   float(tolerances.forward_tolerance(trace, implementation.dtype, of="short"))),
    ]


def forward_agrees(implementation, example: Example) -> list[Comparison]:
    """forward over the days, from zero memories, gives the reference's final short memory."""
    trace = reference.run(example.params, example.days)
    got = implementation.forward(example.params, example.days)
    return [Comparison("final short memory", float(trace.final_short), got,
                       float(tolerances.forward_tolerance(trace, implementation.dtype)))]


def gradients_agree(implementation, example: Example) -> list[Comparison]:
    """The gradient of (output - label)^2 for each of the 12 parameters is the reference's."""
    trace = reference.run(example.params, example.days)
    expected = reference.backward(trace, 2.0 * (trace.final_short - example.label)).params
    tolerance = tolerances.gradient_tolerance(trace, example.label, implementation.dtype)
    got_loss, got = implementation.loss_and_grads(example.params, example.days, example.label)
    loss = float((trace.final_short - example.label) ** 2)
    loss_tolerance = float(tolerances.loss_tolerance(trace, example.label, implementation.dtype))
    return [Comparison("loss", loss, got_loss, loss_tolerance)] + [
        Comparison(f"d loss / d {name}", float(expected[name]), got[name], float(tolerance[name]))
        for name in PARAM_NAMES]


def unit_gradients_agree(implementation, example: Example) -> list[Comparison]:
    """One lstm_unit step from non-zero memories: the gradient of (new short memory - label)^2 for
    each of the 12 parameters is the reference's, the terms of the memories it started from included
    (from zero memories, as forward starts, the first day's w..1 terms vanish)."""
    long, short = example.memories
    trace = reference.run(example.params, example.days[:1], long, short)
    expected = reference.backward(trace, 2.0 * (trace.final_short - example.label)).params
    tolerance = tolerances.gradient_tolerance(trace, example.label, implementation.dtype)
    got_loss, got = implementation.unit_loss_and_grads(example.params, example.days[0], long, short, example.label)
    loss = float((trace.final_short - example.label) ** 2)
    loss_tolerance = float(tolerances.loss_tolerance(trace, example.label, implementation.dtype))
    return [Comparison("one-day loss", loss, got_loss, loss_tolerance)] + [
        Comparison(f"one-day d loss / d {name}", float(expected[name]), got[name], float(tolerance[name]))
        for name in PARAM_NAMES]


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
    from .data import LABELS, SEQUENCES

    lr, got = implementation.train(example.params, TRAINING_STEPS)
    if lr is None:
        return [Comparison("optimizer is torch.optim.Adam (1 = yes)", 1.0, 0.0, 0.0)]
    expected = reference.train(example.params, SEQUENCES, LABELS, lr, TRAINING_STEPS)
    tolerance = tolerances.trajectory_tolerance(example.params, expected, lr, implementation.dtype,
                                                SEQUENCES, LABELS)
    missing = {name: math.nan for name in PARAM_NAMES}
    return [Comparison(f"{name} after step {step}", float(expected[step - 1][name]),
                       float((got[step - 1] if step <= len(got) else missing)[name]),
                       tolerance[step - 1][name])
            for step in range(1, TRAINING_STEPS + 1) for name in PARAM_NAMES]


PROPERTIES["training"] = training_agrees
