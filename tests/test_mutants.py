"""The properties can fail: each classic mistake, applied to a copy of the equations, is caught."""

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample

import reference
from handlstm import properties, strategies
from handlstm.mutants import MutantSubject, Mutation, classic_mistakes


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


@pytest.mark.parametrize("mutation", classic_mistakes(), ids=lambda m: f"{m.id}: {m.detail}")
def test_forward_properties_catch_the_mistake(mutation):
    subject = MutantSubject(mutation)
    try:
        find(strategies.examples(), lambda example: caught_by_forward_properties(subject, example),
             settings=settings(max_examples=200, database=None, derandomize=True, phases=[Phase.generate],
                               suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        pytest.fail(f"no drawn example tells '{mutation.detail}' from the lesson's equations")
