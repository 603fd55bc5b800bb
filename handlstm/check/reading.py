"""Reading a learner's lstm_unit from its source (the AST; nothing is run): which attribute
multiplies the short memory and which the input in each gate, which stands alone as its bias,
which activation wraps the gate, how the gates enter the memory update, and on which line.

It is a small symbolic evaluation of lstm_unit's body: names bound by assignments are followed,
helper methods and module-level functions of one `return` are inlined, and each expression
becomes a term tree of the arguments, the attributes and the activations. The learner's code
may be wrong (that is why it is read): the reading records what is written, and says None where
the code is beyond it (loops, dynamic lookups), never a guess.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass, field

SIGMOID_NAMES = ("sigmoid", "sigm", "sig", "sigma", "logistic", "expit", "σ")
TANH_NAMES = ("tanh",)
INPUT_HINTS, LONG_HINTS, SHORT_HINTS = ("input", "x", "inp", "value", "day"), ("long", "c", "cell", "ltm"), \
    ("short", "h", "hidden", "stm")
INLINE_DEPTH = 3
MOST_TERMS = 64  # a gate's weighted sum has three; a file that makes thousands is not read


class _TooBig(Exception):
    """An expression beyond any lesson's (terms that double on every line): not read."""


@dataclass(frozen=True)
class Term:
    """One node of an expression: kind is arg, attr, const, add, mul, neg, sigmoid, tanh or other."""

    kind: str
    name: str = ""  # the argument's or attribute's name
    children: tuple[Term, ...] = ()
    line: int = 0

    def walk(self):
        """Every node once (shared subterms are one node: `a = a * a` forty times is forty nodes)."""
        seen, todo = set(), [self]
        while todo:
            node = todo.pop()
            if id(node) not in seen:
                seen.add(id(node))
                yield node
                todo.extend(reversed(node.children))


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
    attribute_lines: dict[str, list[int]]  # attribute -> lines in lstm_unit (and what it inlines)


def _callable_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):  # nn.Sigmoid()(z)
        return _callable_name(node.func)
    return ""


def _activation(name: str) -> str | None:
    lowered = name.lower()
    if any(lowered == n or lowered.endswith("_" + n) or lowered.startswith(n) for n in TANH_NAMES):
        return "tanh"
    if any(lowered == n or lowered.startswith(n) for n in SIGMOID_NAMES):
        return "sigmoid"
    return None


class _Evaluator:
    def __init__(self, module: ast.Module, cls: ast.ClassDef, attributes: set[str]):
        self.functions = {n.name: n for n in module.body if isinstance(n, ast.FunctionDef)}
        self.lambdas = {t.id: n.value for n in module.body if isinstance(n, ast.Assign)
                        and isinstance(n.value, ast.Lambda) for t in n.targets if isinstance(t, ast.Name)}
        self.methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
        self.attributes = attributes
        self.attribute_lines: dict[str, list[int]] = {}

    def call(self, function: ast.FunctionDef | ast.Lambda, arguments: list[Term], depth: int,
             method: bool) -> Term | None:
        params = [a.arg for a in function.args.args][1 if method else 0:]
        if depth > INLINE_DEPTH or len(params) != len(arguments):
            return None
        env = dict(zip(params, arguments))
        if isinstance(function, ast.Lambda):
            return self.expr(function.body, env, depth + 1)
        return self.body(function.body, env, depth + 1)

    def body(self, statements: list[ast.stmt], env: dict, depth: int):
        for statement in statements:
            if isinstance(statement, ast.Assign):
                value = self.expr(statement.value, env, depth)
                for target in statement.targets:
                    self.bind(target, statement.value, value, env, depth)
            elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
                old = env.get(statement.target.id)
                new = self.expr(statement.value, env, depth)
                env[statement.target.id] = self.binop(statement.op, old, new, statement.lineno)
            elif isinstance(statement, ast.Return):
                if statement.value is None:
                    return None
                if isinstance(statement.value, (ast.Tuple, ast.List)):
                    return tuple(self.expr(e, env, depth) for e in statement.value.elts)
                return self.expr(statement.value, env, depth)
            elif isinstance(statement, (ast.Expr, ast.Pass, ast.AnnAssign)):
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
                    env[statement.target.id] = self.expr(statement.value, env, depth)
            else:
                return None  # loops, branches: beyond this reading
        return None

    def bind(self, target, value_node, value, env, depth):
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value_node, (ast.Tuple, ast.List)) \
                and len(target.elts) == len(value_node.elts):
            for t, v in zip(target.elts, value_node.elts):
                self.bind(t, v, self.expr(v, env, depth), env, depth)
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, tuple) and len(value) == len(target.elts):
            for t, v in zip(target.elts, value):
                if isinstance(t, ast.Name):
                    env[t.id] = v

    def binop(self, op, left, right, line):
        if left is None or right is None:
            return None
        if isinstance(op, ast.Add):
            return Term("add", children=(left, right), line=line)
        if isinstance(op, ast.Sub):
            return Term("add", children=(left, Term("neg", children=(right,), line=line)), line=line)
        if isinstance(op, ast.Mult):
            return Term("mul", children=(left, right), line=line)
        return Term("other", children=(left, right), line=line)

    def expr(self, node: ast.expr, env: dict, depth: int) -> Term | None:
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return Term("fn", _activation(node.id), line=line) if _activation(node.id) else Term("other", line=line)
        if isinstance(node, ast.Constant):
            return Term("const", str(node.value), line=line)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            if node.attr in self.attributes:
                self.attribute_lines.setdefault(node.attr, []).append(line)
                return Term("attr", node.attr, line=line)
            return Term("fn", _activation(node.attr), line=line) if _activation(node.attr) else Term("other", line=line)
        if isinstance(node, ast.Attribute) and _activation(node.attr):  # torch.sigmoid, F.tanh as a value
            return Term("fn", _activation(node.attr), line=line)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.expr(node.left, env, depth), self.expr(node.right, env, depth), line)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.expr(node.operand, env, depth)
            return inner if isinstance(node.op, ast.UAdd) or inner is None else Term("neg", children=(inner,), line=line)
        if isinstance(node, ast.Call):
            return self.call_expr(node, env, depth, line)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            value = env.get(node.value.id)
            if isinstance(value, tuple) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
                return value[node.slice.value] if -len(value) <= node.slice.value < len(value) else None
        return Term("other", line=line)

    def call_expr(self, node: ast.Call, env: dict, depth: int, line: int) -> Term | None:
        func, name = node.func, _callable_name(node.func)
        arguments = [self.expr(a, env, depth) for a in node.args]
        if any(a is None for a in arguments):
            return None
        if isinstance(func, ast.Attribute) and not node.args and _activation(func.attr):  # z.sigmoid()
            inner = self.expr(func.value, env, depth)
            return None if inner is None else Term(_activation(func.attr), children=(inner,), line=line)
        helper = None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self" \
                and name in self.methods and not _activation(name):
            helper = self.methods[name], True
        elif isinstance(func, ast.Name) and not _activation(name):
            found = self.functions.get(func.id) or self.lambdas.get(func.id)
            helper = (found, False) if found is not None else None
        if helper is not None:
            inlined = self.call(helper[0], arguments, depth, method=helper[1])
            # a helper's result is placed where it is called: that line is where its gate is written
            return dataclasses.replace(inlined, line=line) if isinstance(inlined, Term) else inlined
        if _activation(name) and len(arguments) == 1:
            return Term(_activation(name), children=(arguments[0],), line=line)
        passed = env.get(func.id) if isinstance(func, ast.Name) else None
        if passed is not None and passed.kind == "fn" and len(arguments) == 1:  # act(z), act given as a value
            return Term(passed.name, children=(arguments[0],), line=line)
        if name in ("add", "mul") and len(arguments) == 2:
            return Term(name, children=tuple(arguments), line=line)
        return Term("other", children=tuple(arguments), line=line)


def _flatten(term: Term, kinds: tuple[str, ...]) -> list[Term]:
    """The operands of a chain of these operations (a sum's summands, a product's factors)."""
    found, todo = [], [term]
    while todo:
        node = todo.pop()
        if node.kind in kinds:
            todo.extend(reversed(node.children))
        else:
            found.append(node)
        if len(found) + len(todo) > MOST_TERMS:
            raise _TooBig
    return found


def _summands(term: Term) -> list[Term]:
    return _flatten(term, ("add",))


def _factors(term: Term) -> list[Term]:
    return _flatten(term, ("mul", "neg"))


def _gate(term: Term, arguments: dict[str, str]) -> Gate | None:
    """The activation's weighted sum read as slots; None when it is not a sum of
    attribute * argument and attribute terms."""
    kind_of = {name: kind for kind, name in arguments.items()}
    slots: dict[str, list[str]] = {}
    for summand in _summands(term.children[0]):
        factors = [f for f in _factors(summand) if f.kind != "const"]
        attrs = [f.name for f in factors if f.kind == "attr"]
        args = [f.name for f in factors if f.kind == "arg"]
        if len(attrs) != 1 or len(factors) != len(attrs) + len(args) or len(args) > 1:
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
    except (SyntaxError, RecursionError, MemoryError, _TooBig):  # nesting or sizes no lesson file has
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
    evaluator = _Evaluator(module, cls, attributes)
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
    return Reading(roles, roles_by, arguments, lines, evaluator.attribute_lines)


def _long_and_short(result: tuple[Term, Term], arguments: dict[str, str]):
    """Which returned value is the new long memory: the one the long memory argument enters directly."""
    def has_long(term: Term) -> bool:
        return any(n.kind == "arg" and n.name == arguments["long"] for n in _outside_activations(term))
    first, second = result
    if has_long(first) and not has_long(second):
        return first, second
    if has_long(second) and not has_long(first):
        return second, first
    return first, second


def _outside_activations(term: Term):
    seen, todo = set(), [term]
    while todo:
        node = todo.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            if node.kind not in ("sigmoid", "tanh"):
                todo.extend(node.children)


def _roles(gates: list[Gate], long_out: Term | None, short_out: Term | None,
           arguments: dict[str, str]) -> tuple[dict[str, Gate], str]:
    """forget, input, candidate and output gates: by how each enters the memory update (the
    forget gate scales the old long memory, the input gate the candidate, the output gate
    tanh(new long memory)), else by the lesson's order of writing them."""
    by_term = {id(g.term): g for g in gates}
    roles: dict[str, Gate] = {}
    if long_out is not None:
        for summand in _summands(long_out):
            factors = _factors(summand)
            gate_factors = [by_term[id(f)] for f in factors if id(f) in by_term]
            if any(f.kind == "arg" and f.name == arguments["long"] for f in factors) and len(gate_factors) == 1:
                roles.setdefault("forget", gate_factors[0])
            elif len(gate_factors) == 2:
                tanh = [g for g in gate_factors if g.activation == "tanh"]
                if len(tanh) == 1:
                    roles.setdefault("candidate", tanh[0])
                    roles.setdefault("input", next(g for g in gate_factors if g is not tanh[0]))
    if short_out is not None:
        for factor in _factors(short_out):
            if id(factor) in by_term and by_term[id(factor)] not in roles.values():
                roles.setdefault("output", by_term[id(factor)])
    if len(roles) == 4 and len({id(g) for g in roles.values()}) == 4:
        return roles, "the memory update"
    if len(gates) == 4:  # as written, in the lesson's order: forget, input, candidate, output
        ordered = sorted(gates, key=lambda g: g.line)
        return dict(zip(("forget", "input", "candidate", "output"), ordered)), "the order they are written in"
    return roles, "the memory update"
