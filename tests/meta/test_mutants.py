"""The properties can fail: each classic mistake, applied to a copy of the equations, is caught."""

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from handlstm import properties, reference, strategies
from handlstm.check.examples import count_for
from handlstm.check.options import EXAMPLES
from handlstm.gradient_mutants import gradient_mistakes, training_mistakes
from handlstm.implementations import ModuleImplementation
from handlstm.mutants import MutantImplementation, Mutation, classic_mistakes, day_patterns, hand_off_slips


@given(strategies.examples())
def test_the_unmutated_copy_is_the_reference_exactly(example):
    lesson = Mutation()
    long, short = example.memories
    trace = reference.run(example.params, example.days[:1], long, short)
    assert lesson.unit(example.params, example.days[0], long, short) == (trace.long[-1], trace.short[-1])
    assert lesson.forward(example.params, example.days) == reference.forward(example.params, example.days)


def caught_by_forward_properties(implementation, example) -> bool:
    return not all(comparison.ok for name in ("unit", "forward")
                   for comparison in properties.PROPERTIES[name](implementation, example))


def uncaught_after_drawing(mutations, strategy, max_examples: int) -> list[str]:
    """Draw examples until each mutation has been told from the lesson by one; what is left."""
    uncaught = {m.detail: MutantImplementation(m) for m in mutations}
    assert len(uncaught) == len(mutations)  # details name the mistakes one to one

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example):
        for detail, implementation in list(uncaught.items()):
            if caught_by_forward_properties(implementation, example):
                del uncaught[detail]

    draw()
    return sorted(uncaught)


def test_forward_properties_catch_every_classic_mistake():
    uncaught = uncaught_after_drawing(classic_mistakes(), strategies.examples(), 50)
    assert not uncaught, f"no drawn example tells these from the lesson's equations: {uncaught}"


def test_forward_properties_catch_every_misreading_of_four_days():
    uncaught = uncaught_after_drawing(day_patterns(4) + hand_off_slips(4), strategies.examples(4, 4), 20)
    assert not uncaught, f"no drawn example tells these from the lesson's equations: {uncaught}"


# --- gradient-only and training-only mistakes (handlstm/gradient_mutants.py) ---------------------

def caught_by(names: tuple[str, ...], implementation, example) -> bool:
    return not all(comparison.ok for name in names for comparison in properties.PROPERTIES[name](implementation, example))


def uncaught_by(names: tuple[str, ...], modules, strategy, max_examples: int) -> list[str]:
    """Draw examples until each mutant module fails one of the named properties; what is left."""
    uncaught = {m.detail: ModuleImplementation(m, dtype="float64") for m in modules}
    assert len(uncaught) == len(modules)

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example):
        for detail, implementation in list(uncaught.items()):
            if caught_by(names, implementation, example):
                del uncaught[detail]

    draw()
    return sorted(uncaught)


def test_gradient_and_training_mutants_compute_the_lessons_forward_values():
    modules = gradient_mistakes() + training_mistakes()
    assert uncaught_by(("unit", "forward"), modules, strategies.examples(), 20) == sorted(m.detail for m in modules)


def test_gradient_properties_catch_every_gradient_mistake():
    uncaught = uncaught_by(("gradients", "unit_gradients"), gradient_mistakes(), strategies.examples(), 60)
    assert not uncaught, f"no drawn example tells these from the lesson's gradients: {uncaught}"


def test_first_day_mistakes_are_caught_only_from_non_zero_memories():
    first_day = [m for m in gradient_mistakes() if "first-day term" in m.detail]
    assert first_day
    assert uncaught_by(("gradients",), first_day, strategies.examples(), 30) == sorted(m.detail for m in first_day)
    assert not uncaught_by(("unit_gradients",), first_day, strategies.examples(), 30)


# as many drawn parameter sets as `handlstm check` trains from (besides the lesson's own)
CHECKED_TRAININGS = count_for("training", EXAMPLES)


def test_the_training_property_catches_every_training_mistake():
    uncaught = uncaught_by(("training",), training_mistakes(), strategies.examples(), CHECKED_TRAININGS)
    assert not uncaught, f"Lightning training from drawn parameters does not show: {uncaught}"


def test_adam_that_cannot_move_is_not_training_that_agrees():
    """Adam with a learning rate of 0 moves nothing, and neither would the reference at that rate."""

    class StandsStill:
        dtype = "float64"

        def train(self, params, steps):
            return 0.0, [dict(params)] * steps

    example = strategies.lesson_examples()[0]
    assert not all(c.ok for c in properties.training_agrees(StandsStill(), example))


# --- with a margin: every catalog is still caught with every tolerance ten times looser ----------

MARGIN = 10  # how much looser than derived each tolerance may be while every mistake still shows
FAMILIES = ("forward_tolerance", "loss_tolerance", "gradient_tolerance", "trajectory_tolerance")


@pytest.fixture
def looser_tolerances(monkeypatch):
    from handlstm import tolerances

    def loosened(function):
        def looser(*args, **kwargs):
            bound = function(*args, **kwargs)
            if isinstance(bound, dict):
                return {name: MARGIN * value for name, value in bound.items()}
            if isinstance(bound, list):  # the trajectory: a bound per step and name
                return [{name: MARGIN * value for name, value in step.items()} for step in bound]
            return MARGIN * bound
        return looser

    for family in FAMILIES:
        monkeypatch.setattr(tolerances, family, loosened(getattr(tolerances, family)))


def test_every_forward_mistake_is_caught_with_a_margin(looser_tolerances):
    uncaught = uncaught_after_drawing(classic_mistakes(), strategies.examples(), 50)
    assert not uncaught, f"within {MARGIN} times the tolerance: {uncaught}"


def test_every_gradient_and_training_mistake_is_caught_with_a_margin(looser_tolerances):
    uncaught = uncaught_by(("gradients", "unit_gradients"), gradient_mistakes(), strategies.examples(), 60)
    uncaught += uncaught_by(("training",), training_mistakes(), strategies.examples(), CHECKED_TRAININGS)
    assert not uncaught, f"within {MARGIN} times the tolerance: {uncaught}"
