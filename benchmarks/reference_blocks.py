"""How large a block the reference should give each thread: `python benchmarks/reference_blocks.py
[--batches 100000,1000000] [--blocks 2048,4096,...] [--threads 1,2] [--repeats N] [--rounds R]`.

Not a test: it measures and prints, and asserts nothing. For each batch, `reference.loss_and_grads`
runs with every block size (parallel.PIECE) and thread count asked for, alternating with torch
autograd through the hand module (benchmarks/run.py's reference section, same measurement);
each is a median over the repeats, each round a fresh alternation, and every line says the
ratio to torch of the same round; the last lines, each ratio's median over the rounds.
`default` is the reference as it stands.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import numpy as np
import torch
from handlstm.reference import parallel
from run import DAYS, alternate, median, reference_and_autograd  # benchmarks/run.py, beside this script

from handlstm import reference


def numbers(text: str) -> list[int]:
    return [int(float(n)) for n in text.split(",") if n.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=numbers, default=[10**5, 10**6])
    parser.add_argument("--blocks", type=numbers, default=[2048, 4096, 8192, 16384, 32768, 65536])
    parser.add_argument("--threads", type=numbers, default=[parallel.THREADS])
    parser.add_argument("--repeats", type=int, default=0, help="per round (default: 15 at 10^5, 5 at 10^6)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"torch threads {torch.get_num_threads()}, reference PIECE {parallel.PIECE} "
          f"THREADS {parallel.THREADS}, {DAYS} days")
    for batch in args.batches:
        runs = sides(batch, args.blocks, args.threads)
        names = [name for name in runs if name != "torch"]
        ratios: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(args.rounds):
            load = os.getloadavg()[0]
            # each round starts the reference's turns at another variant: the one right after torch
            # runs slower (torch's threads and working set), and every variant takes that place in turn
            order = ["torch"] + names[round_ % len(names):] + names[:round_ % len(names)]
            repeats = args.repeats or (5 if batch >= 10**6 else 15)
            times = alternate({name: runs[name] for name in order}, repeats)
            torch_s = median(times.pop("torch"))
            print(f"\nbatch {batch}, round {round_ + 1}: load average {load:.2f} -> "
                  f"{os.getloadavg()[0]:.2f}, torch {1e3 * torch_s:.1f} ms")
            for name in names:
                seconds = times[name]
                ratios[name].append(median(seconds) / torch_s)
                print(f"  {name:<24} {1e3 * median(seconds):8.1f} ms   ratio {ratios[name][-1]:.2f}")
        print(f"\nbatch {batch}, median over the {args.rounds} rounds:")
        for name, each in ratios.items():
            print(f"  {name:<24} ratio {median(each):.2f}   (relative to default: "
                  f"{median([r / d for r, d in zip(each, ratios['default'])]):.2f})")
    return 0


def sides(batch: int, blocks: list[int], threads: list[int]) -> dict[str, Callable[[], object]]:
    """torch autograd as benchmarks/run.py times it, the reference as it stands (`default`), and
    the reference with each block size and thread count."""
    params, days, labels, torch_side = reference_and_autograd(batch, np.random.default_rng(0))

    def numpy_side(piece: int, threads: int) -> Callable[[], object]:
        def timed():
            default = parallel.PIECE, parallel.THREADS
            parallel.PIECE, parallel.THREADS = piece, threads
            try:
                return reference.loss_and_grads(params, days, labels)
            finally:
                parallel.PIECE, parallel.THREADS = default
        return timed

    return {"torch": torch_side, "default": lambda: reference.loss_and_grads(params, days, labels),
            **{f"B={piece} threads={t}": numpy_side(piece, t) for piece in blocks for t in threads}}

if __name__ == "__main__":
    sys.exit(main())
