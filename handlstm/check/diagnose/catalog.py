"""The catalog of classic mistakes (docs/mistakes.md), their hints, and how a finding is written."""

from __future__ import annotations

from handlstm.reference import GATE_PARAMS, PARAM_NAMES

from ...mutants import GATE_OF

CATALOG = (
    "forget-gate-activation", "input-gate-activation", "candidate-activation", "output-gate-activation",
    "cell-output-activation", "weights-swapped", "gates-swapped", "cell-update", "returns-long-memory",
    "state-not-carried", "initial-state", "sequence-order", "gradient-blocked", "parameter-not-trainable",
    "parameter-not-registered", "optimizer-params", "loss-function", "state-leak", "unknown",
)  # fmt: skip

HINTS = {
    "forget-gate-activation": "the forget gate (wlr1, wlr2, blr1) squashes its sum with torch.sigmoid",
    "input-gate-activation": "the input gate (wpr1, wpr2, bpr1) squashes its sum with torch.sigmoid",
    "candidate-activation": "the candidate (wp1, wp2, bp1) squashes its sum with torch.tanh",
    "output-gate-activation": "the output gate (wo1, wo2, bo1) squashes its sum with torch.sigmoid",
    "cell-output-activation": "the new short memory is torch.tanh(new long memory) * output gate",
    "weights-swapped": "each gate is (short memory * w..1) + (input * w..2) + b..1 with its own three names",
    "gates-swapped": "new long = long * forget + input gate * candidate; new short = tanh(new long) * output",
    "cell-update": "the new long memory is long * forget + input gate * candidate",
    "returns-long-memory": "forward returns the short memory of the last day",
    "state-not-carried": "each day's lstm_unit gets the previous day's updated long and short memory",
    "initial-state": "forward starts both memories at 0",
    "sequence-order": "forward feeds every day once, first to last",
    "gradient-blocked": "no .detach(), .item(), .data or torch.tensor(...) between parameters and output",
    "parameter-not-trainable": "create each parameter with nn.Parameter(..., requires_grad=True)",
    "parameter-not-registered": "assign each of the 12 values as self.name = nn.Parameter(...) in __init__",
    "optimizer-params": "configure_optimizers passes self.parameters() to Adam",
    "loss-function": "training_step computes loss = (output - label) ** 2 and returns it",
    "state-leak": "forward starts from fresh zero memories every call; keep no memories on self",
    "unknown": "compare your code with the lesson's equations line by line",
}


Diagnosis = dict  # report.Diagnosis: {"id", "detail", "gate", "parameters", "location"}


def hint(mistake: str) -> str:
    """How the lesson's code does what this mistake gets wrong, in one line."""
    return HINTS.get(mistake, "")



def finding(mistake: str, detail: str, gate: str | None = None, parameters: list[str] | tuple = ()) -> Diagnosis:
    """One diagnosis: the catalog id, what exactly is wrong, the gate it is in (forget, input,
    candidate, output; None where it is not in one gate), and the lesson names of the parameters
    concerned ([misused, expected] for a slip). Where in the learner's file: locate.py adds it."""
    assert mistake in CATALOG, mistake
    return {"id": mistake, "detail": detail, "gate": gate, "parameters": list(parameters), "location": None}


def unique(found: list[Diagnosis]) -> list[Diagnosis]:
    """One entry per catalog id (its best detail), best first."""
    seen, unique = set(), []
    for d in found:
        if d["id"] not in seen:
            seen.add(d["id"])
            unique.append(d)
    return unique


def names_text(names: list[str]) -> str:
    if set(names) == set(PARAM_NAMES):
        return "any of the 12 parameters"
    gates = {GATE_OF[n] for n in names}
    if len(names) == 3 and len(gates) == 1 and set(names) == set(GATE_PARAMS[next(iter(gates))]):
        return f"{', '.join(names)} (the whole {next(iter(gates))} gate)"
    return ", ".join(names)
