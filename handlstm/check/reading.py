"""Reading a learner's lstm_unit from its source (the AST; nothing is run): which attribute
multiplies the short memory and which the input in each gate, which stands alone as its bias,
which activation wraps the gate, how the gates enter the memory update, and on which line.

lstm_unit's body is first evaluated symbolically (symbolic.py) into term trees of the arguments,
the attributes and the activations; this module reads the gates off those trees. The learner's code
may be wrong (that is why it is read): the reading records what is written, and says None where
the code is beyond it (loops, dynamic lookups), never a guess.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .symbolic import Evaluator, Term, TooBig, factors, summands

INPUT_HINTS, LONG_HINTS, SHORT_HINTS = ("input", "x", "inp", "value", "day"), ("long", "c", "cell", "ltm"), \
    ("short", "h", "hidden", "stm")


@dataclass
class Gate:
    """An activation applied to a weighted sum: {"short"/"input"/"bias": attribute} as written."""

    activation: str  # "sigmoid" or "tanh"
    slots: dict[str, list[str]] = field(default_factory=dict)
    line: int = 0
    term: Term | None = None


@dataclass
class Reading:
    gates: dict[str, Gate]  # role (forget, input, candidate, output) -> its gate, where told
    roles_by: str  # how the roles were told: "the memory update" or "the order they are written in"
    arguments: dict[str, str]  # "input", "long", "short" -> lstm_unit's argument name
    lines: dict[str, int]  # "long update", "short update" -> line


def _gate(term: Term, arguments: dict[str, str]) -> Gate | None:
    """The activation's weighted sum read as slots; None when it is not a sum of
    attribute * argument and attribute terms."""
    kind_of = {name: kind for kind, name in arguments.items()}
    slots: dict[str, list[str]] = {}
    for summand in summands(term.children[0]):
        found = [f for f in factors(summand) if f.kind != "const"]
        attrs = [f.name for f in found if f.kind == "attr"]
        args = [f.name for f in found if f.kind == "arg"]
        if len(attrs) != 1 or len(found) != len(attrs) + len(args) or len(args) > 1:
            return None
        slot = "bias" if not args else kind_of.get(args[0], "?")
        slots.setdefault(slot, []).append(attrs[0])
    return Gate(term.kind, slots, term.line, term)


def _argument_kinds(names: list[str]) -> dict[str, str]:
    """input, long and short -> lstm_unit's argument names, from their names, else the lesson's order."""
    def score(name: str, hints: tuple[str, ...]) -> bool:
        lowered = name.lower()
        words = [w for w in re.split(r"[_\d]+", lowered) if w]  # prev_c, h_t, c0
        return any(h in words or (len(h) > 2 and h in lowered) for h in hints)
    kinds = {}
    for kind, hints in (("input", INPUT_HINTS), ("long", LONG_HINTS), ("short", SHORT_HINTS)):
        matching = [n for n in names if score(n, hints)]
        if len(matching) == 1:
            kinds[kind] = matching[0]
    if len(kinds) == 2 and len(set(kinds.values())) == 2:  # (token, hidden, cell): the third is left
        (kind,) = {"input", "long", "short"} - set(kinds)
        (kinds[kind],) = set(names) - set(kinds.values())
    if len(set(kinds.values())) != 3 or len(kinds) != 3:
        kinds = dict(zip(("input", "long", "short"), names))
    return kinds


def last_definition(module: ast.Module, class_name: str) -> ast.ClassDef | None:
    """The class statement that binds the name last (a notebook may define it again in a later
    cell; running the cells in order, the last one wins), or None."""
    top = [n for n in module.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    if top:
        return top[-1]
    nested = [n for n in ast.walk(module) if isinstance(n, ast.ClassDef) and n.name == class_name]
    return nested[0] if len(nested) == 1 else None


def read_lstm_unit(text: str, class_name: str, attributes: set[str]) -> Reading | None:
    """What the class's lstm_unit computes, as written; None when it cannot be read."""
    try:
        return _read(text, class_name, attributes)
    except (SyntaxError, RecursionError, MemoryError, TooBig):  # nesting or sizes no lesson file has
        return None


def _read(text: str, class_name: str, attributes: set[str]) -> Reading | None:
    module = ast.parse(text)
    cls = last_definition(module, class_name)
    if cls is None:
        return None
    unit = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "lstm_unit"), None)
    if unit is None or len(unit.args.args) != 4:
        return None
    names = [a.arg for a in unit.args.args[1:]]
    evaluator = Evaluator(module, cls, attributes)
    env = {name: Term("arg", name, line=unit.lineno) for name in names}
    result = evaluator.body(unit.body, env, 0)
    if not (isinstance(result, tuple) and len(result) == 2 and all(isinstance(r, Term) for r in result)):
        return None
    arguments = _argument_kinds(names)
    activations = []
    for output in result:
        for node in output.walk():
            if node.kind in ("sigmoid", "tanh") and all(n is not node for n in activations):
                activations.append(node)
    gates = [g for node in activations if (g := _gate(node, arguments)) is not None]
    long_out, short_out = _long_and_short(result, arguments)
    roles, roles_by = _roles(gates, long_out, short_out, arguments)
    lines = {"long update": long_out.line if long_out else 0, "short update": short_out.line if short_out else 0}
    return Reading(roles, roles_by, arguments, lines)


def _long_and_short(result: tuple[Term, Term], arguments: dict[str, str]):
    """Which returned value is the new long memory: the one the long memory argument enters directly."""
    def has_long(term: Term) -> bool:
        return any(n.kind == "arg" and n.name == arguments["long"] for n in term.walk(
            into=lambda node: node.kind not in ("sigmoid", "tanh")))
    first, second = result
    if has_long(first) and not has_long(second):
        return first, second
    if has_long(second) and not has_long(first):
        return second, first
    return first, second


def _roles(gates: list[Gate], long_out: Term | None, short_out: Term | None,
           arguments: dict[str, str]) -> tuple[dict[str, Gate], str]:
    """forget, input, candidate and output gates: by how each enters the memory update (the
    forget gate scales the old long memory, the input gate the candidate, the output gate
    tanh(new long memory)), else by the lesson's order of writing them."""
    by_term = {id(g.term): g for g in gates}
    roles: dict[str, Gate] = {}
    if long_out is not None:
        for summand in summands(long_out):
            found = factors(summand)
            gate_factors = [by_term[id(f)] for f in found if id(f) in by_term]
            if any(f.kind == "arg" and f.name == arguments["long"] for f in found) and len(gate_factors) == 1:
                roles.setdefault("forget", gate_factors[0])
            elif len(gate_factors) == 2:
                tanh = [g for g in gate_factors if g.activation == "tanh"]
                if len(tanh) == 1:
                    roles.setdefault("candidate", tanh[0])
                    roles.setdefault("input", next(g for g in gate_factors if g is not tanh[0]))
    if short_out is not None:
        for factor in factors(short_out):
            if id(factor) in by_term and by_term[id(factor)] not in roles.values():
                roles.setdefault("output", by_term[id(factor)])
    if len(roles) == 4 and len({id(g) for g in roles.values()}) == 4:
        return roles, "the memory update"
    if len(gates) == 4:  # as written, in the lesson's order: forget, input, candidate, output
        ordered = sorted(gates, key=lambda g: g.line)
        return dict(zip(("forget", "input", "candidate", "output"), ordered)), "the order they are written in"
    return roles, "the memory update"
