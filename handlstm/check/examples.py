"""The examples each property asks of the learner's class: drawn by Hypothesis once per process
(a fixed seed, the same for every file), what the reference expects of them remembered, and every
request they make sent to the sandbox in batches, in the order one by one would send them.
properties_run.py runs Hypothesis again on them only to shrink a failure."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import example as explicit_example
from hypothesis import strategies as st

from handlstm.reference import PARAM_NAMES

from .. import properties, strategies
from .sandbox.client import Child, SandboxError
from .sandbox.protocol import LearnerError

# What the reference expects of each example, for every file (properties.expected): the check's
# implementations (properties_run.SandboxImplementation) keep it here.
REMEMBERED: dict = {}

# Properties whose examples are asked in batches: all (a property's requests do not depend on the
# answers to its earlier ones; where one would, it asks the child itself).
BATCHED = ("unit", "forward", "gradients", "unit_gradients", "state", "training")
BATCH_SIZE = 64  # requests per message: the deadline is checked between messages
ONE_DAY = ("unit", "unit_gradients")  # properties of lstm_unit itself: one day, whatever forward handles
_drawn: dict[tuple, list[strategies.Example]] = {}


def drawn(drawn_as: tuple, strategy, explicit: list, examples: int) -> list[strategies.Example]:
    """The examples Hypothesis tries first for this strategy, explicit ones first, in its order."""
    key = (drawn_as, examples)
    if key not in _drawn:
        cases: list[strategies.Example] = []
        hypothesis_run(lambda example: cases.append(example), strategy, explicit, examples,
                        (Phase.explicit, Phase.generate))()
        _drawn[key] = cases
    return _drawn[key]


# What a property is told while its requests are only being written down: answers of the right
# shape, never compared (the property runs again on the child's real answers).
PLACEHOLDERS = {"unit": [0.0, 0.0], "forward": 0.0,
                "loss_and_grads": {"loss": 0.0, "grads": dict.fromkeys(PARAM_NAMES, 0.0)},
                "unit_loss_and_grads": {"loss": 0.0, "grads": dict.fromkeys(PARAM_NAMES, 0.0)},
                "train": {"lr": None, "trajectory": []}}


class _Asked:
    """Stands in for the child while a property runs on one example: its requests are written down
    (`recorded`), or answered, in order, with what the child said to them (`answers`); a request
    not written down goes to the child itself."""

    def __init__(self, child: Child, recorded: list | None = None, answers: list | None = None):
        self.child, self.recorded, self.answers = child, recorded, list(answers or [])

    def call(self, op: str, **arguments):
        if self.recorded is not None:
            self.recorded.append((op, arguments))
            return PLACEHOLDERS[op]
        request, value = self.answers.pop(0) if self.answers else (None, None)
        if request != (op, arguments):
            self.answers = []
            return self.child.call(op, **arguments)
        if isinstance(value, LearnerError):
            raise value
        return value


def evaluate(name: str, implementations: list, cases: list, deadline: float
              ) -> dict[tuple, dict[str, list | LearnerError]]:
    """{example: {dtype: its comparisons, or what the learner's code raised}}: every request of
    every example written down, sent in batches in the order one by one would send them, and the
    property run again on the answers."""
    prop = properties.PROPERTIES[name]
    child = implementations[0].child
    groups: list[list] = []  # each example's requests in each dtype
    for case in cases:
        for implementation in implementations:
            groups.append([])
            implementation.child = _Asked(child, recorded=groups[-1])
            try:
                prop(implementation, case)
            finally:
                implementation.child = child
    requests = [request for group in groups for request in group]
    answers = []
    for start in range(0, len(requests), BATCH_SIZE):
        if time.monotonic() > deadline:
            raise SandboxError("timed out: the check did not finish within its time limit")
        answers += child.call_many(requests[start:start + BATCH_SIZE])
    asked = iter(zip(requests, answers))
    known: dict[tuple, dict[str, list | LearnerError]] = {}
    groups_left = iter(groups)
    for case in cases:
        for implementation in implementations:
            implementation.child = _Asked(child, answers=[next(asked) for _ in next(groups_left)])
            try:
                outcome = prop(implementation, case)
            except LearnerError as error:
                outcome = error
            finally:
                implementation.child = child
            known.setdefault(case.key, {})[implementation.dtype] = outcome
    return known


# A fixed seed, not derandomize (which seeds from the test function): the examples drawn ahead and
# the ones Hypothesis tries again when one fails come in the same order.
DRAW_SEED = 20241203


def hypothesis_run(test, strategy, explicit: list, examples: int, phases):
    """Hypothesis running `test` on `explicit` first, in the order given, then on drawn examples."""
    run = settings(max_examples=examples, deadline=None, database=None,
                   report_multiple_bugs=False, phases=phases,
                   verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))(given(strategy)(test))
    run = seed(DRAW_SEED)(run)
    for case in reversed(explicit):  # the decorator applied last runs first
        run = explicit_example(case)(run)

    def without_local_constants():
        with _no_local_constants():
            return run()

    return without_local_constants


@contextlib.contextmanager
def _no_local_constants():
    """Hypothesis mixes numbers found in the source of the "local" modules loaded so far into what
    it draws (an editable handlstm is local, and a failing file imports the diagnosis): the same
    seed would draw other examples for the next file. Drawn with none (Hypothesis's internals,
    where this version has them: tests/test_check_batched.py fails where it does not)."""
    from hypothesis.internal.conjecture import providers

    local, cache = getattr(providers, "_get_local_constants", None), getattr(providers, "CONSTANTS_CACHE", None)
    if local is None or cache is None:
        yield
        return
    none = type(providers.GLOBAL_CONSTANTS)()
    providers._get_local_constants = lambda: none
    cache.cache.clear()  # permitted constants, remembered with the local ones
    try:
        yield
    finally:
        providers._get_local_constants = local
        cache.cache.clear()


def strategy_for(name: str, lengths: list[int]):
    if name in ONE_DAY:
        return strategies.examples(1, 1)
    if lengths == list(range(lengths[0], lengths[-1] + 1)):
        return strategies.examples(lengths[0], lengths[-1])
    return st.sampled_from(lengths).flatmap(lambda n: strategies.examples(n, n))


@dataclass(frozen=True)
class _Expecting:
    """What properties.expected needs of a SandboxImplementation, before there is one."""

    dtype: str
    remembered: dict = field(default_factory=lambda: REMEMBERED)


def drawn_as(name: str, lengths: list[int]) -> tuple:
    """What the examples drawn for this property depend on (see strategy_for and explicit_for)."""
    if name in ONE_DAY:
        return ("one day",)
    return (("trained",) if name == "training" else ()) + tuple(lengths)


def draw_ahead(examples: int, dtypes=("float64", "float32")) -> None:
    """Draw the examples for the usual interfaces (forward over 1 to 16 days, or over exactly the
    lesson's 4), and what the reference expects of them, while the sandbox is still importing torch
    and Lightning."""
    from ..data import LESSON_DAYS

    for lengths in (list(range(1, strategies.MAX_DAYS + 1)), [LESSON_DAYS]):
        for name in BATCHED:
            cases = drawn(drawn_as(name, lengths), strategy_for(name, lengths), explicit_for(name, lengths),
                          count_for(name, examples))
            for case in cases if name in properties.EXPECTATIONS else ():
                for dtype in dtypes:
                    properties.expected(properties.EXPECTATIONS[name], case, _Expecting(dtype))


def fitted(name: str, example: strategies.Example, lengths: list[int]) -> strategies.Example:
    """The example as strategy_for(name, lengths) could have drawn it: every drawn example has the
    same fields, only the number of days differs between properties, so its days are cut or
    padded with zero days (which the strategy draws too) to the nearest length allowed."""
    allowed = [1] if name in ONE_DAY else lengths
    n = min(allowed, key=lambda length: (abs(length - len(example.days)), -length))
    return replace(example, days=example.days[:n] + (0.0,) * (n - len(example.days)))


def explicit_for(name: str, lengths: list[int]) -> list:
    if name == "training":  # it trains on the lesson's data from the example's parameters: one is enough
        return strategies.lesson_examples()[:1]
    # company B first: company A's first day of 0 hides a skipped first day
    return [e for e in reversed(strategies.lesson_examples())
            if name in ONE_DAY or len(e.days) in lengths]


def count_for(name: str, examples: int) -> int:
    """Training runs a Lightning Trainer per example and state reuses forward: fewer of each (two
    drawn parameter sets catch every training mistake of the catalog: tests/meta/test_mutants.py);
    the one-step gradients from non-zero memories repeat what the gradients through forward already
    drew for every day but the first, so a quarter suffices there."""
    return {"training": max(1, examples // 50), "state": max(1, examples // 10),
            "unit_gradients": max(1, examples // 4)}.get(name, examples)
