"""The three implementations agree: the hand module, the mapped nn.LSTM and the NumPy reference."""

import pytest
import torch
from helpers import agrees
from hypothesis import example, given

from handlstm import properties, reference, strategies
from handlstm.implementations import ModuleImplementation, TorchLSTMImplementation
from handlstm.model import LSTMByHand, LSTMbyHand
from handlstm.strategies import Example
from handlstm.torch_lstm import from_torch_lstm, to_torch_lstm

LESSON = strategies.lesson_examples()
IMPLEMENTATIONS = {
    "LSTMByHand": lambda dtype: ModuleImplementation(LSTMByHand(), dtype=dtype),
    "nn.LSTM": lambda dtype: TorchLSTMImplementation(dtype),
}


@pytest.fixture(scope="module", params=[(s, d) for s in IMPLEMENTATIONS for d in ("float64", "float32")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def implementation(request):
    name, dtype = request.param
    return IMPLEMENTATIONS[name](dtype)


def check(name: str, implementation, example: Example) -> None:
    __tracebackhide__ = True
    agrees(name, properties.PROPERTIES[name](implementation, example), example,
                             label=f"{name} [{implementation.name} {implementation.dtype}]")


@given(strategies.examples())
@example(LESSON[0])
@example(LESSON[1])
def test_one_step_matches_reference_from_any_memories(implementation, example: Example):
    check("unit", implementation, example)


@given(strategies.examples())
@example(LESSON[0])
@example(LESSON[1])
def test_forward_matches_reference_for_any_parameters_and_days(implementation, example: Example):
    check("forward", implementation, example)


@given(strategies.examples())
@example(LESSON[0])
@example(LESSON[1])
def test_gradients_match_reference_for_any_parameters(implementation, example: Example):
    check("gradients", implementation, example)


@given(strategies.examples())
@example(LESSON[0])
def test_one_step_gradients_match_reference_from_any_memories(implementation, example: Example):
    check("unit_gradients", implementation, example)


@given(strategies.examples())
def test_gates_stay_in_range_and_short_memory_below_one(example: Example):
    trace = reference.run(example.params, example.days, *example.memories)
    agrees("gate ranges", properties.gate_invariants(trace), example)


@given(strategies.params(), strategies.days(max_days=6))
def test_hand_module_passes_gradcheck_in_float64(params, days):
    module = ModuleImplementation(LSTMByHand(), dtype="float64")
    module.set_params(params)
    names = reference.PARAM_NAMES
    inputs = torch.tensor(days, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module.module, (inputs,))
    # the parameters too: gradcheck over a functional call with the 12 values as inputs
    values = tuple(torch.tensor(params[n], dtype=torch.float64, requires_grad=True) for n in names)
    functional = lambda *v: torch.func.functional_call(
        module.module, dict(zip(names, v)), (inputs.detach(),))
    assert torch.autograd.gradcheck(functional, values)


@given(strategies.params())
def test_mapping_round_trips_both_ways(params):
    lstm = to_torch_lstm(params)
    assert from_torch_lstm(lstm) == pytest.approx(params, rel=0, abs=0)
    assert from_torch_lstm(to_torch_lstm(from_torch_lstm(lstm))) == from_torch_lstm(lstm)
    module = LSTMByHand().double()
    assert from_torch_lstm(to_torch_lstm(module)) == {
        name: float(getattr(module, name).detach()) for name in reference.PARAM_NAMES}


def test_nn_lstm_biases_are_merged_when_mapping_back():
    lstm = torch.nn.LSTM(1, 1).double()
    mapped = from_torch_lstm(lstm)
    with torch.no_grad():
        assert mapped["bpr1"] == float(lstm.bias_ih_l0[0] + lstm.bias_hh_l0[0])
        assert mapped["bo1"] == float(lstm.bias_ih_l0[3] + lstm.bias_hh_l0[3])


def test_hand_module_is_the_lessons_module():
    torch.manual_seed(0)
    module = LSTMbyHand()
    values = {n: float(getattr(module, n).detach()) for n in reference.PARAM_NAMES}
    assert sorted(n for n, _ in module.named_parameters()) == sorted(reference.PARAM_NAMES)
    assert all(p.shape == () and p.requires_grad for p in module.parameters())
    assert all(values[n] == 0.0 for n in reference.PARAM_NAMES if n.startswith("b"))
    assert all(values[n] != 0.0 for n in reference.PARAM_NAMES if n.startswith("w"))


def test_batched_forward_matches_one_at_a_time():
    module = LSTMByHand().double()
    days = torch.randn(5, 7, dtype=torch.float64)
    batched = module(days)
    assert batched.shape == (5,)
    for row in range(5):
        assert torch.equal(batched[row], module(days[row]))
