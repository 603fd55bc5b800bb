"""Classic mistakes, applied to one configurable copy of the lesson's equations (NumPy float64).

The mutation self-test proves the properties can fail, and diagnosis names a learner's mistake
by finding the mutation that reproduces their numbers. `Mutation()` with no changes computes the
reference exactly (a test proves it), so every difference is the named mistake and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from reference import GATE_PARAMS, GATES, PARAM_NAMES, sigmoid

ACTIVATIONS = {"sigmoid": sigmoid, "tanh": np.tanh, "identity": lambda z: z,
               "relu": lambda z: np.maximum(z, 0.0)}
LESSON_ACTIVATION = {"forget": "sigmoid", "input": "sigmoid", "candidate": "tanh", "output": "sigmoid"}


@dataclass(frozen=True)
class Mutation:
    """One mistake (or none). Each field left at its default is the lesson's equation."""

    id: str = "none"  # the catalog id this mistake belongs to
    detail: str = "the lesson's equations"
    activations: Mapping[str, str] = field(default_factory=dict)  # gate -> activation used instead
    cell_output: str = "tanh"  # h' = cell_output(c') * o
    uses: Mapping[str, str] = field(default_factory=dict)  # lesson name -> name used in its place
    gate_roles: Mapping[str, str] = field(default_factory=dict)  # gate -> gate whose value is used
    cell_update: str = "c*f + i*g"
    returns: str = "short"  # which memory forward returns
    carries: tuple[bool, bool] = (True, True)  # (long, short) passed on between days
    initial: tuple[float, float] = (0.0, 0.0)  # forward's starting (long, short)
    order: str = "in order"  # how forward walks the days

    def unit(self, p: Mapping[str, float], x, long, short):
        """One day: (updated long memory, updated short memory)."""
        values = {name: p[self.uses.get(name, name)] for name in PARAM_NAMES}
        gates = {}
        for gate in GATES:
            w_short, w_x, bias = (values[n] for n in GATE_PARAMS[gate])
            activation = ACTIVATIONS[self.activations.get(gate, LESSON_ACTIVATION[gate])]
            gates[gate] = activation(short * w_short + x * w_x + bias)
        f, i, g, o = (gates[self.gate_roles.get(gate, gate)] for gate in GATES)
        new_long = {
            "c*f + i*g": lambda: long * f + i * g,
            "c + i*g": lambda: long + i * g,
            "c*f + g": lambda: long * f + g,
            "c*f + i": lambda: long * f + i,
            "c*i + f*g": lambda: long * i + f * g,
            "(c + i*g)*f": lambda: (long + i * g) * f,
        }[self.cell_update]()
        return new_long, ACTIVATIONS[self.cell_output](new_long) * o

    def days_seen(self, days):
        days = list(days)
        return {"in order": days, "reversed": days[::-1], "skip first": days[1:],
                "skip last": days[:-1], "first repeated": days[:1] + days}[self.order]

    def forward(self, p: Mapping[str, float], days) -> float:
        long, short = self.initial
        for x in self.days_seen(days):
            new_long, new_short = self.unit(p, x, long, short)
            long = new_long if self.carries[0] else self.initial[0]
            short = new_short if self.carries[1] else self.initial[1]
            last = (new_long, new_short)
        if not self.days_seen(days):
            return float(self.initial[1])
        return float(last[0] if self.returns == "long" else last[1])


class MutantSubject:
    """A mutation as a subject of the properties (forward-level only: no gradients)."""

    dtype = "float64"

    def __init__(self, mutation: Mutation):
        self.mutation, self.name = mutation, f"mutant: {mutation.detail}"

    def unit(self, params, x, long, short):
        new_long, new_short = self.mutation.unit(params, x, long, short)
        return float(new_long), float(new_short)

    def forward(self, params, days):
        return self.mutation.forward(params, days)


def _swap(a: str, b: str) -> dict[str, str]:
    return {a: b, b: a}


def classic_mistakes() -> list[Mutation]:
    """The mistakes learners make most, each a single change to the lesson's equations."""
    mistakes = []
    for gate, lesson in LESSON_ACTIVATION.items():
        wrong = "tanh" if lesson == "sigmoid" else "sigmoid"
        mistakes.append(Mutation(f"{gate}-gate-activation" if gate != "candidate" else "candidate-activation",
                                 f"{wrong} instead of {lesson} in the {gate} gate", activations={gate: wrong}))
    mistakes += [
        Mutation("cell-output-activation", "h' = c' * o (tanh missing)", cell_output="identity"),
        Mutation("cell-output-activation", "h' = sigmoid(c') * o", cell_output="sigmoid"),
    ]
    for gate in GATES:
        w_short, w_x, _ = GATE_PARAMS[gate]
        mistakes.append(Mutation("weights-swapped", f"{w_short} and {w_x} exchanged", uses=_swap(w_short, w_x)))
    for a, b in (("forget", "input"), ("forget", "output"), ("input", "output"), ("candidate", "output")):
        mistakes.append(Mutation("gates-swapped", f"{a} and {b} gates exchanged", gate_roles=_swap(a, b)))
    for update in ("c + i*g", "c*f + g", "c*f + i", "c*i + f*g", "(c + i*g)*f"):
        mistakes.append(Mutation("cell-update", f"c' = {update}", cell_update=update))
    mistakes += [
        Mutation("returns-long-memory", "forward returns the long memory", returns="long"),
        Mutation("state-not-carried", "short memory not passed on", carries=(True, False)),
        Mutation("state-not-carried", "long memory not passed on", carries=(False, True)),
        Mutation("initial-state", "memories start at 1", initial=(1.0, 1.0)),
        Mutation("sequence-order", "first day skipped", order="skip first"),
        Mutation("sequence-order", "last day skipped", order="skip last"),
        Mutation("sequence-order", "days reversed", order="reversed"),
        Mutation("sequence-order", "first day repeated", order="first repeated"),
    ]
    # copy-paste index slips: one gate uses another gate's parameter in the same slot
    for gate in GATES:
        for other in GATES:
            if other != gate:
                for slot in range(3):
                    mine, theirs = GATE_PARAMS[gate][slot], GATE_PARAMS[other][slot]
                    mistakes.append(Mutation("parameter-slip", f"{theirs} used where {mine} belongs",
                                             uses={mine: theirs}))
    return mistakes
