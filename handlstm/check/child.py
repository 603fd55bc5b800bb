"""The child process of `handlstm check`: imports torch, Lightning and the learner's definitions,
and answers the parent's requests with plain numbers. Trusts nothing, decides nothing.

Normally forked from the fork server (`python -m handlstm.check.child zygote SOCKET_FD`, see
`zygote`), which imported torch and Lightning once; standalone as `python -m handlstm.check.child
READ_FD WRITE_FD MEMORY_BYTES`. Requests and answers are length-prefixed JSON on two dedicated
pipes (never stdout, which the learner may print to; stdout and stdin are /dev/null):
a request is `{"op": name, **arguments}`, an answer `{"ok": value}` or
`{"error": one line, "kind": "learner" | "load"}`.

Facts (the `facts` request; diagnosis reads them). Plain JSON, exactly:

    {"parameters": {lesson name: {"attribute": str,        # the module's attribute for it
                                  "found": bool,           # the attribute exists
                                  "is_parameter": bool,    # it is a torch.nn.Parameter
                                  "registered": bool,      # it is in module.parameters()
                                  "requires_grad": bool,   # False where not a tensor
                                  "in_optimizer": bool | None}},  # None: no optimizer to ask
     "optimizer": {"class": str | None,   # e.g. "Adam", of configure_optimizers' first optimizer
                   "lr": float | None,    # its first param group's lr
                   "error": str | None},  # why configure_optimizers could not be read
     "training_step": {"returns_loss": bool | None,  # returned a tensor (or {"loss": tensor})
                                                     # with a gradient; None: it raised
                       "returned": str,    # what it returned: "tensor", "None", "dict", ...
                       "error": str | None}}

Both are read on a fresh instance of the class with the lesson's first sample as the batch.
"""

from __future__ import annotations

import json
import os
import struct
import sys

HEADER = struct.Struct("!Q")
MAX_MESSAGE = 64 * 2**20  # an answer is a few kB; anything near this is garbage


# --- framing (no torch here: the parent uses these too) ----------------------------------------

def send(fd: int, message) -> None:
    data = json.dumps(message).encode()
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def read_exactly(fd: int, size: int, wait=None) -> bytes | None:
    """`size` bytes from fd, or None at end of file. `wait(fd)` blocks until fd is readable."""
    chunks, left = [], size
    while left:
        if wait is not None:
            wait(fd)
        chunk = os.read(fd, min(left, 2**20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, wait=None):
    """The next message, or None when the other side has closed the pipe."""
    header = read_exactly(fd, HEADER.size, wait)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes")
    data = read_exactly(fd, size, wait)
    if data is None:
        return None
    return json.loads(data)


# --- the child --------------------------------------------------------------------------------

class LearnerError(Exception):
    """The learner's code raised: the message says what and where, in one line."""


def _address_space() -> int:
    """Bytes of address space this process already maps (0 where /proc is not there)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit(memory: int, cpu_seconds: int | None = None) -> None:
    """`memory` more bytes of address space than torch and Lightning already map (a CUDA build of
    torch maps gigabytes it never touches), CPU seconds, output size, no core dumps."""
    import resource

    limit = _address_space() + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if cpu_seconds is not None:  # a backstop: the parent's own time limit normally acts first
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    # a learner printing without end must not fill the disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Session:
    """The learner's class and everything the parent may ask about it."""

    def __init__(self):
        import torch

        from . import load

        torch.set_num_threads(1)  # scalar work: threads only cost, and graders run many children
        load.preimport()  # everything the child will use, before the learner's code runs
        self.torch, self.load = torch, load
        self.fingerprint = _fingerprint()
        self.source = self.cls = self.subject = None
        self.batched = False  # forward takes the days as a (1, T) batch
        self.names: dict[str, str] = {}

    def answer(self, request: dict) -> dict:
        op = request.pop("op", None)
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            return {"error": f"unknown request {op!r}", "kind": "protocol"}
        try:
            answer = handler(**request)
            changed = _changed(self.fingerprint)
            if changed:
                raise self.load.CouldNotCheck(f"the implementation modified the checker's own code "
                                              f"({changed}); its answers cannot be trusted")
            return {"ok": answer}
        except self.load.CouldNotCheck as error:
            return {"error": str(error), "kind": "load"}
        except LearnerError as error:
            return {"error": str(error), "kind": "learner"}
        except BaseException as error:  # the learner's code may raise anything, SystemExit included
            return {"error": self.load.describe_exception(error, self.source), "kind": "learner"}

    # --- loading ---

    def op_load(self, source: dict, class_name: str | None, names: dict) -> dict:
        self.source = self.load.Source(**source)
        namespace, notes = self.load.execute(self.source)
        self.cls = self.load.find_class(namespace, class_name, self.source)
        self.names = names
        module = self.instance()
        missing = [lesson for lesson, attribute in names.items() if not hasattr(module, attribute)]
        if missing:
            raise self.load.CouldNotCheck(self.load.missing_parameters_line(
                self.cls.__name__, missing, names, [n for n, _ in module.named_parameters()]))
        import lightning.pytorch as pl

        return {"class": self.cls.__name__, "notes": notes,
                "lightning": isinstance(module, pl.LightningModule)}

    def instance(self):
        """A fresh instance of the learner's class, seeded so every instance starts the same."""
        self.torch.manual_seed(0)
        try:
            module = self.cls()
        except BaseException as error:
            raise LearnerError(self.load.describe_exception(error, self.source)
                               + f" (while creating {self.cls.__name__}())") from None
        return module

    def op_infer_param_map(self) -> dict:
        """--param-map auto: which scalar parameter plays which lesson role, found by probing
        forward (handlstm/check/automap.py); later requests use the map. {"names", "note"}.

        A class that has all 12 of the lesson's names is checked by those names, never remapped:
        otherwise a lesson-named class with two weights or gates swapped would pass with the
        swap hidden in the inferred map."""
        from reference import PARAM_NAMES

        from .automap import infer_param_map

        torch = self.torch
        module = self.instance().to(torch.float32)  # every learner's module runs in float32
        if all(isinstance(getattr(module, name, None), torch.Tensor) for name in PARAM_NAMES):
            self.names = {name: name for name in PARAM_NAMES}
            return {"names": self.names,
                    "note": "--param-map auto: the class has the lesson's 12 names, so it is checked by them"}
        scalars = [name for name, value in module.named_parameters() if value.numel() == 1 and "." not in name]

        def probe(values: dict, days) -> float:
            with torch.no_grad():
                for attribute, value in values.items():
                    getattr(module, attribute).fill_(value)
                return self._number(module(torch.tensor(days, dtype=torch.float32)), "forward")["value"]

        self.names = infer_param_map(scalars, probe)
        return {"names": self.names, "note": None}

    def prepare(self, module, dtype: str):
        """Cast to dtype, and give plain (unregistered) tensor or number attributes the dtype too,
        so setting them loses nothing; the facts still say they are not registered."""
        torch_dtype = {"float64": self.torch.float64, "float32": self.torch.float32}[dtype]
        module.to(torch_dtype)
        registered = {id(p) for p in module.parameters()} | {id(b) for b in module.buffers()}
        for attribute in self.names.values():
            value = getattr(module, attribute)
            if isinstance(value, self.torch.Tensor) and id(value) not in registered:
                setattr(module, attribute,
                        value.detach().to(torch_dtype).requires_grad_(value.requires_grad))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                setattr(module, attribute, self.torch.tensor(float(value), dtype=torch_dtype))
        return module

    # --- probing: raw calls, no interpretation ---

    def _tensor(self, value, dtype: str):
        return self.torch.tensor(value, dtype={"float64": self.torch.float64,
                                               "float32": self.torch.float32}[dtype])

    def _set(self, module, params: dict, dtype: str) -> None:
        with self.torch.no_grad():
            for lesson, attribute in self.names.items():
                getattr(module, attribute).copy_(self._tensor(params[lesson], dtype))

    def _number(self, value, what: str) -> dict:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise LearnerError(f"{what} returned a tensor of shape {tuple(value.shape)}, not one number")
            return {"value": float(value.detach().reshape(())),
                    "dtype": str(value.dtype).replace("torch.", "")}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"value": float(value), "dtype": "python"}
        raise LearnerError(f"{what} returned {type(value).__name__}, not a tensor")

    def _forward(self, module, days, batched: bool):
        return module(days.unsqueeze(0)) if batched else module(days)

    def op_forward_raw(self, params: dict, sequences: list, dtype: str, batched: bool = False) -> list:
        """forward on each sequence: {"value", "dtype"} or {"error"} per sequence."""
        module = self.prepare(self.instance(), dtype)
        self._set(module, params, dtype)
        results = []
        for days in sequences:
            try:
                with self.torch.no_grad():
                    output = self._forward(module, self._tensor(days, dtype), batched)
                    results.append(self._number(output, "forward"))
            except Exception as error:  # a forward written for some lengths only raises on others
                results.append({"error": self.load.describe_exception(error, self.source)})
        return results

    def op_unit_raw(self, params: dict, calls: list, dtype: str) -> list:
        """lstm_unit(a, b, c) for each [a, b, c] as given: its two results, in its own order."""
        module = self.prepare(self.instance(), dtype)
        self._set(module, params, dtype)
        results, dtypes = [], set()
        for args in calls:
            with self.torch.no_grad():
                out = module.lstm_unit(*(self._tensor(a, dtype) for a in args))
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise LearnerError("lstm_unit must return two values (the long and the short memory), "
                                   f"it returned {type(out).__name__}")
            numbers = [self._number(v, "lstm_unit") for v in out]
            results.append([n["value"] for n in numbers])
            dtypes |= {n["dtype"] for n in numbers}
        return {"outputs": results, "dtypes": sorted(dtypes)}

    def op_unit_chains(self, params: dict, interpretations: list, days: list, dtype: str) -> list:
        """For each (argument order, return order): the final short memory of chaining lstm_unit
        over the days from zero memories, or None where lstm_unit raised."""
        module = self.prepare(self.instance(), dtype)
        self._set(module, params, dtype)
        finals = []
        for order, returns in interpretations:
            memory = {"long": 0.0, "short": 0.0}
            try:
                for x in days:
                    values = dict(memory, x=x)
                    with self.torch.no_grad():
                        out = module.lstm_unit(*(self._tensor(values[a], dtype) for a in order))
                    memory = {returns[0]: self._number(out[0], "lstm_unit")["value"],
                              returns[1]: self._number(out[1], "lstm_unit")["value"]}
                finals.append(memory["short"])
            except Exception:
                finals.append(None)
        return finals

    # --- the subject the properties run on ---

    def op_configure(self, dtype: str, order: list, returns: list, batched: bool = False) -> bool:
        from ..subjects import ModuleSubject

        def unit_call(module, x, long, short):
            values = {"x": x, "long": long, "short": short}
            out = module.lstm_unit(*(values[a] for a in order))
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise LearnerError("lstm_unit must return two values (the long and the short memory)")
            by_name = dict(zip(returns, out))
            return by_name["long"], by_name["short"]

        module = self.prepare(self.instance(), dtype)
        self.subject = ModuleSubject(module, dtype=dtype, name=self.cls.__name__, names=self.names,
                                     unit_call=unit_call)
        self.order, self.returns, self.batched = order, returns, batched
        return True

    def op_unit(self, params: dict, x: float, long: float, short: float) -> list:
        return list(self.subject.unit(params, x, long, short))

    def op_forward(self, params: dict, days: list) -> float:
        subject = self.subject
        subject.set_params(params)
        with self.torch.no_grad():
            output = self._forward(subject.module, subject.tensor(tuple(days)), self.batched)
        return self._number(output, "forward")["value"]

    def op_loss_and_grads(self, params: dict, days: list, label: float) -> dict:
        """The loss and the 12 gradients; a gradient autograd cannot give is NaN, with why."""
        subject, torch = self.subject, self.torch
        subject.set_params(params)
        subject.module.zero_grad(set_to_none=True)
        for attribute in self.names.values():
            value = getattr(subject.module, attribute)
            if isinstance(value, torch.Tensor) and value.grad is not None:
                value.grad = None  # unregistered tensors are not cleared by zero_grad
        output = self._forward(subject.module, subject.tensor(tuple(days)), self.batched)
        if not isinstance(output, torch.Tensor):
            raise LearnerError(f"forward returned {type(output).__name__}, not a tensor")
        loss = (output.reshape(()) - label) ** 2
        note = None
        try:
            loss.backward()
        except RuntimeError as error:  # .item()/.detach() cut the graph, or an in-place edit broke it
            note = "backward failed: " + str(error).splitlines()[0]
        grads = {}
        for lesson, attribute in self.names.items():
            value = getattr(subject.module, attribute)
            grad = getattr(value, "grad", None) if note is None else None
            grads[lesson] = float("nan") if grad is None else float(grad.reshape(()))
        return {"loss": float(loss.detach()), "grads": grads, "note": note}

    def op_train(self, params: dict, steps: int) -> dict:
        from ..subjects import ModuleSubject

        module = self.prepare(self.instance(), self.subject.dtype)
        subject = ModuleSubject(module, dtype=self.subject.dtype, name=self.cls.__name__,
                                names=self.names, unit_call=self.subject.unit_call)
        lr, trajectory = subject.train(params, steps)
        return {"lr": lr, "trajectory": trajectory}

    # --- facts for diagnosis ---

    def op_facts(self) -> dict:
        torch = self.torch
        module = self.prepare(self.instance(), self.subject.dtype if self.subject else "float32")
        registered = {id(p) for p in module.parameters()}
        optimizer, optimizer_facts = None, {"class": None, "lr": None, "error": None}
        try:
            optimizer = _first_optimizer(module.configure_optimizers())
            optimizer_facts["class"] = type(optimizer).__name__
            optimizer_facts["lr"] = float(optimizer.param_groups[0]["lr"])
        except BaseException as error:
            optimizer = None
            optimizer_facts["error"] = self.load.describe_exception(error, self.source)
        in_optimizer = ({id(p) for group in optimizer.param_groups for p in group["params"]}
                        if optimizer is not None else None)
        parameters = {}
        for lesson, attribute in self.names.items():
            value = getattr(module, attribute, None)
            parameters[lesson] = {
                "attribute": attribute, "found": hasattr(module, attribute),
                "is_parameter": isinstance(value, torch.nn.Parameter),
                "registered": id(value) in registered,
                "requires_grad": bool(getattr(value, "requires_grad", False)),
                "in_optimizer": None if in_optimizer is None else id(value) in in_optimizer,
            }
        return {"parameters": parameters, "optimizer": optimizer_facts,
                "training_step": self._training_step_facts()}

    def _training_step_facts(self) -> dict:
        import warnings

        from ..data import dataloader

        torch = self.torch
        dtype = self.subject.dtype if self.subject else "float32"
        module = self.prepare(self.instance(), dtype)
        batch = next(iter(dataloader({"float64": torch.float64, "float32": torch.float32}[dtype])))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # self.log outside a Trainer warns
                returned = module.training_step(batch, 0)
        except BaseException as error:
            return {"returns_loss": None, "returned": "error",
                    "error": self.load.describe_exception(error, self.source)}
        loss = returned.get("loss") if isinstance(returned, dict) else returned
        returns_loss = (isinstance(loss, torch.Tensor) and loss.numel() == 1
                        and loss.requires_grad)
        kind = "None" if returned is None else ("tensor" if isinstance(returned, torch.Tensor)
                                                else type(returned).__name__)
        return {"returns_loss": returns_loss, "returned": kind, "error": None}


def _fingerprint() -> dict:
    """The identity of every module-level and class-level object of handlstm and reference: a
    learner's code that rebinds one (to answer from the bundled, correct model) is caught."""
    prints = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in ("handlstm", "reference") or module is None:
            continue
        for key, value in list(vars(module).items()):
            prints[f"{name}.{key}"] = id(value)
            if isinstance(value, type) and value.__module__ == name:
                for attribute, member in list(vars(value).items()):
                    prints[f"{name}.{key}.{attribute}"] = id(member)
    return prints


def _changed(before: dict) -> str | None:
    now = _fingerprint()
    changed = [name for name, identity in before.items() if now.get(name) != identity]
    return ", ".join(changed[:3]) if changed else None


def _first_optimizer(configured):
    """The first optimizer of whatever configure_optimizers returned (optimizer, list, dict, tuple)."""
    if isinstance(configured, dict):
        return _first_optimizer(configured["optimizer"])
    if isinstance(configured, (list, tuple)):
        return _first_optimizer(configured[0])
    if configured is None or not hasattr(configured, "param_groups"):
        raise LearnerError(f"configure_optimizers returned {type(configured).__name__}, not an optimizer")
    return configured


def serve(read_fd: int, write_fd: int) -> None:
    """Answer requests until the parent closes the pipe."""
    session = Session()
    send(write_fd, {"ok": "ready"})
    while True:
        request = receive(read_fd)
        if request is None:
            return
        send(write_fd, session.answer(request))


# --- the fork server ------------------------------------------------------------------------------
# Importing torch and Lightning takes seconds; forking a process that already has them takes
# milliseconds. The zygote imports them once, runs no learner code and no torch operation (so no
# thread pool exists when it forks), and forks one fresh child per check.

def zygote(sock_fd: int) -> None:
    """Serve spawn and status requests on a datagram socket (SOCK_SEQPACKET is Linux-only) until
    the parent is gone.

    spawn: {"op": "spawn", "folder", "memory", "cpu"} with three fds (request read end, answer
    write end, log) -> {"pid"}; status: {"op": "status", "pid"} -> {"code": exit code or None}."""
    import signal
    import socket
    import time

    import select

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    parent = os.getppid()
    sock = socket.socket(fileno=sock_fd)
    import torch

    torch.set_num_threads(1)
    from . import load

    load.preimport()
    sock.send(json.dumps({"ready": True}).encode())
    exited: dict[int, int] = {}
    while True:
        try:
            if not select.select([sock], [], [], 1.0)[0]:
                if os.getppid() != parent:  # a datagram socket has no end of file to tell
                    return
                _reap(exited)
                continue
            message, fds, _, _ = socket.recv_fds(sock, 65536, 3)
        except OSError:
            return
        if not message:
            return
        request = json.loads(message)
        if request["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                _grandchild(sock, fds, request)
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())
        elif request["op"] == "status":
            pid, code = request["pid"], None
            for _ in range(100):  # the child closed its pipe: it is exiting, give it a moment
                _reap(exited)
                if pid in exited:
                    code = exited.pop(pid)
                    break
                time.sleep(0.01)
            sock.send(json.dumps({"code": code}).encode())
        _reap(exited)


def _reap(exited: dict[int, int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exited[pid] = os.waitstatus_to_exitcode(status)


def _grandchild(sock, fds: list[int], request: dict) -> None:
    """In the forked child: own session, own folder, limits, then answer requests. Never returns."""
    code = 0
    try:
        sock.close()
        os.setsid()  # its own process group: the parent kills it and whatever it started
        read_fd, write_fd, log_fd = fds
        os.dup2(log_fd, 2)
        os.close(log_fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        os.chdir(request["folder"])
        _limit(request["memory"], request["cpu"])
        serve(read_fd, write_fd)
    except BaseException:  # nothing of the zygote's loop may run in a child
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def main(argv: list[str]) -> int:
    if argv[1] == "zygote":
        zygote(int(argv[2]))
        return 0
    read_fd, write_fd, memory = int(argv[1]), int(argv[2]), int(argv[3])
    _limit(memory)
    serve(read_fd, write_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
