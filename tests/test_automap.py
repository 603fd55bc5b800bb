"""--param-map auto recovers the exact map from behaviour, whatever the names and declaration order,
and refuses (asking for a map) whenever behaviour does not single one out."""

import json
import random
from pathlib import Path

import pytest
import torch
from handlstm.reference import GATE_PARAMS, GATES, PARAM_NAMES

from handlstm.check.automap import AmbiguousMap, infer_from_source, infer_param_map
from handlstm.cli import main
from handlstm.mutants import Mutation, classic_mistakes

# naming schemes learners use, each a function of (gate, slot index 0=short weight 1=input weight 2=bias)
COLOURS = {"forget": "blue", "input": "green", "candidate": "yellow", "output": "red"}
SCHEMES = {
    "colours": lambda gate, slot: ("w_{}1", "w_{}2", "b_{}")[slot].format(COLOURS[gate]),
    "gate words": lambda gate, slot: f"{gate}_{('w_short', 'w_input', 'bias')[slot]}",
    "nn.LSTM letters": lambda gate, slot: f"{('w_h', 'w_x', 'b')[slot]}{'fige'[GATES.index(gate)]}",
    "numbered": lambda gate, slot: f"p{GATES.index(gate) * 3 + slot}",
}


def renaming(scheme: str) -> dict[str, str]:
    return {name: SCHEMES[scheme](gate, slot)
            for gate in GATES for slot, name in enumerate(GATE_PARAMS[gate])}


def mutation_probe(mutation: Mutation, rename: dict[str, str]):
    """A learner's class as the child would probe it: attributes by the learner's names."""
    role_of = {attribute: role for role, attribute in rename.items()}

    def probe(values, days):
        return mutation.forward({role_of[a]: v for a, v in values.items()}, days)
    return probe


def shuffled(names, seed: int) -> list[str]:
    names = list(names)
    random.Random(seed).shuffle(names)
    return names


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("scheme", SCHEMES)
def test_auto_map_recovers_the_renaming_in_any_declaration_order(scheme, seed):
    rename = renaming(scheme)
    assert infer_param_map(shuffled(rename.values(), seed), mutation_probe(Mutation(), rename)) == rename


def test_lesson_names_declared_out_of_order_map_to_themselves():
    identity = {name: name for name in PARAM_NAMES}
    assert infer_param_map(shuffled(PARAM_NAMES, 7), mutation_probe(Mutation(), identity)) == identity


def test_lesson_names_that_play_other_roles_are_mapped_by_role_not_by_name():
    # the lesson's names, but every gate's parameters shifted to the next gate: a pure relabelling
    cycle = {name: PARAM_NAMES[(i + 3) % 12] for i, name in enumerate(PARAM_NAMES)}
    assert infer_param_map(shuffled(PARAM_NAMES, 3), mutation_probe(Mutation(), cycle)) == cycle


class RenamedTorchLSTM(torch.nn.Module):
    """A learner-style torch module: scalar parameters with its own names, declared in a given order."""

    def __init__(self, rename: dict[str, str], order: list[str], dtype=torch.float32):
        super().__init__()
        self.rename, self.dtype = rename, dtype
        for attribute in order:
            setattr(self, attribute, torch.nn.Parameter(torch.tensor(0.0, dtype=dtype)))

    def lstm_unit(self, x, long, short):
        p = {role: getattr(self, attribute) for role, attribute in self.rename.items()}
        forget = torch.sigmoid(short * p["wlr1"] + x * p["wlr2"] + p["blr1"])
        input_ = torch.sigmoid(short * p["wpr1"] + x * p["wpr2"] + p["bpr1"])
        candidate = torch.tanh(short * p["wp1"] + x * p["wp2"] + p["bp1"])
        output = torch.sigmoid(short * p["wo1"] + x * p["wo2"] + p["bo1"])
        long = long * forget + input_ * candidate
        return long, torch.tanh(long) * output

    def forward(self, days):
        long = short = torch.zeros((), dtype=self.dtype)
        for x in days:
            long, short = self.lstm_unit(x, long, short)
        return short


def torch_probe(module: torch.nn.Module):
    def probe(values, days):
        with torch.no_grad():
            for attribute, value in values.items():
                getattr(module, attribute).fill_(value)
            return float(module(torch.tensor(days, dtype=module.dtype)))
    return probe


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_auto_map_recovers_a_torch_modules_renaming_in_its_own_dtype(dtype):
    rename = renaming("colours")
    order = shuffled(rename.values(), 11)
    module = RenamedTorchLSTM(rename, order, dtype)
    assert infer_param_map(order, torch_probe(module)) == rename


@pytest.mark.parametrize("count", [11, 13])
def test_auto_map_refuses_unless_there_are_exactly_twelve_parameters(count):
    names = [f"p{i}" for i in range(count)]
    with pytest.raises(AmbiguousMap, match=f"exactly 12 scalar parameters, found {count}.*--param-map"):
        infer_param_map(names, lambda values, days: 0.0)


REFUSED = [m for m in classic_mistakes()
           if m.id not in ("weights-swapped", "gates-swapped") and m.cell_update != "c*i + f*g"]


@pytest.mark.parametrize("mutation", REFUSED[::4], ids=lambda m: f"{m.id}: {m.detail}")
def test_auto_map_refuses_a_class_that_is_not_the_lessons_lstm(mutation):
    rename = renaming("numbered")
    with pytest.raises(AmbiguousMap, match="--param-map MAP.json"):
        infer_param_map(shuffled(rename.values(), 0), mutation_probe(mutation, rename))


def test_auto_map_refuses_when_two_parameters_do_the_same_job():
    # p12 stands in for bp1 everywhere bp1 is used, and the real bp1 attribute does nothing
    rename = renaming("numbered")
    probe = mutation_probe(Mutation(uses={"bp1": "wo2"}), rename)
    with pytest.raises(AmbiguousMap, match="--param-map"):
        infer_param_map(shuffled(rename.values(), 1), probe)


def test_auto_map_refuses_when_the_class_gives_no_finite_answer():
    rename = renaming("gate words")
    with pytest.raises(AmbiguousMap, match="cannot tell which roles"):
        infer_param_map(list(rename.values()), lambda values, days: float("nan"))


def test_auto_map_refuses_a_map_that_holds_one_parameter_at_a_time_but_not_all_at_once():
    # right whenever few parameters are non-zero (as while peeling), off once all of them are
    rename = renaming("colours")
    correct = mutation_probe(Mutation(), rename)

    def probe(values, days):
        return correct(values, days) + (0.1 if sum(v != 0.0 for v in values.values()) > 6 else 0.0)
    with pytest.raises(AmbiguousMap, match="all of them set at once"):
        infer_param_map(list(rename.values()), probe)


# --- through the command: the child probes the learner's class ----------------------------------

CORPUS = Path(__file__).parent / "corpus"


def test_the_command_checks_a_renamed_file_with_the_inferred_map_and_reports_it(tmp_path):
    renamed = CORPUS / "automap" / "renamed_colours.py"
    true_map = json.loads((CORPUS / "automap" / "renamed_colours.map.json").read_text())
    code = main(["check", str(renamed), "--param-map", "auto", "--examples", "2",
                 "--json", str(tmp_path / "report.json"), "--gradescope", str(tmp_path / "results.json")])
    report = json.loads((tmp_path / "report.json").read_text())
    assert (code, report["verdict"]) == (0, "pass")
    assert report["implementation"]["param_map"] == true_map
    assert json.loads((tmp_path / "results.json").read_text())["score"] == 4.0


def auto_report(name: str, tmp_path) -> tuple[int, dict]:
    code = main(["check", str(CORPUS / "automap" / name), "--param-map", "auto", "--examples", "3",
                 "--json", str(tmp_path / "report.json")])
    return code, json.loads((tmp_path / "report.json").read_text())


def test_a_renamed_class_whose_behaviour_fits_no_map_is_checked_with_the_map_read_from_its_source(tmp_path):
    code, report = auto_report("renamed_forget_tanh.py", tmp_path)
    assert (code, report["verdict"], report["diagnoses"][0]["id"]) == (1, "fail", "forget-gate-activation")
    assert report["implementation"]["param_map"]["wlr1"] == "w_blue1"
    notes = report["implementation"]["interface"]["notes"]
    assert any(note.startswith("parameters read from lstm_unit's source") for note in notes)


def test_a_renamed_copy_paste_slip_is_checked_and_named_not_refused(tmp_path):
    code, report = auto_report("renamed_copy_paste_slip.py", tmp_path)
    assert (code, report["verdict"], report["diagnoses"][0]["id"]) == (1, "fail", "weights-swapped")
    assert report["implementation"]["param_map"]["wpr2"] == "w_green2"  # the one parameter written nowhere


SLIP_NAMES = [f"{kind}_{colour}{index}" for colour in ("blue", "green", "orange", "pink")
           for kind, index in (("w", "1"), ("w", "2"), ("b", ""))]
NUMBERED = [f"a{i}" for i in range(1, 13)]  # names that say nothing about their gate


def numbered(text: str) -> str:
    import re

    return re.sub(r"\b(" + "|".join(SLIP_NAMES) + r")\b", lambda m: NUMBERED[SLIP_NAMES.index(m.group(1))], text)


def test_the_written_map_keeps_a_duplicated_name_where_it_was_written_first():
    text = numbered((CORPUS / "automap" / "renamed_copy_paste_slip.py").read_text())
    found, how = infer_from_source(text, "ColourLSTM", NUMBERED)
    assert found == dict(zip(PARAM_NAMES, NUMBERED)) and "memory update" in how


def test_a_class_neither_behaviour_nor_reading_can_map_is_refused_with_the_candidates(tmp_path, capsys):
    text = numbered((CORPUS / "automap" / "renamed_copy_paste_slip.py").read_text())
    text = text.replace("(input_value * self.a8)", "(input_value * self.a2)")  # a second slip
    with pytest.raises(AmbiguousMap, match="candidates: wpr2: a2 or a5 or a8, wp2: a2 or a5 or a8"):
        infer_from_source(text, "ColourLSTM", NUMBERED)
    (tmp_path / "two_slips.py").write_text(text)
    assert main(["check", str(tmp_path / "two_slips.py"), "--param-map", "auto"]) == 2
    assert "candidates: wpr2: a2 or a5 or a8" in capsys.readouterr().err


def test_auto_checks_a_wrong_class_with_the_lessons_names_by_those_names_and_says_so(tmp_path):
    # the names are the lesson's: no map is inferred, so the mistake is named, never relabelled
    code = main(["check", str(CORPUS / "buggy" / "state-leak.py"), "--param-map", "auto", "--examples", "1",
                 "--json", str(tmp_path / "report.json")])
    report = json.loads((tmp_path / "report.json").read_text())
    assert (code, report["verdict"], report["diagnoses"][0]["id"]) == (1, "fail", "state-leak")
    assert report["implementation"]["param_map"] == {name: name for name in PARAM_NAMES}
    notes = report["implementation"]["interface"]["notes"]
    assert any("has the lesson's 12 names, so it is checked by them" in note for note in notes)


def test_auto_never_relabels_swapped_weights_in_a_class_with_the_lessons_names(tmp_path):
    code = main(["check", str(CORPUS / "buggy" / "weights-swapped.py"), "--param-map", "auto",
                 "--examples", "5", "--json", str(tmp_path / "report.json")])
    report = json.loads((tmp_path / "report.json").read_text())
    assert (code, report["verdict"], report["diagnoses"][0]["id"]) == (1, "fail", "weights-swapped")
    assert report["implementation"]["param_map"] == {name: name for name in PARAM_NAMES}


def test_reading_a_hostile_lstm_unit_ends_at_once():
    """Terms that double on every line (2^80 of them written out) and an expression nested 50000
    deep: the reading gives up quickly instead of hanging or crashing the grader."""
    import time

    from handlstm.check.reading import read_lstm_unit

    doubling = "\n".join(["        a = short_memory * self.w1 + x * self.w2 + self.b"]
                         + ["        a = a * a + a"] * 80)
    deep = "        a = " + " + ".join(["x"] * 50000)
    for body in (doubling, deep):
        text = ("import torch\nclass L:\n    def lstm_unit(self, x, long_memory, short_memory):\n" + body
                + "\n        f = torch.sigmoid(a)\n        c = long_memory * f + f * torch.tanh(a)\n"
                "        return [c, torch.tanh(c) * f]\n")
        started = time.monotonic()
        reading = read_lstm_unit(text, "L", {"w1", "w2", "b"})
        assert time.monotonic() - started < 5 and (reading is None or len(reading.gates) < 4)


def test_gates_through_a_helper_given_the_activation_and_unhinted_argument_names_are_read():
    text = (CORPUS / "automap" / "gate_helper_slip.py").read_text()
    found, _ = infer_from_source(text, "LSTMbyHand", [f"p{i}" for i in range(1, 13)])
    assert found == {lesson: f"p{i}" for i, lesson in enumerate(PARAM_NAMES, start=1)}  # p2 kept where written first
