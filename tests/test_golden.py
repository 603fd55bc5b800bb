"""The regression baseline: the golden file is the reference's seed-42 training, and Lightning
training reproduces it; `handlstm golden` says what changed."""

import json

import pytest

from handlstm import golden, reference
from handlstm.cli import main
from handlstm.data import LABELS, SEQUENCES
from handlstm.train import build_model, predictions

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


@pytest.mark.slow
def test_the_lessons_run_converges_and_follows_the_golden_file_in_float64():
    """The lesson's run (LSTMByHand, seed 42, Adam lr 0.001, 5000 epochs) through `handlstm train`'s
    own fit, in float64, as `handlstm golden` runs it: it matches the reference's golden parameters
    at every golden epoch, and the model predicts A < 0.05 and B > 0.95. One test, so that xdist
    never runs the long training twice."""
    params = golden.lightning_params(golden.EPOCHS)
    failing, _ = golden.compare(GOLDEN, params, "Lightning")
    assert not failing, "\n".join(failing)
    model = build_model("hand", golden.LR, golden.SEED)
    for name, value in params[str(max(golden.EPOCHS))].items():
        getattr(model, name).data.fill_(value)
    predicted = predictions(model)
    assert predicted["A"] < 0.05 and predicted["B"] > 0.95, predicted


def test_differences_name_what_moved_and_by_how_much_of_its_tolerance():
    new = json.loads(json.dumps(GOLDEN))
    new["params"]["10"]["wo1"] += 10 * GOLDEN["tolerance"]["10"]["wo1"]
    new["versions"]["torch"] = "99.0"
    lines = golden.differences(GOLDEN, new)
    assert any(line.startswith("epoch 10: 1 of 12 parameters changed, most wo1") and "(10 of its tolerance)" in line
               for line in lines), lines
    assert f"torch: {GOLDEN['versions']['torch']} -> 99.0" in lines
    failing, _ = golden.compare(GOLDEN, new["params"], "recomputed")
    assert len(failing) == 1 and failing[0].startswith("epoch 10 wo1: golden ")
    assert golden.compare(GOLDEN, GOLDEN["params"], "recomputed") == ([], [])
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
    # the same numbers within their tolerance (to the last bit where NumPy rounds as it did when the
    # file was recorded; NumPy 1.x differs in the last bit, the compatibility matrix measured)
    epoch_10 = {**GOLDEN, "params": {"10": GOLDEN["params"]["10"]}}
    assert golden.compare(epoch_10, {"10": written["params"]["10"]}, "rewritten")[0] == []
    assert main(["golden", "--file", str(target)]) == 0  # the reference and Lightning, 10 epochs
    out = capsys.readouterr().out
    assert "2/2 Lightning training" in out and "holds for the NumPy reference and Lightning training" in out
    assert f"torch: {written['versions']['torch']} recorded, " in out
    written["params"]["1"]["bp1"] += 1e-3
    target.write_text(json.dumps(written))
    assert main(["golden", "--file", str(target), "--reference-only"]) == 1
    out = capsys.readouterr().out
    beyond, within = out.index("Beyond tolerance:"), out.find("Within tolerance")
    assert "epoch 1 bp1: golden " in out[beyond:] and (within == -1 or beyond < within)
    assert f"run `handlstm golden --update --file {target}`" in out


def test_golden_reports_a_missing_file_in_one_line(tmp_path, capsys):
    assert main(["golden", "--file", str(tmp_path / "none.json")]) == 2
    assert "handlstm golden --update" in capsys.readouterr().err
