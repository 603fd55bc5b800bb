"""Naming the mistake: which classic mistake reproduces a failing learner's numbers.

Runs in the parent, on plain numbers: it asks the implementation (the sandboxed runner's proxy) a few dozen
chosen questions and compares the answers with every mutation of the equations in
handlstm/mutants.py. A mutation explains the learner when it reproduces every answer within
`thresholds.match_tolerance`; the line is then found in the source (locate.py).

    diagnose(implementation, results, facts) -> [{"id": catalog id, "detail": human text}, ...]

best first, several when the behaviour fits several, one "unknown" entry when nothing fits.
The catalog and what each id means for a learner: docs/mistakes.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from .catalog import CATALOG, HINTS, Diagnosis, finding, hint, unique
from .facts import Facts, counterexamples, failed_checks
from .forward import forward_mistakes
from .training import gradient_mistakes, training_mistakes

__all__ = ["CATALOG", "HINTS", "diagnose", "hint"]


def diagnose(implementation, results, facts: Mapping | None) -> list[Diagnosis]:
    """The catalog's explanation of the failing checks in `results`, best first (never empty)."""
    failed = failed_checks(results)
    facts = Facts(facts or {})
    forward_failed = bool(failed & {"unit", "forward"})
    found: list[Diagnosis] = []
    if forward_failed or not failed:
        # a wrong forward explains every later failure: name it first, the facts after
        found = forward_mistakes(implementation, counterexamples(results))
        if found:
            found += facts.mistakes()
    if not found:  # forward is right on every probe (its check may have run out of time)
        # parameters the module does not train explain missing gradients; missing gradients in
        # turn explain a loss without gradient and training that goes wrong
        found += facts.parameter_mistakes()
        if failed & {"gradients", "unit_gradients"}:
            found += gradient_mistakes(implementation)
        found += facts.training_mistakes()
        if failed_checks(results, ("fail",)) & {"training"} and not failed & {"gradients", "unit_gradients"}:
            found += training_mistakes(implementation, facts)
    if "state" in failed:
        found.append(finding("state-leak", "forward gives a different answer for the same days after other calls"))
    if forward_failed and not found:
        found.append(finding("unknown", "lstm_unit and forward agree with the lesson on every probe; they "
                             "differ only on the counterexample's values"))
    return unique(found) or [finding("unknown", "no mistake in the catalog reproduces these numbers")]

