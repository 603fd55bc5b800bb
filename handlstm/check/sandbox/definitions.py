"""Definitions only, from a learner's file: imports, functions, classes and simple constants.

Learners' files train at top level (`trainer.fit(...)` for thousands of epochs, prints, plots);
only what the class needs runs. Runs inside the sandbox (standard library here; torch and
Lightning only where a function needs them); the parent uses `Source` and `parse` too.
"""

from __future__ import annotations

import ast
import sys
import traceback
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

try:
    from .lightning_moves import alias_pytorch_lightning
    from .protocol import CouldNotCheck
except ImportError:  # inside the sandbox these files sit side by side, outside any package
    from lightning_moves import alias_pytorch_lightning
    from protocol import CouldNotCheck

LEARNER_MODULE = "submission"
MESSAGE_LENGTH = 160


@dataclass
class Source:
    """Python text of a learner's file; for a notebook its code cells joined, magics blanked out."""

    path: str
    text: str
    cells: list[tuple[int, int]] = field(default_factory=list)  # (first line in text, cell number)
    skipped: list[str] = field(default_factory=list)  # cells left out, and why
    # the student's other modules, importable by the file: {path relative to the file's folder: text}
    helpers: dict[str, str] = field(default_factory=dict)

    def where(self, line: int) -> str:
        """`path, line N` or, for a notebook, `path, cell C, line N` (cells counted from 1)."""
        for first, cell in reversed(self.cells):
            if line >= first:
                return f"{self.path}, cell {cell}, line {line - first + 1}"
        return f"{self.path}, line {line}"

    def as_dict(self) -> dict:
        return asdict(self)


def parse(source: Source) -> ast.Module:
    try:
        return ast.parse(source.text, filename=source.path)
    except SyntaxError as error:
        where = source.where(error.lineno or 0)
        raise CouldNotCheck(f"{where}: syntax error: {error.msg}") from None
    except (RecursionError, MemoryError):  # an expression nested beyond what Python's parser takes
        raise CouldNotCheck(f"{source.path}: an expression nested too deeply to read") from None


def select(tree: ast.Module) -> list[ast.stmt]:
    """The top-level statements that define things; training, prints and plots are left out."""
    return [node for node in tree.body if _is_definition(node)]


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Try):  # try: import lightning ... except ImportError: import pytorch_lightning
        blocks = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) for s in blocks)
    if isinstance(node, ast.If):  # if torch.cuda.is_available(): device = "cuda" else: ...
        main_guard = "__name__" in {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
        return (not main_guard and _is_simple(node.test)
                and all(_is_definition(s) or isinstance(s, ast.Pass) for s in node.body + node.orelse))
    # any assignment to plain names (`CFG = Config()`, `ACT = torch.sigmoid`) is a candidate:
    # `execute` runs it only when the class needs the name, so `trainer = L.Trainer()` never runs
    if isinstance(node, ast.Assign):
        return all(_is_plain_target(t) for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.value is not None
    return False


def _is_plain_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, (ast.Tuple, ast.List)) and all(_is_plain_target(t) for t in target.elts)


SIMPLE_NODES = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.Dict,
                ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword,
                ast.Load, ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.Subscript, ast.Slice)


def _is_simple(value: ast.expr) -> bool:
    """A constant, or arithmetic and library calls on constants (`torch.device("cpu")`): nothing
    that builds or trains the learner's model. Calls must go through a module attribute."""
    for node in ast.walk(value):
        if not isinstance(node, SIMPLE_NODES):
            return False
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Attribute):
            return False
    return True


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Try, ast.If)):
        return set().union(set(), *(_bound_names(s) for s in _inner(node) if not isinstance(s, ast.Pass)))
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _inner(node: ast.Try | ast.If) -> list[ast.stmt]:
    """The statements inside a top-level try or if, through nested ones."""
    blocks = node.body + node.orelse
    if isinstance(node, ast.Try):
        blocks += node.finalbody + [s for handler in node.handlers for s in handler.body]
    return [inner for s in blocks for inner in (_inner(s) if isinstance(s, (ast.Try, ast.If)) else [s])]


def _used_names(node: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def needed_names(statements: list[ast.stmt]) -> set[str]:
    """Names the classes with an lstm_unit use, directly or through the functions and constants
    they use: an import of anything else may fail without stopping the check."""
    classes = [s for s in statements if isinstance(s, ast.ClassDef)]
    roots = [c for c in classes if any(isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))
                                       and b.name == "lstm_unit" for b in c.body)] or classes
    definers = {}
    for s in statements:
        if not isinstance(s, (ast.Import, ast.ImportFrom, ast.Try)):
            for name in _bound_names(s):
                definers.setdefault(name, []).append(s)
    needed: set[str] = set()
    todo = list(roots)
    seen: set[int] = set()
    while todo:
        s = todo.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        needed |= _bound_names(s) | _used_names(s)
        for name in _used_names(s):
            todo.extend(definers.get(name, []))
    return needed


def execute(source: Source) -> tuple[dict, list[str]]:
    """Run the definitions in a fresh namespace: (namespace, notes on what was left out)."""
    tree = parse(source)
    statements = select(tree)
    needed = needed_names(statements)
    module = types.ModuleType(LEARNER_MODULE)
    module.__file__ = source.path
    sys.modules[LEARNER_MODULE] = module  # dataclasses, pickling and Lightning look classes up here
    namespace = module.__dict__
    # a learner's own helper modules sit next to the file; last, so they shadow nothing installed
    folder = str(Path(source.path).resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    if source.helpers:
        sys.path.append(write_helpers(source.helpers))
    notes = list(f"skipped {s}" for s in source.skipped)
    for statement in statements:
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.If)) and not _bound_names(statement) & needed:
            continue  # `trainer = L.Trainer(...)`, `inputs = torch.tensor(...)`: only the script uses them
        code = compile(ast.Module(body=[statement], type_ignores=[]), source.path, "exec")
        try:
            exec(code, namespace)
        except BaseException as error:  # an import or constant the definitions may not need
            bound = _bound_names(statement)
            where = source.where(statement.lineno)
            if isinstance(statement, (ast.Import, ast.ImportFrom, ast.Try)):
                if bound & needed:
                    raise CouldNotCheck(f"{where}: `{_import_text(statement)}` failed"
                                        f" ({type(error).__name__}: {error}), which the class needs"
                                        ) from None
            elif bound & needed:
                raise CouldNotCheck(f"{where}: {describe_exception(error, source, location=False)}") from None
            what = _import_text(statement) if isinstance(statement, (ast.Import, ast.ImportFrom)) else \
                ast.get_source_segment(source.text, statement).splitlines()[0][:60]
            notes.append(f"{where}: left out `{what}` ({type(error).__name__}: {error});"
                         " the class does not use it")
    return namespace, notes


def write_helpers(helpers: dict[str, str]) -> str:
    """The student's other modules, written to a fresh folder of this process's own temporary
    space (in the sandbox, its private tmpfs): the folder to import them from."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="helpers-"))
    for relative, text in helpers.items():
        parts = Path(relative).parts
        if not parts or Path(relative).is_absolute() or any(p in ("", ".", "..") for p in parts):
            continue  # the parent sends only plain relative paths; anything else is not a module
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return str(folder)


def _import_text(statement: ast.stmt) -> str:
    if isinstance(statement, ast.ImportFrom):
        return f"from {statement.module or '.'} import {', '.join(a.name for a in statement.names)}"
    if isinstance(statement, ast.Import):
        return "import " + ", ".join(a.name for a in statement.names)
    return "its imports"


FUSED_KERNELS = ("lstm", "lstm_cell", "gru", "gru_cell", "rnn_tanh", "rnn_relu", "rnn_tanh_cell",
                 "rnn_relu_cell", "quantized_lstm_cell")
FUSED_CALLS: set[str] = set()  # which fused recurrent kernels ran since the runner last cleared it


def preimport() -> None:
    """Import torch and Lightning before any learner code runs (a fork server does it once), and
    count calls to torch's fused recurrent kernels: nn.LSTM and nn.LSTMCell reach them."""
    import lightning.pytorch  # noqa: F401
    import torch

    alias_pytorch_lightning()
    for owner, prefix in ((torch._VF, "torch._VF."), (torch, "torch.")):
        for name in FUSED_KERNELS:
            kernel = getattr(owner, name, None)
            if kernel is not None and not getattr(kernel, "counted", False):
                setattr(owner, name, _counted(kernel, prefix + name))


def _counted(kernel, name: str):
    def call(*args, **kwargs):
        FUSED_CALLS.add(name)
        return kernel(*args, **kwargs)

    call.counted = True
    return call


def find_class(namespace: dict, class_name: str | None, source: Source):
    """The torch.nn.Module class with an lstm_unit method (or the one named); else CouldNotCheck."""
    import torch

    classes = {name: value for name, value in namespace.items()
               if isinstance(value, type) and getattr(value, "__module__", None) == LEARNER_MODULE}
    if class_name is not None:
        cls = classes.get(class_name)
        if cls is None:
            raise CouldNotCheck(f"{source.path}: no class {class_name} (classes found: {_names(classes)})")
        if not issubclass(cls, torch.nn.Module):
            raise CouldNotCheck(f"{source.path}: {class_name} is not a torch.nn.Module")
        if not callable(getattr(cls, "lstm_unit", None)):
            raise CouldNotCheck(f"{source.path}: {class_name} has no lstm_unit method")
        return cls
    candidates = [name for name, cls in classes.items()
                  if issubclass(cls, torch.nn.Module) and callable(getattr(cls, "lstm_unit", None))]
    if len(candidates) == 1:
        return classes[candidates[0]]
    if candidates:
        raise CouldNotCheck(f"{source.path}: several classes have an lstm_unit method "
                            f"({', '.join(candidates)});"
                            f" choose one with {source.path}:{candidates[0]}")
    found = "; ".join(
        f"{name} ({'no lstm_unit' if issubclass(cls, torch.nn.Module) else 'not a torch.nn.Module'})"
        for name, cls in classes.items()) or "no classes"
    skipped = f"; skipped {', '.join(source.skipped)}" if source.skipped else ""
    raise CouldNotCheck(f"{source.path}: no torch.nn.Module class with an lstm_unit method"
                        f" (found: {found}{skipped})")


def _names(classes: dict) -> str:
    return ", ".join(classes) or "none"


def missing_parameters_line(class_name: str, missing: list[str], names: dict, has: list[str]) -> str:
    import difflib

    attributes = ", ".join(names[m] if names[m] == m else f"{names[m]} (for {m})" for m in missing)
    mapped = [m for m in missing if names[m] != m]  # names the user's --param-map gave
    unused = [attribute for attribute in has if attribute not in names.values()]  # a typo names none of them
    guesses = [f"{close[0]} (not {names[m]})" for m in mapped
               if (close := difflib.get_close_matches(names[m], unused, n=1, cutoff=0.6))]
    if mapped and guesses:
        return (f"{class_name} has no attribute {attributes}; did you mean {', '.join(guesses)}? "
                f"Correct the --param-map (its parameters are: {', '.join(has) or 'none'})")
    if mapped:
        return (f"{class_name} has no attribute {attributes}; its parameters are: {', '.join(has) or 'none'}"
                " — correct the --param-map, or use --param-map auto to find them by behaviour")
    return (f"{class_name} has no attribute {attributes}; its parameters are: {', '.join(has) or 'none'}"
            " — give --param-map MAP.json from each lesson name to the attribute that plays its role,"
            " or --param-map auto to find them by behaviour")


def describe_exception(error: BaseException, source: Source | None, location: bool = True) -> str:
    """`path, line N, in f: Error: message` for the deepest frame in the learner's file."""
    if isinstance(error, SystemExit):
        text = f"called sys.exit({error.code!r})"
    elif isinstance(error, MemoryError):
        text = "MemoryError: ran out of memory (the check's memory limit)"
    else:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if len(message) > MESSAGE_LENGTH:  # torch's messages run on; the first sentence says it
            message = message[:MESSAGE_LENGTH].rsplit(" ", 1)[0] + " …"
        text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if not location or source is None:
        return text
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == source.path]
    if not frames:
        return text
    frame = frames[-1]
    return f"{source.where(frame.lineno)}, in {frame.name}: {text}"
