"""The reference against the lesson's equations: finite differences, broadcasting, no torch."""

import subprocess
import sys

import numpy as np
import pytest
from handlstm.reference import equations, parallel
from hypothesis import given

from handlstm import reference, strategies, tolerances
from handlstm.strategies import Example

STEP = 1e-6  # central differences: truncation ~ STEP^2, rounding ~ u / STEP, both ~1e-10 here


def assert_matches_central_difference(derivative: float, f, x: float, evaluation_error: float, what) -> None:
    """derivative is f'(x) within the derived bound of a central difference (tolerances.py)."""
    __tracebackhide__ = True
    fd = (f(x + STEP) - f(x - STEP)) / (2 * STEP)
    bound = tolerances.central_difference_bound(f, x, STEP, evaluation_error)
    assert abs(derivative - fd) <= bound, (what, derivative, fd, bound)


@given(strategies.examples(max_days=8))
def test_gradients_match_central_finite_differences(example: Example):
    long, short = example.memories
    _, grads = reference.loss_and_grads(example.params, example.days, example.label, long, short)
    trace = reference.run(example.params, example.days, long, short)
    error = float(tolerances.loss_tolerance(trace, example.label, "float64"))
    for name in reference.PARAM_NAMES:
        def loss(value, name=name):
            changed = dict(example.params, **{name: value})
            return float(reference.loss(changed, example.days, example.label, long, short))
        assert_matches_central_difference(grads[name], loss, example.params[name], error, name)


@given(strategies.examples(max_days=8))
def test_input_and_memory_gradients_match_finite_differences(example: Example):
    long, short = example.memories
    trace = reference.run(example.params, example.days, long, short)
    grads = reference.backward(trace, 1.0)
    error = float(tolerances.forward_tolerance(trace, "float64"))
    days, n = np.array(example.days), len(example.days)

    def f(x, c=long, s=short):
        return float(reference.forward(example.params, x, c, s))

    for t in range(n):
        def along_day(value, t=t):
            return f(np.where(np.arange(n) == t, value, days))
        assert_matches_central_difference(grads.days[t], along_day, days[t], error, f"day {t + 1}")
    assert_matches_central_difference(grads.long_memory, lambda c: f(days, c=c), long, error, "long memory")
    assert_matches_central_difference(grads.short_memory, lambda s: f(days, s=s), short, error, "short memory")


def test_one_call_broadcasts_over_parameter_sets_and_sequences():
    rng = np.random.default_rng(0)
    params = {name: rng.normal(size=(5, 1)) for name in reference.PARAM_NAMES}
    days = rng.normal(size=(3, 4))
    batched = reference.forward(params, days)
    loss, grads = reference.loss_and_grads(params, days, 0.5)
    assert batched.shape == loss.shape == grads["wo1"].shape == (5, 3)
    for i in range(5):
        for j in range(3):
            one = {name: float(params[name][i, 0]) for name in reference.PARAM_NAMES}
            assert batched[i, j] == reference.forward(one, days[j])
            assert grads["wp2"][i, j] == reference.loss_and_grads(one, days[j], 0.5)[1]["wp2"]


def test_a_large_batch_in_pieces_on_threads_gives_what_one_piece_gives(monkeypatch):
    """Above 2 * SHARE elements loss_and_grads splits the batch and shares the pieces among threads
    (two here, whatever the machine has): every element must come out exactly as in one piece."""
    rng = np.random.default_rng(1)
    params = {name: rng.normal(size=(3, 1)) for name in reference.PARAM_NAMES}
    days, labels = rng.normal(size=(parallel.SHARE, 4)), rng.uniform(size=parallel.SHARE)
    monkeypatch.setattr(parallel, "THREADS", 2)
    monkeypatch.setattr(parallel, "PIECE", parallel.SHARE // 2)
    pieces, threads = parallel.pieces((3, parallel.SHARE))
    assert (len(pieces), threads) == (3, 2)  # a piece a parameter set, on two threads
    loss, grads = reference.loss_and_grads(params, days, labels)
    monkeypatch.setattr(parallel, "THREADS", 1)
    monkeypatch.setattr(parallel, "PIECE", 10 * parallel.SHARE)
    assert parallel.pieces((3, parallel.SHARE)) == ([...], 1)
    whole_loss, whole_grads = reference.loss_and_grads(params, days, labels)
    assert np.array_equal(loss, whole_loss)
    assert all(np.array_equal(grads[name], whole_grads[name]) for name in reference.PARAM_NAMES)


def test_a_batch_in_blocks_gives_exactly_what_one_block_gives(monkeypatch):
    """loss_and_grads takes a large batch block by block (at most PIECE sequences, each block
    through all days before the next, on one thread or shared among two): every sequence, and
    what it carries of its own (a parameter, a label, initial memories), must come out exactly
    as in one block."""
    rng = np.random.default_rng(2)
    n = 1001  # no block size below divides it: the last block is a short one
    params = {name: float(rng.normal()) for name in reference.PARAM_NAMES}
    params["wo1"] = rng.normal(size=n)
    days, labels = rng.normal(size=(n, 4)), rng.uniform(size=n)
    long, short = rng.normal(size=n), rng.normal(size=n)
    monkeypatch.setattr(parallel, "THREADS", 1)
    monkeypatch.setattr(parallel, "PIECE", 10 * n)
    assert parallel.pieces((n,)) == ([...], 1)
    whole_loss, whole = reference.loss_and_grads(params, days, labels, long, short)
    monkeypatch.setattr(parallel, "SHARE", 100)
    in_blocks = {}  # all kept until compared: a row left unwritten must not find a freed result's value
    for piece, threads in ((64, 1), (64, 2), (300, 2)):
        monkeypatch.setattr(parallel, "PIECE", piece)
        monkeypatch.setattr(parallel, "THREADS", threads)
        blocks, used = parallel.pieces((n,))
        assert used == threads and len(blocks) >= n / piece and all(b.stop - b.start <= piece for b in blocks)
        in_blocks[piece, threads] = reference.loss_and_grads(params, days, labels, long, short)
    for (piece, threads), (loss, grads) in in_blocks.items():
        assert np.array_equal(loss, whole_loss), (piece, threads)
        assert all(np.array_equal(grads[k], whole[k]) for k in reference.PARAM_NAMES), (piece, threads)


def test_labels_and_seeds_may_carry_batch_axes_the_forward_pass_has_not():
    rng = np.random.default_rng(0)  # gates that differ: the lesson's own start has three alike
    params = {name: float(rng.normal()) for name in reference.PARAM_NAMES}
    days, labels = [0.0, 0.5, 0.25, 1.0], np.array([[0.1, 0.5, 0.9], [1.0, 0.0, 2.0]])
    loss, grads = reference.loss_and_grads(params, days, labels)
    assert loss.shape == grads["wlr1"].shape == (2, 3)
    for index, label in np.ndenumerate(labels):
        one_loss, one = reference.loss_and_grads(params, days, label)
        assert loss[index] == one_loss and all(grads[n][index] == one[n] for n in reference.PARAM_NAMES)
    trace, seeds = reference.run(params, days), np.array([1.0, -2.0, 3.0])
    batched = reference.backward(trace, seeds)
    for k, seed in enumerate(seeds):
        assert all(batched.params[n][k] == reference.backward(trace, seed).params[n] for n in reference.PARAM_NAMES)


def test_the_callers_floating_point_settings_hold_on_every_thread(monkeypatch):
    """A large batch's pieces run on threads; np.errstate set by the caller must reach them all."""
    monkeypatch.setattr(parallel, "THREADS", 2)
    monkeypatch.setattr(parallel, "PIECE", parallel.SHARE)
    params = dict(strategies.lesson_examples()[0].params, wlr2=0.0)
    days = np.zeros((2 * parallel.SHARE, 4))
    days[-1, 0] = np.inf  # inf * wlr2 = inf * 0: an invalid operation, in the second thread's piece
    assert parallel.pieces(days.shape[:1])[1] == 2
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        reference.loss_and_grads(params, days, 0.0)


def test_a_single_sequence_gives_a_scalar_the_batch_gives_too():
    params = strategies.lesson_examples()[0].params
    one = reference.forward(params, [0.0, 0.5, 0.25, 1.0])
    assert np.shape(one) == ()
    assert one == reference.forward(params, [[1.0, 0.5, 0.25, 1.0], [0.0, 0.5, 0.25, 1.0]])[1]


def test_missing_parameter_and_empty_sequence_are_refused():
    params = dict(strategies.lesson_examples()[0].params)
    with pytest.raises(ValueError):
        reference.forward(params, [])
    del params["bo1"]
    with pytest.raises(KeyError, match="bo1"):
        reference.forward(params, [1.0])


def test_reference_imports_without_torch_or_lightning():
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'lightning', 'pytorch_lightning'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from handlstm import reference\n"
        "reference.loss_and_grads({n: 0.5 for n in reference.PARAM_NAMES}, [1.0, 2.0], 0.0)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')]\n"
    )
    subprocess.run([sys.executable, "-c", blocker], check=True)


@given(strategies.examples())
def test_the_fast_path_agrees_with_the_plain_equations(example):
    """reference/lstm.py (blocks, in place, threads) against reference/equations.py (line for line
    from the lesson): within the derived float64 rounding bound of two implementations."""
    trace = reference.run(example.params, example.days)
    assert abs(equations.forward(example.params, example.days) - float(trace.final_short)) <= float(
        tolerances.forward_tolerance(trace, "float64"))
    plain_loss, plain = equations.loss_and_grads(example.params, example.days, example.label)
    fast_loss, fast = reference.loss_and_grads(example.params, example.days, example.label)
    assert abs(plain_loss - float(fast_loss)) <= float(tolerances.loss_tolerance(trace, example.label, "float64"))
    bound = tolerances.gradient_tolerance(trace, example.label, "float64")
    assert all(abs(plain[n] - float(fast[n])) <= float(bound[n]) for n in reference.PARAM_NAMES)
    long, short = example.memories
    one = equations.day(example.params, example.days[0], long, short)
    step = reference.run(example.params, example.days[:1], long, short)
    assert abs(one["new_short"] - float(step.final_short)) <= float(tolerances.forward_tolerance(step, "float64"))

