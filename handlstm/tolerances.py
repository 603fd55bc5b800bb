"""Every tolerance handlstm compares with, derived from rounding error analysis, in one place.

Two implementations of the same equations differ only by rounding. To first order, each rounding
(relative size at most u, the dtype's unit roundoff) perturbs one quantity of one day, and the
reference's own backward pass says how far that perturbation moves the result. Summing the
worst case over every rounding gives a bound that is tight where the function is tame and wide
where it is sensitive (saturated gates, long sequences), instead of one guessed number.
"""

from __future__ import annotations

import numpy as np

from handlstm import reference
from handlstm.reference import GATE_PARAMS, GATES
from handlstm.reference.adam import BETAS as ADAM_BETAS
from handlstm.reference.adam import EPS as ADAM_EPS

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
    """Sum over every day and every rounded quantity of |d result / d quantity| * |its operands|.

    Each rounding is bounded relative to the size of the operands it combines, not of its result,
    so every sound way of writing the equations is admitted: a sum grouped in any order rounds
    relative to its terms; an activation value rounds relative to 1 as well as to itself, because
    sound formulas for it combine O(1) numbers (1 + e^-z, 1 - sigmoid(-z), 2 sigmoid(2z) - 1,
    (1 + tanh(z/2)) / 2), which is absolute accuracy near 0, not relative."""
    total = np.abs(sens.short) * (np.abs(trace.short) + trace.output) + np.abs(sens.long) * (
        np.abs(trace.long_before * trace.forget) + np.abs(trace.input * trace.candidate))
    for gate in GATES:
        w_short, w_x, bias = (trace.params[n][..., None] for n in GATE_PARAMS[gate])
        weighted_sum_terms = (np.abs(trace.short_before * w_short) + np.abs(trace.days * w_x)
                              + np.abs(bias))
        total = total + np.abs(sens.gate_sums[gate]) * weighted_sum_terms
        total = total + np.abs(sens.gates[gate]) * (np.abs(getattr(trace, gate)) + 1.0)
    return total.sum(axis=-1)


def unit_roundoff(got_dtype: str) -> float:
    """u of the implementation's dtype plus the reference's own (float64)."""
    return UNIT_ROUNDOFF[got_dtype] + UNIT_ROUNDOFF["float64"]


def forward_tolerance(trace: reference.Trace, got_dtype: str, of: str = "short") -> np.ndarray:
    """Largest |got - reference| for the final short (or long) memory that rounding can explain."""
    seed = {"short": (1.0, 0.0), "long": (0.0, 1.0)}[of]
    sensitivity = _rounding_sensitivity(trace, reference.backward(trace, *seed))
    scale = np.abs(trace.short[..., -1] if of == "short" else trace.long[..., -1])
    u = unit_roundoff(got_dtype)
    return ROUNDINGS_PER_TERM * u * (sensitivity + scale) + FLOOR * u * scale


def _forward_errors(trace: reference.Trace, u: float) -> dict[str, np.ndarray]:
    """A running bound, day by day, on how far the other side's forward values can be from the
    reference's: each value inherits its inputs' errors (through its equation's derivatives) and
    adds its own roundings. Values born of cancellation (c' = c f + i g near 0) keep an absolute
    error far above u times their size, which is what the gradients then multiply by."""
    k = ROUNDINGS_PER_TERM * u
    p = trace.params
    e_long, e_short = k * np.abs(trace.long_before[..., 0]), k * np.abs(trace.short_before[..., 0])
    steps = trace.days.shape[-1]
    errors = {key: [] for key in ("long_before", "short_before", "tanh_long") + GATES}
    for t in range(steps):
        short, long, x = trace.short_before[..., t], trace.long_before[..., t], trace.days[..., t]
        errors["long_before"].append(e_long)
        errors["short_before"].append(e_short)
        e_gate = {}
        for gate in GATES:
            w_short, w_x, bias = (p[n] for n in GATE_PARAMS[gate])
            e_sum = np.abs(w_short) * e_short + k * (np.abs(short * w_short) + np.abs(x * w_x) + np.abs(bias))
            value = getattr(trace, gate)[..., t]
            derivative = 1.0 - value**2 if gate == "candidate" else value * (1.0 - value)
            e_gate[gate] = derivative * e_sum + k
            errors[gate].append(e_gate[gate])
        f, i, g, o = (getattr(trace, gate)[..., t] for gate in GATES)
        e_long = (e_long * f + np.abs(long) * e_gate["forget"] + e_gate["input"] * np.abs(g)
                  + i * e_gate["candidate"] + k * (np.abs(long * f) + np.abs(i * g)))
        tanh_long = trace.tanh_long[..., t]
        e_tanh = (1.0 - tanh_long**2) * e_long + k
        errors["tanh_long"].append(e_tanh)
        e_short = e_tanh * o + np.abs(tanh_long) * e_gate["output"] + k * np.abs(trace.short[..., t])
    stacked = {key: np.stack(values, axis=-1) for key, values in errors.items()}
    stacked["final_short"] = e_short
    return stacked


def _magnitudes(trace: reference.Trace, errors: dict[str, np.ndarray] | None = None,
                k: float = 0.0) -> reference.Trace:
    """The trace with every value replaced by its magnitude (plus, given `errors`, its error
    bound): backpropagating through it sums the magnitudes of all paths, the classic |A||B|
    bound on a product chain, and the difference with errors bounds what they change."""
    e = errors or {}

    def widened(key: str, value: np.ndarray) -> np.ndarray:
        return np.abs(value) + e.get(key, 0.0)

    return trace.replaced(
        params={n: np.abs(v) * (1.0 + k) for n, v in trace.params.items()},
        days=np.abs(trace.days), long_before=widened("long_before", trace.long_before),
        short_before=widened("short_before", trace.short_before), long=np.abs(trace.long),
        short=np.abs(trace.short), tanh_long=widened("tanh_long", trace.tanh_long),
        **{gate: widened(gate, getattr(trace, gate)) for gate in GATES})


def gradient_tolerance(trace: reference.Trace, label: float, got_dtype: str) -> dict[str, np.ndarray]:
    """Largest |got - reference| for each of the 12 gradients of the lesson's loss.

    The backward pass multiplies forward values along every path from h_T back to a parameter.
    Three things can move the result: the backward pass's own roundings (at most 2 a day along
    each path, relative), the forward values' errors (`_forward_errors`, absolute), and each
    activation's derivative (sigma (1 - sigma), 1 - tanh^2), exact only to about u absolutely,
    plus twice its value's error (|d/dv sigma (1 - sigma)| <= 1, |d/dv (1 - v^2)| <= 2). Backward
    over magnitudes widened by those errors, minus backward over the plain magnitudes, bounds the
    last two to first order.
    """
    u = unit_roundoff(got_dtype)
    k = ROUNDINGS_PER_TERM * u
    days = trace.days.shape[-1]
    d_loss = np.abs(2.0 * (trace.final_short - label))
    errors = _forward_errors(trace, u)
    paths = reference.backward(_magnitudes(trace), 1.0).params
    slack = {"long": k + 2 * errors["tanh_long"], **{gate: k + 2 * errors[gate] for gate in GATES}}
    widened = reference.backward(_magnitudes(trace, errors, k), 1.0, derivative_slack=slack).params
    error_in_d_loss = 2 * errors["final_short"] + k * (np.abs(trace.final_short) + abs(label))
    underflow = ROUNDINGS_PER_TERM * days * float(np.finfo(got_dtype).tiny)
    return {name: (d_loss * (paths[name] * k * (2 * days + FLOOR) + widened[name] - paths[name])
                   + paths[name] * error_in_d_loss + underflow)
            for name in reference.PARAM_NAMES}


def loss_tolerance(trace: reference.Trace, label: float, got_dtype: str) -> np.ndarray:
    """Largest |got - reference| for (h_T - label)^2: h_T's own bound carried through the square,
    plus the rounding of the subtraction and the square themselves."""
    error = np.abs(trace.final_short - label)
    u = unit_roundoff(got_dtype)
    return (2 * error * forward_tolerance(trace, got_dtype)
            + ROUNDINGS_PER_TERM * u * error * (error + np.abs(trace.final_short) + abs(label)))


# --- training: parameters after each Adam step -------------------------------------------------

def _hessian(params: dict[str, np.ndarray], days, label: float) -> np.ndarray:
    """d gradient_i / d parameter_j of the lesson's loss, by central differences of the reference
    gradients: accurate to O(h^2 + u/h) ~ 1e-10 relative with h = u^(1/3)."""
    names = reference.PARAM_NAMES
    u = UNIT_ROUNDOFF["float64"]
    steps = np.cbrt(u) * np.maximum(1.0, np.abs([params[n] for n in names]))
    shifted = {n: np.repeat(float(params[n]), 2 * len(names)) for n in names}
    for j, n in enumerate(names):
        shifted[n][2 * j] += steps[j]
        shifted[n][2 * j + 1] -= steps[j]
    _, grads = reference.loss_and_grads(shifted, days, label)
    columns = np.stack([grads[n] for n in names])  # [i, 2j + side]
    return (columns[:, 0::2] - columns[:, 1::2]) / (2.0 * steps)


def _abs_hessian(params: dict[str, np.ndarray], days, label: float) -> np.ndarray:
    """|Hessian|, doubled: twice the difference quotient's magnitude bounds the true value."""
    return 2.0 * np.abs(_hessian(params, days, label))


def trajectory_tolerance(params, trajectory, lr: float, got_dtype: str, sequences, labels,
                         betas: tuple[float, float] = ADAM_BETAS, eps: float = ADAM_EPS
                         ) -> list[dict[str, float]]:
    """Largest |got - reference| for each parameter after each Adam step of the lesson's loop.

    `trajectory` is reference.train's output from `params`. Step k's update is
    lr * m/(sqrt(v) + eps) (bias-corrected moments of the gradients so far). Errors in the
    gradients (rounding, `gradient_tolerance`, plus the drift of the parameters so far carried
    through the Hessian) move m by at most their weighted sum M_E and sqrt(v) by at most their
    weighted 2-norm V_E (triangle inequality), so the ratio moves by at most
        (M_E + |m/d| V_E) / max(eps, d - V_E),     d = sqrt(v) + eps.
    This is Adam's normalisation at work: where the gradients so far are near zero, d is near
    eps and a rounding-sized error in them is divided by ~1e-8, not by the gradient. The bound
    never exceeds what Adam can move at all (|m/sqrt(v)| <= R_k by Cauchy-Schwarz), so a
    parameter whose gradients are pure rounding noise may differ by up to a full step either way.
    """
    names = reference.PARAM_NAMES
    beta1, beta2 = betas
    u = unit_roundoff(got_dtype)
    current = {n: float(params[n]) for n in names}
    drift = np.array([UNIT_ROUNDOFF[got_dtype] * abs(current[n]) for n in names])  # setting them
    # running, exponentially weighted sums over the steps so far (weights as in m and v)
    m = m_abs = m_err = v = v_err = np.zeros(len(names))
    most_sq = 0.0  # sum of a_j^2 / b_j, for R_k
    bounds = []
    for k, after in enumerate(trajectory, start=1):
        days, label = sequences[(k - 1) % len(sequences)], float(labels[(k - 1) % len(labels)])
        trace = reference.run(current, days)
        grad = reference.backward(trace, 2.0 * (trace.final_short - label)).params
        tau = gradient_tolerance(trace, label, got_dtype)
        g = np.array([float(grad[n]) for n in names])
        e = np.array([float(tau[n]) for n in names]) + _abs_hessian(current, days, label) @ drift
        m, m_abs, m_err = (beta1 * x + (1 - beta1) * y for x, y in ((m, g), (m_abs, np.abs(g)), (m_err, e)))
        v, v_err = (beta2 * x + (1 - beta2) * y for x, y in ((v, g * g), (v_err, e * e)))
        most_sq = beta1**2 / beta2 * most_sq + (1 - beta1) ** 2 / (1 - beta2)
        bc1, bc2 = 1 - beta1**k, 1 - beta2**k
        # the moments' own roundings, ROUNDINGS_PER_TERM per update on each side, act like a
        # relative error of k * ROUNDINGS_PER_TERM * u in every past gradient
        rounding = ROUNDINGS_PER_TERM * k * u
        m_hat = m / bc1
        d = np.sqrt(v / bc2) + eps
        m_hat_err = (m_err + rounding * m_abs) / bc1
        s_err = np.sqrt(v_err / bc2) + rounding * np.sqrt(v / bc2)
        ratio = np.abs(m_hat) / d
        ratio_error = (m_hat_err + ratio * s_err) / np.maximum(eps, d - s_err)
        most = np.sqrt(most_sq * bc2) / bc1  # R_k: |m/sqrt(v)| never exceeds it
        ratio_error = np.minimum(ratio_error, ratio + most)
        after_values = np.array([float(after[n]) for n in names])
        # the update's own roundings, and the parameter's rounding when the update is added
        drift = (drift + lr * (ratio_error + ROUNDINGS_PER_TERM * u * ratio)
                 + ROUNDINGS_PER_TERM * u * np.abs(after_values))
        bounds.append(dict(zip(names, drift.tolist())))
        current = dict(zip(names, after_values.tolist()))
    return bounds


def propagated_trajectory_tolerance(params, trajectory, lr: float, got_dtype: str, sequences, labels,
                                    at_steps, betas: tuple[float, float] = ADAM_BETAS, eps: float = ADAM_EPS
                                    ) -> dict[int, dict[str, float]]:
    """Largest |got - reference| of each parameter after each of `at_steps`, for long runs.

    trajectory_tolerance adds up worst cases with absolute values, so an error can never shrink:
    over thousands of steps it grows ~1% a step although Adam pulls nearby trajectories together.
    Here each step's local errors (gradient_tolerance, and ROUNDINGS_PER_TERM roundings of the
    parameter, m and v) are carried to the step of interest through the exact Jacobian of the
    reference's Adam steps on the state (parameters, m, v), with the signs of the Jacobian kept and
    the signs of the local errors unknown: sum over steps of |Jacobian product| @ local error.
    First order in the errors (they are ~1e-14 here); the Hessian of the loss comes from
    `_hessian`. Where a v is 0 the update does not depend on it, and the bound uses 0.
    """
    names = reference.PARAM_NAMES
    n, beta1, beta2 = len(names), betas[0], betas[1]
    u = unit_roundoff(got_dtype)
    theta = np.array([float(params[name]) for name in names])
    m, v = np.zeros(n), np.zeros(n)
    eye = np.eye(n)
    jacobians, local = [], []  # per step: d state_k / d state_(k-1); bound on the errors made in step k
    for k, after in enumerate(trajectory[:max(at_steps)], start=1):
        days, label = sequences[(k - 1) % len(sequences)], float(labels[(k - 1) % len(labels)])
        current = dict(zip(names, theta))
        trace = reference.run(current, days)
        grad = reference.backward(trace, 2.0 * (trace.final_short - label)).params
        g = np.array([float(grad[name]) for name in names])
        tau = np.array([float(t) for t in gradient_tolerance(trace, label, got_dtype).values()])
        hessian = _hessian(current, days, label)
        m_new, v_new = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        bc1, bc2 = 1 - beta1**k, 1 - beta2**k
        s = np.sqrt(v_new / bc2)
        d = s + eps
        d_theta_d_m = -lr / (bc1 * d)  # of the new parameter by the new m and by the new v
        d_theta_d_v = np.divide(lr * (m_new / bc1) / d**2 / (2 * bc2), s, out=np.zeros(n), where=s > 0)
        d_theta_d_g = d_theta_d_m * (1 - beta1) + d_theta_d_v * 2 * (1 - beta2) * g
        jacobian = np.block([
            [eye + d_theta_d_g[:, None] * hessian, np.diag(d_theta_d_m * beta1), np.diag(d_theta_d_v * beta2)],
            [(1 - beta1) * hessian, beta1 * eye, np.zeros((n, n))],
            [2 * (1 - beta2) * g[:, None] * hessian, np.zeros((n, n)), beta2 * eye]])
        by_gradient = np.concatenate([d_theta_d_g, np.full(n, 1 - beta1), 2 * (1 - beta2) * g])
        theta_new = np.array([float(after[name]) for name in names])
        rounding = ROUNDINGS_PER_TERM * u * np.concatenate([
            lr * np.abs(m_new / bc1) / d + np.abs(theta_new),
            np.abs(beta1 * m) + np.abs((1 - beta1) * g), beta2 * v + (1 - beta2) * g * g])
        jacobians.append(jacobian)
        local.append((by_gradient, tau, rounding))
        theta, m, v = theta_new, m_new, v_new
    start = np.concatenate([UNIT_ROUNDOFF[got_dtype] * np.abs([float(params[name]) for name in names]),
                            np.zeros(2 * n)])  # setting the parameters in the implementation's dtype
    bounds = {}
    for step in at_steps:
        carry = np.hstack([eye, np.zeros((n, 2 * n))])  # d parameters_step / d state_k, k = step ... 0
        total = np.zeros(n)
        for k in range(step, 0, -1):
            by_gradient, tau, rounding = local[k - 1]
            # a gradient error moves the parameter, m and v of the same name at once
            through_gradient = sum(carry[:, i * n:(i + 1) * n] * by_gradient[i * n:(i + 1) * n] for i in range(3))
            total += np.abs(through_gradient) @ tau + np.abs(carry) @ rounding
            carry = carry @ jacobians[k - 1]
        total += np.abs(carry) @ start
        bounds[step] = dict(zip(names, total.tolist()))
    return bounds


# --- the reference's own test: central differences ------------------------------------------------

def central_difference_bound(f, x: float, step: float, evaluation_error: float) -> float:
    """How far (f(x + step) - f(x - step)) / (2 step) may lie from f'(x), for the reference's
    float64 loss or forward pass f, each of whose values is off by at most `evaluation_error`
    (loss_tolerance or forward_tolerance at x).

    Truncation: the error of a central difference is c step^2 + O(step^4), so the difference
    between the steps `step` and `step / 2` is 3/4 of it (Richardson): 4/3 of that difference,
    doubled because it is an estimate at the same curvature, not a bound. Rounding: the two
    evaluations' errors over 2 step, and x +- step themselves rounded (u |x| each) times the slope."""
    def central(h: float) -> float:
        return (f(x + h) - f(x - h)) / (2 * h)

    truncation = 2 * 4 / 3 * abs(central(step) - central(step / 2))
    rounding = evaluation_error / step + abs(central(step)) * UNIT_ROUNDOFF["float64"] * (abs(x) + step) / step
    return truncation + rounding
