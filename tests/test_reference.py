"""The reference against the lesson's equations: finite differences, broadcasting, no torch."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given

import reference
from reference import lstm
from handlstm import strategies
from handlstm.strategies import Example


def central_difference(f, params, name, step=1e-6):
    up, down = dict(params), dict(params)
    up[name] += step
    down[name] -= step
    return (f(up) - f(down)) / (2 * step)


@given(strategies.examples(max_days=8))
def test_gradients_match_central_finite_differences(example: Example):
    long, short = example.memories
    loss = lambda p: float(reference.loss(p, example.days, example.label, long, short))  # noqa: E731
    _, grads = reference.loss_and_grads(example.params, example.days, example.label, long, short)
    for name in reference.PARAM_NAMES:
        # central difference truncation O(step^2 f''') and cancellation O(u |f| / step): ~1e-9 here
        fd = central_difference(loss, example.params, name)
        assert abs(grads[name] - fd) <= 1e-6 * (1 + abs(fd)), (name, grads[name], fd)


@given(strategies.examples(max_days=8))
def test_input_and_memory_gradients_match_finite_differences(example: Example):
    long, short = example.memories
    trace = reference.run(example.params, example.days, long, short)
    grads = reference.backward(trace, 1.0)
    h = 1e-6
    f = lambda x, c, s: float(reference.forward(example.params, x, c, s))  # noqa: E731
    days = np.array(example.days)
    for t in range(len(days)):
        bump = np.zeros_like(days)
        bump[t] = h
        fd = (f(days + bump, long, short) - f(days - bump, long, short)) / (2 * h)
        assert abs(grads.days[t] - fd) <= 1e-6 * (1 + abs(fd))
    assert abs(grads.long_memory - (f(days, long + h, short) - f(days, long - h, short)) / (2 * h)) <= 1e-6
    assert abs(grads.short_memory - (f(days, long, short + h) - f(days, long, short - h)) / (2 * h)) <= 1e-6


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
    days, labels = rng.normal(size=(lstm.SHARE, 4)), rng.uniform(size=lstm.SHARE)
    monkeypatch.setattr(lstm, "THREADS", 2)
    monkeypatch.setattr(lstm, "PIECE", lstm.SHARE // 2)
    pieces, threads = lstm._pieces((3, lstm.SHARE))
    assert (len(pieces), threads) == (3, 2)  # a piece a parameter set, on two threads
    loss, grads = reference.loss_and_grads(params, days, labels)
    monkeypatch.setattr(lstm, "THREADS", 1)
    monkeypatch.setattr(lstm, "PIECE", 10 * lstm.SHARE)
    assert lstm._pieces((3, lstm.SHARE)) == ([...], 1)
    whole_loss, whole_grads = reference.loss_and_grads(params, days, labels)
    assert np.array_equal(loss, whole_loss)
    assert all(np.array_equal(grads[name], whole_grads[name]) for name in reference.PARAM_NAMES)


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
    monkeypatch.setattr(lstm, "THREADS", 2)
    monkeypatch.setattr(lstm, "PIECE", lstm.SHARE)
    params = dict(strategies.lesson_examples()[0].params, wlr2=0.0)
    days = np.zeros((2 * lstm.SHARE, 4))
    days[-1, 0] = np.inf  # inf * wlr2 = inf * 0: an invalid operation, in the second thread's piece
    assert lstm._pieces(days.shape[:1])[1] == 2
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        reference.loss_and_grads(params, days, 0.0)


def test_a_single_sequence_gives_a_scalar():
    params = strategies.lesson_examples()[0].params
    assert np.shape(reference.forward(params, [0.0, 0.5, 0.25, 1.0])) == ()


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
        "import reference\n"
        "reference.loss_and_grads({n: 0.5 for n in reference.PARAM_NAMES}, [1.0, 2.0], 0.0)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')]\n"
    )
    subprocess.run([sys.executable, "-c", blocker], check=True)
