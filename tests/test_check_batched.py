"""Examples asked of the learner's class in batches give the verdict asking one by one gives.

`handlstm check` draws a property's examples once (Hypothesis, a fixed seed), asks the sandbox for
all of them in one request, and runs Hypothesis again only where one fails, to shrink it: these
tests hold that to the one-by-one path on the same files.
"""

import time
from pathlib import Path

import pytest
from helpers import check_of

from handlstm import strategies
from handlstm.check import examples, properties_run
from handlstm.check.examples import drawn, hypothesis_run
from handlstm.check.run import check_file
from handlstm.check.sandbox.client import SandboxError, Zygote, choose_isolation

CORPUS = Path(__file__).parent / "corpus"


def test_examples_drawn_ahead_are_the_ones_hypothesis_tries_again():
    """The shrinking run finds the failure the batch found, answering the examples before it from
    what the batch already asked (the same seed, whatever the test function)."""
    strategy, explicit = strategies.examples(1, 16), strategies.lesson_examples()
    ahead = drawn(("test", "1..16"), strategy, explicit, 30)
    again: list = []
    hypothesis_run(lambda example: again.append(example), strategy, explicit, 30,
                    properties_run.PHASES[:2])()
    assert len(ahead) == 30 + len(explicit) and again == ahead


def test_the_examples_drawn_do_not_depend_on_what_the_process_has_imported(tmp_path, monkeypatch):
    """Hypothesis mixes numbers from the source of the "local" modules loaded so far into what it
    draws (an editable handlstm is local; a failing file imports the diagnosis): one file's check
    must not change the examples the next one is asked."""
    strategy, explicit = strategies.examples(1, 16), strategies.lesson_examples()
    before = drawn(("test", "imports"), strategy, explicit, 100)
    (tmp_path / "numbers_of_a_local_module.py").write_text(
        "".join(f"N{k} = {k / 7 + 0.0123:.17g}\n" for k in range(200)))
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("numbers_of_a_local_module")
    monkeypatch.setattr(examples, "_drawn", {})
    assert drawn(("test", "imports"), strategy, explicit, 100) == before


@pytest.fixture(scope="module")
def one_by_one_and_batched():
    Zygote.shared(choose_isolation(None, many=False)).wait_ready(time.monotonic() + 120)

    def reports(name: str) -> tuple[dict, dict]:
        path = str(CORPUS / name)
        batched = check_file(path, examples=20, timeout=60)
        kept, properties_run.BATCHED = properties_run.BATCHED, ()
        try:
            one_by_one = check_file(path, examples=20, timeout=60)
        finally:
            properties_run.BATCHED = kept
        return one_by_one, batched

    return reports


@pytest.mark.parametrize("name", ["correct/lesson_unrolled.py", "buggy/weights-swapped.py",
                                  "buggy/loss-function--no-return.py"])
def test_batched_verdicts_are_the_one_by_one_verdicts(one_by_one_and_batched, name):
    one_by_one, batched = one_by_one_and_batched(name)
    assert batched["verdict"] == one_by_one["verdict"]
    assert [(c["id"], c["status"], c["dtypes"]) for c in batched["checks"]] == \
           [(c["id"], c["status"], c["dtypes"]) for c in one_by_one["checks"]]
    assert [d["id"] for d in batched["diagnoses"]] == [d["id"] for d in one_by_one["diagnoses"]]


@pytest.mark.parametrize("shrinking", ["does not fail again", "runs out of time"])
def test_a_failure_the_shrinking_run_does_not_repeat_is_still_a_fail(one_by_one_and_batched, monkeypatch, shrinking):
    """The failure found in the batch stands, unshrunk, whatever the run that shrinks it does."""
    shrink = properties_run._run_property

    def shrinking_run(name, implementations, strategy, explicit, examples, deadline, known=None):
        if known is None:  # a property not run in batches
            return shrink(name, implementations, strategy, explicit, examples, deadline)
        if shrinking == "runs out of time":
            raise SandboxError("timed out: the check did not finish within its time limit")
        return properties_run.PropertyResult(name, "pass")

    monkeypatch.setattr(properties_run, "_run_property", shrinking_run)
    report = check_file(str(CORPUS / "buggy/weights-swapped.py"), examples=10, timeout=60)
    forward = check_of(report, "forward")
    assert report["verdict"] == "fail" and forward["status"] == "fail"
    assert forward["counterexample"]["mismatches"] and forward["dtypes"]["float64"] == "fail"


def test_only_the_checks_implementations_remember_what_the_reference_expects(monkeypatch):
    """In process (the tests' own implementations) every bound is computed afresh: a test that
    loosens a tolerance sees its own bound, and leaves none behind."""
    from handlstm import properties, tolerances
    from handlstm.implementations import hand_module

    example = strategies.lesson_examples()[0]
    in_process = hand_module("float64")
    remembering = examples._Expecting("float64", remembered={})
    tight = properties.expected(properties._forward_expected, example, remembering)
    monkeypatch.setattr(tolerances, "forward_tolerance", lambda *args, **kwargs: 123.0)
    assert properties.forward_agrees(in_process, example)[0].tolerance == 123.0
    assert properties.expected(properties._forward_expected, example, remembering) == tight
    assert tight[0][2] != 123.0  # (quantity, value, tolerance): remembered from before the change


def test_a_borrowed_counterexample_is_cut_or_padded_with_zero_days_to_a_length_the_property_draws():
    example = strategies.Example(params=dict.fromkeys(strategies.PARAM_NAMES, 0.5), days=(1.5, -0.25),
                                 label=1.0, memories=(0.3, -0.2))
    assert examples.fitted("forward", example, [4]).days == (1.5, -0.25, 0.0, 0.0)
    assert examples.fitted("forward", example, [1, 2, 3]).days == (1.5, -0.25)
    assert examples.fitted("forward", example, [1]).days == (1.5,)
    assert examples.fitted("forward", example, [1, 3]).days == (1.5, -0.25, 0.0)  # a tie: the longer
    unit = examples.fitted("unit_gradients", example, [4])
    assert unit.days == (1.5,) and (unit.params, unit.label, unit.memories) == \
           (example.params, example.label, example.memories)


def test_later_checks_try_the_counterexample_an_earlier_check_shrank_to_first(monkeypatch):
    """A mistake lstm_unit shows usually shows in forward on the same small example: the later
    properties' shrinking runs are offered it (fitted to their days) before drawing anew."""
    offered: dict[str, list] = {}
    failed: dict[str, strategies.Example] = {}
    shrink = properties_run._run_property

    def recording(name, implementations, strategy, explicit, examples, deadline, known=None):
        offered[name] = list(explicit)
        result = shrink(name, implementations, strategy, explicit, examples, deadline, known)
        failed[name] = result.failure.example
        return result

    monkeypatch.setattr(properties_run, "_run_property", recording)
    report = check_file(str(CORPUS / "buggy/weights-swapped.py"), examples=10, timeout=60)
    assert report["verdict"] == "fail" and failed["unit"] not in strategies.lesson_examples()
    lengths = report["implementation"]["sequence_lengths"]
    assert examples.fitted("forward", failed["unit"], lengths) in offered["forward"]
    assert failed["forward"] == examples.fitted("forward", failed["unit"], lengths)  # not shrunk again
    assert examples.fitted("unit_gradients", failed["unit"], lengths) in offered["unit_gradients"]
