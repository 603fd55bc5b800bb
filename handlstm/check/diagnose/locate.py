"""Where in the learner's file a diagnosed mistake is: the line of the slip, of the wrong
activation, of the memory update, of forward's return or its lstm_unit calls, of a .detach(),
of the loss, of the optimizer. Read from the source (the AST; nothing is run), guided by what the
behavioural diagnosis found; where no single place fits, the location stays None and the report
says it was not located, never a guess.

Details are also rewritten in the learner's own names when the class renames the parameters:
"w_blue2 (wlr2) used where w_green2 (wpr2) belongs".
"""

from __future__ import annotations

import ast
import re

from handlstm.reference import GATE_PARAMS

from ..reading import Reading, last_definition, read_lstm_unit
from ..sandbox.definitions import Source

GRADIENT_CUTS = {"detach", "item", "numpy", "tolist", "detach_"}


def located(diagnoses: list[dict], source: Source, class_name: str, names: dict[str, str]) -> list[dict]:
    """The diagnoses with the line each is on, read from the learner's source; a source beyond the
    reading leaves them as they are, each "not located"."""
    try:
        return locate(diagnoses, source, class_name, names, read_lstm_unit(source.text, class_name,
                                                                           set(names.values())))
    except Exception:
        return diagnoses


def locate(diagnoses: list[dict], source: Source, class_name: str | None, names: dict[str, str],
           reading: Reading | None) -> list[dict]:
    """The diagnoses with "location" filled where one place is found, details in the learner's names."""
    try:
        tree = ast.parse(source.text)
    except SyntaxError:
        return diagnoses
    cls = last_definition(tree, class_name) if class_name else None
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)} if cls else {}
    located = []
    for diagnosis in diagnoses:
        line = _line(diagnosis, methods, names, reading)
        located.append({"gate": None, "parameters": [], **diagnosis,
                        "detail": in_learners_names(diagnosis.get("detail", ""), names),
                        "location": _location(source, line) if line else None})
    return located


def in_learners_names(detail: str, names: dict[str, str]) -> str:
    renamed = {lesson: attribute for lesson, attribute in names.items() if attribute != lesson}
    if not renamed:
        return detail
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renamed)) + r")\b")
    return pattern.sub(lambda m: f"{renamed[m.group(1)]} ({m.group(1)})", detail)


def _location(source: Source, line: int) -> dict:
    lines = source.text.splitlines()
    code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    cell, in_cell = None, line
    for first, number in reversed(source.cells):
        if line >= first:
            cell, in_cell = number, line - first + 1
            break
    return {"file": source.path, "line": in_cell, "cell": cell, "code": code}


def _line(diagnosis: dict, methods: dict, names: dict[str, str], reading: Reading | None) -> int | None:
    mistake, gate, parameters = diagnosis["id"], diagnosis.get("gate"), diagnosis.get("parameters") or []
    unit, forward = methods.get("lstm_unit"), methods.get("forward")
    if gate in GATE_PARAMS and mistake in ("weights-swapped", "unknown") and parameters:
        return _in_gate(gate, names.get(parameters[0], parameters[0]), reading)
    if gate in GATE_PARAMS and mistake.endswith("-activation"):
        if reading and gate in reading.gates:
            return reading.gates[gate].line
        return _first_use(unit, [names[n] for n in GATE_PARAMS[gate]])
    if mistake == "gates-swapped":  # where the gates' values meet: the memory update
        return reading.lines.get("short update" if gate == "output" else "long update") or None if reading else None
    if mistake == "cell-update":
        return reading.lines.get("long update") or None if reading else None
    if mistake == "cell-output-activation":
        return reading.lines.get("short update") or None if reading else None
    if mistake == "returns-long-memory":
        return _last(forward, lambda n: isinstance(n, ast.Return))
    if mistake == "initial-state":
        return _first(forward, lambda n: isinstance(n, ast.Assign))
    if mistake == "state-not-carried":  # the call that is handed the wrong memory
        calls = _all(forward, _calls_lstm_unit)
        day = re.match(r"day (\d+) ", diagnosis.get("detail", ""))
        if day and len(calls) >= int(day.group(1)):
            return calls[int(day.group(1)) - 1]
        return calls[0] if len(calls) == 1 else None
    if mistake == "sequence-order":  # the loop that walks the days; an unrolled forward: not one line
        loops = _all(forward, lambda n: isinstance(n, (ast.For, ast.While)))
        return loops[0] if len(loops) == 1 else None
    if mistake == "gradient-blocked":
        return next((line for method in (unit, forward) if method
                     for line in [_first(method, _cuts_gradient)] if line), None)
    if mistake in ("parameter-not-registered", "parameter-not-trainable") and parameters:
        attribute = names.get(parameters[0], parameters[0])
        return _first(methods.get("__init__"), lambda n: isinstance(n, ast.Assign) and any(
            _is_self_attribute(t, attribute) for t in n.targets))
    if mistake == "optimizer-params":
        return _last(methods.get("configure_optimizers"), lambda n: isinstance(n, ast.Return))
    if mistake == "loss-function":
        step = methods.get("training_step")
        return _first(step, lambda n: isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and "loss" in t.id for t in n.targets)) or _last(
            step, lambda n: isinstance(n, ast.Return))
    if mistake == "state-leak":
        return next((line for method in (forward, unit) if method for line in [_first(
            method, lambda n: isinstance(n, ast.Assign) and any(
                isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                and t.attr not in names.values() for t in n.targets))] if line), None)
    return None


def _in_gate(gate: str, attribute: str, reading: Reading | None) -> int | None:
    """The line where `attribute` is written inside `gate`'s weighted sum."""
    if reading and gate in reading.gates and reading.gates[gate].term is not None:
        lines = [t.line for t in reading.gates[gate].term.walk() if t.kind == "attr" and t.name == attribute]
        if lines:
            return lines[0]
        return reading.gates[gate].line  # a term left out: the gate itself
    return None


def _is_self_attribute(node, attribute: str) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == attribute and isinstance(node.value, ast.Name)
            and node.value.id == "self")


def _first_use(method, attributes: list[str]) -> int | None:
    return _first(method, lambda n: any(_is_self_attribute(n, a) for a in attributes))


def _calls_lstm_unit(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "lstm_unit"


def _cuts_gradient(node) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in GRADIENT_CUTS:
            return True
        return node.func.attr == "tensor" and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
        return True
    return isinstance(node, ast.Attribute) and node.attr == "data" and isinstance(node.ctx, ast.Load)


def _all(method, predicate) -> list[int]:
    if method is None:
        return []
    return sorted({n.lineno for n in ast.walk(method) if predicate(n) and hasattr(n, "lineno")})


def _first(method, predicate) -> int | None:
    found = _all(method, predicate)
    return found[0] if found else None


def _last(method, predicate) -> int | None:
    found = _all(method, predicate)
    return found[-1] if found else None

