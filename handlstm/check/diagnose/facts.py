"""What the pipeline tells diagnosis: the failed checks, their counterexamples, and the runner's
facts about the module (its parameters, optimizer and training_step)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from handlstm.reference import PARAM_NAMES

from .catalog import Diagnosis, finding, names_text


def _checks(results) -> list[dict]:
    if isinstance(results, Mapping):
        return [dict(check, id=check.get("id", key)) for key, check in results.items()]
    return list(results or [])


def failed_checks(results, statuses: tuple[str, ...] = ("fail", "error")) -> set[str]:
    """The ids of the checks that failed (or errored: a crash in backward is a symptom too)."""
    return {c["id"] for c in _checks(results) if c.get("status") in statuses}


def counterexamples(results) -> list[tuple[dict, tuple[float, ...]]]:
    """(parameters, days) of the shrunk forward counterexamples, to probe beside the fixed probes."""
    found = []
    for check in _checks(results):
        example = check.get("counterexample") or {}
        params, days = example.get("params") or example.get("parameters"), example.get("days")
        if check.get("id") == "forward" and isinstance(params, Mapping) and days:
            try:
                found.append(({n: float(params[n]) for n in PARAM_NAMES}, tuple(float(d) for d in days)))
            except (KeyError, TypeError, ValueError):
                continue  # a counterexample in another shape: the fixed probes still decide
    return found


class Facts:
    """What the child reports about the module's parameters, optimizer and training_step
    (the format: handlstm/check/sandbox/facts.py's docstring)."""

    def __init__(self, facts: Mapping):
        self.facts = facts
        self.params: Mapping = facts.get("parameters") or {}
        self.optimizer: Mapping = facts.get("optimizer") or {}
        self.training_step: Mapping = facts.get("training_step") or {}

    def names_where(self, key: str, value, leaving_out: Iterable[str] = ()) -> list[str]:
        return [n for n in PARAM_NAMES if isinstance(self.params.get(n), Mapping) and n not in leaving_out
                and self.params[n].get("found") is not False and self.params[n].get(key) is value]

    def mistakes(self) -> list[Diagnosis]:
        """What the facts alone show: parameters the optimizer cannot train, no loss to train on."""
        return self.parameter_mistakes() + self.training_mistakes()

    def untrained(self) -> tuple[list[str], list[str]]:
        """(names that are not registered parameters, registered ones with requires_grad off)."""
        unregistered = self.names_where("registered", False)
        return unregistered, self.names_where("requires_grad", False, leaving_out=unregistered)

    def parameter_mistakes(self) -> list[Diagnosis]:
        unregistered, frozen = self.untrained()
        found = []
        if unregistered:
            found.append(finding("parameter-not-registered", f"{names_text(unregistered)}: not an nn.Parameter "
                            "of the module, so no optimizer sees it", parameters=unregistered))
        if frozen:
            found.append(finding("parameter-not-trainable", f"{names_text(frozen)}: requires_grad is off",
                                 parameters=frozen))
        return found

    def training_mistakes(self) -> list[Diagnosis]:
        unregistered, frozen = self.untrained()
        found = []
        missing = self.names_where("in_optimizer", False, leaving_out=unregistered + frozen)
        if missing:
            found.append(finding("optimizer-params", f"the optimizer does not update {names_text(missing)}",
                                 parameters=missing))
        if self.optimizer.get("error"):
            found.append(finding("optimizer-params",
                            f"configure_optimizers gives no optimizer: {self.optimizer['error']}"))
        elif self.optimizer.get("class") not in (None, "Adam"):
            found.append(finding("optimizer-params",
                            f"the optimizer is {self.optimizer['class']}, the lesson's is Adam"))
        elif self.optimizer.get("lr") == 0:
            found.append(finding("optimizer-params", "the optimizer's learning rate is 0"))
        returned = self.training_step.get("returned")
        if self.training_step.get("returns_loss") is False:
            shown = "nothing" if returned == "None" else f"a {returned} that carries no gradient"
            found.append(finding("loss-function", f"training_step returns {shown}, not the loss"))
        return found

    def training_step_error(self) -> str | None:
        return self.training_step.get("error") if self.training_step.get("returns_loss") is None else None
