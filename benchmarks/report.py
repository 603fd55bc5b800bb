"""The machine a benchmark run measured on, and its results as the printed table (benchmarks/run.py)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from handlstm.data import LESSON_DAYS as DAYS  # noqa: E402 (the lesson's sequences)


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import torch

    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "torch": torch.__version__,
            "load_average_before": os.getloadavg()[0],
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def table(results: dict) -> str:
    lines = []
    add = lines.append
    m = results["machine"]
    add(f"machine: {m['cpu']}, {m['cores']} cores; python {m['python']}, numpy {m['numpy']}, "
        f"torch {m['torch']}; load average {m['load_average_before']:.2f} at start, "
        f"{m['load_average_after']:.2f} at the end; {m['when']}")
    if "training_ratio" in results:
        add("")
        add(f"1. training, per optimizer step (median of {results['training_repeats']} runs of "
            f"{results['training_epochs']} epochs)")
        add("   | path | ms / step |")
        add("   |---|---|")
        add("   | Lightning (handlstm train's path, 3 values logged) "
            f"| {results['lightning_ms_per_step']:.3f} |")
        add(f"   | plain PyTorch loop, same work | {results['plain_ms_per_step']:.3f} |")
        add(f"   | ratio Lightning / plain | {results['training_ratio']:.2f} |")
        if "handlstm_train_seconds" in results:
            add(f"   `handlstm train` with the lesson's defaults: {results['handlstm_train_seconds']:.1f} s")
        if "handlstm_train_error" in results:
            add(f"   `handlstm train` with the lesson's defaults: failed: {results['handlstm_train_error']}")
    if "reference" in results:
        add("")
        add(f"2. reference.loss_and_grads (NumPy float64) vs torch autograd on the hand module "
            f"(float64, {results['torch_threads']} torch threads), length-{DAYS} sequences")
        add("   | batch | NumPy ms | torch ms | NumPy steps/s | torch steps/s | NumPy / torch "
            "| torch ms, 1 thread | NumPy / torch, 1 thread |")
        add("   |---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["reference"]:
            add(f"   | {r['label']} | {r['numpy_ms']:.3f} | {r['torch_ms']:.3f} | "
                f"{r['numpy_steps_per_s']:.3g} | {r['torch_steps_per_s']:.3g} | {r['ratio']:.2f} "
                f"| {r['torch_1_thread_ms']:.3f} | {r['ratio_1_thread']:.2f} |")
    if "pytest_seconds" in results:
        add("")
        add("3. verification cost")
        add(f"   python -m pytest -n 2 (the README's command; CI=true, ci profile): {results['pytest_seconds']:.1f} s "
            f"(exit {results['pytest_exit_code']}: {results['pytest_summary']})")
        if "pytest_one_process_seconds" in results:
            add(f"   python -m pytest, one process: {results['pytest_one_process_seconds']:.1f} s "
                f"(exit {results['pytest_one_process_exit_code']}: {results['pytest_one_process_summary']})")
        for key in ("pytest_failed", "pytest_one_process_failed"):  # which ones, not only how many
            lines.extend(f"     {line}" for line in results.get(key, []))
        if "pytest_over_import_floor" in results:
            add(f"   pytest -n 2 over the import floor: {results['pytest_over_import_floor']:.1f}")
        if results.get("pytest_slowest"):
            add("   where the suite's time goes (pytest --durations=15):")
            lines.extend(f"     {line}" for line in results["pytest_slowest"])
        add(f"   handlstm check {results['check_file']}: {results['check_seconds']:.1f} s; "
            f"import floor (python -c 'import torch, lightning') {results['import_floor_seconds']:.1f} s; "
            f"ratio {results['check_over_import_floor']:.2f}")
        add("   one check, by phase (median seconds; the sandbox imports torch and Lightning during "
            "'before the check' and 'start', while this process draws the examples):")
        add("   | phase | seconds |")
        add("   |---|---:|")
        for phase, seconds in results["check_phases_seconds"].items():
            add(f"   | {phase} | {seconds:.3f} |")
        rates = ", ".join(f"{k} {v:.3g}" for k, v in results["examples_per_second"].items())
        add(f"   examples per second, hand module in process: {rates}")
    if "scaling" in results:
        add("")
        add("4. grading N copies of the correct file: handlstm check PATH... --jobs J")
        add("   | N | J | seconds | files / minute |")
        add("   |---:|---:|---:|---:|")
        for r in results["scaling"]:
            add(f"   | {r['files']} | {r['jobs']} | {r['seconds']:.1f} | {r['files_per_minute']:.1f} |")
        add(f"   a class of 1000 at --jobs {results['class_of_1000_jobs']}: "
            f"{results['class_of_1000_minutes']:.0f} minutes")
        for jobs, seconds in results["per_file_per_worker_seconds"].items():
            add(f"   --jobs {jobs}: a file's own cost per worker {seconds:.2f} s = "
                f"{results['per_file_per_worker_over_import_floor'][jobs]:.2f} x the import floor "
                f"({results['scaling_import_floor_seconds']:.1f} s)")
    if "sandbox_cost" in results:
        add("")
        add("5. sandbox cost (median seconds)")
        add("   | isolation | fork server ready | one child: fork, namespaces, load, stop |")
        add("   |---|---:|---:|")
        for isolation, r in results["sandbox_cost"].items():
            add(f"   | {isolation} | {r['fork_server_seconds']:.2f} | {r['child_seconds']:.3f} |")
    for section, why in results.get("unavailable", {}).items():
        add("")
        add(f"{section}: not measured: {why}")
    return "\n".join(lines)
