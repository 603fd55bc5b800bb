"""Side-by-side timings for handlstm: `python benchmarks/run.py [--json FILE] [--quick] [--sections 1,2,3,4]`.

Not a test: it measures and prints a table, and asserts nothing. Every figure is a median over
repeats taken in this one run; paired measurements alternate, so a noisy neighbour slows both
sides of a ratio alike. Sections:

1. training overhead: `handlstm train`'s Lightning path against a plain PyTorch loop doing the
   same work (same module, optimizer, data order, the lesson's three values recorded), per step;
2. reference throughput: `reference.loss_and_grads` against torch autograd through the hand
   module's batched forward, batches of 1 ... 10^6 length-4 sequences, float64;
3. verification cost: `pytest -n 2` (the README's command) and one-process `pytest` under the ci
   profile, `handlstm check` on a correct lesson-style file, and the examples per second each
   property runs;
4. scaling: `handlstm check PATH... --jobs J` on N copies of that file;
5. sandbox cost: starting a worker's fork server (torch and Lightning imported once) and
   starting one submission's child in it (fork, fresh namespaces, loading the file), with
   bubblewrap (`sandbox`) and without it (`process`), side by side.

A section that cannot run says why, and the script exits 1 after printing the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from report import machine, table  # noqa: E402 (benchmarks/report.py, beside this script)

HANDLSTM = [sys.executable, "-m", "handlstm"]
CORRECT_FILES = (ROOT / "tests/corpus/correct/lesson_unrolled.py", ROOT / "benchmarks/lesson_lstm.py")
from handlstm.data import LESSON_DAYS as DAYS  # noqa: E402 (the lesson's sequences)


class Unavailable(Exception):
    """A section cannot run in this checkout; the message says what is missing."""


# --- timing ---------------------------------------------------------------------------------

SETTLE_S = 0.01  # torch's OpenMP threads spin for a moment after each call: let them sleep first


def alternate(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each run, `repeats` times, taking turns (after one untimed warm-up each);
    the order turns each time too: a run right after torch's is slowed by its spinning threads."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            run = runs[name]
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def wall(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> float:
    """Wall seconds of a subprocess that must succeed (output kept only if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise Unavailable(f"`{' '.join(command)}` exited {done.returncode}: " + " | ".join(tail))
    return seconds


# --- 1. training overhead -------------------------------------------------------------------

def lightning_fit(folder: Path) -> Callable[[int], object]:
    """handlstm train's own Lightning path (train.fit: its Trainer, loggers and final checkpoint,
    the lesson's three values logged), without printing; logs go to a scratch folder."""
    try:
        from handlstm import train
    except ModuleNotFoundError as missing:
        raise Unavailable(f"handlstm.train is not importable ({missing})") from None
    if not hasattr(train, "fit") or not hasattr(train, "build_model"):
        raise Unavailable("handlstm.train has no fit(model, epochs, out) and build_model(model, lr, seed)")
    lesson = train.MODELS["hand"]
    return lambda epochs: train.fit(train.build_model("hand", lesson["lr"], SEED), epochs, folder)


SEED = 42  # handlstm train's default


def plain_loop(epochs: int) -> list[tuple[float, float]]:
    """The same work without Lightning: the lesson's module, optimizer and data order, one Adam step
    per sample, and the three values the lesson logs (train_loss, out_0/out_1) recorded each step."""
    import torch

    from handlstm.data import dataloader
    from handlstm.model import LSTMByHand

    torch.manual_seed(SEED)
    model = LSTMByHand()
    optimizer = model.configure_optimizers()
    batches = dataloader()  # iterated every epoch, as the Trainer iterates it: identical work
    logged = []
    for _ in range(epochs):
        for input_i, label_i in batches:
            optimizer.zero_grad()
            output_i = model(input_i[0])
            loss = (output_i - label_i[0]) ** 2
            loss.backward()
            optimizer.step()
            logged.append((float(loss.detach()), float(output_i.detach())))
    return logged


def training(quick: bool) -> dict:
    epochs, repeats = (200, 3) if quick else (1000, 5)
    steps = 2 * epochs
    with tempfile.TemporaryDirectory() as folder:
        fit = lightning_fit(Path(folder))
        times = alternate({"lightning": lambda: fit(epochs), "plain": lambda: plain_loop(epochs)}, repeats)
    lightning_step, plain_step = median(times["lightning"]) / steps, median(times["plain"]) / steps
    result = {"training_epochs": epochs, "training_repeats": repeats,
              "lightning_ms_per_step": 1e3 * lightning_step, "plain_ms_per_step": 1e3 * plain_step,
              "training_ratio": lightning_step / plain_step}
    if not quick:  # the lesson's defaults, end to end, as a user runs it (files go to a scratch folder)
        with tempfile.TemporaryDirectory() as folder:
            try:
                result["handlstm_train_seconds"] = wall(HANDLSTM + ["train"], cwd=Path(folder))
            except Unavailable as why:
                result["handlstm_train_error"] = str(why)
    return result


# --- 2. reference throughput ----------------------------------------------------------------

def reference_and_autograd(batch: int, rng) -> tuple[dict, object, object, Callable[[], object]]:
    """One batch of random length-4 sequences and labels, the parameters, and torch autograd's side:
    the loss of the hand module (float64, those parameters) summed and differentiated."""
    import torch

    from handlstm import reference
    from handlstm.model import LSTMByHand

    params = {name: float(rng.normal()) for name in reference.PARAM_NAMES}
    module = LSTMByHand().double()
    with torch.no_grad():
        for name, value in params.items():
            getattr(module, name).fill_(value)
    days, labels = rng.normal(size=(batch, DAYS)), rng.uniform(size=batch)
    days_t, labels_t = torch.tensor(days), torch.tensor(labels)

    def torch_side():
        module.zero_grad(set_to_none=True)
        ((module(days_t) - labels_t) ** 2).sum().backward()

    return params, days, labels, torch_side


def reference_throughput(quick: bool) -> dict:
    import numpy as np
    import torch

    from handlstm import reference

    rows, result = [], {"torch_threads": torch.get_num_threads()}
    for exponent in range(6 if quick else 7):
        batch = 10**exponent
        params, days, labels, torch_side = reference_and_autograd(batch, np.random.default_rng(0))

        def numpy_side():
            return reference.loss_and_grads(params, days, labels)

        repeats = (5 if batch >= 10**6 else (15 if batch >= 10**4 else 50)) // (3 if quick else 1) or 1
        times = alternate({"numpy": numpy_side, "torch": torch_side}, repeats)
        numpy_s, torch_s = median(times["numpy"]), median(times["torch"])
        # torch on one thread too: on a busy machine its thread pool suffers more than NumPy does
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            single = alternate({"numpy": numpy_side, "torch": torch_side}, repeats)
        finally:
            torch.set_num_threads(threads)
        rows.append({"batch": batch, "label": f"1e{exponent}",
                     "numpy_ms": 1e3 * numpy_s, "torch_ms": 1e3 * torch_s,
                     "numpy_steps_per_s": batch * DAYS / numpy_s, "torch_steps_per_s": batch * DAYS / torch_s,
                     "ratio": numpy_s / torch_s, "torch_1_thread_ms": 1e3 * median(single["torch"]),
                     "ratio_1_thread": median(single["numpy"]) / median(single["torch"])})
        result[f"reference_ratio_1e{exponent}"] = numpy_s / torch_s
        result[f"reference_ratio_1e{exponent}_torch_1_thread"] = rows[-1]["ratio_1_thread"]
    result["reference"] = rows
    return result


# --- 3. verification cost -------------------------------------------------------------------

def correct_file() -> Path:
    for path in CORRECT_FILES:
        if path.exists():
            return path
    raise Unavailable("no correct lesson-style file: " + " or ".join(map(str, CORRECT_FILES)))


def verification(quick: bool) -> dict:
    # the README's test command (two xdist workers), and the same suite on one process; the wall
    # time counts whatever the outcome, which is reported beside it
    result = {}
    for key, extra in (("pytest", ["-n", "2"]), ("pytest_one_process", [])):
        if quick and extra == []:
            continue
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=15",
                               *extra], cwd=ROOT, env=_env(CI="true"), capture_output=True, text=True)
        result.update({f"{key}_seconds": time.perf_counter() - start, f"{key}_exit_code": done.returncode,
                       f"{key}_summary": (done.stdout.strip().splitlines() or [""])[-1],
                       f"{key}_slowest": _slowest(done.stdout),
                       f"{key}_failed": [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]})
    floors = []
    path = correct_file()
    checks, phases = [], []
    for _ in range(1 if quick else 3):  # alternated: the floor and the check see the same machine
        floors.append(import_floor())
        with tempfile.TemporaryDirectory() as folder:
            report_path = Path(folder) / "report.json"
            checks.append(wall(HANDLSTM + ["check", str(path), "--json", str(report_path)]))
            report = json.loads(report_path.read_text())
        # before the check: the interpreter and handlstm's own imports (the sandbox starts meanwhile)
        phases.append({"before the check": checks[-1] - report["seconds"], **report["phases"],
                       "after (reporting, exit)": 0.0})
        phases[-1]["after (reporting, exit)"] = checks[-1] - sum(phases[-1].values())
    floor = median(floors)
    result.update({"check_file": str(path.relative_to(ROOT)), "check_seconds": median(checks),
                   "import_floor_seconds": floor, "check_over_import_floor": median(checks) / floor,
                   "check_phases_seconds": {name: median([p[name] for p in phases]) for name in phases[0]}})
    if "pytest_seconds" in result:
        result["pytest_over_import_floor"] = result["pytest_seconds"] / floor
    result["examples_per_second"] = property_rates(quick)
    return result


def import_floor() -> float:
    """The floor of any cold check: a bare interpreter importing torch and Lightning."""
    return wall([sys.executable, "-c", "import torch, lightning"])


def _slowest(pytest_output: str) -> list[str]:
    """The --durations lines: where the suite's time goes."""
    lines = pytest_output.splitlines()
    start = next((i for i, line in enumerate(lines) if "slowest" in line and "durations" in line), None)
    if start is None:
        return []
    return [line.strip() for line in lines[start + 1:start + 16] if line.strip() and "s " in line]


def property_rates(quick: bool) -> dict[str, float]:
    """Examples per second of each property on the bundled hand module (float64), Hypothesis included."""
    from hypothesis import HealthCheck, Phase, given, settings

    from handlstm import properties, strategies
    from handlstm.implementations import hand_module

    implementation = hand_module("float64")
    rates = {}
    for name, check in properties.PROPERTIES.items():
        wanted = (3 if quick else 8) if name == "training" else (30 if quick else 150)
        calls = []

        @settings(max_examples=wanted, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(strategies.examples())
        def run(example):
            calls.append(check(implementation, example))

        start = time.perf_counter()
        run()
        rates[name] = len(calls) / (time.perf_counter() - start)
    return rates


# --- 4. scaling -----------------------------------------------------------------------------

def scaling(quick: bool) -> dict:
    help_text = subprocess.run(HANDLSTM + ["check", "--help"], cwd=ROOT, capture_output=True,
                               text=True).stdout
    if "--jobs" not in help_text:
        raise Unavailable("`handlstm check` has no --jobs option (multi-file grading) in this checkout")
    path = correct_file()
    counts, jobs_list = ((2, 4), (1, 2)) if quick else ((2, 10), (1, 2))
    rows, floors = [], []
    with tempfile.TemporaryDirectory() as folder:
        for count in counts:
            files = []
            for i in range(count):
                copy = Path(folder) / f"n{count}" / f"student_{i:03d}.py"
                copy.parent.mkdir(exist_ok=True)
                shutil.copy(path, copy)
                files.append(str(copy))
            for jobs in jobs_list:
                command = HANDLSTM + ["check", *files, "--jobs", str(jobs), "--report-dir",
                                      str(Path(folder) / f"reports_{count}_{jobs}")]
                floors.append(import_floor())
                seconds = _wall_any_exit(command)
                rows.append({"files": count, "jobs": jobs, "seconds": seconds,
                             "files_per_minute": 60 * count / seconds})
    floor = median(floors)
    biggest = [r for r in rows if r["files"] == max(counts)]
    # a file's own cost once the workers have started: the extra seconds of the bigger folder per
    # extra file, times the workers sharing them
    smallest = {r["jobs"]: r for r in rows if r["files"] == min(counts)}
    per_file = {jobs: (r["seconds"] - smallest[jobs]["seconds"]) * jobs / (r["files"] - min(counts))
                for jobs, r in ((r["jobs"], r) for r in biggest)}
    # a class of 1000: the biggest folder measured, and the rest at a file's own cost
    minutes = {r["jobs"]: (r["seconds"] + (1000 - r["files"]) * per_file[r["jobs"]] / r["jobs"]) / 60
               for r in biggest}
    fastest = min(minutes, key=minutes.get)
    return {"scaling": rows, "class_of_1000_jobs": fastest,
            "class_of_1000_files_per_minute": 1000 / minutes[fastest],
            "class_of_1000_minutes": minutes[fastest],
            "scaling_import_floor_seconds": floor,
            "per_file_per_worker_seconds": per_file,
            "per_file_per_worker_over_import_floor": {j: s / floor for j, s in per_file.items()}}


def _wall_any_exit(command: list[str]) -> float:
    """Grading exits 1 when a file fails; here every file conforms, so only 2 (an error) is refused."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise Unavailable(f"grading exited {done.returncode}: " + " | ".join(tail))
    return seconds


# --- report ---------------------------------------------------------------------------------

def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env


# --- 5. sandbox cost ---------------------------------------------------------------------------

def sandbox_cost(quick: bool) -> dict:
    from handlstm.check.sandbox import bwrap
    from handlstm.check.sandbox.client import Child, Zygote
    from handlstm.check.source import read_source

    isolations = ["process"] + ([] if bwrap.unavailable() else ["sandbox"])
    source = read_source(str(correct_file()))
    load = ("load", {"source": source.as_dict(), "class_name": None,
                     "names": {n: n for n in ("wlr1", "wlr2", "blr1", "wpr1", "wpr2", "bpr1",
                                              "wp1", "wp2", "bp1", "wo1", "wo2", "bo1")}})
    result = {}
    for isolation in isolations:
        starts = []
        for _ in range(1 if quick else 3):
            start = time.perf_counter()
            zygote = Zygote(isolation)
            zygote.wait_ready(time.monotonic() + 300)
            starts.append(time.perf_counter() - start)
            zygote.close()
        Zygote._shared[isolation] = zygote = Zygote(isolation)
        zygote.wait_ready(time.monotonic() + 300)
        children = []
        for _ in range(5 if quick else 20):
            start = time.perf_counter()
            child = Child(isolation)
            child.setup = [load]
            child.deadline = time.monotonic() + 60
            child.start()
            child.close()
            children.append(time.perf_counter() - start)
        zygote.close()
        result[isolation] = {"fork_server_seconds": median(starts), "child_seconds": median(children)}
    return {"sandbox_cost": result}


SECTIONS = {"1": ("training", training), "2": ("reference", reference_throughput),
            "3": ("verification", verification), "4": ("scaling", scaling), "5": ("sandbox", sandbox_cost)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (a smoke run)")
    parser.add_argument("--sections", default="1,2,3,4,5", help="which sections to run, e.g. 2 or 1,2")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    results: dict = {"machine": machine(), "quick": args.quick, "unavailable": {}}
    for key in chosen:
        name, measure = SECTIONS[key]
        print(f"measuring {key}. {name} ...", file=sys.stderr, flush=True)
        try:
            results.update(measure(args.quick))
        except Unavailable as why:
            results["unavailable"][f"{key}. {name}"] = str(why)
    results["machine"]["load_average_after"] = os.getloadavg()[0]
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 1 if results["unavailable"] else 0


if __name__ == "__main__":
    sys.exit(main())
