"""bench/_common.py: the machinery the side-by-side benchmarks share (no timing is asserted)."""

import os
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import _common as C


def test_peak_rss_sees_a_transient_allocation_above_the_baseline():
    with C.PeakRSS() as p:
        a = np.ones(48 << 20, dtype=np.uint8)  # 48 MiB, touched
        del a
    rec = p.record()
    assert rec["peak_above_baseline_mb"] >= 40, rec
    assert rec["retained_mb"] < 20, rec  # freed before the block ended
    assert rec["method"] in ("VmHWM", "sampling")


def test_peak_rss_excludes_what_was_allocated_before_the_block():
    before = np.ones(64 << 20, dtype=np.uint8)  # the "import and model" part
    with C.PeakRSS() as p:
        small = np.ones(4 << 20, dtype=np.uint8)
    rec = p.record()
    assert rec["peak_above_baseline_mb"] < 30, rec  # not the 64 MiB from before
    assert rec["baseline_mb"] >= 64
    del before, small


def test_memory_probe_runs_the_steps_inside_the_measurement():
    # 64 MiB a step: above glibc's largest mmap threshold (32 MiB), so fresh pages every time; 16 MiB
    # chunks could reuse heap memory freed by earlier tests, already resident (then the peak was 0)
    calls = []
    rec = C.memory_probe(lambda: calls.append(np.ones(64 << 20, dtype=np.uint8)), 2)
    assert len(calls) == 2 and rec["steps"] == 2
    assert rec["peak_above_baseline_mb"] >= 120 and rec["retained_mb"] >= 120  # both still held


def test_competitor_burns_cpu_and_is_gone_afterwards():
    with C.Competitor(True) as comp:
        pid = comp.proc.pid
        time.sleep(0.6)
    assert comp.proc.poll() is not None
    assert not os.path.exists(f"/proc/{pid}/stat") or comp.proc.returncode is not None
    assert comp.share is not None and comp.share > 0.02, comp.share  # it ran (the machine may be busy)
    assert "competitor" in comp.describe()
    with C.Competitor(False) as none:
        assert none.proc is None
    assert none.describe() == "no competing process started"


def test_speed_rows_pair_rounds_with_the_same_variant_and_threads():
    times = {"nb 1": [2.0, 4.0, 6.0], "t 1": [1.0, 4.0, 2.0], "nb 2": [1.0, 3.0, 3.0], "t 2": [2.0, 2.0, 2.0]}
    meta = {"nb 1": {"impl": "nnbasics", "threads": 1}, "t 1": {"impl": "torch", "threads": 1},
            "nb 2": {"impl": "nnbasics", "threads": 2}, "t 2": {"impl": "torch", "threads": 2}}
    rows = {r["name"]: r for r in C.speed_rows(times, meta)}
    assert rows["nb 1"]["vs_base"] == pytest.approx(2.0)  # median of 2, 1, 3 (not 4 / 2)
    assert rows["nb 2"]["vs_base"] == pytest.approx(1.5)  # median of 0.5, 1.5, 1.5
    assert rows["nb 2"]["vs_1_thread"] == pytest.approx(0.5)  # median of 0.5, 0.75, 0.5
    assert rows["nb 1"]["vs_1_thread"] is None and rows["t 1"]["median"] == 2.0
    assert "cpu_median" not in rows["nb 1"]


def test_speed_rows_give_the_cpu_time_ratio_of_the_same_rounds(capsys):
    times = {"nb 1": [2.0, 4.0, 6.0], "t 1": [1.0, 4.0, 2.0]}
    meta = {"nb 1": {"impl": "nnbasics", "threads": 1}, "t 1": {"impl": "torch", "threads": 1}}
    replies = {"nb 1": [{"cpu_ms": c} for c in (1.0, 3.0, 2.0)], "t 1": [{"cpu_ms": c} for c in (2.0, 2.0, 1.0)]}
    rows = C.speed_rows(times, meta, replies=replies)
    by = {r["name"]: r for r in rows}
    assert by["nb 1"]["cpu_median"] == 2.0 and by["nb 1"]["cpu_vs_base"] == pytest.approx(1.5)  # of 0.5, 1.5, 2
    C.print_speed_table(rows)
    assert "| nnbasics | 1 | 4 | 2 | 6 | **2.000** | - | 2 | 1.500 |" in capsys.readouterr().out


def test_parse_threads_and_sizes():
    assert C.parse_threads("1,2") == [1, 2]
    assert C.parse_threads(None) == [C.cpu_count()]
    with pytest.raises(SystemExit, match="positive"):
        C.parse_threads("0")
    with pytest.raises(SystemExit, match="positive sizes"):
        C.parse_sizes("128,-1")


def test_thread_env_sets_every_thread_variable():
    env = C.thread_env(3, base={"PATH": "/bin"})
    assert all(env[v] == "3" for v in C.THREAD_VARS) and env["PATH"] == "/bin"


def test_machine_record_names_the_cpu_and_the_load_is_recorded():
    rec = C.machine_record()
    assert rec["cpu"] and rec["cores"] >= 1 and rec["numpy"] == np.__version__
    log = C.LoadLog()
    log.mark("end")
    if C.loadavg() is not None:
        assert len(log.samples) == 2 and "load average" in log.summary()


def test_timed_steps_runs_an_untimed_step_first():
    """The first step after the driver's sleep is not timed: the slow first call is left out."""
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.2)  # the step right after a sleep: slow

    rec = C.timed_steps(step)(2)
    assert len(calls) == 3 and rec["ms"] < 100  # 2 timed steps, the slow one untimed
    calls.clear()
    rec = C.timed_steps(step)(2, warm=0)
    assert len(calls) == 2 and rec["ms"] >= 90


def test_compiled_workers_get_the_switch_and_their_base_implementation(monkeypatch):
    """--compiled adds an impl+numba worker per nnbasics implementation; serve() turns the compiled
    kernels on in that worker before its setup, which sees the base implementation's name."""
    import argparse
    import io
    import sys

    args = argparse.Namespace(compiled=True)
    assert C.with_compiled(["nnbasics", "nnbasics-linear", "numpy", "torch"], args) == [
        "nnbasics", "nnbasics-linear", "numpy", "torch", "nnbasics+numba", "nnbasics-linear+numba"]
    assert C.with_compiled(["nnbasics", "torch"], argparse.Namespace(compiled=False)) == ["nnbasics", "torch"]
    monkeypatch.setenv("NNBASICS_COMPILED", "0")  # recorded, so the value serve() sets is undone after the test
    seen = []

    def setup(spec):
        seen.append((spec["impl"], os.environ.get("NNBASICS_COMPILED")))
        return {}, {}

    monkeypatch.setattr(os, "dup2", lambda a, b: None)  # keep pytest's stdout
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # serve() points it at stderr: restored after the test
    for impl in ("torch", "nnbasics+numba"):
        monkeypatch.setattr(sys, "stdin", io.StringIO('{"op": "quit"}\n'))
        C.serve(setup, {"impl": impl})
    assert seen == [("torch", "0"), ("nnbasics", "numba")]
