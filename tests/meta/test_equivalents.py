"""The dual of the mutation self-test: every equivalent rewrite of the lesson's equations passes
every property, in float64 and float32 (handlstm/equivalents.py). With tests/meta/test_mutants.py this
pins the tolerances from both sides: loose enough for every sound formula, tight enough for every
mistake."""

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from handlstm import properties, strategies
from handlstm.equivalents import equivalent_rewrites, unstable_rewrites
from handlstm.implementations import ModuleImplementation

VALUE_PROPERTIES = ("unit", "forward", "gradients", "unit_gradients", "state")


def failures(modules, names: tuple[str, ...], dtype: str, max_examples: int) -> list[str]:
    """Each rewrite's first failing comparison over the drawn examples, as one line."""
    implementations = {m.detail: ModuleImplementation(m, dtype=dtype) for m in modules}
    assert len(implementations) == len(modules)  # details name the rewrites one to one
    expectations: dict = {}  # the reference's, computed once per example for every rewrite (this call's own)
    for implementation in implementations.values():
        implementation.remembered = expectations
    failed: dict[str, str] = {}

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategies.examples())
    def draw(example):
        for detail, implementation in implementations.items():
            for name in names:
                bad = [c for c in properties.PROPERTIES[name](implementation, example) if not c.ok]
                if bad and detail not in failed:
                    c = bad[0]
                    failed[detail] = (f"{detail}: {name}: {c.quantity} {c.got!r} vs {c.expected!r}, "
                                      f"|error| {c.error:.3g} > {c.tolerance:.3g}")

    draw()
    return sorted(failed.values())


def test_the_catalog_has_at_least_fifteen_rewrites():
    assert len(equivalent_rewrites()) >= 15


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_equivalent_rewrite_passes_every_value_property(dtype):
    assert not failures(equivalent_rewrites() + unstable_rewrites(), VALUE_PROPERTIES, dtype, 40)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_equivalent_rewrite_trains_as_the_lesson_does(dtype):
    assert not failures(equivalent_rewrites(), ("training",), dtype, 1)


def test_the_unstable_rewrites_are_unstable_outside_the_drawn_range():
    import math

    import torch

    for module in unstable_rewrites():
        inside = strategies.LARGEST_GATE_SUM
        assert all(math.isfinite(float(f(torch.tensor(z, dtype=torch.float32))))
                   for f in (module.sigmoid, module.tanh) for z in (inside, -inside))
        assert not all(math.isfinite(float(f(torch.tensor(z, dtype=torch.float32))))
                       for f in (module.sigmoid, module.tanh) for z in (1000.0, -1000.0))
