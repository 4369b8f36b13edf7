"""docs/diagnostics.md runs as written: every ```python block, in order, in one namespace."""

import pathlib
import re

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"


def _blocks(text):
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_guide_code_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = _blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6, "the guide lost its code blocks"
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "diagnostics_guide"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{GUIDE.name} block {k}", "exec"), ns)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    # what the prose claims
    assert ns["ratios"]["sigmoid"] < 1e-3 * ns["ratios"]["relu"]
    assert ns["mon"].steps == list(range(8)) and "| layer | kind |" in out
    assert "saturated" in out and ns["saturation"].shape == (4,) and ns["saturation"].min() > 0.5
    assert any(f.startswith("activations shrink by") for f in ns["report"].findings())
    assert not any(f.startswith("activations") for f in ns["he"].findings())
    assert ns["check"].ok
