"""The properties can fail: each classic mistake, applied to a copy of the equations, is caught."""

from hypothesis import HealthCheck, Phase, given, settings

import reference
from handlstm import properties, strategies
from handlstm.mutants import MutantSubject, Mutation, classic_mistakes, day_patterns, hand_off_slips


@given(strategies.examples())
def test_the_unmutated_copy_is_the_reference_exactly(example):
    lesson = Mutation()
    long, short = example.memories
    trace = reference.run(example.params, example.days[:1], long, short)
    assert lesson.unit(example.params, example.days[0], long, short) == (trace.long[-1], trace.short[-1])
    assert lesson.forward(example.params, example.days) == reference.forward(example.params, example.days)


def caught_by_forward_properties(subject, example) -> bool:
    return not all(comparison.ok for name in ("unit", "forward")
                   for comparison in properties.PROPERTIES[name](subject, example))


def uncaught_after_drawing(mutations, strategy, max_examples: int) -> list[str]:
    """Draw examples until each mutation has been told from the lesson by one; what is left."""
    uncaught = {m.detail: MutantSubject(m) for m in mutations}
    assert len(uncaught) == len(mutations)  # details name the mistakes one to one

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example):
        for detail, subject in list(uncaught.items()):
            if caught_by_forward_properties(subject, example):
                del uncaught[detail]

    draw()
    return sorted(uncaught)


def test_forward_properties_catch_every_classic_mistake():
    uncaught = uncaught_after_drawing(classic_mistakes(), strategies.examples(), 50)
    assert not uncaught, f"no drawn example tells these from the lesson's equations: {uncaught}"


def test_forward_properties_catch_every_misreading_of_four_days():
    uncaught = uncaught_after_drawing(day_patterns(4) + hand_off_slips(4), strategies.examples(4, 4), 20)
    assert not uncaught, f"no drawn example tells these from the lesson's equations: {uncaught}"
