"""`handlstm train` as a new user runs it: short runs, the files it promises, resume, clear errors."""

import csv
import importlib.util
import json

import pytest

from handlstm import reference
from handlstm.cli import main
from handlstm.data import LABELS, SEQUENCES

SUMMARY_KEYS = {"model", "epochs", "seed", "lr", "precision", "initial_params", "final_params",
                "predictions", "seconds"}


def train(tmp_path, *flags):
    return main(["train", "--out", str(tmp_path / "runs"), *flags])


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    """A short float64 run of the hand model with every output."""
    folder = tmp_path_factory.mktemp("hand")
    assert train(folder, "--epochs", "30", "--precision", "64", "--json", str(folder / "s.json")) == 0
    return folder, json.loads((folder / "s.json").read_text())


def test_summary_has_the_issues_keys_and_final_params_follow_numpy_adam(hand_run):
    from handlstm import tolerances

    _, summary = hand_run
    assert set(summary) == SUMMARY_KEYS
    assert (summary["model"], summary["epochs"], summary["seed"], summary["lr"], summary["precision"]) == (
        "hand", 30, 42, 0.001, 64)
    expected = reference.train(summary["initial_params"], SEQUENCES, LABELS, 0.001, 60)
    bound = tolerances.trajectory_tolerance(summary["initial_params"], expected, 0.001, "float64",
                                            SEQUENCES, LABELS)[-1]
    for name in reference.PARAM_NAMES:
        assert abs(summary["final_params"][name] - float(expected[-1][name])) <= bound[name], name
    assert summary["predictions"]["A"] == pytest.approx(float(reference.forward(summary["final_params"], SEQUENCES[0])),
                                                        abs=1e-12)


def test_run_leaves_logs_a_checkpoint_and_a_plot(hand_run, capsys):
    folder, _ = hand_run
    [log_dir] = (folder / "runs" / "LSTMByHand").iterdir()
    rows = list(csv.DictReader(open(log_dir / "metrics.csv")))
    assert {"train_loss", "out_0", "out_1", "epoch", "step"} <= set(rows[0])
    assert [r["epoch"] for r in rows if r["out_0"]] == ["0", "10", "20", "29"]  # every 10th epoch and the last
    assert all(r["out_1"] for r in rows if not r["out_0"])
    assert (log_dir / "checkpoints" / "last.ckpt").is_file()
    assert (log_dir / "predictions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tensorboard = bool(importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"))
    assert bool(list(log_dir.glob("events.out.tfevents.*"))) == tensorboard  # TensorBoard when installed


def test_prints_predictions_next_to_the_labels(tmp_path, capsys):
    assert train(tmp_path, "--epochs", "2") == 0
    out = capsys.readouterr().out
    assert "company A [0.0, 0.5, 0.25, 1.0]: predicted" in out and "label 0" in out
    assert "company B [1.0, 0.5, 0.25, 1.0]: predicted" in out and "label 1" in out


def test_resuming_continues_exactly_where_the_checkpoint_left_off(tmp_path):
    straight, first, resumed = (tmp_path / n for n in ("straight.json", "first.json", "resumed.json"))
    assert train(tmp_path / "a", "--epochs", "12", "--precision", "64", "--json", str(straight)) == 0
    assert train(tmp_path / "b", "--epochs", "5", "--precision", "64", "--json", str(first)) == 0
    checkpoint = next((tmp_path / "b" / "runs").rglob("last.ckpt"))
    assert train(tmp_path / "b", "--epochs", "12", "--precision", "64", "--resume", str(checkpoint),
                 "--json", str(resumed)) == 0
    straight, first, resumed = (json.loads(p.read_text()) for p in (straight, first, resumed))
    assert resumed["initial_params"] == first["final_params"]
    assert resumed["final_params"] == straight["final_params"]  # Adam's moments came back too


def test_torch_model_trains_and_maps_back_to_the_lessons_names(tmp_path):
    summary_file = tmp_path / "t.json"
    assert train(tmp_path, "--model", "torch", "--epochs", "3", "--json", str(summary_file)) == 0
    summary = json.loads(summary_file.read_text())
    assert (summary["model"], summary["lr"], summary["precision"]) == ("torch", 0.1, 32)
    assert set(summary["final_params"]) == set(reference.PARAM_NAMES)
    assert summary["predictions"]["B"] == pytest.approx(
        float(reference.forward(summary["final_params"], SEQUENCES[1])), abs=1e-5)


@pytest.mark.parametrize("flags, message", [
    (["--model", "keras"], "unknown model 'keras'"),
    (["--epochs", "-1"], "--epochs must be 0 or more"),
    (["--precision", "16"], "unknown precision '16'"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--resume", "missing.ckpt"], "cannot read checkpoint missing.ckpt"),
])
def test_bad_flags_give_one_clear_line(tmp_path, capsys, flags, message):
    assert train(tmp_path, *flags) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreadable_checkpoint_and_the_other_models_checkpoint_are_refused(tmp_path, capsys, hand_run):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    assert train(tmp_path, "--resume", str(junk)) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    folder, _ = hand_run
    checkpoint = next((folder / "runs").rglob("last.ckpt"))
    assert train(tmp_path, "--model", "torch", "--resume", str(checkpoint)) == 2
    assert "is of the hand model; pass --model hand" in capsys.readouterr().err


def test_missing_matplotlib_is_one_line_and_not_an_error(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert train(tmp_path, "--epochs", "1") == 0
    assert "plot skipped: matplotlib is not installed (pip install matplotlib)" in capsys.readouterr().out
