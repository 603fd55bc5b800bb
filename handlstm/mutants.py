"""Classic mistakes, applied to one configurable copy of the lesson's equations (NumPy).

The mutation self-test proves the properties can fail, and diagnosis names a learner's mistake
by finding the mutation that reproduces their numbers. `Mutation()` with no changes computes the
reference exactly (a test proves it), so every difference is the named mistake and nothing else.
Every array broadcasts, so one call evaluates a mutation on many probes at once.

Copy-paste slips (one gate reading another gate's weight or bias, or its own other weight) carry
the catalog id `weights-swapped`: the catalog's one id for "a gate multiplies by the wrong
parameter"; the detail names the parameter misused and where. A term left out altogether (a
missing bias or weight) and gates reading the long memory fit no catalog id: they are `unknown`
with a detail that still says exactly what is wrong (docs/mistakes.md).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from handlstm.reference import GATE_PARAMS, GATES, PARAM_NAMES, sigmoid

ACTIVATIONS = {  # the squashing functions learners reach for, by torch's names
    "sigmoid": sigmoid, "tanh": np.tanh, "identity": lambda z: z, "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "hardsigmoid": lambda z: np.clip(z / 6 + 0.5, 0.0, 1.0), "hardtanh": lambda z: np.clip(z, -1.0, 1.0),
    "softsign": lambda z: z / (1 + np.abs(z)), "softplus": lambda z: np.logaddexp(0.0, z),
}
LESSON_ACTIVATION = {"forget": "sigmoid", "input": "sigmoid", "candidate": "tanh", "output": "sigmoid"}
GATE_OF = {name: gate for gate, names in GATE_PARAMS.items() for name in names}
CONSTANTS = {"0": 0.0, "1": 1.0}  # `uses` may put a constant where a parameter belongs (a term left out)

# c' from the old long memory c, the old short memory h and the gate values f, i, g
CELL_UPDATES = {
    "c*f + i*g": lambda c, h, f, i, g: c * f + i * g,
    "c + i*g": lambda c, h, f, i, g: c + i * g,
    "c*f + g": lambda c, h, f, i, g: c * f + g,
    "c*f + i": lambda c, h, f, i, g: c * f + i,
    "c*f": lambda c, h, f, i, g: c * f,
    "i*g": lambda c, h, f, i, g: i * g + 0.0 * c,
    "(c + i*g)*f": lambda c, h, f, i, g: (c + i * g) * f,
    "c*f*i*g": lambda c, h, f, i, g: c * f * i * g,
    "c*f + i + g": lambda c, h, f, i, g: c * f + i + g,
    "c + f + i*g": lambda c, h, f, i, g: c + f + i * g,
    "c*(f + i*g)": lambda c, h, f, i, g: c * (f + i * g),
    "f + i*g": lambda c, h, f, i, g: f + i * g + 0.0 * c,
    "c*f - i*g": lambda c, h, f, i, g: c * f - i * g,
    "h*f + i*g": lambda c, h, f, i, g: h * f + i * g,
}
# h' from the old and new long memory c, c' and the output gate o
SHORT_UPDATES = {
    "tanh(c')*o": lambda c, new, o: np.tanh(new) * o,
    "c'*o": lambda c, new, o: new * o,
    **{f"{name}(c')*o": (lambda act: lambda c, new, o: act(new) * o)(act)
       for name, act in ACTIVATIONS.items() if name not in ("tanh", "identity")},
    "tanh(c'*o)": lambda c, new, o: np.tanh(new * o),
    "tanh(c)*o": lambda c, new, o: np.tanh(c) * o + 0.0 * new,
    "tanh(c')": lambda c, new, o: np.tanh(new) + 0.0 * o,
    "tanh(c') + o": lambda c, new, o: np.tanh(new) + o,
    "o": lambda c, new, o: o + 0.0 * new,
}
# which days forward walks, as a function of the number of days n
ORDERS = {
    "in order": lambda n: list(range(n)),
    "reversed": lambda n: list(range(n))[::-1],
    "skip first": lambda n: list(range(1, n)),
    "skip last": lambda n: list(range(n - 1)),
    "first repeated": lambda n: [0] + list(range(n)),
    "last repeated": lambda n: list(range(n)) + [n - 1],
}


@dataclass(frozen=True)
class Mutation:
    """One mistake (or none). Each field left at its default is the lesson's equation."""

    id: str = "none"  # the catalog id this mistake belongs to
    detail: str = "the lesson's equations"
    activations: Mapping[str, str] = field(default_factory=dict)  # gate -> activation used instead
    uses: Mapping[str, str] = field(default_factory=dict)  # lesson name -> name (or "0", "1") in its place
    gate_reads: str = "short"  # which memory the gates' weighted sums read ("long": the wrong one)
    gate_roles: Mapping[str, str] = field(default_factory=dict)  # gate -> gate whose value is used
    cell_update: str = "c*f + i*g"
    short_update: str = "tanh(c')*o"
    returns: str = "short"  # which memory forward returns
    carries: tuple[bool, bool] = (True, True)  # (long, short) passed on between days
    handoff: str = "long, short"  # "short, long": the memories come back into the wrong slots
    initial: tuple[float, float] = (0.0, 0.0)  # forward's starting (long, short)
    order: str | tuple[int, ...] = "in order"  # how forward walks the days: an ORDERS key or indices
    # a forward unrolled by hand that feeds some day the wrong memory: {(day, slot): (from day, memory)},
    # slot and memory "long" or "short", from day -1 the initial memories
    feeds: Mapping[tuple[int, str], tuple[int, str]] = field(default_factory=dict)

    @property
    def changes_unit(self) -> bool:
        """Whether one lstm_unit step differs from the lesson's (else only forward does)."""
        return any(getattr(self, f) != getattr(LESSON, f) for f in UNIT_FIELDS)

    def unit(self, p: Mapping[str, float], x, long, short):
        """One day: (updated long memory, updated short memory)."""
        values = {}
        for name in PARAM_NAMES:
            used = self.uses.get(name, name)
            values[name] = CONSTANTS[used] if used in CONSTANTS else p[used]
        read = long if self.gate_reads == "long" else short
        gates = {}
        for gate in GATES:
            w_short, w_x, bias = (values[n] for n in GATE_PARAMS[gate])
            activation = ACTIVATIONS[self.activations.get(gate, LESSON_ACTIVATION[gate])]
            gates[gate] = activation(read * w_short + x * w_x + bias)
        f, i, g, o = (gates[self.gate_roles.get(gate, gate)] for gate in GATES)
        new_long = CELL_UPDATES[self.cell_update](long, short, f, i, g)
        return new_long, SHORT_UPDATES[self.short_update](long, new_long, o)

    def days_seen(self, n: int) -> list[int]:
        """The indices of the days forward feeds to lstm_unit, in the order it feeds them."""
        if isinstance(self.order, tuple):
            return list(self.order)
        return ORDERS[self.order](n)

    def forward(self, p: Mapping[str, float], days):
        """The returned memory after walking the days (on the last axis) from the initial memories."""
        days = np.asarray(days)  # keeps float32 days float32 (diagnosis tests measure rounding)
        long, short = self.initial
        last = (long, short)
        seen = [dict(zip(("long", "short"), self.initial))]  # the memories after each day, initial first
        for step, t in enumerate(self.days_seen(days.shape[-1])):
            if self.feeds:
                long, short = (seen[1 + self.feeds[step, slot][0]][self.feeds[step, slot][1]]
                               if (step, slot) in self.feeds else value
                               for slot, value in (("long", long), ("short", short)))
            new_long, new_short = self.unit(p, days[..., t], long, short)
            if self.handoff == "short, long":
                new_long, new_short = new_short, new_long
            long = new_long if self.carries[0] else self.initial[0]
            short = new_short if self.carries[1] else self.initial[1]
            last = (new_long, new_short)
            seen.append({"long": new_long, "short": new_short})
        result = last[0] if self.returns == "long" else last[1]
        return float(result) if np.ndim(result) == 0 else result


LESSON = Mutation()
UNIT_FIELDS = ("activations", "uses", "gate_reads", "gate_roles", "cell_update", "short_update")


def combine(first: Mutation, second: Mutation) -> Mutation | None:
    """Both mistakes at once, or None where they change the same thing."""
    changes = {}
    for f in dataclasses.fields(Mutation):
        if f.name in ("id", "detail"):
            continue
        a, b, default = getattr(first, f.name), getattr(second, f.name), getattr(LESSON, f.name)
        if isinstance(default, dict):
            if set(a) & set(b):
                return None
            changes[f.name] = {**a, **b}
        elif a != default and b != default:
            return None
        else:
            changes[f.name] = b if a == default else a
    return Mutation(first.id, f"{first.detail}; and {second.detail}", **changes)


class MutantImplementation:
    """A mutation as an implementation of the properties (forward-level only: no gradients)."""

    dtype = "float64"

    def __init__(self, mutation: Mutation):
        self.mutation, self.name = mutation, f"mutant: {mutation.detail}"

    def unit(self, params, x, long, short):
        new_long, new_short = self.mutation.unit(params, x, long, short)
        return float(new_long), float(new_short)

    def forward(self, params, days):
        return float(self.mutation.forward(params, days))


def _swap(a: str, b: str) -> dict[str, str]:
    return {a: b, b: a}


def _where(name: str) -> str:
    gate = GATE_OF[name]
    return f"{gate} gate" if gate != "candidate" else "candidate"


def activation_id(gate: str) -> str:
    return "candidate-activation" if gate == "candidate" else f"{gate}-gate-activation"


def classic_mistakes() -> list[Mutation]:
    """The mistakes learners make most, each a single change to the lesson's equations."""
    mistakes = []
    for gate, lesson in LESSON_ACTIVATION.items():
        for wrong in ACTIVATIONS:
            if wrong != lesson:
                shown = "the plain weighted sum" if wrong == "identity" else wrong
                where = "the candidate" if gate == "candidate" else f"the {gate} gate"
                mistakes.append(Mutation(activation_id(gate), f"{shown} instead of {lesson} in {where}",
                                         activations={gate: wrong}))
    for update, detail in (("c'*o", "h' = c' * o (tanh missing)"), ("tanh(c'*o)", "h' = tanh(c' * o)"),
                           ("tanh(c)*o", "h' = tanh(c) * o with the old long memory c"),
                           ("tanh(c')", "h' = tanh(c') (output gate missing)"),
                           ("tanh(c') + o", "h' = tanh(c') + o instead of tanh(c') * o"),
                           ("o", "h' = o (tanh(c') missing)")):
        mistakes.append(Mutation("cell-output-activation", detail, short_update=update))
    for update in SHORT_UPDATES:
        if update.endswith("(c')*o") and update != "tanh(c')*o":
            mistakes.append(Mutation("cell-output-activation", f"h' = {update[:-6]}(c') * o instead of tanh",
                                     short_update=update))
    for gate in GATES:
        w_short, w_x, _ = GATE_PARAMS[gate]
        mistakes.append(Mutation("weights-swapped", f"{w_short} and {w_x} exchanged ({_where(w_short)})",
                                 uses=_swap(w_short, w_x)))
    every_gate = {n: m for gate in GATES for a, b in [GATE_PARAMS[gate][:2]] for n, m in _swap(a, b).items()}
    mistakes.append(Mutation("weights-swapped", "every gate's two weights exchanged (w..1 multiplies the "
                             "input, w..2 the short memory)", uses=every_gate))
    for a, b in itertools.combinations(GATES, 2):
        if {a, b} == {"input", "candidate"}:
            continue  # c*f + g*i is c*f + i*g: no behaviour tells this exchange apart
        mistakes.append(Mutation("gates-swapped", f"{a} and {b} gates exchanged", gate_roles=_swap(a, b)))
    for a, b in itertools.permutations(GATES, 2):
        mistakes.append(Mutation("gates-swapped", f"the {b} gate's value used where the {a} gate's belongs",
                                 gate_roles={a: b}))
    for a in GATES:
        if a != "candidate":  # between two sigmoid gates this is the exchange above
            uses = {p: q for mine, theirs in zip(GATE_PARAMS[a], GATE_PARAMS["candidate"])
                    for p, q in _swap(mine, theirs).items()}
            mistakes.append(Mutation("gates-swapped", f"the {a} gate and the candidate use each other's "
                                     "weights and bias", uses=uses))
    for update in CELL_UPDATES:
        if update != "c*f + i*g":
            mistakes.append(Mutation("cell-update", f"c' = {update} instead of c' = c*f + i*g",
                                     cell_update=update))
    mistakes += [
        Mutation("returns-long-memory", "forward returns the long memory", returns="long"),
        Mutation("state-not-carried", "short memory not passed on between days", carries=(True, False)),
        Mutation("state-not-carried", "long memory not passed on between days", carries=(False, True)),
        Mutation("state-not-carried", "neither memory passed on between days", carries=(False, False)),
        Mutation("state-not-carried", "long and short memory exchanged between days", handoff="short, long"),
        Mutation("initial-state", "memories start at 1", initial=(1.0, 1.0)),
        Mutation("initial-state", "long memory starts at 1", initial=(1.0, 0.0)),
        Mutation("initial-state", "short memory starts at 1", initial=(0.0, 1.0)),
        Mutation("sequence-order", "first day skipped", order="skip first"),
        Mutation("sequence-order", "last day skipped", order="skip last"),
        Mutation("sequence-order", "days reversed", order="reversed"),
        Mutation("sequence-order", "first day repeated", order="first repeated"),
        Mutation("sequence-order", "last day repeated", order="last repeated"),
    ]
    mistakes += parameter_slips()
    for gate in GATES:
        w_short, w_x, bias = GATE_PARAMS[gate]
        mistakes += [
            Mutation("unknown", f"the {_where(bias)}'s bias {bias} is missing", uses={bias: "0"}),
            Mutation("unknown", f"the {_where(bias)}'s short-memory term (h * {w_short}) is missing",
                     uses={w_short: "0"}),
            Mutation("unknown", f"the {_where(bias)}'s input term (x * {w_x}) is missing", uses={w_x: "0"}),
            Mutation("unknown", f"the {_where(bias)} multiplies the short memory by 1, not {w_short}",
                     uses={w_short: "1"}),
            Mutation("unknown", f"the {_where(bias)} multiplies the input by 1, not {w_x}", uses={w_x: "1"}),
        ]
    mistakes.append(Mutation("unknown", "the gates read the long memory where the short memory belongs",
                             gate_reads="long"))
    return mistakes


def parameter_slips() -> list[Mutation]:
    """Copy-paste index slips: a gate reads a parameter that belongs elsewhere (id weights-swapped)."""
    slips = []
    for mine in PARAM_NAMES:
        for theirs in PARAM_NAMES:
            if theirs == mine:
                continue
            if theirs.startswith("b") != mine.startswith("b"):
                continue  # a bias where a weight belongs (or back) is not a slip learners make
            slips.append(Mutation("weights-swapped", f"{theirs} used where {mine} belongs ({_where(mine)})",
                                  uses={mine: theirs}))
    for slot in range(3):
        for a, b in itertools.combinations(GATES, 2):
            mine, theirs = GATE_PARAMS[a][slot], GATE_PARAMS[b][slot]
            detail = f"{mine} ({_where(mine)}) and {theirs} ({_where(theirs)}) exchanged"
            slips.append(Mutation("weights-swapped", detail, uses=_swap(mine, theirs)))
    return slips


def hand_off_slips(days: int) -> list[Mutation]:
    """A forward unrolled by hand over `days` days where one day is fed a wrong memory: a stale
    one from an earlier day, the initial one, or the other memory of the day before."""
    slips = []
    other = {"long": "short", "short": "long"}
    for day in range(1, days):
        for slot in ("long", "short"):
            stale = [(earlier, slot) for earlier in range(day - 1)]
            for source in [(-1, slot)] + stale + [(day - 1, other[slot])]:
                given = ("its starting value" if source[0] < 0
                         else f"the {source[1]} memory of day {source[0] + 1}")
                detail = f"day {day + 1} is given {given} as its {slot} memory"
                slips.append(Mutation("state-not-carried", detail, feeds={(day, slot): source}))
        slips.append(Mutation("state-not-carried", f"day {day + 1} is given day {day}'s memories exchanged",
                              feeds={(day, "long"): (day - 1, "short"), (day, "short"): (day - 1, "long")}))
    return slips


def day_patterns(days: int) -> list[Mutation]:
    """Every other way a forward written for exactly `days` days could index them (3 to `days` reads)."""
    lesson = tuple(range(days))
    patterns = []
    for reads in range(max(1, days - 1), days + 1):
        for indices in itertools.product(range(days), repeat=reads):
            if indices != lesson:
                shown = ", ".join(f"input[{i}]" for i in indices)
                patterns.append(Mutation("sequence-order", f"forward reads {shown}", order=indices))
    return patterns
