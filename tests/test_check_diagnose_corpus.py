"""Every learner-style buggy file in tests/corpus/buggy/ is diagnosed as the mistake its name says.

In-process: the child's own session loads each file (definitions only) and answers as the
parent's proxy does; the failing checks come from the one definition of each property. The
same files go through the real `handlstm check` in tests/test_check_diagnose_e2e.py.
"""

from pathlib import Path

import numpy as np
import pytest
from handlstm.reference import PARAM_NAMES

from handlstm import properties
from handlstm.check import source as load
from handlstm.check.diagnose import CATALOG, diagnose
from handlstm.check.interface import probe
from handlstm.check.sandbox.runner import Session
from handlstm.data import LABELS, SEQUENCES
from handlstm.strategies import Example, lesson_examples

BUGGY = Path(__file__).parent / "corpus" / "buggy"
FILES = sorted(BUGGY.rglob("*.py"))


def expected_id(path: Path) -> str:
    """`cell-update.py` and `cell-update--variant.py` both expect cell-update."""
    return path.stem.split("--")[0]


class SessionImplementation:
    """The learner's class behind the runner's session, in this process, read through the
    interface `handlstm check` probes (argument and return order, a batch of one, the dtype)."""

    def __init__(self, path: Path):
        self.session, self.name = Session(), path.name
        source = load.read_source(str(path))
        self.ask("load", source=source.as_dict(), class_name=None, names={n: n for n in PARAM_NAMES})
        interface = probe(self)
        self.dtype = interface.dtype
        self.ask("configure", dtypes=[self.dtype], order=list(interface.order), returns=list(interface.returns),
                 batched=interface.batched)

    def ask(self, op: str, **arguments):
        answer = self.session.answer({"op": op, **arguments})
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["ok"]

    call = ask  # what interface.probe asks through

    def unit(self, params, x, long, short):
        return tuple(self.ask("unit", dtype=self.dtype, params=params, x=x, long=long, short=short))

    def forward(self, params, days):
        return self.ask("forward", dtype=self.dtype, params=params, days=list(days))

    def loss_and_grads(self, params, days, label):
        answer = self.ask("loss_and_grads", dtype=self.dtype, params=params, days=list(days), label=label)
        return answer["loss"], answer["grads"]

    def train(self, params, steps):
        answer = self.ask("train", dtype=self.dtype, params=params, steps=steps, sequences=SEQUENCES, labels=LABELS)
        return answer["lr"], answer["trajectory"]


def examples() -> list[Example]:
    rng = np.random.default_rng(3)
    drawn = [Example(params={n: float(v) for n, v in zip(PARAM_NAMES, rng.uniform(-2, 2, 12))},
                     days=tuple(float(d) for d in rng.uniform(-1, 1, 4)), label=float(rng.uniform(-1, 1)),
                     memories=(float(rng.uniform(0.2, 2)), float(rng.uniform(0.1, 0.9))))
             for _ in range(3)]
    return drawn + lesson_examples()


def status(implementation, check: str, cases: list[Example]) -> str:
    try:
        ok = all(c.ok for example in cases for c in properties.PROPERTIES[check](implementation, example))
    except Exception:
        return "error"
    return "pass" if ok else "fail"


def results_of(implementation) -> list[dict]:
    """The failing checks as `handlstm check` reports them; training (a Lightning run) only where
    forward is right, since a wrong forward fails it anyway."""
    cases = examples()
    right = status(implementation, "unit", cases) == status(implementation, "forward", cases) == "pass"
    return [{"id": "forward", "status": "pass" if right else "fail"},
            {"id": "gradients", "status": status(implementation, "gradients", cases)},
            {"id": "state", "status": status(implementation, "state", cases[:1])},
            {"id": "training", "status": status(implementation, "training", cases[:1]) if right else "fail"}]


def test_every_catalog_id_has_a_buggy_file():
    assert set(CATALOG) <= {expected_id(path) for path in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_buggy_file_is_diagnosed_as_its_mistake(path):
    implementation = SessionImplementation(path)
    results = results_of(implementation)
    assert any(r["status"] != "pass" for r in results), f"{path.name} passes every check"
    found = diagnose(implementation, results, implementation.ask("facts", dtype=implementation.dtype, sequences=SEQUENCES, labels=LABELS))
    assert found[0]["id"] == expected_id(path), (results, found)
    assert all(d["detail"] for d in found)
