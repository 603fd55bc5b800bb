"""A small symbolic evaluation of a learner's lstm_unit (the AST; nothing is run): names bound by
assignments are followed, helper methods and module-level functions of one `return` are inlined,
and each expression becomes a term tree of the arguments, the attributes (`self.x`) and the
activations. Where the code is beyond it (loops, branches, dynamic lookups) the value is None.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

SIGMOID_NAMES = ("sigmoid", "sigm", "sig", "sigma", "logistic", "expit", "σ")
TANH_NAMES = ("tanh",)
INLINE_DEPTH = 3
MOST_TERMS = 64  # a gate's weighted sum has three; a file that makes thousands is not read


class TooBig(Exception):
    """An expression beyond any lesson's (terms that double on every line): not read."""


@dataclass(frozen=True)
class Term:
    """One node of an expression: kind is arg, attr, const, add, mul, neg, sigmoid, tanh or other."""

    kind: str
    name: str = ""  # the argument's or attribute's name
    children: tuple[Term, ...] = ()
    line: int = 0

    def walk(self, into: Callable[[Term], bool] = lambda node: True):
        """Every node once (shared subterms are one node: `a = a * a` forty times is forty nodes),
        going below only the nodes `into` accepts."""
        seen, todo = set(), [self]
        while todo:
            node = todo.pop()
            if id(node) not in seen:
                seen.add(id(node))
                yield node
                if into(node):
                    todo.extend(reversed(node.children))


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


class Evaluator:
    def __init__(self, module: ast.Module, cls: ast.ClassDef, attributes: set[str]):
        self.functions = {n.name: n for n in module.body if isinstance(n, ast.FunctionDef)}
        self.lambdas = {t.id: n.value for n in module.body if isinstance(n, ast.Assign)
                        and isinstance(n.value, ast.Lambda) for t in n.targets if isinstance(t, ast.Name)}
        self.methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
        self.attributes = attributes

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
            raise TooBig
    return found


def summands(term: Term) -> list[Term]:
    return _flatten(term, ("add",))


def factors(term: Term) -> list[Term]:
    return _flatten(term, ("mul", "neg"))
