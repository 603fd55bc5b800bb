"""Mistakes that show only in gradients or in training."""

from __future__ import annotations

import math

import numpy as np

from handlstm import reference
from handlstm.reference import PARAM_NAMES

from ... import tolerances
from ...properties import TRAINING_STEPS
from . import thresholds
from .catalog import Diagnosis, finding, names_text
from .facts import Facts
from .probes import DAYS, SEED, ask, at, number, probe_params


def gradient_mistakes(implementation) -> list[Diagnosis]:
    """forward is right but gradients are not: which parameters' gradients, and how."""
    rng = np.random.default_rng(SEED + 1)
    params = at(probe_params(rng, 1), 0)
    days = tuple(rng.choice((-1.0, 1.0), DAYS) * rng.uniform(0.2, 1.5, DAYS))
    label = 0.5
    answer = ask(implementation.loss_and_grads, params, days, label)
    if answer is None:
        return [finding("gradient-blocked", "taking the gradient of the loss fails")]
    _, got = answer
    trace = reference.run(params, days)
    expected = reference.backward(trace, 2.0 * (trace.final_short - label)).params
    tolerance = tolerances.gradient_tolerance(trace, label, getattr(implementation, "dtype", "float64"))
    missing = [n for n in PARAM_NAMES if not math.isfinite(number(got.get(n)))]
    wrong = [n for n in PARAM_NAMES if n not in missing
             and abs(number(got[n]) - float(expected[n])) > float(tolerance[n])]
    if missing:
        return [finding("gradient-blocked", f"no gradient reaches {names_text(missing)}", parameters=missing)]
    if not wrong:
        return [finding("gradient-blocked", "gradients differ from the lesson's only on the counterexample")]
    # memories detached between days: only the last day's step passes gradients back
    last = reference.run(params, days[-1:], trace.long[-2], trace.short[-2])
    detached = reference.backward(last, 2.0 * (last.final_short - label)).params
    if all(abs(number(got[n]) - float(detached[n])) <= float(tolerance[n]) for n in PARAM_NAMES):
        return [finding("gradient-blocked",
                   "gradients stop at the memories between days (.detach() or re-wrapping)")]
    return [finding("gradient-blocked", f"the gradients of {names_text(wrong)} are wrong", parameters=wrong)]


# d loss / d output for the losses learners write instead of (output - label)^2
LOSSES = {
    "(output - label)^2": lambda out, label: 2.0 * (out - label),
    "output - label, not squared": lambda out, label: np.ones_like(out),
    "label - output, not squared": lambda out, label: -np.ones_like(out),
    "|output - label|": lambda out, label: np.sign(out - label),
    "-(output - label)^2, the sign flipped": lambda out, label: -2.0 * (out - label),
    "output^2, the label left out": lambda out, label: 2.0 * out,
    "(output - label)^3": lambda out, label: 3.0 * (out - label) ** 2,
}


def _trained_with(loss: str, params: dict, lr: float, steps: int) -> list[dict[str, float]]:
    """The lesson's Adam loop on the lesson's data, with another loss."""
    from ...data import LABELS, SEQUENCES

    current, optimizer, trajectory = dict(params), reference.Adam(lr=lr), []
    for step in range(steps):
        days, label = SEQUENCES[step % len(SEQUENCES)], LABELS[step % len(SEQUENCES)]
        trace = reference.run(current, days)
        grads = reference.backward(trace, LOSSES[loss](trace.final_short, label)).params
        current = {n: float(v) for n, v in optimizer.step(current, grads).items()}
        trajectory.append(current)
    return trajectory


def training_mistakes(implementation, facts: Facts) -> list[Diagnosis]:
    """forward and gradients are right but training is not: the optimizer or the loss."""
    if facts.mistakes():
        return []  # already named from the facts
    error = facts.training_step_error()
    if error:
        return [finding("loss-function", f"training_step raises: {error}")]
    rng = np.random.default_rng(SEED + 2)
    params = at(probe_params(rng, 1), 0)
    answer = ask(implementation.train, params, TRAINING_STEPS) if hasattr(implementation, "train") else None
    if answer is None:
        return [finding("loss-function", "training with the module's training_step does not run through"),
                finding("optimizer-params", "or configure_optimizers does not give a working optimizer")]
    lr, got = answer
    if lr is None or not got:
        return [finding("optimizer-params", "configure_optimizers does not give the lesson's Adam")]
    still = [n for n in PARAM_NAMES if all(step[n] == params[n] for step in got)]
    if len(still) == len(PARAM_NAMES):
        return [finding("loss-function", "no parameter ever changes: the loss training_step returns does not "
                   "reach the parameters")]
    if still:
        return [finding("optimizer-params", f"{names_text(still)} never change in training")]
    steps = min(len(got), TRAINING_STEPS)
    moved = np.array([[step[n] for n in PARAM_NAMES] for step in got[:steps]])
    for loss in LOSSES:
        trained = _trained_with(loss, params, lr, steps)
        expected = np.array([[step[n] for n in PARAM_NAMES] for step in trained])
        if np.max(np.abs(moved - expected)) <= thresholds.TRAINING_MATCH * lr:
            if loss == "(output - label)^2":
                break
            return [finding("loss-function", f"the loss is {loss}")]
    return [finding("loss-function", "training moves the parameters unlike the lesson's loss with Adam"),
            finding("optimizer-params", "or the optimizer does not update every parameter as Adam does")]
