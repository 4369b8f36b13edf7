"""docs/recurrent.md: every ```python block runs, in order, in one namespace (the guide's code is tested)."""

import numpy as np
from guides import code_blocks, run_guide


def test_guide_code_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns = run_guide("recurrent.md", min_blocks=8)
    assert "np" in ns and isinstance(ns["losses"], list)
    assert np.isfinite(ns["loss"].item())
    out = capsys.readouterr().out
    assert "nats/char" in out and "weight_ih_l0" in out


def test_block_extraction_sees_only_python_fences():
    text = "a\n```python\nx = 1\n```\n\n    indented = 2\n```\nshell\n```\n```python\ny = 2\n```\n"
    assert code_blocks(text) == ["x = 1\n", "y = 2\n"]
