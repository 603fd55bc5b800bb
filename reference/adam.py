"""torch.optim.Adam's update, step for step, in NumPy float64 (defaults: no weight decay, no amsgrad).

Each line is the operation torch's single-tensor Adam performs, in torch's order of rounding. On a
CPU with fused multiply-add, torch's lerp_ and addcmul_ round once where this rounds twice, which
NumPy cannot express; handlstm.tolerances.trajectory_tolerance covers that one rounding per step.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from .lstm import PARAM_NAMES, Params, loss_and_grads


BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults


class Adam:
    """One Adam state per parameter name; `step` returns the updated parameters."""

    def __init__(self, lr: float = 0.001, betas: tuple[float, float] = BETAS, eps: float = EPS):
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.steps = 0
        self.exp_avg: dict[str, np.ndarray] = {}
        self.exp_avg_sq: dict[str, np.ndarray] = {}

    def step(self, params: Params, grads: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.steps += 1
        bias_correction1 = 1 - self.beta1**self.steps
        bias_correction2_sqrt = (1 - self.beta2**self.steps) ** 0.5  # torch: ** 0.5, not sqrt
        step_size = self.lr / bias_correction1
        updated = {}
        for name in PARAM_NAMES:
            grad = np.asarray(grads[name], dtype=np.float64)
            avg = self.exp_avg.get(name, np.zeros_like(grad))
            avg_sq = self.exp_avg_sq.get(name, np.zeros_like(grad))
            avg = avg + (1 - self.beta1) * (grad - avg)  # torch's lerp_ for a weight below 0.5
            avg_sq = avg_sq * self.beta2 + (1 - self.beta2) * grad * grad  # mul_ then addcmul_
            self.exp_avg[name], self.exp_avg_sq[name] = avg, avg_sq
            denom = np.sqrt(avg_sq) / bias_correction2_sqrt + self.eps
            # addcdiv_(avg, denom, value=-step_size) computes param + (value * avg) / denom
            updated[name] = np.asarray(params[name], dtype=np.float64) + (-step_size * avg) / denom
        return updated


def train(params: Params, sequences: Sequence, labels: Iterable[float], lr: float, steps: int
          ) -> list[dict[str, np.ndarray]]:
    """The lesson's loop: one Adam step per sample, samples in order, cycling; parameters after each step."""
    sequences, labels = [np.asarray(s, dtype=np.float64) for s in sequences], list(labels)
    current = {name: np.asarray(params[name], dtype=np.float64) for name in PARAM_NAMES}
    optimizer = Adam(lr=lr)
    trajectory = []
    for step in range(steps):
        sample = step % len(sequences)
        _, grads = loss_and_grads(current, sequences[sample], labels[sample])
        current = optimizer.step(current, grads)
        trajectory.append(current)
    return trajectory
