"""Each submission in fresh namespaces of its own, forked from a fork server inside bubblewrap.

bubblewrap builds the worker's sandbox once (read-only view, no network, own PID namespace); the
fork server imports torch and Lightning there, and every child it forks for a submission first
enters new user, mount, PID, IPC, network and UTS namespaces: its own empty /tmp (or /var/tmp
where Python lives under /tmp) and /dev/shm,
no /proc of the worker, no capabilities, and it is PID 1 of its own PID namespace, so when it
ends the kernel ends everything it started. With `process` isolation (no bubblewrap) a child
only gets its own session and folder. Standard library only: this file is bound into the sandbox.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from dataclasses import dataclass

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
ST_ATIME_FLAGS = 1024 | 2048 | 4096  # noatime, nodiratime, relatime: statvfs and mount agree
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
OUTPUT_BYTES = 64 * 2**20  # a learner printing without end must not fill the disk
TMP_SIZE = "64m"

_libc = ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def become_subreaper() -> None:
    _call(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")


@dataclass
class LimitBase:
    """What the fork server already maps, read once (a child has no /proc of its own to read)."""

    address_space: int
    cpuinfo: bytes

    @classmethod
    def measure(cls) -> LimitBase:
        address_space, cpuinfo = 0, b""
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmSize:"):
                        address_space = int(line.split()[1]) * 1024
            with open("/proc/cpuinfo", "rb") as info:  # torch's CPU detection reads it lazily
                cpuinfo = info.read()
        except OSError:
            pass
        return cls(address_space, cpuinfo)

    def apply(self, memory: int, cpu_seconds: int, processes: int | None) -> None:
        """`memory` more bytes of address space than torch and Lightning already map (a CUDA build
        of torch maps gigabytes it never touches), CPU seconds, output size, no core dumps, and
        processes (threads included): counted in the child's own user namespace, so `None` where
        it has none (`process` isolation), and not counted by the kernel for a uid that is root
        outside every namespace (there the PID namespace's end is what stops a fork bomb)."""
        limits = {resource.RLIMIT_AS: self.address_space + memory,
                  resource.RLIMIT_CPU: cpu_seconds,  # a backstop: the parent's time limit acts first
                  resource.RLIMIT_FSIZE: OUTPUT_BYTES,
                  resource.RLIMIT_CORE: 0}
        if processes is not None:
            limits[resource.RLIMIT_NPROC] = processes
        for kind, value in limits.items():  # hard limits too: the learner's code cannot raise them
            hard = resource.getrlimit(kind)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value + 5 if kind == resource.RLIMIT_CPU else value))


def spawn(mode: str, base: LimitBase, run_child, work_dir: str = "/tmp") -> int:
    """Fork a child that runs `run_child()` in fresh namespaces (`sandbox`) or its own session
    (`process`); its pid, as the fork server sees it."""
    if mode == "process":
        pid = os.fork()
        if pid == 0:
            os.setsid()  # its own process group: killed with whatever it started
            run_child()
        return pid
    ready_read, ready_write = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(ready_read)
            _enter_namespaces(work_dir)
            child = os.fork()  # PID 1 of the new PID namespace
            if child == 0:
                os.close(ready_write)
                _mount(b"proc-less", b"/proc", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"mode=0755")
                _give_cpuinfo(base.cpuinfo)
                _drop_capabilities()
                os.setsid()
                os.chdir(work_dir)
                run_child()
            os.write(ready_write, str(child).encode())
        except BaseException as error:  # told to the parent through the empty answer, and the log
            os.write(2, f"could not enter fresh namespaces: {error}\n".encode())
        finally:
            os._exit(0)
    os.close(ready_write)
    with os.fdopen(ready_read, "rb") as ready:
        answer = ready.read()
    os.waitpid(middle, 0)  # the child is ours now: the fork server is a subreaper
    if not answer:
        raise OSError("could not enter fresh namespaces for the child (see the log)")
    return int(answer)


def _enter_namespaces(work_dir: str) -> None:
    uid, gid = os.getuid(), os.getgid()
    _call(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET
                        | CLONE_NEWUTS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)
    _mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
    _mount(b"tmp", work_dir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, f"size={TMP_SIZE},mode=0700".encode())
    if os.path.isdir("/dev/shm"):
        _mount(b"shm", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, f"size={TMP_SIZE},mode=0700".encode())
    _remount_read_only("/dev")  # bubblewrap's /dev is one tmpfs for the whole worker


def _give_cpuinfo(cpuinfo: bytes) -> None:
    """An otherwise empty, read-only /proc: torch reads /proc/cpuinfo on its first operation."""
    with open("/proc/cpuinfo", "wb") as file:
        file.write(cpuinfo)
    _remount_read_only("/proc")


def _remount_read_only(path: str) -> None:
    """Read-only, keeping the mount's other flags (a user namespace may not clear them)."""
    kept = os.statvfs(path).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | ST_ATIME_FLAGS)
    _mount(path.encode(), path.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept, None)


def _mount(source, target, kind, flags: int, data) -> None:
    _call(_libc.mount(source, target, kind, flags, data), f"mount {target.decode()}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    """No capability of any kind, in any namespace, from here on (no_new_privs keeps it so)."""
    _call(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()), "capset")
    _call(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def kill(pid: int, mode: str) -> None:
    """Stop a child and everything it started: its PID namespace ends with it (`sandbox`), or its
    process group (`process`)."""
    for target in ((pid,) if mode == "sandbox" else (-pid, pid)):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
