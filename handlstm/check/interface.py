"""Probing what the learner's class accepts, decided in the parent from the runner's raw numbers:
the sequence lengths its forward handles, the dtypes it runs in, whether forward takes a batch
of one, and lstm_unit's argument and return order."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from handlstm import reference

from .. import strategies, tolerances
from ..data import LESSON_DAYS
from .sandbox.client import Child, SandboxError, number_sent
from .sandbox.protocol import CouldNotCheck, LearnerError

LESSON_ORDER, LESSON_RETURNS = ("x", "long", "short"), ("long", "short")
ARGUMENT_WORDS = {"x": "input", "long": "long", "short": "short"}
# Moderate, distinct values, so no gate saturates and no two parameters look alike.
PROBE_PARAMS = {"wlr1": 0.7, "wlr2": -0.6, "blr1": 0.3, "wpr1": -0.4, "wpr2": 0.9, "bpr1": -0.2,
                "wp1": 0.5, "wp2": 1.1, "bp1": 0.15, "wo1": -0.8, "wo2": 0.6, "bo1": 0.25}
PROBE_DAYS = (0.7, -0.4, 0.9, 0.3, -0.8, 0.5, 0.2, -0.6, 1.0, -0.3, 0.4, 0.8, -0.9, 0.1, 0.6, -0.5)
PROBE_UNIT = ((0.8, -0.6, 0.3), (-0.5, 1.2, -0.7), (0.3, 0.4, 0.9))  # (x, long, short)


@dataclass
class Interface:
    lengths: list[int]
    dtypes: list[str]  # every dtype the class runs in, each checked with its own tolerances
    order: tuple[str, ...] = LESSON_ORDER
    returns: tuple[str, ...] = LESSON_RETURNS
    notes: list[str] = field(default_factory=list)
    batched: bool = False  # forward takes the days as a (1, days) batch

    @property
    def dtype(self) -> str:
        """The dtype checked first (float64 where the class runs in it)."""
        return self.dtypes[0]

    def as_dict(self) -> dict:
        arguments = ", ".join(ARGUMENT_WORDS[a] for a in self.order)
        return {"lstm_unit": f"lstm_unit({arguments}) -> [{', '.join(self.returns)}]",
                "arguments": list(self.order), "returns": list(self.returns),
                "forward_input": "(1, days)" if self.batched else "(days,)", "notes": list(self.notes)}


def _forward_raw(child: Child, dtype: str, sequences: list, batched: bool = False) -> list[dict]:
    """forward's raw answers: each {"value": number, "dtype": str} or {"error": str}."""
    results = child.call("forward_raw", params=PROBE_PARAMS, sequences=sequences, dtype=dtype,
                         batched=batched)
    if not isinstance(results, list) or len(results) != len(sequences) or not all(
            isinstance(r, dict) and (isinstance(r.get("error"), str) or (
                isinstance(r.get("dtype"), str) and isinstance(r.get("value"), (int, float))
                and not isinstance(r.get("value"), bool))) for r in results):
        raise SandboxError("the checking process sent a malformed answer to forward_raw")
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
        raise CouldNotCheck(f"forward raised for every sequence of 1 to {strategies.MAX_DAYS} days; "
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
    # float32 is the dtype the lesson trains in: always checked, so a slip (or an error) only
    # there shows; a class cannot leave it out by failing in it
    dtypes = [dtype] if dtype == "float32" else [dtype, "float32"]
    return Interface(supported, dtypes, order, returns, notes, batched)


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
        raise CouldNotCheck(f"lstm_unit could not be called with three numbers: {error}") from None
    if (not isinstance(raw, dict) or not isinstance(raw.get("outputs"), list)
            or len(raw["outputs"]) != len(calls) or not all(isinstance(pair, list) and len(pair) == 2 for pair in raw["outputs"])
            or not isinstance(raw.get("dtypes"), list) or not all(isinstance(d, str) for d in raw["dtypes"])):
        raise SandboxError("the checking process sent a malformed answer to unit_raw")
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
            values = dict(zip(returns, map(number_sent, got)))
            worst = max(worst, abs(values["long"] - float(trace.long[-1])),
                        abs(values["short"] - float(trace.short[-1])))
        return worst if math.isfinite(worst) else math.inf

    n = min(lengths, key=lambda length: (abs(length - LESSON_DAYS), length))
    days = list(PROBE_DAYS[:n])
    finals = child.call("unit_chains", params=PROBE_PARAMS, interpretations=INTERPRETATIONS,
                        days=days, dtype=dtype)
    if not isinstance(finals, list) or len(finals) != len(INTERPRETATIONS):
        raise SandboxError("the checking process sent a malformed answer to unit_chains")
    forward = _forward_raw(child, dtype, [days], batched)[0]
    tolerance = 2 * float(tolerances.forward_tolerance(reference.run(PROBE_PARAMS, days), dtype))
    consistent = [i for i, final in zip(INTERPRETATIONS, finals)
                  if "error" not in forward and final is not None
                  and abs(number_sent(final) - forward["value"]) <= tolerance]
    return min(consistent or INTERPRETATIONS, key=reference_error)  # min keeps the lesson's on ties


