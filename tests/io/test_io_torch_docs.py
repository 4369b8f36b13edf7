"""docs/interop.md: every ```python block runs, in order, in one namespace (the guide's code is tested)."""

import numpy as np
from guides import run_guide


def test_interop_guide_code_blocks_run(torch, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns = run_guide("interop.md", min_blocks=7)
    out = capsys.readouterr().out
    assert "max difference" in out and "Sequential False" in out
    assert "[] []" in out  # nothing missing or unexpected
    assert "the state dict has shape (64, 8), the model (48, 8)" in out
    assert "float32 float32 float32" in out and "mean: needs a floating-point tensor" in out
    assert np.isfinite(ns["ours"]).all()
