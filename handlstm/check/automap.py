"""`--param-map auto`: which of a class's 12 scalar parameters plays which of the lesson's roles,
found from behaviour alone (never from names or source text).

`infer_param_map` sees the learner's class only through a probe: set every parameter to a value,
run `forward` over some days, read the final short memory. Probes go through `forward` rather
than `lstm_unit` because forward's calling convention is fixed, while lstm_unit's argument order
is itself unknown until there is a map (swapping x and the short memory together with every
gate's two weights leaves lstm_unit's numbers unchanged; forward tells them apart).

It peels roles off one at a time. With every parameter at 0 only the candidate's bias and input
weight change the output (the candidate is 0 otherwise, so nothing reaches the memories). Once
they are known and held at non-zero values, every other role shows, each in its own way: the
forget gate through the carried long memory, the input gate by scaling what is added, the output
gate only on the way out, short-memory weights only from the second day on. A parameter is given
a role only when that role, alone among those left, predicts its numbers on every probe (the
predictions come from the NumPy reference). At the end the whole map is checked with random
values; anything short of a unique, verified map raises AmbiguousMap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from handlstm import reference
from handlstm.reference import GATE_PARAMS, PARAM_NAMES

from .. import tolerances
from ..data import LESSON_DAYS
from .sandbox.protocol import CouldNotCheck

# values_by_attribute, days -> final short memory of forward (memories start at 0)
ForwardProbe = Callable[[Mapping[str, float], Sequence[float]], float]

DAYS = LESSON_DAYS  # every learner's forward handles the lesson's four days, some handle only those
# The all-zero days show biases and short-memory weights without any input weight; the others
# are non-zero on every day, so an input weight always acts.
PROBE_DAYS = ((0.0, 0.0, 0.0, 0.0), (1.0, -0.5, 0.75, 0.25), (-0.8, 0.6, 0.3, -1.2))
PROBE_VALUES = (1.7, -1.3)  # the value the parameter under test gets; two signs, two sizes
# Values held by roles already found: non-zero and unequal, so no two gates look alike.
HELD = {"wlr1": 0.6, "wlr2": -0.7, "blr1": 0.9, "wpr1": -0.5, "wpr2": 0.8, "bpr1": 0.4,
        "wp1": 0.7, "wp2": 1.1, "bp1": 1.2, "wo1": -0.9, "wo2": 0.5, "bo1": -0.6}
# Learners' float32 modules are compared with float32's rounding bound; roles are told apart
# only where their predictions differ by many times that.
DTYPE = "float32"
MARGIN = 10.0
VERIFY_DRAWS = 8


class AmbiguousMap(CouldNotCheck):
    """Behaviour does not single out one map from the lesson's names to the class's parameters:
    the file cannot be checked without a map (exit code 2, one line saying so)."""


def _reference(values_by_role: Mapping[str, float], days: Sequence[float]) -> tuple[float, float]:
    """The reference's final short memory and the tolerance a float32 implementation may be off by."""
    trace = reference.run({name: values_by_role.get(name, 0.0) for name in PARAM_NAMES}, days)
    return float(trace.final_short), float(tolerances.forward_tolerance(trace, DTYPE))


def _advice(attribute_names: Sequence[str]) -> str:
    return (f"give the map with --param-map MAP.json: a JSON object from each lesson name "
            f"({', '.join(PARAM_NAMES)}) to one of your parameters ({', '.join(attribute_names)})")


def infer_param_map(attribute_names: Sequence[str], probe: ForwardProbe) -> dict[str, str]:
    """The map from each lesson name to the attribute that plays its role, or AmbiguousMap."""
    names = list(attribute_names)
    if len(names) != len(PARAM_NAMES) or len(set(names)) != len(names):
        raise AmbiguousMap(f"--param-map auto needs exactly 12 scalar parameters, found {len(names)}"
                           f" ({', '.join(names) or 'none'}); " + _advice(names))
    found: dict[str, str] = {}  # lesson name -> attribute
    while len(found) < len(PARAM_NAMES):
        newly = _one_round(names, probe, found)
        if not newly:
            undecided = [a for a in names if a not in found.values()]
            raise AmbiguousMap(
                f"--param-map auto cannot tell which roles {', '.join(undecided)} play (found so far: "
                f"{_show(found)}); the class may not compute the lesson's LSTM; " + _advice(names))
        found.update(newly)
    _verify(found, probe, names)
    return {name: found[name] for name in PARAM_NAMES}


def _one_round(names: list[str], probe: ForwardProbe, found: dict[str, str]) -> dict[str, str]:
    """The roles that exactly one unknown attribute takes, holding the known ones at HELD values."""
    held_roles = {role: HELD[role] for role in found}
    held_attributes = {found[role]: HELD[role] for role in found}
    open_roles = [role for role in PARAM_NAMES if role not in found]
    base = {(days, None): _reference(held_roles, days) for days in PROBE_DAYS}
    predictions = {(days, value, role): _reference({**held_roles, role: value}, days)
                   for days in PROBE_DAYS for value in PROBE_VALUES for role in open_roles}
    newly: dict[str, str] = {}
    for attribute in (a for a in names if a not in found.values()):
        zeros = {a: 0.0 for a in names}
        got = {(days, value): float(probe(zeros | held_attributes | {attribute: value}, days))
               for days in PROBE_DAYS for value in PROBE_VALUES}
        fits = []
        for role in open_roles:
            consistent = all(np.isfinite(got[key]) and abs(got[key] - predictions[key + (role,)][0])
                             <= predictions[key + (role,)][1] for key in got)
            visible = any(abs(predictions[key + (role,)][0] - base[(key[0], None)][0])
                          > MARGIN * predictions[key + (role,)][1] for key in got)
            if consistent and visible:
                fits.append(role)
        if len(fits) == 1:
            role = fits[0]
            if role in newly:
                raise AmbiguousMap(f"--param-map auto: both {newly[role]} and {attribute} behave like "
                                   f"{role}; " + _advice(names))
            newly[role] = attribute
    return newly


def _verify(found: dict[str, str], probe: ForwardProbe, names: list[str]) -> None:
    """The map must reproduce the reference with every parameter set at once, not just one by one."""
    rng = np.random.default_rng(0)  # fixed: the same answer every run
    for _ in range(VERIFY_DRAWS):
        values = {role: float(rng.uniform(-2.0, 2.0)) for role in PARAM_NAMES}
        days = tuple(float(d) for d in rng.uniform(-1.0, 1.0, DAYS))
        expected, tolerance = _reference(values, days)
        got = float(probe({found[role]: values[role] for role in PARAM_NAMES}, days))
        if not abs(got - expected) <= tolerance:
            raise AmbiguousMap(
                f"--param-map auto found the map {_show(found)} parameter by parameter, but with all "
                f"of them set at once the class does not compute the lesson's LSTM (final short memory "
                f"{got!r}, expected {expected!r}), so the map cannot be trusted; " + _advice(names))


def _show(found: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{role}: {found[role]}" for role in PARAM_NAMES if role in found) + "}"


# --- the second way: reading lstm_unit -------------------------------------------------------------

def infer_from_source(text: str, class_name: str, attribute_names: Sequence[str]) -> tuple[dict[str, str], str]:
    """The map as lstm_unit is written (reading.py): each gate's role from how it enters the memory
    update, each attribute's slot from what it multiplies. An attribute written in two slots (a
    copy-paste slip) keeps the slot whose gate its name shares a stem with (else the one written
    first), and the one attribute written nowhere takes the slot left; anything less than one map
    raises AmbiguousMap, with the candidates. Returns (map, how it was found)."""
    from .reading import read_lstm_unit

    names = list(attribute_names)
    reading = read_lstm_unit(text, class_name, set(names))
    if reading is None or len(reading.gates) != 4:
        raise AmbiguousMap(f"--param-map auto could not read the four gates of {class_name}.lstm_unit "
                           "from its source either; " + _advice(names))
    written: dict[str, list[str]] = {}  # lesson name -> attributes written in its slot
    for role, gate in reading.gates.items():
        for slot, lesson in zip(("short", "input", "bias"), GATE_PARAMS[role]):
            written[lesson] = list(dict.fromkeys(gate.slots.get(slot, [])))
    found = {lesson: attrs[0] for lesson, attrs in written.items() if len(attrs) == 1}
    uses: dict[str, list[str]] = {}
    for lesson, attribute in found.items():
        uses.setdefault(attribute, []).append(lesson)
    line_of = {lesson: gate.line for role, gate in reading.gates.items() for lesson in GATE_PARAMS[role]}
    for attribute, lessons in uses.items():
        if len(lessons) > 1:  # one attribute in several slots: it stays where its name fits its gate,
            fitting = [lesson for lesson in lessons if _fits(attribute, lesson, found)]
            if len(fitting) != 1:  # else where it was written first (a slip copies an earlier line)
                first = min(line_of[lesson] for lesson in lessons)
                fitting = [lesson for lesson in lessons if line_of[lesson] == first]
            for lesson in lessons:
                if len(fitting) != 1 or lesson != fitting[0]:
                    del found[lesson]
    unused = [a for a in names if a not in found.values()]
    open_slots = [lesson for lesson in PARAM_NAMES if lesson not in found]
    for attribute in list(unused):
        fitting = [lesson for lesson in open_slots if _fits(attribute, lesson, found)]
        if len(fitting) == 1:
            found[fitting[0]] = attribute
            open_slots.remove(fitting[0])
            unused.remove(attribute)
    if len(open_slots) == 1 and len(unused) == 1:
        found[open_slots[0]] = unused[0]
    if len(found) != 12 or len(set(found.values())) != 12:
        candidates = ", ".join(f"{lesson}: {' or '.join(sorted(set(written.get(lesson, [])) | set(unused))) or '?'}"
                               for lesson in PARAM_NAMES if lesson not in found)
        raise AmbiguousMap(f"--param-map auto: neither behaviour nor a reading of lstm_unit tells which "
                           f"parameter plays {', '.join(l for l in PARAM_NAMES if l not in found)} "
                           f"(candidates: {candidates}); " + _advice(names))
    how = (f"read from lstm_unit's source (gates told apart by {reading.roles_by}; behaviour alone could "
           "not tell, so the class may not compute the lesson's LSTM)")
    return {lesson: found[lesson] for lesson in PARAM_NAMES}, how


def _stem(attribute: str) -> str:
    """w_blue1 -> blue, wlr2 -> lr: the part of a name that says which gate it belongs to."""
    core = attribute.lower().strip("_").rstrip("0123456789_")
    for prefix in ("weight_", "weight", "bias_", "bias", "w_", "b_", "w", "b"):
        if core.startswith(prefix) and len(core) > len(prefix):
            return core[len(prefix):].strip("_")
    return core


def _fits(attribute: str, lesson: str, found: Mapping[str, str]) -> bool:
    """Whether `attribute`'s stem is the stem of the other attributes found in `lesson`'s gate."""
    role = next(role for role, params in GATE_PARAMS.items() if lesson in params)
    siblings = [found[other] for other in GATE_PARAMS[role] if other != lesson and other in found]
    stem = _stem(attribute)
    return bool(stem) and bool(siblings) and all(_stem(s) == stem for s in siblings)
