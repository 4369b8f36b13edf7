"""Shared lab fixtures: every experiment's quick report, run once per test session.

The experiments' tests, the figure check and the browser check (test_lab_browser) all read
the same reports, so each quick experiment runs once however many files look at it.
"""

import pytest

from nnbasics.lab import run_experiment

_RUNS: dict = {}


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory):
    """``quick_report(name) -> (Report, folder)``: experiment ``name`` in quick mode, seed 0, written once."""
    root = tmp_path_factory.mktemp("quick-reports")

    def get(name):
        if name not in _RUNS:
            out = root / name
            _RUNS[name] = (run_experiment(name, quick=True, output=out, seed=0, progress=False), out)
        return _RUNS[name]

    return get
