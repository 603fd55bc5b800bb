"""numerically-unstable: right in exact arithmetic, NaN or infinite in floating point beyond the
lesson's range (tanh as (e^z - e^-z) / (e^z + e^-z) overflows once |z| passes ~89 in float32 and
~710 in float64).

The verdict is decided on the range the checks draw from, where such a formula agrees with the
lesson; this probe goes beyond it and reports where forward stops giving a number, as a finding
that does not decide the verdict.
"""

from __future__ import annotations

import math

from handlstm.reference import GATE_PARAMS

from ..strategies import LARGEST_GATE_SUM
from .interface import Interface
from .sandbox.client import Child
from .sandbox.protocol import LearnerError

# every gate's weighted sum set to +-z (weights 0, biases z): the reference stays finite at any z
GATE_SUMS = (50.0, 100.0, 200.0, 500.0, 1000.0, 1e4, 1e6)


def _breaks(child: Child, dtype: str, days: list[float], z: float) -> str | None:
    """What goes wrong in forward with every gate's weighted sum at +z or -z, if anything."""
    for sign in (1.0, -1.0):
        params = {name: 0.0 for names in GATE_PARAMS.values() for name in names}
        params.update({names[2]: sign * z for names in GATE_PARAMS.values()})
        try:
            value = child.call("forward", dtype=dtype, params=params, days=days)
        except LearnerError as error:
            return f"raises ({error})"
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            return f"gives {value}"
    return None


def numerically_unstable(child: Child, interface: Interface) -> list[dict]:
    """A `numerically-unstable` finding for each dtype where forward stops giving a finite number for
    large gate inputs; nothing where it stays finite all the way."""
    days = [1.0] * interface.lengths[0]
    findings = []
    for dtype in interface.dtypes:
        finite_up_to = LARGEST_GATE_SUM
        for z in GATE_SUMS:
            broken = _breaks(child, dtype, days, z)
            if broken:
                findings.append({"id": "numerically-unstable", "detail": (
                    f"in {dtype}, forward {broken} once the gates' weighted sums reach ±{z:g} (fine up to "
                    f"±{finite_up_to:g}; the checks draw sums within ±{LARGEST_GATE_SUM:g}): an exp that "
                    "overflows? torch.sigmoid and torch.tanh stay finite for every input")})
                break
            finite_up_to = z
    return findings
