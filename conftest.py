"""Hypothesis profiles and the headroom report: how close each property ran to its tolerance."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))  # tests/helpers.py, for tests/ and tests/meta/
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=25)
settings.register_profile("thorough", deadline=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
# --hypothesis-profile on the command line overrides this default
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev")


def pytest_report_header(config):
    import lightning
    import numpy
    import torch

    return [f"handlstm: hypothesis profile {settings.get_current_profile_name()!r}, "
            f"torch {torch.__version__}, lightning {lightning.__version__}, numpy {numpy.__version__}"]


# the run's worst |error| / tolerance per property label, gathered from the tests' reports
WORST: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Carry the test's headroom (tests/helpers.py) on its report: user_properties cross xdist."""
    import helpers

    helpers.HEADROOM.clear()
    yield
    if helpers.HEADROOM:
        item.user_properties.append(("handlstm_headroom", dict(helpers.HEADROOM)))


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == "handlstm_headroom" and report.when == "call":
            for label, worst in value.items():
                WORST[label] = max(WORST.get(label, 0.0), worst)


def pytest_terminal_summary(terminalreporter):
    if not WORST:
        return
    terminalreporter.section("handlstm headroom: worst |error| / tolerance per property (fails above 1)")
    for label, worst in sorted(WORST.items()):
        terminalreporter.write_line(f"  {label:<45} {worst:10.3g}")


def pytest_collection_modifyitems(items):
    """Long runs first: under xdist one worker starts them at once while the other takes the rest,
    instead of a long run starting last and keeping the whole suite waiting."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
