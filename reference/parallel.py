"""How the reference's loss_and_grads runs a large batch: in pieces of rows, on a few threads, in
working arrays kept from one call to the next. Speed only: each batch element is computed exactly
as it would be alone (lstm.py holds the arithmetic).
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from types import EllipsisType
from typing import Callable

import numpy as np

# A large batch runs in pieces of at most PIECE elements, each through all days, forward and
# backward, before the next (in the same working arrays), spread over THREADS
# threads (NumPy lets go of the GIL inside each operation). A thread takes a share only if it gets
# SHARE elements or more: every NumPy call hands the GIL over between the threads, which costs
# more than a smaller share of arithmetic saves.
PIECE, SHARE = 65536, 32768  # PIECE: benchmarks/reference_blocks.py, 2 cores, load 1.2-5, 2026-12-03
# (the larger the faster on two threads up to 65536, the most it measured: each piece costs ~0.25 ms
# of calls, holding the GIL, which outweighs what a cache-sized piece saves; on one thread 16384 won)
# (at most 4: measured on 2 cores, and more threads hand the GIL over more often)
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

Rows = slice | EllipsisType


def pieces(batch: tuple[int, ...]) -> tuple[list[Rows], int]:
    """Row ranges of the batch's first axis, of equal size (or ... for the whole batch), and how
    many threads share them."""
    elements, rows = math.prod(batch), batch[0] if batch else 1
    threads = max(1, min(THREADS, elements // SHARE, rows))
    count = threads * -(-elements // (threads * PIECE))
    if count <= 1:
        return [...], 1
    size = -(-rows // count)
    return [slice(start, start + size) for start in range(0, rows, size)], threads


def in_pieces(batch: tuple[int, ...], one_piece: Callable[[Rows], None]) -> None:
    """one_piece(rows) for every piece of the batch, the pieces shared among the threads."""
    found, threads = pieces(batch)

    def share(mine: list[Rows], settings: dict) -> None:
        with np.errstate(**settings):  # the caller's floating-point settings (np.geterr())
            for rows in mine:
                one_piece(rows)

    shares = [_WORKERS.pool().submit(share, found[k::threads], np.geterr()) for k in range(1, threads)]
    try:
        for rows in found[::threads]:
            one_piece(rows)
    finally:
        wait(shares)  # no share still writing into the caller's arrays once this call is over
    for done in shares:
        done.result()  # a share's exception is the caller's


class _Workers:
    """The threads that take their share of a large batch's pieces; started on first use and
    forgotten in a forked child (whose copy of them would never run)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._starting = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def pool(self) -> ThreadPoolExecutor:
        with self._starting:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(THREADS - 1, thread_name_prefix="reference")
            return self._pool

    def _forget(self) -> None:
        self._pool, self._starting = None, threading.Lock()


_WORKERS = _Workers()


class _Scratch(threading.local):
    """Working arrays that loss_and_grads keeps from one call to the next, one set per thread.

    Fresh memory costs a page fault per 4 KiB on first touch, which for these short loops costs
    more than the arithmetic: reusing the arrays halves loss_and_grads' time. Only arrays whose
    contents stay inside loss_and_grads come from here (run and backward hand out fresh ones).
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def empty(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        size = math.prod(shape)
        buffer = self.arrays.get(name)
        if buffer is None or buffer.size < size:
            buffer = self.arrays[name] = np.empty(size)
        return buffer[:size].reshape(shape)


scratch = _Scratch().empty
