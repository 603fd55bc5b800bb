"""The fork server, started in the sandbox as `python forkserver.py zygote SOCKET_FD MODE` (MODE
`sandbox` inside bubblewrap, `process` without it).

Importing torch and Lightning takes seconds; forking a process that already has them takes
milliseconds. The fork server imports them once, runs no learner code and no torch operation (so
no thread pool exists when it forks), and forks one fresh child per submission, in fresh
namespaces of its own (namespaces.py), which answers the parent's requests (runner.py).
"""

from __future__ import annotations

import json
import os
import sys

if __package__:
    from . import definitions, namespaces, runner
else:  # inside the sandbox: the sibling files sit beside this one, outside any package
    import definitions
    import namespaces
    import runner


def zygote(sock_fd: int, mode: str, work_dir: str) -> None:
    """Serve requests on a datagram socket until the parent is gone:

    spawn: {"op": "spawn", "memory", "cpu", "processes"} with three fds (request read end, answer
    write end, log) -> {"pid"}; status: {"op": "status", "pid"} -> {"code": exit code or None};
    kill: {"op": "kill", "pid"} -> {"killed": bool}. Only pids this zygote spawned are touched."""
    import select
    import signal
    import socket
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    namespaces.become_subreaper()  # a sandboxed child's intermediate exits; the child stays ours
    parent = os.getppid()
    sock = socket.socket(fileno=sock_fd)
    import torch

    torch.set_num_threads(1)
    definitions.preimport()
    base = namespaces.LimitBase.measure()
    sock.send(json.dumps({"ready": True}).encode())
    spawned: set[int] = set()
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
            try:
                pid = namespaces.spawn(mode, base, lambda fds=fds, request=request: _child(sock, fds, request, base, mode),
                                       work_dir)
            except OSError as error:
                answer = {"error": f"the sandbox could not start a child: {error}"}
            else:
                spawned.add(pid)
                answer = {"pid": pid}
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps(answer).encode())
        elif request["op"] == "kill":
            pid = request["pid"]
            killed = pid in spawned and pid not in exited
            if killed:
                namespaces.kill(pid, mode)
            sock.send(json.dumps({"killed": killed}).encode())
        elif request["op"] == "status":
            pid, code = request["pid"], None
            for _ in range(500):  # it is exiting; a PID namespace ends when all of its processes have
                _reap(exited)
                if pid in exited:
                    code = exited.pop(pid)
                    spawned.discard(pid)
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


# the runner's own files, imported by their bare names outside the package
RUNNER_MODULES = ("protocol", "definitions", "facts", "trajectory", "namespaces", "runner", "lightning_moves")


def _step_aside() -> None:
    """Leave the module names to the learner: a student's own facts.py or protocol.py must be the
    one their code imports. The runner's modules already hold one another; they leave
    sys.modules, and their folder leaves sys.path."""
    if __package__:
        return  # imported as handlstm.check.sandbox.*: no bare names taken
    here = os.path.dirname(os.path.abspath(__file__))
    for name in RUNNER_MODULES:
        sys.modules.pop(name, None)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]


def _child(sock, fds: list[int], request: dict, base, mode: str) -> None:
    """In the forked child, inside its own namespaces (or session): limits, then answer requests.
    Never returns."""
    code = 0
    try:
        sock.close()
        read_fd, write_fd, log_fd = fds
        os.dup2(log_fd, 2)
        os.close(log_fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        if mode == "process":
            os.chdir(request["folder"])
        base.apply(request["memory"], request["cpu"], request["processes"])
        _step_aside()
        runner.serve(read_fd, write_fd)
    except BaseException:  # nothing of the zygote's loop may run in a child
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


if __name__ == "__main__":
    zygote(int(sys.argv[2]), sys.argv[3], sys.argv[4])
