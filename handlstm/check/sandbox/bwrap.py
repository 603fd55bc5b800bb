"""The bubblewrap command line of a worker's sandbox (the parent's side).

What the sandbox sees: the system's libraries, the Python installation and its packages
(read-only) with handlstm and its reference left out, the runner's own files, an empty
folder of each child's own (namespaces.py), and nothing else: no network, no IPC or PIDs of the host, a scrubbed environment,
no capabilities, uid 65534 inside its own user namespace. bubblewrap ends with its parent.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER_FILES = ("forkserver.py", "namespaces.py", "runner.py", "facts.py", "definitions.py", "trajectory.py",
                "protocol.py", "lightning_moves.py")
RUNNER_DIR = "/opt/runner"  # a neutral name: nothing in the sandbox says which grader runs it
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
             "/etc/fonts", "/etc/alternatives", "/etc/ssl/certs")
ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
               "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
SANDBOX_UID = 65534


def executable() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why bubblewrap cannot sandbox here (None when it can): missing, or no user namespaces."""
    program = executable()
    if program is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run([program, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                                "--uid", str(SANDBOX_UID), "true"],
                               capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not run ({error})"
    if probe.returncode != 0:
        line = (probe.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        return f"bubblewrap cannot make a sandbox here ({line})"
    return None


def hidden_paths() -> list[Path]:
    """handlstm, its reference, their install records, caches and scripts, wherever a bound Python
    installation holds them: the sandbox must not hold a correct LSTM, nor say whose it is."""
    import handlstm
    from handlstm import reference

    hidden = [Path(handlstm.__file__).resolve().parent, Path(reference.__file__).resolve().parent]
    folders = set(_site_packages())
    for root in _python_roots():
        folders |= {p.resolve() for p in root.glob("lib*/python3*/site-packages")}
        folders |= {root / "bin", root / "Scripts"}
    for folder in list(folders):
        folders.add(folder / "__pycache__")
    for folder in sorted(folders):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        hidden += [entry for entry in entries if "handlstm" in entry.name.lower()
                   or (entry.name == "reference" and (entry / "lstm.py").exists() and (entry / "adam.py").exists())]
    return hidden


def _site_packages() -> list[Path]:
    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return sorted({Path(p).resolve() for p in paths if os.path.isdir(p)})


def _python_roots() -> list[Path]:
    """The folders Python and its packages live in (outside the system folders)."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent.parent, *_site_packages()}
    for entry in sys.path[1:]:
        if entry and os.path.isdir(entry) and "site-packages" in entry:
            roots.add(Path(entry).resolve())
    kept = [r for r in sorted(roots) if not str(r).startswith(SYSTEM_DIRS)]
    return [r for r in kept if not any(other != r and other in r.parents for other in kept)]


def _bind_without(root: Path, hidden: list[Path]) -> list[str]:
    """Read-only binds of `root`, leaving out every hidden path below it (not even an empty folder)."""
    if root in hidden:
        return []
    if not any(root in h.parents for h in hidden):
        return ["--ro-bind", str(root), str(root)]
    args = ["--dir", str(root)]
    for entry in sorted(root.iterdir()):
        if entry.is_symlink():
            args += ["--symlink", os.readlink(entry), str(entry)]
        elif entry.is_dir():
            args += _bind_without(entry, hidden)
        elif entry not in hidden:
            args += ["--ro-bind", str(entry), str(entry)]
    return args


def work_dir() -> str:
    """Where each child gets its own empty, writable folder: /tmp, unless Python itself lives
    under /tmp (a virtual environment made there), which a fresh /tmp would hide."""
    return "/var/tmp" if any(Path("/tmp") in root.parents for root in _python_roots()) else "/tmp"


def command(python_args: list[str]) -> list[str]:
    """bwrap ... python -s -E -B /opt/runner/forkserver.py PYTHON_ARGS."""
    args = [executable(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox", "--clearenv"]
    work = work_dir()
    for name, value in dict(ENVIRONMENT, HOME=work, TMPDIR=work).items():
        args += ["--setenv", name, value]
    hidden = hidden_paths()
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += _bind_without(Path(folder), hidden)
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for root in _python_roots():
        args += _bind_without(root, hidden)
    for name in RUNNER_FILES:
        args += ["--ro-bind", str(HERE / name), f"{RUNNER_DIR}/{name}"]
    # the fork server's scratch (its imports' caches); each child mounts a fresh, empty one over it
    args += ["--proc", "/proc", "--dev", "/dev", "--dir", "/tmp", "--tmpfs", work, "--chdir", work,
             "--remount-ro", "/"]
    python = sys.executable if Path(sys.executable).is_absolute() else shutil.which(sys.executable)
    return args + [python, "-s", "-E", "-B", f"{RUNNER_DIR}/forkserver.py", *python_args]


def process_command(python_args: list[str]) -> list[str]:
    """Without bubblewrap: the same runner as a plain process (`process` isolation)."""
    return [sys.executable, "-s", "-E", "-B", str(HERE / "forkserver.py"), *python_args]
