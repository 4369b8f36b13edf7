"""lab speed on a shared machine: other processes' CPU use during the timings is measured and warned about."""

import json

import pytest

from nnbasics.lab import run_experiment
from nnbasics.lab.experiments import speed


def _stand_in_timers(monkeypatch):
    monkeypatch.setattr(speed, "torch_available", lambda: False)
    monkeypatch.setattr(speed, "_nn_matmul", lambda *a: [2e10, 2.1e10])  # stand-in timers: these tests check the report
    monkeypatch.setattr(speed, "_nn_mlp", lambda *a: 1000.0)
    monkeypatch.setattr(speed, "_nn_cnn", lambda *a: 100.0)


def _snapshots(monkeypatch, others_cpu):
    """Two snapshots 10 s apart in which this process used 10 s of CPU and the others ``others_cpu``."""
    seq = iter([(100.0, 5.0, 50.0), (100.0 + 10.0 + others_cpu, 15.0, 60.0)])
    monkeypatch.setattr(speed, "_cpu_snapshot", lambda: next(seq))


def test_others_busy_arithmetic():
    assert speed.others_busy((100.0, 5.0, 50.0), (125.0, 15.0, 60.0)) == pytest.approx(1.5)
    assert speed.others_busy((100.0, 5.0, 50.0), (109.0, 15.0, 60.0)) == 0.0  # tick rounding: never negative
    assert speed.others_busy(None, (1.0, 1.0, 1.0)) is None
    snap = speed._cpu_snapshot()
    assert snap is None or (len(snap) == 3 and snap[0] >= 0)


def test_a_busy_machine_is_warned_about(monkeypatch, tmp_path):
    _stand_in_timers(monkeypatch)
    _snapshots(monkeypatch, others_cpu=12.0)  # 1.2 cores busy elsewhere
    report = run_experiment("speed", quick=True, output=tmp_path / "s", progress=False)
    assert report.metrics["other_processes_cores"] == pytest.approx(1.2)
    assert "machine was shared" in report.findings[0]  # first: hinton shows a sub-report's first findings
    assert "**Warning.** Other processes kept 1.2" in (tmp_path / "s" / "report.md").read_text()
    m = json.loads((tmp_path / "s" / "metrics.json").read_text())["metrics"]
    assert m["other_processes_cores"] == pytest.approx(1.2)


def test_a_quiet_machine_is_not_warned_about(monkeypatch, tmp_path):
    _stand_in_timers(monkeypatch)
    _snapshots(monkeypatch, others_cpu=0.5)  # 0.05 cores: background noise
    report = run_experiment("speed", quick=True, output=tmp_path / "s", progress=False)
    assert report.metrics["other_processes_cores"] == pytest.approx(0.05)
    assert not any("machine was shared" in f for f in report.findings)
    assert "Warning" not in (tmp_path / "s" / "report.md").read_text()
