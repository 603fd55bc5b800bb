"""`--html`: one self-contained page for a class, looked at in a real browser. Headless Chromium
loads the page of a mixed folder from disk; the test reads the DOM it rendered (rows, charts,
plots, sorting) and its console (no errors), and takes a screenshot."""

import contextlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import COUNTEREXAMPLE, built_report, grade_in_this_process

from handlstm.check.html import example_plot, page
from handlstm.cli import main

CORPUS = Path(__file__).parent / "corpus"
HOSTILE_NAME = "<img src=x onerror=document.title=1>.py"  # a file name that is markup if not escaped
FOLDER = {  # file in the class folder: (the corpus file it copies, its verdict)
    "lesson_correct.py": ("grading/lesson_correct.py", "pass"),
    HOSTILE_NAME: ("buggy/sequence-order.py", "fail"),
    "weights-swapped.py": ("buggy/weights-swapped.py", "fail"),
    "syntax_error.py": ("grading/syntax_error.py", "error"),
}
LINKS = {"src", "href", "xlink:href", "action", "srcset", "data", "poster"}
# runs in a copy of the page after its own scripts: what the browser rendered, written into the DOM
PROBE = """<script>
const rows = () => [...document.querySelectorAll("table.files tbody tr")].map(
  row => [...row.cells].map(cell => cell.textContent.trim()));
const facts = {
  rows: rows(), images: document.images.length,
  bars: [...document.querySelectorAll("svg.chart rect.bar")].map(bar => bar.querySelector("title").textContent),
  plots: [...document.querySelectorAll("section.failed")].map(section => ({
    file: section.querySelector("h3").textContent,
    legend: [...section.querySelectorAll("svg.plot text")].map(text => text.textContent),
    lines: section.querySelectorAll("svg.plot polyline").length,
    width: section.querySelector("svg.plot").getBoundingClientRect().width})),
};
const verdict = document.querySelectorAll("table.files th")[1];
verdict.click();
facts.ascending = {order: rows().map(row => row[1]), aria: verdict.getAttribute("aria-sort")};
verdict.click();
facts.descending = {order: rows().map(row => row[1]), aria: verdict.getAttribute("aria-sort")};
const out = document.createElement("pre");
out.id = "facts";
out.textContent = JSON.stringify(facts);
document.body.append(out);
</script>"""


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "headless Chromium is needed to look at the page (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def load(path: Path, *options: str) -> tuple[str, list[str]]:
    """Chromium loads the page from disk: (the DOM after its scripts ran, every console message)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        # --no-sandbox: Chromium's own sandbox refuses to start as root (CI containers)
        done = subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *options,
                               path.as_uri()], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def external_references(text: str) -> list[str]:
    """Everything the page would fetch or link outside itself: its tags' links, and any address."""
    found = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: found.extend(
        value or "" for name, value in attrs if name in LINKS and not (value or "").startswith("#"))
    parser.feed(text)
    return found + re.findall(r"https?:|url\(|@import", text, re.IGNORECASE)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The mixed folder graded by the command with --html: (the page's path, its text)."""
    folder = tmp_path_factory.mktemp("class")
    for name, (source, _) in FOLDER.items():
        shutil.copy(CORPUS / source, folder / name)
    out = folder.parent / "report.html"
    with contextlib.redirect_stdout(io.StringIO()), pytest.MonkeyPatch.context() as monkeypatch:
        grade_in_this_process(monkeypatch)
        main(["check", str(folder), "--examples", "2", "--timeout", "45", "--html", str(out)])
    return out, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered(graded, tmp_path_factory):
    """What Chromium rendered of the page, and its console."""
    _, text = graded
    probed = tmp_path_factory.mktemp("probed") / "probed.html"
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, console = load(probed, "--dump-dom")
    found = re.search(r'<pre id="facts">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found[1])), console


def test_the_browser_shows_a_row_per_file_with_its_verdict_diagnosis_and_line(rendered):
    facts, console = rendered
    assert console == []
    rows = {row[0].rsplit("/", 1)[-1]: row for row in facts["rows"]}
    assert {name: row[1] for name, row in rows.items()} == {n: v for n, (_, v) in FOLDER.items()}
    assert "sequence-order" in rows[HOSTILE_NAME][2] and "weights-swapped" in rows["weights-swapped.py"][2]
    assert "syntax error" in rows["syntax_error.py"][2]
    located = re.fullmatch(r"line (\d+)\s*(.*)", rows["weights-swapped.py"][3], re.DOTALL)
    source = (CORPUS / FOLDER["weights-swapped.py"][0]).read_text().splitlines()
    assert located and source[int(located[1]) - 1].strip() == located[2].strip()
    assert facts["images"] == 0  # the hostile file name stayed text


def test_the_browser_shows_the_mistakes_chart_and_a_plot_for_each_failed_file(rendered):
    facts, _ = rendered
    bars = {bar.split(":")[0] for bar in facts["bars"]}
    assert {"sequence-order", "weights-swapped", "forget", "wlr1", "wlr2"} <= bars
    plots = {p["file"].rsplit("/", 1)[-1]: p for p in facts["plots"]}
    assert set(plots) == {n for n, (_, v) in FOLDER.items() if v == "fail"}
    assert all(p["width"] > 100 and "reference" in " ".join(p["legend"]) for p in plots.values())
    # forward reads the days in the wrong order: its lstm_unit day by day, and forward's last value
    legend = " ".join(plots[HOSTILE_NAME]["legend"])
    assert "your lstm_unit, day by day" in legend and "your forward" in legend
    assert plots[HOSTILE_NAME]["lines"] == 2


def test_clicking_a_header_sorts_the_rows_both_ways(rendered):
    facts, _ = rendered
    assert facts["ascending"] == {"order": ["fail", "fail", "error", "pass"], "aria": "ascending"}
    assert facts["descending"] == {"order": ["pass", "error", "fail", "fail"], "aria": "descending"}


def test_the_page_needs_nothing_outside_itself(graded):
    _, text = graded
    assert external_references(text) == []
    assert external_references('<img src="https://example.org/x.png">') != []  # the search can fail


def test_the_screenshot_is_taken_without_a_console_error(graded, tmp_path):
    path, _ = graded
    shot = tmp_path / "report.png"
    _, console = load(path, f"--screenshot={shot}", "--window-size=1200,1600")
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_the_console_check_catches_a_script_error(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><p>hi</p><script>notDefinedAnywhere()</script>")
    _, console = load(broken, "--dump-dom")
    assert any("notDefinedAnywhere" in line for line in console)


# --- the page itself, without a browser --------------------------------------------------------

def test_everything_from_a_learner_is_escaped():
    attack = "<script>alert('x')</script>"
    report = built_report("fail", ["fail", "pass", "pass", "pass"], ["weights-swapped"], path=f"{attack}.py")
    report["diagnoses"][0]["detail"] = attack
    report["diagnoses"][0]["location"]["code"] = attack
    report["diagnoses"][0]["parameters"] = [attack]
    text = page([report])
    assert "<script>alert" not in text and text.count("&lt;script&gt;alert") >= 4
    assert text.count("<script>") == 1  # the page's own, which sorts the table


def test_one_files_report_is_a_class_of_one():
    text = page([built_report("pass", ["pass"] * 4)])
    assert text.count("<tr>") == 2  # the header and the file
    assert "No mistakes" in text and "<svg" not in text


def test_a_class_nobody_could_check_is_not_called_free_of_mistakes():
    text = page([built_report("error", ["error"] * 4), built_report("error", ["error"] * 4, path="b.py")])
    assert "No file could be checked" in text and "No mistakes" not in text


def test_a_failure_named_only_by_a_finding_shows_the_finding():
    report = built_report("fail", ["pass"] * 4)
    report["checks"].append({"id": "by-hand", "status": "fail", "message": "not by hand", "dtypes": {},
                             "counterexample": None})
    report["findings"] = [{"id": "not-by-hand", "detail": "its forward runs the fused kernel lstm_cell"}]
    text = page([report])
    assert "its forward runs the fused kernel lstm_cell" in text and "No mistakes" not in text


@pytest.mark.parametrize("kind", ["unit", "forward", "gradients", "training"])
def test_each_kind_of_counterexample_gets_a_plot_of_the_learners_numbers(kind):
    example = dict(COUNTEREXAMPLE, property=kind)
    quantity, expected, got = {
        "unit": ("updated short memory", 0.2, 0.4375), "forward": ("final short memory", 0.12, 0.3125),
        "gradients": ("d loss / d wo2", -0.5, 0.5625), "training": ("wo2 after step 3", 0.4, 0.6875)}[kind]
    if kind == "unit":
        example.update(days=[1.0], memories={"long": 0.5, "short": 0.25})
    example["mismatches"] = [{"quantity": quantity, "expected": expected, "got": got, "tolerance": 1e-15}]
    svg = example_plot(example)
    assert svg.startswith("<svg") and f": {got!r}</title>" in svg


def test_an_html_path_that_cannot_be_written_is_refused_before_any_file_is_checked(tmp_path, capsys):
    code = main(["check", str(CORPUS / "correct/x_short_long.py"), "--html", str(tmp_path / "missing" / "r.html")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "does not exist" in captured.err
