"""Framing both sides use: length-prefixed JSON on dedicated pipes, and the errors an answer carries.

A request is `{"op": name, **arguments}`; an answer is `{"ok": value}` or
`{"error": one line, "kind": "learner" | "load" | "protocol"}`. Standard library only: this file
is bound into the sandbox beside the learner's code.
"""

from __future__ import annotations

import json
import os
import struct

HEADER = struct.Struct("!Q")
MAX_MESSAGE = 64 * 2**20  # an answer is a few kB; anything near this is garbage


class LearnerError(Exception):
    """The learner's code raised: the message says what and where, in one line."""


class CouldNotCheck(Exception):
    """The learner's file cannot be checked (missing, syntax error, no class, import error, ...)."""

    exit_code = 2


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
