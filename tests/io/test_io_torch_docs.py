"""docs/interop.md: every ```python block runs, in order, in one namespace (the guide's code is tested)."""

import pathlib
import re

import numpy as np

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "interop.md"


def _blocks(text):
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_interop_guide_code_blocks_run(torch, tmp_path, monkeypatch, capsys):
    blocks = _blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 7, "the guide lost its code blocks"
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "interop_guide"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{GUIDE.name} block {k}", "exec"), ns)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "max difference" in out and "Sequential False" in out
    assert "[] []" in out  # nothing missing or unexpected
    assert "the state dict has shape (64, 8), the model (48, 8)" in out
    assert "float32 float32 float32" in out and "mean: needs a floating-point tensor" in out
    assert np.isfinite(ns["ours"]).all()
