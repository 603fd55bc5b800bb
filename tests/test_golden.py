"""The regression baseline: the golden file is the reference's seed-42 training, and Lightning
training reproduces it; `handlstm golden` says what changed."""

import json

import lightning as L
import pytest

from handlstm import reference
from handlstm import golden
from handlstm.cli import main
from handlstm.data import LABELS, SEQUENCES
from handlstm.train import build_model, fit, lesson_params, predictions

GOLDEN = golden.load()


def test_golden_file_records_the_lesson_settings_and_versions():
    assert (GOLDEN["seed"], GOLDEN["lr"]) == (42, 0.001)
    assert sorted(GOLDEN["params"], key=int) == [str(e) for e in golden.EPOCHS] and golden.EPOCHS[-1] == 5000
    assert set(GOLDEN["versions"]) >= {"handlstm", "numpy", "torch", "lightning"}
    assert all(set(p) == set(reference.PARAM_NAMES) for p in GOLDEN["params"].values())


def test_golden_start_is_the_seed_42_draw_of_handlstm_train():
    assert golden.initial_params() == GOLDEN["initial_params"]


def test_golden_early_epochs_are_the_reference_loop():
    epochs = [e for e in golden.EPOCHS if e <= 100]
    trajectory = reference.train(GOLDEN["initial_params"], SEQUENCES, LABELS, GOLDEN["lr"], 2 * max(epochs))
    for epoch in epochs:
        got, expected = trajectory[2 * epoch - 1], GOLDEN["params"][str(epoch)]
        for name in reference.PARAM_NAMES:
            assert abs(float(got[name]) - expected[name]) <= GOLDEN["tolerance"][str(epoch)][name], (epoch, name)


class AtGoldenEpochs(L.Callback):
    """Records the 12 parameters after each golden epoch."""

    def __init__(self):
        self.params: dict[int, dict[str, float]] = {}

    def on_train_epoch_end(self, trainer, module):
        if trainer.current_epoch + 1 in golden.EPOCHS:
            self.params[trainer.current_epoch + 1] = lesson_params(module)


@pytest.mark.slow
def test_the_lessons_run_converges_and_follows_the_golden_file_in_float64(tmp_path):
    """The lesson's run (LSTMByHand, seed 42, Adam lr 0.001, 5000 epochs) through `handlstm train`'s
    own fit, in float64: it predicts A < 0.05 and B > 0.95, and matches the reference's golden
    parameters at every golden epoch. One test, so that xdist never runs the long training twice."""
    model, recorder = build_model("hand", golden.LR, golden.SEED), AtGoldenEpochs()
    trainer = fit(model, max(golden.EPOCHS), tmp_path, precision="64", log=False, callbacks=[recorder])
    assert trainer.current_epoch == max(golden.EPOCHS)
    predicted = predictions(model)
    assert predicted["A"] < 0.05 and predicted["B"] > 0.95, predicted
    failures = []
    for epoch, params in recorder.params.items():
        for name in reference.PARAM_NAMES:
            expected, tolerance = GOLDEN["params"][str(epoch)][name], GOLDEN["tolerance"][str(epoch)][name]
            if not abs(params[name] - expected) <= tolerance:
                failures.append(f"epoch {epoch} {name}: golden {expected!r}, Lightning {params[name]!r}"
                                f" (tolerance {tolerance:.3g})")
    assert sorted(recorder.params) == list(golden.EPOCHS)
    assert not failures, "\n".join(failures)


def test_differences_name_what_moved_and_by_how_much_of_its_tolerance():
    new = json.loads(json.dumps(GOLDEN))
    new["params"]["10"]["wo1"] += 10 * GOLDEN["tolerance"]["10"]["wo1"]
    new["versions"]["torch"] = "99.0"
    lines = golden.differences(GOLDEN, new)
    assert any(line.startswith("epoch 10: 1 of 12 parameters changed, most wo1") and "(10 of its tolerance)" in line
               for line in lines), lines
    assert f"torch: {GOLDEN['versions']['torch']} -> 99.0" in lines
    assert not golden.holds(GOLDEN, new) and golden.holds(GOLDEN, GOLDEN)
    assert golden.differences(GOLDEN, GOLDEN) == []


@pytest.fixture
def short_golden(monkeypatch):
    """A golden of the first 10 epochs, so the command's own paths run in a moment."""
    monkeypatch.setattr(golden, "EPOCHS", (1, 10))


def test_golden_update_writes_the_file_and_says_what_changed(short_golden, tmp_path, capsys):
    target = tmp_path / "golden.json"
    assert main(["golden", "--update", "--file", str(target)]) == 0
    assert "epoch 10: new" in capsys.readouterr().out
    written = json.loads(target.read_text())
    assert written["params"]["10"] == GOLDEN["params"]["10"]
    assert main(["golden", "--file", str(target)]) == 0
    assert "holds" in capsys.readouterr().out
    written["params"]["1"]["bp1"] += 1e-3
    target.write_text(json.dumps(written))
    assert main(["golden", "--file", str(target)]) == 1
    assert "no longer holds" in capsys.readouterr().out


def test_golden_reports_a_missing_file_in_one_line(tmp_path, capsys):
    assert main(["golden", "--file", str(tmp_path / "none.json")]) == 2
    assert "handlstm golden --update" in capsys.readouterr().err
