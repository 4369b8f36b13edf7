"""detect_anomaly names the layer of the thread where the NaN appeared, not a layer another
thread happens to be running at the same moment (the stack of running modules is per thread)."""

import threading

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn


class _LogAfter(nn.Module):
    def __init__(self, go):
        super().__init__()
        self.go = go

    def forward(self, x):
        assert self.go.wait(10)  # until the other thread is inside its own module
        return x.log()


class _Hold(nn.Module):
    def __init__(self, entered, release):
        super().__init__()
        self.entered, self.release = entered, release

    def forward(self, x):
        self.entered.set()
        assert self.release.wait(10)
        return x


def test_a_concurrent_threads_module_is_not_named():
    entered, release = threading.Event(), threading.Event()
    failing = nn.Sequential(nn.Identity(), _LogAfter(entered))
    other = nn.Sequential(_Hold(entered, release))
    x_bad = nb.tensor(-np.ones((2, 3), dtype=np.float32))
    caught = {}

    def run_failing():
        try:
            with np.errstate(invalid="ignore"):
                failing(x_bad)
        except nb.AnomalyError as e:
            caught["error"] = e
        finally:
            release.set()

    with nb.detect_anomaly():
        t_other = threading.Thread(target=lambda: other(nb.ones(2)))
        t_fail = threading.Thread(target=run_failing)
        t_fail.start()
        t_other.start()
        t_fail.join(20)
        t_other.join(20)
    assert "error" in caught, "no AnomalyError from log(-1)"
    assert caught["error"].op == "Log"
    assert caught["error"].module == "'1' (_LogAfter) in Sequential"


def test_anomaly_error_is_exported():
    with pytest.raises(nb.AnomalyError), nb.detect_anomaly(), np.errstate(invalid="ignore"):
        nb.tensor(np.array([-1.0], dtype=np.float32)).log()
