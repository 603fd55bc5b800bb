"""Diagnosis names each classic mistake from behaviour alone: mutants of the equations for the
forward-level mistakes, in-process modules for the gradient, training and state mistakes."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from handlstm.reference import GATE_PARAMS, PARAM_NAMES

from handlstm import reference, tolerances
from handlstm.check import diagnose as diagnosis
from handlstm.check.diagnose import CATALOG, diagnose, thresholds
from handlstm.check.diagnose.forward import _where_it_differs as where_it_differs
from handlstm.check.diagnose.probes import predictions, probe
from handlstm.implementations import ModuleImplementation
from handlstm.model import LSTMByHand
from handlstm.mutants import (
    MutantImplementation,
    Mutation,
    classic_mistakes,
    combine,
    day_patterns,
    hand_off_slips,
)

FORWARD_FAILS = {"forward": {"id": "forward", "status": "fail"}}
MISTAKES = classic_mistakes()


def first(found: list[dict]) -> dict:
    assert found and all(d["id"] in CATALOG for d in found), found
    return found[0]


def brief(diagnosis: dict) -> dict:
    """What a diagnosis names (the gate, parameters and location are tested where they matter)."""
    return {"id": diagnosis["id"], "detail": diagnosis["detail"]}


# --- forward-level mistakes: which mutation reproduces the numbers -------------------------------

@pytest.mark.parametrize("mistake", sorted({m.id for m in MISTAKES}))
def test_every_classic_mistake_is_named_first(mistake):
    wrong = []
    for mutation in (m for m in MISTAKES if m.id == mistake):
        found = diagnose(MutantImplementation(mutation), FORWARD_FAILS, {})
        if first(found)["id"] != mistake or (mistake == "unknown" and found[0]["detail"] != mutation.detail):
            wrong.append((mutation.detail, found))
    assert not wrong


def test_every_way_of_misreading_four_days_is_a_sequence_order_mistake():
    patterns = day_patterns(4)
    wrong = [(m.detail, found) for m in patterns[::7]
             if first(found := diagnose(MutantImplementation(m), FORWARD_FAILS, {}))["id"] != "sequence-order"]
    assert not wrong


def test_a_day_given_a_wrong_memory_by_hand_is_a_state_not_carried_mistake():
    wrong = [(m.detail, found) for m in hand_off_slips(4)
             if brief((found := diagnose(MutantImplementation(m), FORWARD_FAILS, {}))[0]) != {"id": m.id,
                                                                                       "detail": m.detail}]
    assert not wrong


def test_a_copy_paste_slip_says_which_parameter_is_misused_where():
    found = diagnose(MutantImplementation(Mutation(uses={"wlr1": "wpr1"})), FORWARD_FAILS, {})
    assert found == [{"id": "weights-swapped", "detail": "wpr1 used where wlr1 belongs (forget gate)",
                      "gate": "forget", "parameters": ["wpr1", "wlr1"], "location": None}]


def test_memories_starting_at_any_constant_are_an_initial_state_mistake():
    found = diagnose(MutantImplementation(Mutation(initial=(0.3, -0.2))), FORWARD_FAILS, {})
    assert first(found)["id"] == "initial-state"
    assert "long=0.3, short=-0.2" in found[0]["detail"]


def named(detail: str) -> Mutation:
    return next(m for m in MISTAKES if m.detail == detail)


@pytest.mark.parametrize("a, b", [
    ("tanh instead of sigmoid in the forget gate", "bp1 used where bo1 belongs (output gate)"),
    ("relu instead of sigmoid in the input gate", "c' = c + i*g instead of c' = c*f + i*g"),
    ("forward returns the long memory", "wpr1 used where wlr1 belongs (forget gate)"),
    ("h' = c' * o (tanh missing)", "days reversed"),
], ids=str)
def test_two_mistakes_at_once_are_both_named(a, b):
    both = combine(named(a), named(b))
    assert both is not None
    found = diagnose(MutantImplementation(both), FORWARD_FAILS, {})
    assert [d["detail"] for d in found] == [a, b]


def test_a_mistake_outside_the_catalog_is_unknown():
    class HalfShort(MutantImplementation):
        def unit(self, params, x, long, short):
            new_long, new_short = super().unit(params, x, long, short)
            return new_long, 0.5 * new_short

    found = diagnose(HalfShort(Mutation()), FORWARD_FAILS, {})
    assert [d["id"] for d in found] == ["unknown"]
    assert "short memory" in found[0]["detail"]


class HalvedGate(MutantImplementation):
    """The lesson's lstm_unit with one gate's value halved: no catalog mistake, confined to one gate."""

    def __init__(self, gate: str):
        super().__init__(Mutation())
        self.gate = gate

    def unit(self, params, x, long, short):
        gates = {gate: (reference.sigmoid if gate != "candidate" else np.tanh)(
            short * params[w_short] + x * params[w_x] + params[bias])
            for gate, (w_short, w_x, bias) in GATE_PARAMS.items()}
        gates[self.gate] = 0.5 * gates[self.gate]
        new_long = long * gates["forget"] + gates["input"] * gates["candidate"]
        return float(new_long), float(np.tanh(new_long) * gates["output"])


@pytest.mark.parametrize("gate, where", [("forget", "term c*f"), ("input", "term i*g"),
                                         ("candidate", "term i*g"), ("output", "output gate")])
def test_a_mistake_outside_the_catalog_is_located_in_lstm_unit(gate, where):
    implementation = HalvedGate(gate)
    assert where in where_it_differs(implementation, probe(implementation), lesson_unit=False)


def test_a_mistake_outside_the_catalog_is_unknown_and_located():
    found = diagnose(HalvedGate("candidate"), FORWARD_FAILS, {})
    assert [d["id"] for d in found] == ["unknown"] and "term i*g" in found[0]["detail"]


def test_a_float32_learner_is_diagnosed_like_a_float64_one():
    for mutation in MISTAKES[::5]:
        module = MutantModule(mutation)
        found = diagnose(ModuleImplementation(module, dtype="float32", unit_call=MutantModule.unit_call),
                         FORWARD_FAILS, {})
        assert first(found)["id"] == mutation.id, (mutation.detail, found)


def test_diagnosis_asks_the_implementation_only_a_few_dozen_questions():
    counting = CountingImplementation(MutantImplementation(MISTAKES[0]))
    diagnose(counting, FORWARD_FAILS, {})
    assert counting.calls <= 40


# --- the match tolerance: both margins measured ----------------------------------------------------

def test_match_tolerance_keeps_float32_inside_and_different_mistakes_outside():
    probes = probe(MutantImplementation(Mutation()))
    pool = MISTAKES + day_patterns(4) + hand_off_slips(4)
    predicted = np.array([predictions(m, probes) for m in pool])
    as_float32 = replace(
        probes, unit_params={n: v.astype(np.float32) for n, v in probes.unit_params.items()},
        unit_inputs=tuple(v.astype(np.float32) for v in probes.unit_inputs),
        forward_params={n: v.astype(np.float32) for n, v in probes.forward_params.items()},
        forward_days=probes.forward_days.astype(np.float32))
    in_float32 = np.array([predictions(m, as_float32) for m in pool])
    tolerance = thresholds.match_tolerance(predicted, "float32")
    assert np.max(np.abs(in_float32 - predicted) / tolerance) < 0.01
    closest = min(np.max(np.abs(predicted[i] - predicted[j]) / tolerance[i])
                  for i, j in itertools.combinations(range(len(pool)), 2) if pool[i].id != pool[j].id)
    assert closest > 10


def test_the_derived_float32_rounding_bound_is_a_tenth_of_the_match_tolerance_on_every_probe():
    probes = probe(MutantImplementation(Mutation()))
    x, long, short = probes.unit_inputs
    one_day = reference.run(probes.unit_params, x[:, None], long, short)
    four_days = reference.run(probes.forward_params, probes.forward_days)
    for trace, of, value in ((one_day, "long", one_day.long[:, -1]), (one_day, "short", one_day.short[:, -1]),
                             (four_days, "short", four_days.final_short)):
        bound = tolerances.forward_tolerance(trace, "float32", of=of)
        assert np.all(bound <= 0.1 * thresholds.match_tolerance(value, "float32"))


# --- gradients, parameters, optimizer, loss, state ----------------------------------------------

def results(**statuses: str) -> dict:
    checks = dict.fromkeys(("forward", "gradients", "training", "state"), "pass") | statuses
    return {name: {"id": name, "status": status} for name, status in checks.items()}


def facts(**changes) -> dict:
    """The child's facts for the lesson's own module, with some parameters' entries changed."""
    parameters = {n: {"attribute": n, "found": True, "is_parameter": True, "registered": True,
                      "requires_grad": True, "in_optimizer": True} for n in PARAM_NAMES}
    for name, change in changes.items():
        parameters[name] |= change
    return {"parameters": parameters, "optimizer": {"class": "Adam", "lr": 0.001, "error": None},
            "training_step": {"returns_loss": True, "returned": "tensor", "error": None}}


class DetachedMemories(LSTMByHand):
    def lstm_unit(self, input_value, long_memory, short_memory):
        return super().lstm_unit(input_value, long_memory.detach(), short_memory.detach())


class ItemRewrapped(LSTMByHand):
    def forward(self, input):
        return torch.tensor(super().forward(input).item(), dtype=input.dtype, requires_grad=True)


class AbsoluteLoss(LSTMByHand):
    def training_step(self, batch, batch_idx):
        inputs, labels = batch
        return torch.abs(self(inputs[0]) - labels[0])


class ForgetGateNotOptimized(LSTMByHand):
    def configure_optimizers(self):
        return torch.optim.Adam([p for n, p in self.named_parameters() if n not in ("wlr1", "wlr2", "blr1")])


class KeepsMemories(LSTMByHand):
    def forward(self, input):
        if not hasattr(self, "memories"):
            self.memories = (torch.zeros((), dtype=input.dtype),) * 2
        long, short = self.memories
        for day in input:
            long, short = self.lstm_unit(day, long, short)
        self.memories = (long.detach(), short.detach())
        return short


class RandomStart(LSTMByHand):
    def forward(self, input):
        long, short = torch.randn((), dtype=input.dtype), torch.zeros((), dtype=input.dtype)
        for day in input:
            long, short = self.lstm_unit(day, long, short)
        return short


def implementation(module_class, dtype="float64") -> ModuleImplementation:
    torch.manual_seed(0)
    return ModuleImplementation(module_class(), dtype=dtype)


@pytest.mark.parametrize("module_class", [DetachedMemories, ItemRewrapped])
def test_right_forward_with_wrong_gradients_is_gradient_blocked(module_class):
    found = diagnose(implementation(module_class), results(gradients="fail", training="fail"), facts())
    assert first(found)["id"] == "gradient-blocked"


def test_memories_detached_between_days_are_named_as_such():
    found = diagnose(implementation(DetachedMemories), results(gradients="fail"), facts())
    assert "between days" in found[0]["detail"]


def test_parameters_without_gradient_are_named_from_the_facts():
    frozen = diagnose(implementation(LSTMByHand), results(gradients="fail"), facts(bo1={"requires_grad": False}))
    assert brief(first(frozen)) == {"id": "parameter-not-trainable", "detail": "bo1: requires_grad is off"}
    assert first(frozen)["parameters"] == ["bo1"]
    plain = diagnose(implementation(LSTMByHand), results(training="fail"),
                     facts(bp1={"is_parameter": False, "registered": False, "requires_grad": False,
                                "in_optimizer": False}))
    assert first(plain)["id"] == "parameter-not-registered"
    assert [d["id"] for d in plain] == ["parameter-not-registered"]  # not also optimizer-params


def test_an_optimizer_that_misses_parameters_is_named_from_the_facts_or_from_training():
    told = diagnose(implementation(ForgetGateNotOptimized), results(training="fail"),
                    facts(**{n: {"in_optimizer": False} for n in ("wlr1", "wlr2", "blr1")}))
    assert first(told)["detail"] == "the optimizer does not update wlr1, wlr2, blr1 (the whole forget gate)"
    seen = diagnose(implementation(ForgetGateNotOptimized), results(training="fail"), {})
    assert brief(first(seen)) == {"id": "optimizer-params",
                                  "detail": "wlr1, wlr2, blr1 (the whole forget gate) never change in training"}


def test_a_wrong_loss_is_named_from_how_training_moves_the_parameters():
    found = diagnose(implementation(AbsoluteLoss), results(training="fail"), facts())
    assert brief(first(found)) == {"id": "loss-function", "detail": "the loss is |output - label|"}


def test_a_training_step_without_a_loss_is_named_from_the_facts():
    no_loss = facts()
    no_loss["training_step"] = {"returns_loss": False, "returned": "None", "error": None}
    found = diagnose(implementation(LSTMByHand), results(training="fail"), no_loss)
    assert brief(first(found)) == {"id": "loss-function", "detail": "training_step returns nothing, not the loss"}


def test_memories_kept_between_calls_are_a_state_leak():
    found = diagnose(implementation(KeepsMemories), results(forward="fail", state="fail"), facts())
    assert first(found)["id"] == "state-leak"
    assert first(found)["detail"].startswith("both memories carried over from the previous call")


def test_random_starting_memories_are_an_initial_state_mistake():
    found = diagnose(implementation(RandomStart), results(forward="fail", state="fail"), facts())
    assert [d["id"] for d in found] == ["initial-state", "state-leak"]


def test_a_subject_that_raises_on_some_questions_is_still_diagnosed():
    class NoUnit(MutantImplementation):
        def unit(self, *args):
            raise RuntimeError("lstm_unit takes no memories")

    found = diagnose(NoUnit(Mutation(returns="long")), FORWARD_FAILS, {})
    assert first(found)["id"] == "returns-long-memory"


def test_every_catalog_id_has_a_hint_and_a_section_in_the_docs():
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "mistakes.md").read_text()
    for mistake in CATALOG:
        assert diagnosis.hint(mistake)
        assert f"`{mistake}`" in doc


# --- helpers --------------------------------------------------------------------------------------

def strategies_lesson_params() -> dict[str, float]:
    from handlstm.strategies import lesson_examples

    return dict(lesson_examples()[0].params, wlr1=0.7, bo1=-0.3)  # distinct, non-zero values

class MutantModule(torch.nn.Module):
    """A mutation as a torch module with the 12 parameters, to be run in float32 by ModuleImplementation."""

    def __init__(self, mutation: Mutation):
        super().__init__()
        self.mutation = mutation
        for name in PARAM_NAMES:
            setattr(self, name, torch.nn.Parameter(torch.tensor(0.0)))

    def values(self):
        return {n: getattr(self, n).detach().numpy() for n in PARAM_NAMES}

    @staticmethod
    def unit_call(module, x, long, short):
        new_long, new_short = module.mutation.unit(module.values(), x.numpy(), long.numpy(), short.numpy())
        return torch.tensor(np.float32(new_long)), torch.tensor(np.float32(new_short))

    def forward(self, days):
        return torch.tensor(np.float32(self.mutation.forward(self.values(), days.numpy())))


class CountingImplementation:
    def __init__(self, inner):
        self.inner, self.calls, self.dtype = inner, 0, inner.dtype

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def counted(*args):
            self.calls += 1
            return method(*args)
        return counted


def test_helpers_compute_the_lesson_when_unmutated():
    module = MutantModule(Mutation())
    with torch.no_grad():
        for name, value in strategies_lesson_params().items():
            getattr(module, name).fill_(value)
    days = torch.tensor([0.5, 0.25])
    trace = reference.run(module.values(), days.numpy())
    error = abs(float(module(days)) - float(trace.final_short))
    assert error <= float(tolerances.forward_tolerance(trace, "float32")) and trace.final_short != 0.0


def test_a_forward_check_that_ran_out_of_time_does_not_hide_a_gradient_mistake():
    found = diagnose(implementation(DetachedMemories), results(forward="error", gradients="fail"), facts())
    assert first(found)["id"] == "gradient-blocked"


def test_a_forward_that_gives_no_number_is_unknown_and_says_so():
    class NoForward(MutantImplementation):
        def forward(self, params, days):
            raise RuntimeError("forward returned list, not a tensor")

    found = diagnose(NoForward(Mutation()), FORWARD_FAILS, {})
    assert [brief(d) for d in found] == [{"id": "unknown",
                                          "detail": "lstm_unit is right, but forward gives no number for four days"}]
