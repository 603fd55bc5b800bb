"""Hypothesis profiles and the headroom report: how close each property ran to its tolerance."""

import os

import pytest
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


def pytest_sessionfinish(session):
    """Under xdist, each worker hands its headroom to the controller (see pytest_testnodedown)."""
    from handlstm.properties import HEADROOM

    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["handlstm_headroom"] = dict(HEADROOM)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from handlstm.properties import HEADROOM

    for label, worst in getattr(node, "workeroutput", {}).get("handlstm_headroom", {}).items():
        HEADROOM[label] = max(HEADROOM.get(label, 0.0), worst)


def pytest_terminal_summary(terminalreporter):
    from handlstm.properties import HEADROOM

    if not HEADROOM:
        return
    terminalreporter.section("handlstm headroom: worst |error| / tolerance per property (fails above 1)")
    for label, worst in sorted(HEADROOM.items()):
        terminalreporter.write_line(f"  {label:<45} {worst:10.3g}")


def pytest_collection_modifyitems(items):
    """Long runs first: under xdist one worker starts them at once while the other takes the rest,
    instead of a long run starting last and keeping the whole suite waiting."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
