"""The compatibility matrix: `nox -s matrix` (or one combination: `nox -s "matrix(oldest)"`).

For each combination of torch, Lightning and NumPy below, a fresh virtual environment gets
exactly those versions and handlstm itself (no other versions of them), then the core property
tests (reference, agreement, training, golden) run under the `ci` profile, and `handlstm golden`
trains the lesson's 5000 epochs with Lightning against the baseline. Each combination writes
`matrix/<name>.json`: the versions installed, pass/fail of each part, the worst headroom the
properties reported, and any golden value beyond its tolerance. The README's table is made from
those files. Long (minutes a combination, and the older torch versions are CUDA builds of about
3 GB with their NVIDIA libraries): not part of `.ci/run`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False

# the oldest versions handlstm claims, one in the middle, the newest
MATRIX = {
    "oldest": {"torch": "2.2.2", "lightning": "2.2.0", "numpy": "1.24.4"},
    "middle": {"torch": "2.6.0", "lightning": "2.4.0", "numpy": "2.1.3"},
    "newest": {"torch": "2.13.0", "lightning": "2.6.6", "numpy": "2.4.6"},
}
CORE_TESTS = ["tests/test_reference.py", "tests/test_agreement.py", "tests/test_training.py", "tests/test_golden.py"]


@nox.session
@nox.parametrize("combination", list(MATRIX))
def matrix(session: nox.Session, combination: str) -> None:
    versions = MATRIX[combination]
    session.install(f"torch=={versions['torch']}")
    session.install(f"lightning=={versions['lightning']}", f"numpy=={versions['numpy']}", f"torch=={versions['torch']}",
                    "hypothesis", "matplotlib", "pytest", "pytest-xdist")
    session.install("--no-deps", "-e", ".")
    installed = {line.split("==")[0].lower(): line.split("==")[1]
                 for line in session.run("python", "-m", "pip", "freeze", silent=True).splitlines() if "==" in line}
    record = {"combination": combination, "asked": versions,
              "installed": {name: installed.get(name) for name in ("torch", "lightning", "numpy", "hypothesis")}}
    tests = session.run("python", "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider", *CORE_TESTS,
                        env={"CI": "true"}, silent=True, success_codes=[0, 1])
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", tests, re.MULTILINE)
    headroom = [float(v) for v in re.findall(r"^  \S.*?\s([\d.e+-]+)$", tests.split("handlstm headroom")[-1],
                                                  re.MULTILINE)] if "handlstm headroom" in tests else []
    record["tests"] = {"passed": " failed" not in (summary[-1] if summary else " failed"),
                       "summary": summary[-1] if summary else tests.strip().splitlines()[-1],
                       "worst_headroom": max(headroom, default=None)}
    golden = session.run("handlstm", "golden", silent=True, success_codes=[0, 1, 2])
    record["golden"] = {"holds": "holds for the NumPy reference and Lightning training" in golden,
                        "beyond_tolerance": golden.split("Beyond tolerance:")[1].split("Within")[0].strip().splitlines()
                        if "Beyond tolerance:" in golden else []}
    Path("matrix").mkdir(exist_ok=True)
    Path("matrix", f"{combination}.json").write_text(json.dumps(record, indent=1) + "\n")
    session.log(json.dumps(record))
