"""Reading a learner's .py or .ipynb into Python text (the parent's side: nothing is executed).

Syntax errors are found here; the sandbox runs the definitions (sandbox/definitions.py).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from .sandbox.definitions import Source, parse
from .sandbox.protocol import CouldNotCheck

__all__ = ["CouldNotCheck", "Source", "parse", "read_source"]

CELL_MAGICS_KEPT = ("%%time", "%%timeit", "%%capture")  # their cell is still Python
MAX_BYTES = 64 * 2**20
# a student's helper modules: a few files of code, not a dataset
MAX_HELPERS, MAX_HELPER_BYTES = 100, 4 * 2**20
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "node_modules", "site-packages"}


def python_files(folder: Path, suffixes: tuple[str, ...] = (".py",)) -> list[Path]:
    """The files of `folder` and its subfolders with these suffixes, sorted, hidden and cache folders
    left out, and so is anything that leads outside the folder (a link to a classmate's file)."""
    inside = folder.resolve()
    found: dict[Path, Path] = {}  # by where it leads: a link to a file beside it is not a second file
    for path in sorted(folder.rglob("*")):
        if path.suffix not in suffixes or any(part in SKIPPED_DIRS or part.startswith(".")
                                              for part in path.relative_to(folder).parts):
            continue
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # a broken link, or a loop of links (RuntimeError before 3.13)
            continue
        if not target.is_dir() and inside in target.parents:
            found.setdefault(target, path)
    return sorted(found.values())


def imported_modules(path: str) -> set[str]:
    """The names of the modules the file imports (each dotted name's parts), read, not run."""
    try:
        tree = parse(read_source(path))
    except CouldNotCheck:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {part for alias in node.names for part in alias.name.split(".")}
        elif isinstance(node, ast.ImportFrom):
            names |= set((node.module or "").split(".")) | {alias.name for alias in node.names}
    return names - {""}


def defines_lstm_class(path: str) -> bool:
    """Whether the file defines a class with an lstm_unit method (read, never run)."""
    try:
        tree = parse(read_source(path))
    except CouldNotCheck:
        return False
    return any(isinstance(node, ast.ClassDef) and any(
        isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "lstm_unit"
        for item in node.body) for node in ast.walk(tree))


def read_helpers(path: str, root: str) -> tuple[dict[str, str], list[str]]:
    """The student's other .py files at or below `path`'s folder (inside the student's folder
    `root`), importable by the file: ({path relative to the file's folder: text}, notes)."""
    folder = Path(path).parent
    if not Path(root).resolve() in (folder.resolve(), *folder.resolve().parents):
        return {}, []
    helpers, size, notes = {}, 0, []
    for file in python_files(folder):
        if file.resolve() == Path(path).resolve() or not file.is_file():
            continue
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            notes.append(f"the helper module {file.relative_to(folder)} (it cannot be read)")
            continue
        if len(helpers) == MAX_HELPERS or size + len(text) > MAX_HELPER_BYTES:
            notes.append(f"helper modules beyond the first {MAX_HELPERS} files or "
                         f"{MAX_HELPER_BYTES // 2**20} MiB (not made importable)")
            break
        helpers[file.relative_to(folder).as_posix()] = text
        size += len(text)
    return helpers, notes


def read_source(path: str) -> Source:
    """The file's Python text; CouldNotCheck for a missing, unreadable or unsupported file."""
    file = Path(path)
    if not file.exists():
        raise CouldNotCheck(f"{path}: no such file")
    if file.is_dir():
        raise CouldNotCheck(f"{path}: is a folder, not a .py or .ipynb file")
    if file.suffix not in (".py", ".ipynb"):
        raise CouldNotCheck(f"{path}: not a .py or .ipynb file")
    if not file.is_file():  # a device, a pipe: reading it could take forever or all memory
        raise CouldNotCheck(f"{path}: not a regular file")
    if file.stat().st_size > MAX_BYTES:
        raise CouldNotCheck(f"{path}: {file.stat().st_size / 2**20:.0f} MiB; a learner's file is under "
                            f"{MAX_BYTES // 2**20} MiB (a notebook with large outputs: clear them)")
    try:
        text = file.read_text(encoding="utf-8-sig")  # -sig: a byte-order mark is not code
    except (OSError, UnicodeDecodeError) as error:
        raise CouldNotCheck(f"{path}: cannot be read ({error})") from None
    if file.suffix == ".py":
        return _script_source(path, text)
    return _notebook_source(path, text)


def _script_source(path: str, text: str) -> Source:
    """A .py file; one that parses only without `!pip install ...` lines pasted from a notebook
    is read without them (its syntax errors are reported as they are otherwise)."""
    try:
        ast.parse(text)
    except (RecursionError, MemoryError):
        return Source(path, text)  # parse() says it in one line
    except SyntaxError:
        cleaned = _without_magics(text, whole_cell=False)
        try:
            ast.parse(cleaned)
        except (SyntaxError, RecursionError, MemoryError):
            return Source(path, text)
        return Source(path, cleaned, skipped=["notebook commands (! and % lines)"])
    return Source(path, text)


def _notebook_source(path: str, text: str) -> Source:
    try:
        cells = json.loads(text)["cells"]
    except (ValueError, KeyError, TypeError):
        raise CouldNotCheck(f"{path}: not a Jupyter notebook (no JSON with cells)") from None
    lines, starts, skipped = [], [], []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        code = cell.get("source", "")
        code = "".join(code) if isinstance(code, list) else str(code)
        code = _without_magics(code)
        if code is None:
            skipped.append(f"cell {number} (a cell magic)")
            continue
        try:
            ast.parse(code)
        except SyntaxError as error:
            # a half-written cell does not stop the notebook's other definitions from loading
            skipped.append(f"cell {number} (syntax error, line {error.lineno}: {error.msg})")
            continue
        except (RecursionError, MemoryError):
            skipped.append(f"cell {number} (an expression nested too deeply to read)")
            continue
        starts.append((len(lines) + 1, number))
        lines.extend(code.splitlines() + [""])
    return Source(path, "\n".join(lines) + "\n", starts, skipped)


def _without_magics(code: str, whole_cell: bool = True) -> str | None:
    """The cell with IPython's line magics and shell escapes blanked (lines keep their numbers);
    None for a cell magic other than timing, capture or writing a .py file (%%bash, %%html, ...)."""
    lines = code.splitlines()
    if whole_cell and lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].split()
        writes_python = magic[0] == "%%writefile" and magic[-1].endswith(".py")  # Colab's way to a module
        if magic[0] not in CELL_MAGICS_KEPT and not writes_python:
            return None
        lines[0] = ""
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")):
            line = line[: len(line) - len(stripped)] + "pass"
        out.append(line)
    return "\n".join(out)




def declares_lightning(source: Source, class_name: str | None) -> bool:
    """Whether the class (the one named, else any class with an lstm_unit of its own), as
    written, is a Lightning module: a base whose name says LightningModule (through the file's own
    classes too), or a training_step of its own. Read here, in the parent: the sandbox's answer on
    it, and its word on which class it found, are the learner's to forge."""
    classes = {node.name: node for node in ast.walk(parse(source)) if isinstance(node, ast.ClassDef)}
    seen: set[str] = set()

    def lightning(name: str) -> bool:
        if name in seen or name not in classes:
            return False
        seen.add(name)
        node = classes[name]
        if any(isinstance(item, ast.FunctionDef) and item.name == "training_step" for item in node.body):
            return True
        bases = [ast.unparse(base) for base in node.bases]
        return any("LightningModule" in base or lightning(base.split(".")[-1]) for base in bases)

    if class_name is not None:
        return lightning(class_name)
    return any(lightning(name) for name, node in classes.items()
               if any(isinstance(item, ast.FunctionDef) and item.name == "lstm_unit" for item in node.body))
