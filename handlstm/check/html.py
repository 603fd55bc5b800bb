"""The class report as one self-contained HTML page (`handlstm check ... --html REPORT.html`): the
verdict counts, the mistakes across the class as bar charts (which mistake, gate and parameter are
most often wrong), a sortable table of the files, and for each failed file its counterexample with a
plot of the learner's output against the reference's.

Pure functions: reports (report.Report) in, one HTML string out; one file's report is a class of
one. Nothing is fetched: the styles, the SVG charts and the few lines that sort the table are in
the page. Every text that comes from a report — file names, code lines, details, numbers — is
escaped, so nothing a learner wrote can become markup or script.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from html import escape

from handlstm import reference
from handlstm.reference import PARAM_NAMES

from .exports import _without_path, first_diagnosis
from .report import VERDICTS, counterexample_lines, where, write_atomically

VERDICT_ORDER = ("fail", "error", "pass")  # as the table sorts them: the ones to look at first
REFERENCE, YOURS, YOURS_TOO = "steelblue", "crimson", "darkorange"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}h3{font-size:1.05em;margin-bottom:.3em}
.counts span{display:inline-block;padding:.3em .8em;margin-right:.5em;border-radius:4px;color:#fff}
.pass{background:#2e7d32}.fail{background:#c62828}.error{background:#6d4c41}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;
vertical-align:top}th{cursor:pointer;background:#f3f3f3;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.verdict-pass{color:#2e7d32}td.verdict-fail{color:#c62828}td.verdict-error{color:#6d4c41}
td.number{text-align:right}code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#f6f6f6;padding:.6em;
overflow-x:auto}section.failed{border-top:1px solid #ccc;margin-top:1.5em}
"""
# clicking a column's header sorts the rows by it (data-sort where the text does not sort well)
SORT_SCRIPT = """
document.querySelectorAll("table.files th").forEach((header, column) => header.addEventListener("click", () => {
  const body = header.closest("table").tBodies[0], rows = [...body.rows];
  const key = row => row.cells[column].dataset.sort ?? row.cells[column].textContent;
  const up = header.getAttribute("aria-sort") !== "ascending";
  rows.sort((a, b) => {
    const x = key(a), y = key(b), difference = parseFloat(x) - parseFloat(y);
    return (isNaN(difference) ? x.localeCompare(y) : difference) * (up ? 1 : -1);
  });
  header.parentElement.querySelectorAll("th").forEach(other => other.removeAttribute("aria-sort"));
  header.setAttribute("aria-sort", up ? "ascending" : "descending");
  body.append(...rows);
}));
"""


def e(value) -> str:
    """Any value as text that cannot become markup (quotes too: it may sit in an attribute)."""
    return escape(str(value), quote=True)


def page(reports: Sequence[dict], title: str = "handlstm check") -> str:
    """The whole report as one HTML document."""
    failed = [(index, r) for index, r in enumerate(reports) if r["verdict"] == "fail"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{e(title)}</h1>",
             verdict_counts(reports), "<h2>Mistakes across the class</h2>", mistake_charts(reports),
             "<h2>Files</h2>", files_table(reports)]
    if failed:
        parts.append("<h2>Failed files</h2>")
        parts += [failed_section(index, r) for index, r in failed]
    parts.append(f"<script>{SORT_SCRIPT}</script></body></html>\n")
    return "".join(parts)


def write_html(path: str, reports: Sequence[dict]) -> None:
    write_atomically(path, page(reports), "--html")


def verdict_counts(reports: Sequence[dict]) -> str:
    counts = Counter(r["verdict"] for r in reports)
    isolation = ", ".join(sorted({str(r.get("isolation")) for r in reports}))
    return ("<p class='counts'>" + "".join(f"<span class='{v}'>{counts[v]} {v}</span>" for v in VERDICT_ORDER)
            + f"{len(reports)} file{'s' if len(reports) != 1 else ''}; isolation: {e(isolation)}</p>")


def mistake_counts(reports: Sequence[dict]) -> tuple[Counter, Counter, Counter]:
    """How many failed files each mistake, gate and parameter is named in (once per file)."""
    mistakes, gates, parameters = Counter(), Counter(), Counter()
    for report in reports:
        if report["verdict"] != "fail":
            continue
        diagnoses = report.get("diagnoses") or []
        mistakes.update({d["id"] for d in diagnoses})
        gates.update({d["gate"] for d in diagnoses if d.get("gate")})
        parameters.update({p for d in diagnoses for p in d.get("parameters") or []})
    return mistakes, gates, parameters


def mistake_charts(reports: Sequence[dict]) -> str:
    mistakes, gates, parameters = mistake_counts(reports)
    if not mistakes:
        failed = sum(r["verdict"] == "fail" for r in reports)
        if failed:
            return f"<p>{failed} failed, with no mistake from the catalog named (see the failed files).</p>"
        if all(r["verdict"] == "error" for r in reports):
            return "<p>No file could be checked: the table says why for each.</p>"
        return "<p>No mistakes: every file that could be checked conforms.</p>"
    return ("<div class='charts'>" + bar_chart(mistakes, "files per mistake") + bar_chart(gates, "files per gate")
            + bar_chart(parameters, "files per parameter") + "</div>")


def bar_chart(counts: Counter, title: str, width: int = 300, bar: int = 18) -> str:
    """Horizontal bars, the most frequent first."""
    if not counts:
        return ""
    rows = counts.most_common()
    label_width, most = 150, rows[0][1]
    height = 28 + len(rows) * (bar + 6)
    bars = "".join(
        f"<text x='{label_width - 6}' y='{30 + k * (bar + 6) + bar * 0.7:.1f}' text-anchor='end' font-size='12'>"
        f"{e(label)}</text><rect class='bar' x='{label_width}' y='{30 + k * (bar + 6)}' "
        f"width='{(width - label_width - 30) * count / most:.1f}' height='{bar}' fill='{YOURS}'>"
        f"<title>{e(label)}: {count}</title></rect>"
        f"<text x='{label_width + (width - label_width - 30) * count / most + 4:.1f}' "
        f"y='{30 + k * (bar + 6) + bar * 0.7:.1f}' font-size='12'>{count}</text>"
        for k, (label, count) in enumerate(rows))
    return (f"<svg class='chart' width='{width}' height='{height}' role='img' aria-label='{e(title)}'>"
            f"<text x='0' y='16' font-size='13' font-weight='bold'>{e(title)}</text>{bars}</svg>")


def files_table(reports: Sequence[dict]) -> str:
    header = "".join(f"<th>{name}</th>" for name in ("file", "verdict", "diagnosis", "line", "seconds"))
    return (f"<table class='files'><thead><tr>{header}</tr></thead><tbody>"
            + "".join(file_row(index, r) for index, r in enumerate(reports)) + "</tbody></table>")


def file_row(index: int, report: dict) -> str:
    path, verdict = report["implementation"]["path"], report["verdict"]
    name = f"<a href='#file-{index}'>{e(path)}</a>" if verdict == "fail" else e(path)
    diagnoses = report.get("diagnoses") or []
    diagnosis = _without_path(first_diagnosis(report), path)  # the first column shows the path
    if verdict == "fail" and diagnoses:
        diagnosis += f" — {diagnoses[0]['detail']}"
    location = next((d["location"] for d in diagnoses if d.get("location")), None)
    line = (f"<td data-sort='{int(location['line'])}'>{e(_line_of(location))}<br>"
            f"<code>{e(location['code'])}</code></td>" if location else "<td data-sort='-1'></td>")
    seconds = float(report.get("seconds") or 0.0)
    return (f"<tr><td>{name}</td><td class='verdict-{e(verdict)}' data-sort='{VERDICT_ORDER.index(verdict)}'>"
            f"{e(verdict)}</td><td>{e(diagnosis)}</td>{line}<td class='number' data-sort='{seconds}'>"
            f"{seconds:.1f}</td></tr>")


def _line_of(location: dict) -> str:
    return (f"cell {location['cell']}, " if location.get("cell") else "") + f"line {location['line']}"


def failed_section(index: int, report: dict) -> str:
    """A failed file: its likely mistakes, where, and the first failing check's counterexample."""
    parts = [f"<section class='failed' id='file-{index}'><h3>{e(report['implementation']['path'])}</h3>",
             f"<p>{e(VERDICTS[report['verdict']])}: "
             + ", ".join(f"{e(c['id'])} ✗" for c in report["checks"] if c["status"] == "fail") + "</p><ul>"]
    for diagnosis in report.get("diagnoses") or []:
        parts.append(f"<li><b>{e(diagnosis['id'])}</b> — {e(diagnosis['detail'])}<br>"
                     f"<code>{e(where(diagnosis.get('location')))}</code></li>")
    for finding in report.get("findings") or []:
        parts.append(f"<li><b>{e(finding['id'])}</b> — {e(finding['detail'])}</li>")
    parts.append("</ul>")
    example = next((c["counterexample"] for c in report["checks"]
                    if c["status"] == "fail" and c.get("counterexample")), None)
    if example:
        parts.append(example_plot(example))
        parts.append("<pre>" + e("\n".join(counterexample_lines(example))) + "</pre>")
    return "".join(parts) + "</section>"


# --- plots of a counterexample ----------------------------------------------------------------

Series = tuple[str, str, list]  # name, colour, one value per x label (None where not known)


def plot(x_labels: Sequence[str], series: Sequence[Series], title: str, joined: bool = True,
         width: int = 460, height: int = 220) -> str:
    """A line chart (dots only, unless `joined`) as an inline SVG, the first series (the reference) drawn
    wide beneath the others; a dot's tooltip has its value."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    if not values:
        return ""
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(abs(high), 1.0) * 0.1
    low, high = low - pad, high + pad
    left, right, top, bottom = 70, 25, 46, 30

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (len(x_labels) - 1) if len(x_labels) > 1 else 0.5)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (high - v) / (high - low)

    parts = [f"<svg class='plot' width='{width}' height='{height}' role='img' aria-label='{e(title)}'>",
             f"<text x='0' y='14' font-size='13' font-weight='bold'>{e(title)}</text>",
             f"<rect x='{left}' y='{top}' width='{width - left - right}' height='{height - top - bottom}' "
             + "fill='none' stroke='#bbb'/>"]
    parts += [f"<text x='{left - 5}' y='{y(v) + 4:.1f}' font-size='11' text-anchor='end'>{v:.4g}</text>"
              for v in (low + pad, high - pad)]
    step = max(1, math.ceil(len(x_labels) / 8))  # at most about 8 labels under the axis
    parts += [f"<text x='{x(i):.1f}' y='{height - 10}' font-size='11' text-anchor='middle'>{e(label)}</text>"
              for i, label in enumerate(x_labels) if i % step == 0 or i == len(x_labels) - 1]
    legend_x = 0
    for number, (name, colour, vs) in enumerate(series):
        parts.append(f"<text x='{legend_x}' y='32' font-size='12' fill='{colour}'>● {e(name)}</text>")
        legend_x += 14 + 7 * len(name)
        stroke = "stroke-width='2'" if number else "stroke-width='5' stroke-opacity='0.45'"  # seen beneath
        if joined:
            for run in _runs(vs):
                points = " ".join(f"{x(i):.1f},{y(vs[i]):.1f}" for i in run)
                parts.append(f"<polyline points='{points}' fill='none' stroke='{colour}' {stroke}/>")
        parts += [f"<circle cx='{x(i):.1f}' cy='{y(v):.1f}' r='4' fill='{colour}'><title>{e(name)}, "
                  f"{e(x_labels[i])}: {v!r}</title></circle>" for i, v in enumerate(vs) if v is not None]
    return "".join(parts) + "</svg>"


def _runs(values: list) -> list[list[int]]:
    """The stretches of consecutive known values (a line is drawn through each)."""
    runs, current = [], []
    for i, v in enumerate(values):
        if v is None:
            current = []
        else:
            if not current:
                runs.append(current)
            current.append(i)
    return [r for r in runs if len(r) > 1]


def example_plot(example: dict) -> str:
    """The learner's numbers against the reference's on a counterexample: the short memory over
    its days (forward), the gradients that differ, or the worst parameter over Adam's steps."""
    kind = example.get("property")
    if kind in ("unit", "forward", "state"):
        return _short_memory_plot(example)
    if kind in ("gradients", "unit_gradients"):
        return _gradients_plot(example)
    if kind == "training":
        return _training_plot(example)
    return ""


def _number(value) -> float | None:
    """A reported value, None where it is not a finite number (reports write NaN as "nan")."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _short_memory_plot(example: dict) -> str:
    """The reference's short memory after each day, from the example's starting memories; the
    learner's where the report knows it: lstm_unit's one day, lstm_unit chained day by day
    (`unit_by_day`, from the check), forward's final value."""
    params, days = example.get("parameters"), example.get("days") or []
    if not params or not days:
        return ""
    memories = example.get("memories") or {"long": 0.0, "short": 0.0}
    trace = reference.run(params, days, memories["long"], memories["short"])
    expected = [float(memories["short"])] + [float(v) for v in trace.short]
    labels = ["start"] + [f"day {t}" for t in range(1, len(days) + 1)]
    got = {m["quantity"]: _number(m["got"]) for m in example.get("mismatches", [])}
    series: list[Series] = [("reference", REFERENCE, expected)]
    before_the_end = [None] * len(days)
    if example["property"] == "unit" and not example.get("error"):  # a quantity not listed agreed
        series.append(("yours", YOURS, [expected[0], got.get("updated short memory", expected[1])]))
    elif example["property"] == "forward":
        by_day = example.get("unit_by_day")
        if by_day:
            series.append(("your lstm_unit, day by day", YOURS_TOO, [0.0] + [_number(v) for v in by_day]))
        if "final short memory" in got:
            series.append(("your forward", YOURS, before_the_end + [got["final short memory"]]))
    elif example["property"] == "state":
        called_again = got.get("final short memory, called again")
        series.append(("yours, called again", YOURS, before_the_end + [called_again]))
    return plot(labels, series, "short memory by day")


def _gradients_plot(example: dict) -> str:
    """d loss / d each parameter whose gradient differs: the reference's and the learner's."""
    rows = [(m["quantity"].rsplit(" ", 1)[-1], _number(m["expected"]), _number(m["got"]))
            for m in example.get("mismatches", []) if " d loss / d " in f" {m['quantity']}"]
    if not rows:
        return ""
    names, expected, got = zip(*rows)
    return plot(names, [("reference", REFERENCE, list(expected)), ("yours", YOURS, list(got))],
                "d loss / d parameter, where they differ", joined=False)


def _training_plot(example: dict) -> str:
    """The parameter that ends furthest from the reference, over Adam's steps from the example."""
    steps: dict[str, dict[int, tuple]] = {}
    for m in example.get("mismatches", []):
        found = re.fullmatch(r"(\w+) after step (\d+)", m["quantity"])
        if found and found[1] in PARAM_NAMES:
            steps.setdefault(found[1], {})[int(found[2])] = (_number(m["expected"]), _number(m["got"]))
    if not steps:
        return ""

    def distance(name: str) -> float:
        expected, got = steps[name][max(steps[name])]
        return abs(got - expected) if expected is not None and got is not None else math.inf

    name = max(steps, key=distance)
    last = max(steps[name])
    start = float(example["parameters"][name])
    expected = [start] + [steps[name].get(k, (None, None))[0] for k in range(1, last + 1)]
    got = [start] + [steps[name].get(k, (None, None))[1] for k in range(1, last + 1)]
    labels = ["start"] + [f"step {k}" for k in range(1, last + 1)]
    return plot(labels, [("reference's Adam", REFERENCE, expected), ("your training", YOURS, got)],
                f"{name} over the training steps")

