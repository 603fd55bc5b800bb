"""The parent side of `handlstm check`: draws examples, asks the child, compares with the reference.

The parent never imports the learner's code (nor torch): the learner's module lives in a child
process (handlstm/check/child.py) that answers with plain numbers, and every verdict is
computed here with the one definition of each property (handlstm/properties.py).

Contract (the CLI, diagnosis and the plugin rely on it):

`check_file(path, class_name=None, param_map=None, timeout=60.0, examples=EXAMPLES) -> dict`
returns the `--json` report:

    {"verdict": "pass" | "fail" | "error",
     "checks": [{"id": "forward" | "gradients" | "training" | "state",
                 "status": "pass" | "fail" | "error" | "skip",
                 "message": str, "counterexample": dict | None}],
     "diagnoses": [catalog id, ...],
     "implementation": {"path", "class", "sequence_lengths", "dtype", "interface"},
     "seconds": float}

Every problem with the learner's file (missing, syntax error, no class, import error, timeout,
crash, memory limit) is *returned* as verdict "error", with each check "error" and the one clear
line as its message (`error_line(report)` gives it). `UserError` is raised only for bad
arguments from the caller (e.g. `examples < 1`, a param_map that is not a dict of lesson names).
A fail anywhere makes the verdict "fail" even if another check could not finish.

Diagnosis: after the checks, if any failed, `handlstm.check.diagnose.diagnose(subject, results,
facts)` is called (when that module exists) and returns `[{"id": ..., "detail": ...}, ...]`:
- `subject`: a `ChildSubject` (unit / forward / loss_and_grads / train, name, dtype), the same
  adapter the properties ran on. Its calls may raise `LearnerError` (an Exception: the learner's
  code raised) or `ChildError` (a BaseException: the child died or time ran out; let it propagate).
- `results`: {property name: {"id": name, "status", "message", "counterexample"}} for "unit",
  "forward", "gradients", "training", "state" (a property that never ran is absent); a
  counterexample as in the report: {"property", "parameters", "days", "label", ["memories"],
  "mismatches": [{"quantity", "expected", "got", "tolerance"}], ["error"]}.
- `facts`: the child's facts about the module, format in handlstm/check/child.py.

`check(...)` is check_file keeping diagnosis's details (`Outcome.report`, `Outcome.diagnoses`).
The implementation's `interface` is {"lstm_unit", "arguments", "returns", "forward_input", "notes"};
with a param_map, `implementation` also has "param_map".

Processes: one fork server per parent process (`Zygote`, started on first use) imports torch
and Lightning once; every check forks a fresh child from it (own session, folder, memory and
CPU limits) that loads the learner's definitions. Checks may run in threads of one parent.
A check's time limit covers everything: the fork server's start (on the first check), loading
and probing (a quarter of it each at most, so a hang shows early), and the properties, which
share what is left (training, which runs Trainers, three shares).
"""

from __future__ import annotations

import atexit
import itertools
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import example as explicit_example
from hypothesis import strategies as st

import reference
from reference import PARAM_NAMES

from .. import properties, strategies, tolerances
from ..errors import UserError
from ..properties import PropertyFailure
from . import load
from .child import receive, send

EXAMPLES = 100  # Hypothesis examples per property
CHECK_IDS = ("forward", "gradients", "training", "state")
CHECK_PROPERTIES = {"forward": ("unit", "forward"), "gradients": ("gradients",),
                    "training": ("training",), "state": ("state",)}
# address space a child may add to what torch and Lightning map: training needs well under 1 GiB
MEMORY_LIMIT = 2 * 2**30
LESSON_ORDER, LESSON_RETURNS = ("x", "long", "short"), ("long", "short")
ARGUMENT_WORDS = {"x": "input", "long": "long", "short": "short"}

# Probing: moderate, distinct values, so no gate saturates and no two parameters look alike.
PROBE_PARAMS = {"wlr1": 0.7, "wlr2": -0.6, "blr1": 0.3, "wpr1": -0.4, "wpr2": 0.9, "bpr1": -0.2,
                "wp1": 0.5, "wp2": 1.1, "bp1": 0.15, "wo1": -0.8, "wo2": 0.6, "bo1": 0.25}
PROBE_DAYS = (0.7, -0.4, 0.9, 0.3, -0.8, 0.5, 0.2, -0.6, 1.0, -0.3, 0.4, 0.8, -0.9, 0.1, 0.6, -0.5)
PROBE_UNIT = ((0.8, -0.6, 0.3), (-0.5, 1.2, -0.7), (0.3, 0.4, 0.9))  # (x, long, short)
LESSON_DAYS = 4
PROBE_SHARE = 0.25  # of the time limit, for probing
LOAD_SHARE = 0.25  # of the time limit, for loading the definitions and creating the class


WAITING_FOR = {"load": "loading the file and creating the class", "forward_raw": "forward",
               "unit_raw": "lstm_unit", "unit_chains": "lstm_unit", "configure": "creating the class",
               "unit": "lstm_unit", "forward": "forward", "loss_and_grads": "forward and backward",
               "train": "Lightning training", "facts": "configure_optimizers or training_step",
               "infer_param_map": "forward"}


class ChildError(BaseException):
    """The child died, sent garbage or ran out of time. A BaseException so that Hypothesis does not
    treat it as a failing example and shrink on it: it ends the check as "error"."""


class LearnerError(Exception):
    """The learner's code raised while answering a request."""


# --- the child process ------------------------------------------------------------------------

class Zygote:
    """The fork server (handlstm/check/child.py's `zygote`): imports torch and Lightning once per
    parent process, then forks a fresh child for every check in milliseconds."""

    _shared: "Zygote | None" = None
    _lock = threading.Lock()

    @classmethod
    def shared(cls) -> "Zygote":
        with cls._lock:
            if cls._shared is None or cls._shared.process.poll() is not None:
                cls._shared = cls()
            return cls._shared

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)  # keeps message bounds
        self.log = tempfile.TemporaryFile()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
                   CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "handlstm.check.child", "zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.log, env=env)
        theirs.close()
        self.sock, self.ready, self.lock = ours, False, threading.Lock()
        atexit.register(self.close)

    def _reply(self, deadline: float, waiting_for: str) -> dict:
        while not select.select([self.sock], [], [], min(0.5, max(0.0, deadline - time.monotonic())))[0]:
            if self.process.poll() is not None:  # a datagram socket has no end of file to tell
                break
            if time.monotonic() >= deadline:
                raise ChildError(f"timed out: {waiting_for} did not finish within the time limit")
        data = self.sock.recv(65536) if self.process.poll() is None else b""
        if not data:
            self.log.seek(0)
            last = self.log.read()[-2000:].decode(errors="replace").strip().splitlines()
            raise ChildError("the checker's process that imports torch and Lightning died"
                             + (f": {last[-1]}" if last else ""))
        return json.loads(data)

    def wait_ready(self, deadline: float) -> None:
        with self.lock:
            if not self.ready:
                self._reply(deadline, "importing torch and Lightning")
                self.ready = True

    def request(self, message: dict, fds: list[int], deadline: float) -> dict:
        self.wait_ready(deadline)
        with self.lock:
            socket.send_fds(self.sock, [json.dumps(message).encode()], fds)
            return self._reply(max(deadline, time.monotonic() + 5), "starting the checking process")

    def close(self) -> None:
        """Stop the fork server: it holds nothing, and each check has stopped its own child."""
        self.sock.close()
        self.process.kill()
        self.process.wait()


class Child:
    """One child process, forked by the zygote, with requests and answers on dedicated pipes."""

    def __init__(self, memory: int = MEMORY_LIMIT, cpu_seconds: int = 600):
        self.memory, self.cpu_seconds, self.pid, self.setup = memory, cpu_seconds, None, []
        self.deadline = math.inf
        self.dead, self.code = True, None

    def start(self) -> None:
        request_read, self.request_write = os.pipe()
        self.answer_read, answer_write = os.pipe()
        self.log = tempfile.TemporaryFile()
        self.folder = tempfile.TemporaryDirectory(prefix="handlstm-check-")
        self.zygote = Zygote.shared()
        try:
            answer = self.zygote.request(
                {"op": "spawn", "folder": self.folder.name, "memory": self.memory, "cpu": self.cpu_seconds},
                [request_read, answer_write, self.log.fileno()], self.deadline)
        finally:
            os.close(request_read)
            os.close(answer_write)
        self.pid, self.dead, self.code, self.ready = int(answer["pid"]), False, None, False
        self.setup_answers = [self.call(op, **arguments) for op, arguments in self.setup]

    @property
    def alive(self) -> bool:
        return self.pid is not None and not self.dead

    def call(self, op: str, **arguments):
        """Send one request and wait for its answer until the deadline."""
        if not self.alive:
            raise ChildError(self.death())
        try:
            send(self.request_write, {"op": op, **arguments})
            if not self.ready:
                self._receive(op)
                self.ready = True
            answer = self._receive(op)
        except BrokenPipeError:
            self._ended()
            raise ChildError(self.death()) from None
        if not isinstance(answer, dict):
            self.stop()
            raise ChildError(f"the checking process sent a malformed answer to {op}")
        if "error" in answer:
            if answer.get("kind") == "load":
                raise load.CouldNotCheck(str(answer["error"]))
            raise LearnerError(str(answer["error"]))
        if "ok" not in answer:
            self.stop()
            raise ChildError(f"the checking process sent a malformed answer to {op}")
        return answer["ok"]

    def _receive(self, op: str):
        def wait(fd: int) -> None:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.stop()
                raise ChildError(f"timed out: {WAITING_FOR.get(op, op)} did not finish within the time limit"
                                 " (an endless loop?)")

        try:
            answer = receive(self.answer_read, wait)
        except (ValueError, UnicodeDecodeError):
            self.stop()
            raise ChildError(f"the checking process sent a malformed answer to {op}") from None
        if answer is None:
            self._ended()
            raise ChildError(self.death())
        return answer

    def _ended(self) -> None:
        """The child closed its pipe: it has exited (or is exiting); ask the zygote how."""
        self.stop(kill=False)

    def death(self) -> str:
        """Why the child is gone, in one line."""
        if self.pid is None:
            return "the checking process was not started"
        self.log.seek(0)
        last = [line.strip() for line in self.log.read()[-4000:].decode(errors="replace").splitlines()
                if line.strip()]
        last_line = last[-1] if last else ""
        code = self.code
        if "MemoryError" in last_line or "bad_alloc" in last_line:
            return f"ran out of memory (limit {self.memory / 2**30:g} GiB above torch and Lightning's own)"
        if code is None:
            return "the checking process stopped answering" + (f": {last_line}" if last_line else "")
        if code < 0:
            if -code == signal.SIGXFSZ:
                return "printed more than the 64 MiB of output allowed"
            if -code == signal.SIGXCPU:
                return "used more CPU time than allowed"
            name = signal.Signals(-code).name
            return f"the checking process was killed by {name}" + (f" ({last_line})" if last_line else "")
        return (f"the implementation ended the checking process with exit code {code}"
                " (sys.exit or os._exit in the learner's code?)" + (f": {last_line}" if last_line else ""))

    def stop(self, kill: bool = True) -> None:
        if self.pid is None or self.dead:
            return
        self.dead = True
        if kill:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            status = self.zygote.request({"op": "status", "pid": self.pid}, [], time.monotonic() + 5)
            self.code = status["code"]
        except ChildError:
            self.code = None

    def close(self) -> None:
        self.stop()
        for fd in ("request_write", "answer_read"):
            try:
                os.close(getattr(self, fd))
            except (OSError, AttributeError):
                pass
        if hasattr(self, "folder"):
            self.folder.cleanup()
            self.log.close()

    def restart(self) -> None:
        self.close()
        self.start()


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ChildError(f"the checking process sent {type(value).__name__} where a number belongs")
    return float(value)


class ChildSubject:
    """The learner's class as a subject of the properties: every call is a request to the child."""

    def __init__(self, child: Child, name: str, dtype: str):
        self.child, self.name, self.dtype = child, name, dtype
        self.notes: list[str] = []  # why a gradient was NaN, as the child said

    def unit(self, params, x, long, short):
        out = self.child.call("unit", params=dict(params), x=x, long=long, short=short)
        if not isinstance(out, list) or len(out) != 2:
            raise ChildError("the checking process sent a malformed answer to unit")
        return _number(out[0]), _number(out[1])

    def forward(self, params, days):
        return _number(self.child.call("forward", params=dict(params), days=list(days)))

    def loss_and_grads(self, params, days, label):
        out = self.child.call("loss_and_grads", params=dict(params), days=list(days), label=label)
        grads = out.get("grads") if isinstance(out, dict) else None
        if not isinstance(grads, dict):
            raise ChildError("the checking process sent a malformed answer to loss_and_grads")
        if out.get("note") and out["note"] not in self.notes:
            self.notes.append(str(out["note"]))
        return _number(out.get("loss")), {name: _number(grads.get(name)) for name in PARAM_NAMES}

    def train(self, params, steps):
        out = self.child.call("train", params=dict(params), steps=steps)
        trajectory = out.get("trajectory") if isinstance(out, dict) else None
        if not isinstance(trajectory, list) or not all(isinstance(s, dict) for s in trajectory):
            raise ChildError("the checking process sent a malformed answer to train")
        lr = None if out.get("lr") is None else _number(out["lr"])
        return lr, [{name: _number(step.get(name)) for name in PARAM_NAMES} for step in trajectory]


# --- probing: what the implementation supports, decided here from raw numbers ---------------

@dataclass
class Interface:
    lengths: list[int]
    dtype: str
    order: tuple[str, ...] = LESSON_ORDER
    returns: tuple[str, ...] = LESSON_RETURNS
    notes: list[str] = field(default_factory=list)
    batched: bool = False  # forward takes the days as a (1, days) batch

    def as_dict(self) -> dict:
        arguments = ", ".join(ARGUMENT_WORDS[a] for a in self.order)
        return {"lstm_unit": f"lstm_unit({arguments}) -> [{', '.join(self.returns)}]",
                "arguments": list(self.order), "returns": list(self.returns),
                "forward_input": "(1, days)" if self.batched else "(days,)", "notes": list(self.notes)}


def _forward_raw(child: Child, dtype: str, sequences: list, batched: bool = False) -> list[dict]:
    results = child.call("forward_raw", params=PROBE_PARAMS, sequences=sequences, dtype=dtype,
                         batched=batched)
    if not isinstance(results, list) or len(results) != len(sequences):
        raise ChildError("the checking process sent a malformed answer to forward_raw")
    return results


def probe(child: Child) -> Interface:
    """Supported sequence lengths, the dtype to check in, and lstm_unit's argument and return order."""
    lengths = range(1, strategies.MAX_DAYS + 1)
    sequences = [list(PROBE_DAYS[:n]) for n in lengths]
    nudged = [s[:-1] + [s[-1] + 0.5] for s in sequences]
    notes = []
    # the lesson's forward takes the days as they are; some learners' take a batch of one
    found, first_error = None, None
    for batched, dtype in ((False, "float64"), (False, "float32"), (True, "float64"), (True, "float32")):
        results = _forward_raw(child, dtype, sequences + nudged, batched)
        if not all("error" in r for r in results[:len(sequences)]):
            found = dtype, batched, results
            break
        first_error = first_error or results[LESSON_DAYS - 1]["error"]
    if found is None:
        raise load.CouldNotCheck(f"forward raised for every sequence of 1 to {strategies.MAX_DAYS} days; "
                                 f"for the lesson's four days: {first_error}")
    dtype, batched, results = found
    if batched:
        notes.append("forward takes the days as a batch of one, shape (1, days); checked that way")
    if dtype == "float32":
        notes.append("checked in float32: the module does not run when cast to float64")
    elif any(r.get("dtype") not in ("float64", "python")
             for r in results[:len(sequences)] if "error" not in r):
        dtype = "float32"
        notes.append("checked in float32 with float32 tolerances: given float64 it computes in float32 "
                     "(a float32 tensor is created inside the module)")
    plain, changed = results[:len(sequences)], results[len(sequences):]
    working = [n for n, r in zip(lengths, plain) if "error" not in r]
    depends = [n for n in working if "error" not in changed[n - 1]
               and changed[n - 1]["value"] != plain[n - 1]["value"]]
    supported = working
    if depends and all(n > max(depends) for n in set(working) - set(depends)):
        supported = depends  # a forward that reads a fixed number of days ignores any more
    if LESSON_DAYS in working and LESSON_DAYS not in supported:
        # the lesson's own four days are always checked: a forward that ignores some of them
        # (reads input[:2]) is wrong, not "written for two days"
        supported = sorted(set(supported) | {LESSON_DAYS})
    if supported != list(lengths):
        notes.append(f"forward handles sequences of {_lengths_text(supported)}; checked on those")
    raw = _unit_raw(child, dtype)
    if dtype == "float64" and not set(raw["dtypes"]) <= {"float64", "python"}:
        dtype, raw = "float32", _unit_raw(child, "float32")
        notes.append("checked in float32 with float32 tolerances: given float64, lstm_unit computes in "
                     "float32 (a float32 tensor is created inside it)")
    order, returns = _unit_interface(child, dtype, supported, raw["outputs"], batched)
    if (order, returns) != (LESSON_ORDER, LESSON_RETURNS):
        notes.append(f"lstm_unit takes ({', '.join(ARGUMENT_WORDS[a] for a in order)}) and returns "
                     f"[{', '.join(returns)}]: a different order than the lesson's, used consistently")
    return Interface(supported, dtype, order, returns, notes, batched)


def _lengths_text(lengths: list[int]) -> str:
    if len(lengths) == 1:
        return f"exactly {lengths[0]} days"
    if lengths == list(range(lengths[0], lengths[-1] + 1)):
        return f"{lengths[0]} to {lengths[-1]} days"
    return ", ".join(map(str, lengths)) + " days"


INTERPRETATIONS = [(order, returns) for order in itertools.permutations(LESSON_ORDER)
                   for returns in (LESSON_RETURNS, LESSON_RETURNS[::-1])]  # the lesson's first


def _unit_raw(child: Child, dtype: str) -> dict:
    """lstm_unit at the probe points with its arguments in every order: {"outputs", "dtypes"}."""
    calls = [[point[LESSON_ORDER.index(a)] for a in order]
             for order in itertools.permutations(LESSON_ORDER) for point in PROBE_UNIT]
    try:
        raw = child.call("unit_raw", params=PROBE_PARAMS, calls=calls, dtype=dtype)
    except LearnerError as error:
        raise load.CouldNotCheck(f"lstm_unit could not be called with three numbers: {error}") from None
    if (not isinstance(raw, dict) or not isinstance(raw.get("outputs"), list)
            or len(raw["outputs"]) != len(calls) or not all(isinstance(pair, list) and len(pair) == 2 for pair in raw["outputs"])
            or not isinstance(raw.get("dtypes"), list)):
        raise ChildError("the checking process sent a malformed answer to unit_raw")
    return raw


def _unit_interface(child: Child, dtype: str, lengths: list[int], raw: list, batched: bool
                    ) -> tuple[tuple, tuple]:
    """The argument and return order of lstm_unit: the one that, chained over the days, gives what
    the learner's own forward gives (consistent use is what matters), closest to the reference."""
    by_order = {order: raw[i * len(PROBE_UNIT):(i + 1) * len(PROBE_UNIT)]
                for i, order in enumerate(itertools.permutations(LESSON_ORDER))}
    expected = [reference.run(PROBE_PARAMS, [x], long, short) for x, long, short in PROBE_UNIT]

    def reference_error(interpretation) -> float:
        order, returns = interpretation
        worst = 0.0
        for got, trace in zip(by_order[order], expected):
            values = dict(zip(returns, map(_number, got)))
            worst = max(worst, abs(values["long"] - float(trace.long[-1])),
                        abs(values["short"] - float(trace.short[-1])))
        return worst if math.isfinite(worst) else math.inf

    n = min(lengths, key=lambda length: (abs(length - LESSON_DAYS), length))
    days = list(PROBE_DAYS[:n])
    finals = child.call("unit_chains", params=PROBE_PARAMS, interpretations=INTERPRETATIONS,
                        days=days, dtype=dtype)
    forward = _forward_raw(child, dtype, [days], batched)[0]
    tolerance = 2 * float(tolerances.forward_tolerance(reference.run(PROBE_PARAMS, days), dtype))
    consistent = [i for i, final in zip(INTERPRETATIONS, finals)
                  if "error" not in forward and final is not None
                  and abs(_number(final) - forward["value"]) <= tolerance]
    return min(consistent or INTERPRETATIONS, key=reference_error)  # min keeps the lesson's on ties


# --- running the properties -------------------------------------------------------------------

@dataclass
class Raised(AssertionError):
    """The learner's code raised on a drawn example (a failing example, shrunk like any other)."""

    name: str
    example: strategies.Example
    error: str

    def __str__(self) -> str:
        return f"{self.name} raised {self.error}"


@dataclass
class PropertyResult:
    name: str
    status: str  # pass, fail, error, skip
    message: str = ""
    failure: PropertyFailure | Raised | None = None


class _OutOfTime(BaseException):
    pass


HEADROOM_LABEL = "learner's check"
# Shrinking a 12-parameter, 16-day example can take thousands of calls; after this long the
# smallest failing example found so far is reported (each one Hypothesis tried is a real failure).
SHRINK_SECONDS = 2.0
# no "explain" phase: it re-runs the failing example many times to annotate source lines of the
# test function, which here are the checker's own, not the learner's
PHASES = (Phase.explicit, Phase.generate, Phase.target, Phase.shrink)  # the headroom report is about handlstm's own subjects


def run_property(name: str, subject: ChildSubject, strategy, explicit: list, examples: int,
                 deadline: float) -> PropertyResult:
    """Hypothesis draws examples for one property; a failure comes back shrunk."""
    try:
        return _run_property(name, subject, strategy, explicit, examples, deadline)
    finally:
        properties.HEADROOM.pop(HEADROOM_LABEL, None)


def _run_property(name: str, subject: ChildSubject, strategy, explicit: list, examples: int,
                  deadline: float) -> PropertyResult:
    failures: list[PropertyFailure | Raised] = []

    def test(example):
        now = time.monotonic()
        if now > deadline or (failures and now > failures[0].found + SHRINK_SECONDS):
            raise _OutOfTime()
        try:
            comparisons = properties.PROPERTIES[name](subject, example)
        except LearnerError as error:
            failures.append(Raised(name, example, str(error)))
            failures[-1].found = time.monotonic()
            raise failures[-1] from None
        try:
            properties.assert_agrees(name, comparisons, example, label=HEADROOM_LABEL)
        except PropertyFailure as failure:
            failure.found = time.monotonic()
            failures.append(failure)
            raise

    run = settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                   report_multiple_bugs=False, phases=PHASES,
                   verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))(given(strategy)(test))
    for case in explicit:
        run = explicit_example(case)(run)
    try:
        run()
    except _OutOfTime:
        if not failures:
            raise ChildError("timed out: the check did not finish within its time limit") from None
    except (PropertyFailure, Raised) as failure:
        return PropertyResult(name, "fail", failure_message(failure), failure)
    except Exception as error:  # Hypothesis's own (Flaky: a failure that does not repeat, itself a sign)
        if not failures:  # never a pass, never a traceback: the check could not be completed
            return PropertyResult(name, "error", f"the checker could not complete this check: "
                                                 f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}")
    if failures:
        return PropertyResult(name, "fail", failure_message(failures[-1]), failures[-1])
    return PropertyResult(name, "pass")


SUBJECT_OF = {"unit": "lstm_unit, one day: ", "forward": "forward: ", "gradients": "", "training": "",
              "state": ""}  # the check's own name already heads its line


def failure_message(failure: PropertyFailure | Raised) -> str:
    """One line: the worst mismatch in the lesson's words (or what the learner's code raised)."""
    if isinstance(failure, Raised):
        return f"{SUBJECT_OF[failure.name] or failure.name + ': '}raised {failure.error}"
    worst = max(failure.failed, key=lambda c: c.ratio)
    more = len(failure.failed) - 1
    if failure.name == "state":
        text = f"forward gave {worst.expected:.6g}, then {worst.got:.6g} for the same days after other calls"
    else:
        text = f"{worst.quantity} is {worst.got:.6g} where the reference gives {worst.expected:.6g}"
    return f"{SUBJECT_OF[failure.name]}{text}" + (f" (and {more} more differ)" if more > 0 else "")


def _strategy(name: str, lengths: list[int]):
    if name == "unit":
        return strategies.examples(1, 1)
    if lengths == list(range(lengths[0], lengths[-1] + 1)):
        return strategies.examples(lengths[0], lengths[-1])
    return st.sampled_from(lengths).flatmap(lambda n: strategies.examples(n, n))


def _explicit(name: str, lengths: list[int]) -> list:
    return [e for e in strategies.lesson_examples() if name == "unit" or len(e.days) in lengths]


def _count(name: str, examples: int) -> int:
    """Training runs a Lightning Trainer per example and state reuses forward: fewer of each."""
    return {"training": max(1, examples // 25), "state": max(1, examples // 10)}.get(name, examples)


# --- the report -------------------------------------------------------------------------------

MESSAGES = {
    "forward": "lstm_unit and forward agree with the reference",
    "gradients": "the gradients of the lesson's loss agree with the reference",
    "training": "Lightning training moves the parameters as the reference's Adam does",
    "state": "forward gives the same answer whatever was called before",
}


def _finite_or_text(value: float):
    return value if math.isfinite(value) else str(value)


def counterexample(failure) -> dict:
    """The failing example in the lesson's names, and each mismatch (JSON-safe)."""
    example = failure.example
    out = {"property": failure.name,
           "parameters": {n: example.params[n] for n in PARAM_NAMES},
           "days": list(example.days), "label": example.label}
    if failure.name == "unit":
        out["days"] = list(example.days[:1])
        out["memories"] = {"long": example.memories[0], "short": example.memories[1]}
    if isinstance(failure, Raised):
        out["error"] = failure.error
        out["mismatches"] = []
    else:
        out["mismatches"] = [{"quantity": c.quantity, "expected": _finite_or_text(c.expected),
                              "got": _finite_or_text(c.got), "tolerance": _finite_or_text(c.tolerance)}
                             for c in failure.failed]
    return out


def _check_entry(check: str, results: dict[str, PropertyResult]) -> dict:
    parts = [results[name] for name in CHECK_PROPERTIES[check] if name in results]
    for status in ("fail", "error", "skip"):
        bad = [r for r in parts if r.status == status]
        if bad:
            first = bad[0]
            return {"id": check, "status": status, "message": first.message,
                    "counterexample": counterexample(first.failure) if first.failure else None}
    return {"id": check, "status": "pass", "message": MESSAGES[check], "counterexample": None}


def _verdict(checks: list[dict]) -> str:
    """Any fail is a fail; else any error is an error; a skipped check (training of a plain
    torch.nn.Module) is said in its message and does not stand in the way of a pass."""
    statuses = {c["status"] for c in checks}
    return "fail" if "fail" in statuses else "error" if "error" in statuses else "pass"


def error_report(path: str, message: str, started: float, class_name: str | None = None,
                 interface: Interface | None = None) -> dict:
    return {"verdict": "error",
            "checks": [{"id": c, "status": "error", "message": message, "counterexample": None}
                       for c in CHECK_IDS],
            "diagnoses": [],
            "implementation": {"path": path, "class": class_name,
                               "sequence_lengths": interface.lengths if interface else None,
                               "dtype": interface.dtype if interface else None,
                               "interface": interface.as_dict() if interface else None},
            "seconds": round(time.monotonic() - started, 2)}


def error_line(report: dict) -> str | None:
    """The one line that says why a report with verdict "error" could not be checked."""
    for check in report["checks"]:
        if check["status"] == "error":
            return check["message"]
    return None


# --- the whole check --------------------------------------------------------------------------

def _lesson_names(param_map: dict | None) -> dict[str, str]:
    if param_map is None:
        return {n: n for n in PARAM_NAMES}
    if not isinstance(param_map, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in param_map.items()):
        raise UserError("--param-map: give a JSON object from lesson names to attribute names")
    unknown = sorted(set(param_map) - set(PARAM_NAMES))
    if unknown:
        raise UserError(f"--param-map: not lesson names: {', '.join(unknown)} "
                        f"(the lesson's names are {', '.join(PARAM_NAMES)})")
    return {n: param_map.get(n, n) for n in PARAM_NAMES}


@dataclass
class Outcome:
    report: dict  # the --json report
    diagnoses: list[dict]  # diagnosis's findings, best first: {"id", "detail", ...}


def check_file(path: str, class_name: str | None = None, param_map: dict | None = None,
               timeout: float = 60.0, examples: int = EXAMPLES) -> dict:
    """Check the learner's class in `path` against the reference; the report as a dict (see above)."""
    return check(path, class_name, param_map, timeout, examples).report


def check(path: str, class_name: str | None = None, param_map: dict | None = None,
          timeout: float = 60.0, examples: int = EXAMPLES) -> Outcome:
    """check_file, keeping diagnosis's details (which parameter is misused where) for the human report."""
    started = time.monotonic()
    if examples < 1:
        raise UserError(f"--examples must be at least 1, got {examples}")
    if not timeout > 0:
        raise UserError(f"--timeout must be positive, got {timeout}")
    auto = param_map == "auto"  # --param-map auto: the child infers the map from behaviour (automap.py)
    names = {} if auto else _lesson_names(param_map)
    path = str(path)
    try:
        source = load.read_source(path)
        load.parse(source)
    except load.CouldNotCheck as error:
        return Outcome(error_report(path, str(error), started, class_name), [])
    # everything must be over by the time limit: leave a moment to stop the child and report
    total_deadline = started + timeout - min(1.0, timeout / 10)
    child = Child(cpu_seconds=int(timeout) + 30)
    child.setup = [("load", {"source": source.as_dict(), "class_name": class_name, "names": names})]
    found_class, interface = class_name, None
    try:
        Zygote.shared().wait_ready(total_deadline)
        # loading takes well under a second once torch is imported: a hang shows here
        child.deadline = min(total_deadline, time.monotonic() + LOAD_SHARE * timeout)
        child.start()
        found_class = child.setup_answers[0]["class"]
        if auto:
            inferred = child.call("infer_param_map")
            names = inferred["names"]
            child.setup[0][1]["names"] = names  # a restarted child loads with the inferred map
        # a forward that hangs is found here: probing takes well under a second when it does not
        child.deadline = min(total_deadline, time.monotonic() + PROBE_SHARE * timeout)
        interface = probe(child)
        child.deadline = total_deadline
        interface.notes[:0] = [str(n) for n in child.setup_answers[0].get("notes", [])]
        if auto:
            interface.notes.append(inferred["note"] or "parameters found by behaviour (--param-map auto): "
                                   + ", ".join(f"{lesson}={attribute}" for lesson, attribute in names.items()))
        configure = ("configure", {"dtype": interface.dtype, "order": list(interface.order),
                                   "returns": list(interface.returns), "batched": interface.batched})
        child.call(configure[0], **configure[1])
        child.setup.append(configure)
        lightning = child.setup_answers[0].get("lightning") is True
        return _run_checks(child, path, found_class, names, param_map, interface, examples,
                           started, total_deadline, lightning)
    except (load.CouldNotCheck, ChildError, LearnerError) as error:
        return Outcome(error_report(path, _located(error, path), started, found_class, interface), [])
    finally:
        child.close()


def _located(error: BaseException, path: str) -> str:
    text = str(error)
    return text if text.startswith(path) else f"{path}: {text}"


def _run_checks(child: Child, path: str, class_name: str, names: dict, param_map: dict | None,
                interface: Interface, examples: int, started: float, total_deadline: float,
                lightning: bool) -> Outcome:
    subject = ChildSubject(child, class_name, interface.dtype)
    results: dict[str, PropertyResult] = {}
    for check in CHECK_IDS:
        for name in CHECK_PROPERTIES[check]:
            if name == "training" and not lightning:
                results[name] = PropertyResult(name, "skip", "not a LightningModule: training is not checked")
                continue
            left = total_deadline - time.monotonic()
            if left <= 0:
                results[name] = PropertyResult(name, "error", "not run: the time limit was used up")
                continue
            child.deadline = time.monotonic() + left / max(1, _properties_left(name))
            try:
                if not child.alive:
                    child.restart()
                results[name] = run_property(name, subject, _strategy(name, interface.lengths),
                                             _explicit(name, interface.lengths),
                                             _count(name, examples), child.deadline)
            except (ChildError, load.CouldNotCheck, LearnerError) as error:  # LearnerError: on a restart
                results[name] = PropertyResult(name, "error", _located(error, path))
                child.stop()
    checks = [_check_entry(check, results) for check in CHECK_IDS]
    if subject.notes and any(c["id"] == "gradients" and c["status"] == "fail" for c in checks):
        checks[1]["message"] += f" ({subject.notes[0]})"
    verdict = _verdict(checks)
    diagnoses = _diagnose(child, subject, results, total_deadline) if verdict == "fail" else []
    implementation = {"path": path, "class": class_name, "sequence_lengths": interface.lengths,
                      "dtype": interface.dtype, "interface": interface.as_dict()}
    if param_map:
        implementation["param_map"] = dict(names)
    report = {"verdict": verdict, "checks": checks, "diagnoses": [d["id"] for d in diagnoses],
              "implementation": implementation, "seconds": round(time.monotonic() - started, 2)}
    return Outcome(report, diagnoses)


ORDER = [name for check in CHECK_IDS for name in CHECK_PROPERTIES[check]]
SHARE = {"unit": 1, "forward": 1, "gradients": 1, "training": 3, "state": 1}  # training runs Trainers


def _properties_left(name: str) -> float:
    """How many shares of the remaining time the properties from `name` on will need, over name's."""
    rest = ORDER[ORDER.index(name):]
    return sum(SHARE[n] for n in rest) / SHARE[name]


def _diagnose(child: Child, subject: ChildSubject, results: dict, deadline: float) -> list[dict]:
    try:
        from . import diagnose
    except ModuleNotFoundError as missing:
        if missing.name != f"{__package__}.diagnose":
            raise
        return [{"id": "unknown", "detail": "no diagnosis available"}]
    child.deadline = deadline
    try:
        if not child.alive:
            child.restart()
        facts = child.call("facts")
        plain = {name: {"id": name, "status": r.status, "message": r.message,
                        "counterexample": counterexample(r.failure) if r.failure else None}
                 for name, r in results.items()}
        found = diagnose.diagnose(subject, plain, facts)
    except (ChildError, LearnerError, load.CouldNotCheck):
        found = []
    return found or [{"id": "unknown",
                      "detail": "no single mistake from the catalog reproduces these numbers"}]
