"""docs/recurrent.md: every ```python block runs, in order, in one namespace (the guide's code is tested)."""

import pathlib
import re

import numpy as np

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "recurrent.md"


def _blocks(text):
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_guide_code_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = _blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 8, "the guide lost its code blocks"
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "recurrent_guide"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{GUIDE.name} block {k}", "exec"), ns)  # noqa: S102 - our own documentation
    assert "np" in ns and isinstance(ns["losses"], list)
    assert np.isfinite(ns["loss"].item())
    out = capsys.readouterr().out
    assert "nats/char" in out and "weight_ih_l0" in out


def test_block_extraction_sees_only_python_fences():
    text = "a\n```python\nx = 1\n```\n\n    indented = 2\n```\nshell\n```\n```python\ny = 2\n```\n"
    assert _blocks(text) == ["x = 1\n", "y = 2\n"]
