"""Every tolerance handlstm compares with, derived from rounding error analysis, in one place.

Two implementations of the same equations differ only by rounding. To first order, each rounding
(relative size at most u, the dtype's unit roundoff) perturbs one quantity of one day, and the
reference's own backward pass says how far that perturbation moves the result. Summing the
worst case over every rounding gives a bound that is tight where the function is tame and wide
where it is sensitive (saturated gates, long sequences), instead of one guessed number.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import reference
from reference import GATE_PARAMS, GATES

UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24}

# Roundings that can touch one term on its way through a day: a product, two sums, and the
# activation function's own error (libm and PyTorch are within 2 ulp). Both sides round, and
# the first-order bound ignores the (tiny) second-order terms: a factor 2 for each.
ROUNDINGS_PER_TERM = 4 * 2 * 2

# The gradient is a sum over days of backward-chain coefficients times forward values. Each
# coefficient is a product of the same Jacobians the forward bound uses, so its relative error is
# bounded by the same sensitivity once per factor it passes through: (days + sensitivity) rounds.
# FLOOR is the one number not derived from a bound: gradients that should be exactly zero (a
# day-one weight on h_0 = 0) can come out as a few ulp of their neighbouring terms.
FLOOR = 8


def _rounding_sensitivity(trace: reference.Trace, sens: reference.Gradients) -> np.ndarray:
    """Sum over every day and every rounded quantity of |d result / d quantity| * |quantity|."""
    total = np.abs(sens.short * trace.short) + np.abs(sens.long) * (
        np.abs(trace.long_before * trace.forget) + np.abs(trace.input * trace.candidate))
    for gate in GATES:
        w_short, w_x, bias = (trace.params[n][..., None] for n in GATE_PARAMS[gate])
        weighted_sum_terms = (np.abs(trace.short_before * w_short) + np.abs(trace.days * w_x)
                              + np.abs(bias))
        total = total + np.abs(sens.gate_sums[gate]) * weighted_sum_terms
        total = total + np.abs(sens.gates[gate]) * np.abs(getattr(trace, gate))
    return total.sum(axis=-1)


def _unit_roundoff(got_dtype: str) -> float:
    return UNIT_ROUNDOFF[got_dtype] + UNIT_ROUNDOFF["float64"]


def forward_tolerance(trace: reference.Trace, got_dtype: str, of: str = "short") -> np.ndarray:
    """Largest |got - reference| for the final short (or long) memory that rounding can explain."""
    seed = {"short": (1.0, 0.0), "long": (0.0, 1.0)}[of]
    sensitivity = _rounding_sensitivity(trace, reference.backward(trace, *seed))
    scale = np.abs(trace.short[..., -1] if of == "short" else trace.long[..., -1])
    u = _unit_roundoff(got_dtype)
    return ROUNDINGS_PER_TERM * u * (sensitivity + scale) + FLOOR * u * scale


def _magnitudes(trace: reference.Trace) -> reference.Trace:
    """The trace with every value replaced by its magnitude: backpropagating through it sums the
    magnitudes of all paths, the classic |A||B| bound on the rounding error of a product chain."""
    return dataclasses.replace(
        trace, params={n: np.abs(v) for n, v in trace.params.items()}, days=np.abs(trace.days),
        long_before=np.abs(trace.long_before), short_before=np.abs(trace.short_before),
        candidate=np.abs(trace.candidate), long=np.abs(trace.long), short=np.abs(trace.short))


def gradient_tolerance(trace: reference.Trace, label: float, got_dtype: str) -> dict[str, np.ndarray]:
    """Largest |got - reference| for each of the 12 gradients of the lesson's loss."""
    u = _unit_roundoff(got_dtype)
    days = trace.days.shape[-1]
    d_loss = np.abs(2.0 * (trace.final_short - label))
    magnitudes = _magnitudes(trace)
    paths = reference.backward(magnitudes, 1.0).params
    # an activation's derivative (sigma (1 - sigma), 1 - tanh^2) is exact only to about u
    # absolutely, not relatively: that dominates where a gate saturates and its derivative is tiny
    slack = ROUNDINGS_PER_TERM * u
    paths_with_slack = reference.backward(magnitudes, 1.0, derivative_slack=slack).params
    # each path is a product over at most 2 roundings a day, of forward values that are already
    # off by the forward bound's sensitivity
    sensitivity = _rounding_sensitivity(trace, reference.backward(trace, 1.0))
    relative = ROUNDINGS_PER_TERM * u * (2 * days + sensitivity + FLOOR)
    error_in_d_loss = ROUNDINGS_PER_TERM * u * (np.abs(trace.final_short) + abs(label) + sensitivity)
    underflow = ROUNDINGS_PER_TERM * days * float(np.finfo(got_dtype).tiny)
    return {name: (d_loss * (paths[name] * relative + paths_with_slack[name] - paths[name])
                   + paths[name] * error_in_d_loss + underflow)
            for name in reference.PARAM_NAMES}


def loss_tolerance(trace: reference.Trace, label: float, got_dtype: str) -> np.ndarray:
    """Largest |got - reference| for (h_T - label)^2: h_T's own bound carried through the square,
    plus the rounding of the subtraction and the square themselves."""
    error = np.abs(trace.final_short - label)
    u = _unit_roundoff(got_dtype)
    return (2 * error * forward_tolerance(trace, got_dtype)
            + ROUNDINGS_PER_TERM * u * error * (error + np.abs(trace.final_short) + abs(label)))
