"""docs/robustness.md runs as written, its printed results hold, and its fuzz table matches the
fuzz tests' own table (the counts are stated once per place, and must agree)."""

import pathlib
import re

import numpy as np
from guides import run_guide

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "robustness.md"


def test_robustness_guide_runs(capsys):
    ns = run_guide("robustness.md", min_blocks=2)
    e = ns["caught"]
    assert (e.op, e.phase, e.module) == ("Log", "forward", "'1' (Log) in Sequential")
    assert float(ns["loss"]._array) == 20000.0 and np.isfinite(ns["z"].grad._array).all()
    out = capsys.readouterr().out
    assert "Log forward" in out
    assert "14400040000 True" in out  # the conv spec counted over the whole layer
    assert "0.123 True" in out and isinstance(ns["refused"], ns["CheckpointError"])  # the failed load changed nothing


def test_fuzz_counts_agree_with_the_fuzz_tests():
    guide = GUIDE.read_text(encoding="utf-8")
    tests = (ROOT / "tests" / "robustness" / "test_fuzz_cli.py").read_text(encoding="utf-8")
    pairs = re.findall(r"\b(\d[\d,]*) / (\d[\d,]*)\b", guide)
    assert len(pairs) == 10, pairs
    for ci, long_run in pairs:
        assert f"{ci} / {long_run}" in tests, (ci, long_run)
