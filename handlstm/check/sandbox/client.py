"""The parent's handle on a sandboxed runner: the fork server of this process, and one child per check.

`Zygote.shared(isolation)` starts, once per parent process, the runner's fork server: inside
bubblewrap (`sandbox`, see bwrap.py and namespaces.py) or as a plain process (`process`). Each
check is a `Child` forked from it, spoken to on two pipes of its own (protocol.py). The parent
never imports the learner's code or torch.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

from ...errors import UserError
from . import bwrap
from .protocol import CouldNotCheck, LearnerError, receive, send

ISOLATIONS = ("sandbox", "process")
# address space a child may add to what torch and Lightning map: training needs well under 1 GiB
MEMORY_LIMIT = 2 * 2**30
PROCESSES_LIMIT = 64  # processes and threads of one submission (its own user namespace)

WAITING_FOR = {"load": "loading the file and creating the class", "forward_raw": "forward",
               "unit_raw": "lstm_unit", "unit_chains": "lstm_unit", "configure": "creating the class",
               "unit": "lstm_unit", "forward": "forward", "loss_and_grads": "forward and backward",
               "unit_loss_and_grads": "lstm_unit and backward",
               "train": "Lightning training", "facts": "configure_optimizers or training_step",
               "scalar_parameters": "creating the class", "probe_forward": "forward"}


CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x1f\x7f-\x9f]")  # escape sequences, control characters
LINE_LIMIT = 400


def one_line(text, limit: int = LINE_LIMIT) -> str:
    """Text from the sandbox made safe to print and store: one line, no escape sequences or control
    characters (a learner's message must not redraw the terminal or forge a verdict), bounded."""
    line = " ".join(CONTROL.sub(" ", str(text)).split())
    # a lone surrogate (raise RuntimeError("\ud800")) would make every UTF-8 writer fail: escaped
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def plain(value):
    """A JSON answer with every string made one safe line (see one_line)."""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {one_line(key): plain(item) for key, item in value.items()}
    return value


class SandboxError(BaseException):
    """The child died, sent garbage or ran out of time. A BaseException so that Hypothesis does not
    treat it as a failing example and shrink on it: it ends the check as "error"."""


def number_sent(value) -> float:
    """A number from the sandbox's answer; anything else is a SandboxError, never trusted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SandboxError(f"the checking process sent {type(value).__name__} where a number belongs")
    return float(value)


def choose_isolation(isolation: str | None, many: bool) -> str:
    """The isolation to use: the one asked for, else the sandbox where bubblewrap works; one file
    may fall back to process isolation (the report says so), several may not unless asked."""
    if isolation not in (None, *ISOLATIONS):
        raise UserError(f"--isolation must be one of {', '.join(ISOLATIONS)}, not {isolation!r}")
    why = bwrap.unavailable() if isolation != "process" else None
    if isolation == "sandbox" and why:
        raise UserError(f"--isolation sandbox: {why}; install bubblewrap (apt-get install bubblewrap)")
    if isolation is None and why:
        if many:
            raise UserError(f"grading several files needs the sandbox, and {why}: install bubblewrap "
                            "(apt-get install bubblewrap), or pass --isolation process to grade with "
                            "process isolation only (a submission could then touch another's result)")
        return "process"
    return isolation or "sandbox"


class Zygote:
    """The runner's fork server: imports torch and Lightning once per parent process, then forks
    a fresh child for every check in milliseconds."""

    _shared: dict[str, Zygote] = {}
    _lock = threading.Lock()

    @classmethod
    def shared(cls, isolation: str) -> Zygote:
        with cls._lock:
            zygote = cls._shared.get(isolation)
            if zygote is None or zygote.process.poll() is not None:
                zygote = cls._shared[isolation] = cls(isolation)
            return zygote

    def __init__(self, isolation: str):
        self.isolation = isolation
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)  # keeps message bounds
        self.log = tempfile.TemporaryFile()
        if isolation == "sandbox":
            arguments = ["zygote", str(theirs.fileno()), isolation, bwrap.work_dir()]
            command, cwd, env = bwrap.command(arguments), None, None
        else:
            self.folder = tempfile.TemporaryDirectory(prefix="check-")
            arguments = ["zygote", str(theirs.fileno()), isolation, self.folder.name]
            command, cwd = bwrap.process_command(arguments), self.folder.name
            env = dict(bwrap.ENVIRONMENT, HOME=self.folder.name)
        self.process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=self.log, cwd=cwd, env=env,
                                        start_new_session=True)  # Ctrl-C is the parent's to handle
        theirs.close()
        self.sock, self.ready, self.lock = ours, False, threading.Lock()
        atexit.register(self.close)

    def _reply(self, deadline: float, waiting_for: str) -> dict:
        while not select.select([self.sock], [], [], min(0.5, max(0.0, deadline - time.monotonic())))[0]:
            if self.process.poll() is not None:  # a datagram socket has no end of file to tell
                break
            if time.monotonic() >= deadline:
                raise SandboxError(f"timed out: {waiting_for} did not finish within the time limit")
        data = self.sock.recv(65536) if self.process.poll() is None else b""
        if not data:
            self.log.seek(0)
            last = self.log.read()[-2000:].decode(errors="replace").strip().splitlines()
            raise SandboxError("the checker's sandboxed process that imports torch and Lightning died"
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
            try:
                socket.send_fds(self.sock, [json.dumps(message).encode()], fds)
            except OSError as error:
                raise SandboxError(f"the checker's sandboxed process is gone ({error.strerror})") from None
            answer = self._reply(max(deadline, time.monotonic() + 5), "starting the checking process")
        if "error" in answer:
            raise SandboxError(str(answer["error"]))
        return answer

    def close(self) -> None:
        """Stop the fork server and, with it, every child it forked (bubblewrap ends its namespace)."""
        self.sock.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Child:
    """One child process, forked by the zygote, with requests and answers on dedicated pipes."""

    def __init__(self, isolation: str, memory: int = MEMORY_LIMIT, cpu_seconds: int = 600):
        self.isolation, self.memory, self.cpu_seconds = isolation, memory, cpu_seconds
        self.pid, self.setup, self.deadline = None, [], math.inf
        self.dead, self.code = True, None

    def start(self) -> None:
        request_read, self.request_write = os.pipe()
        self.answer_read, answer_write = os.pipe()
        self.log = tempfile.TemporaryFile()
        self.zygote = Zygote.shared(self.isolation)
        request = {"op": "spawn", "memory": self.memory, "cpu": self.cpu_seconds,
                   "processes": PROCESSES_LIMIT if self.isolation == "sandbox" else None}
        if self.isolation == "process":
            self.folder = tempfile.TemporaryDirectory(prefix="check-")
            request["folder"] = self.folder.name
        try:
            answer = self.zygote.request(request, [request_read, answer_write, self.log.fileno()],
                                         self.deadline)
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
            raise SandboxError(self.death())
        waiting_for = arguments["calls"][0]["op"] if op == "batch" and arguments.get("calls") else op
        try:
            send(self.request_write, {"op": op, **arguments})
            if not self.ready:
                self._receive(waiting_for)
                self.ready = True
            answer = self._receive(waiting_for)
        except BrokenPipeError:
            self.stop()
            raise SandboxError(self.death()) from None
        return self._value(op, answer)

    def call_many(self, calls: list[tuple[str, dict]]) -> list:
        """Send many requests as one and wait for all their answers: each one's value, or the
        LearnerError its call raised (the rest still answered, in order, as one by one)."""
        answers = self.call("batch", calls=[{"op": op, **arguments} for op, arguments in calls])
        if not isinstance(answers, list) or len(answers) != len(calls):
            self.stop()
            raise SandboxError("the checking process sent a malformed answer to batch")
        values = []
        for (op, _), answer in zip(calls, answers):
            try:
                values.append(self._value(op, answer))
            except LearnerError as error:
                values.append(error)
        return values

    def _value(self, op: str, answer):
        if not isinstance(answer, dict):
            self.stop()
            raise SandboxError(f"the checking process sent a malformed answer to {op}")
        if "error" in answer:
            if answer.get("kind") == "load":
                raise CouldNotCheck(one_line(answer["error"]))
            raise LearnerError(one_line(answer["error"]))
        if "ok" not in answer:
            self.stop()
            raise SandboxError(f"the checking process sent a malformed answer to {op}")
        return plain(answer["ok"])

    def _receive(self, op: str):
        def wait(fd: int) -> None:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], None if left == math.inf else left)[0]:
                self.stop()
                raise SandboxError(f"timed out: {WAITING_FOR.get(op, op)} did not finish within the time "
                                   "limit (an endless loop?)")

        try:
            answer = receive(self.answer_read, wait)
        except (ValueError, UnicodeDecodeError, RecursionError):  # garbage, or JSON nested to crash a parser
            self.stop()
            raise SandboxError(f"the checking process sent a malformed answer to {op}") from None
        if answer is None:  # the child closed its pipe: it has exited (or is exiting)
            self.stop()
            raise SandboxError(self.death())
        return answer

    def death(self) -> str:
        """Why the child is gone, in one line."""
        if self.pid is None:
            return "the checking process was not started"
        size = self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, size - 4000))  # the tail only: the log is as long as the learner made it
        last = [line for line in self.log.read().decode(errors="replace").splitlines() if line.strip()]
        last_line = one_line(last[-1], 200) if last else ""  # the learner's words: said, never believed
        code = self.code
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

    def stop(self) -> None:
        """End the child and everything it started (its PID namespace, or its process group)."""
        if self.pid is None or self.dead:
            return
        self.dead = True
        try:
            self.zygote.request({"op": "kill", "pid": self.pid}, [], time.monotonic() + 5)
            self.code = self.zygote.request({"op": "status", "pid": self.pid}, [], time.monotonic() + 10)["code"]
        except SandboxError:
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
        if hasattr(self, "log"):
            self.log.close()

    def restart(self) -> None:
        self.close()
        self.start()
