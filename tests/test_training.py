"""Training agrees: Lightning training of both modules follows the reference's Adam loop, the
forward and gradient properties still hold after training, and the lesson's run converges."""

import pytest
import torch
from helpers import agrees
from hypothesis import example, given, settings
from hypothesis import strategies as st

from handlstm import properties, reference, strategies, tolerances
from handlstm.data import LABELS, SEQUENCES
from handlstm.implementations import ModuleImplementation, ReferenceImplementation, TorchLSTMImplementation
from handlstm.model import LSTMByHand
from handlstm.strategies import Example
from handlstm.train.trajectory import lightning_trajectory

LESSON = strategies.lesson_examples()
# a Lightning run per example: a quarter of the profile's examples keeps the suite quick, and
# the thorough profile still draws hundreds
FEWER = settings(max_examples=max(5, settings.default.max_examples // 4))
# training runs on the lesson's two companies; only the starting parameters are drawn
STARTS = st.builds(Example, params=strategies.params(), days=st.just(SEQUENCES[0]), label=st.just(LABELS[0]))


@pytest.fixture(scope="module", params=["LSTMByHand", "nn.LSTM", "reference"])
def trainee(request):
    return {"LSTMByHand": lambda: ModuleImplementation(LSTMByHand(), dtype="float64"),
            "nn.LSTM": lambda: TorchLSTMImplementation("float64"),
            "reference": ReferenceImplementation}[request.param]()


@FEWER
@given(STARTS)
@example(LESSON[0])
def test_training_follows_reference_adam_step_for_step(trainee, example: Example):
    agrees("training", properties.training_agrees(trainee, example), example,
                             label=f"training [{trainee.name} float64]")


@given(strategies.params(), st.sampled_from([0.001, 0.1]))
def test_reference_adam_is_torch_adam(params, lr):
    """torch.optim.Adam driven by the reference's gradients lands where reference.train does."""
    steps = properties.TRAINING_STEPS
    values = {n: torch.tensor(params[n], dtype=torch.float64, requires_grad=True)
              for n in reference.PARAM_NAMES}
    optimizer = torch.optim.Adam(values.values(), lr=lr)
    got = []
    for step in range(steps):
        current = {n: float(v.detach()) for n, v in values.items()}
        _, grads = reference.loss_and_grads(current, SEQUENCES[step % 2], LABELS[step % 2])
        for n, v in values.items():
            v.grad = torch.tensor(float(grads[n]), dtype=torch.float64)
        optimizer.step()
        got.append({n: float(v.detach()) for n, v in values.items()})
    expected = reference.train(params, SEQUENCES, LABELS, lr, steps)
    bound = tolerances.trajectory_tolerance(params, expected, lr, "float64", SEQUENCES, LABELS)
    example = Example(params=params, days=SEQUENCES[0], label=LABELS[0])
    agrees("reference Adam is torch.optim.Adam", [
        properties.Comparison(f"{n} after step {k + 1}", float(expected[k][n]), got[k][n], bound[k][n])
        for k in range(steps) for n in reference.PARAM_NAMES], example)


def test_a_training_step_that_returns_nothing_leaves_the_parameters_alone():
    class Idle(LSTMByHand):
        def training_step(self, batch, batch_idx):
            return None

    module = Idle().double()
    before = {n: float(getattr(module, n).detach()) for n in reference.PARAM_NAMES}
    lr, trajectory = lightning_trajectory(module, 3)
    assert lr == 0.001
    assert trajectory == [before] * 3


def test_an_optimizer_other_than_adam_is_reported():
    class Plain(LSTMByHand):
        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    lr, trajectory = lightning_trajectory(Plain(), 2)
    assert lr is None and len(trajectory) == 2
    implementation = ModuleImplementation(Plain(), dtype="float64")
    [comparison] = properties.training_agrees(implementation, LESSON[0])
    assert not comparison.ok


def test_mapped_attribute_names_are_read():
    class Renamed(LSTMByHand):
        """The forget gate's weight on h lives in forget_h; `wlr1` is an untrained decoy."""

        def __init__(self):
            super().__init__()
            self.forget_h = torch.nn.Parameter(torch.tensor(0.8))
            self.wlr1.requires_grad_(False)
            with torch.no_grad():
                self.wlr1.fill_(42.0)

        def lstm_unit(self, x, long, short):
            f = torch.sigmoid(short * self.forget_h + x * self.wlr2 + self.blr1)
            i = torch.sigmoid(short * self.wpr1 + x * self.wpr2 + self.bpr1)
            g = torch.tanh(short * self.wp1 + x * self.wp2 + self.bp1)
            o = torch.sigmoid(short * self.wo1 + x * self.wo2 + self.bo1)
            long = long * f + i * g
            return [long, torch.tanh(long) * o]

    module = Renamed().double()
    names = {n: n for n in reference.PARAM_NAMES} | {"wlr1": "forget_h"}
    _, trajectory = lightning_trajectory(module, 3, names=names)
    assert [step["wlr1"] for step in trajectory][-1] == float(module.forget_h.detach())
    assert len({step["wlr1"] for step in trajectory} | {0.8}) == 4  # it trains: each step moves it
    assert float(module.wlr1) == 42.0  # the decoy under the lesson's name was not what was read


@FEWER
@given(STARTS, strategies.days(max_days=8), strategies.labels())
def test_forward_and_gradients_still_agree_after_lightning_training(start: Example, days, label):
    """Train LSTMByHand with Lightning from drawn parameters; on the trained parameters the hand
    module, the mapped nn.LSTM and the reference still agree on outputs and gradients."""
    module = LSTMByHand()
    trained = ModuleImplementation(module, dtype="float64")
    _, trajectory = trained.train(start.params, properties.TRAINING_STEPS)
    after = Example(params=trajectory[-1], days=days, label=label)
    assert after.params == {n: float(getattr(module, n).detach()) for n in reference.PARAM_NAMES}
    for implementation in (trained, TorchLSTMImplementation("float64")):
        for name in ("forward", "gradients"):
            agrees(name, properties.PROPERTIES[name](implementation, after), after,
                                     label=f"{name} after training [{implementation.name} float64]")


def test_the_lessons_nn_lstm_run_predicts_both_companies(tmp_path):
    """LightningLSTM with the lesson's settings (seed 42, Adam lr 0.1, 300 epochs, float32).
    The hand model's 5000-epoch run is checked in test_golden.py, on the same run as the golden file."""
    from handlstm.train import MODELS, build_model, fit, predictions

    lesson = MODELS["torch"]
    model = build_model("torch", lesson["lr"], seed=42)
    fit(model, lesson["epochs"], tmp_path, log=False)
    predicted = predictions(model)
    assert predicted["A"] < 0.05 and predicted["B"] > 0.95, predicted
