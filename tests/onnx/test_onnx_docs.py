"""docs/onnx.md: every ```python block runs, in order, in one namespace (the guide's code is tested)."""

import pathlib
import re

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "onnx.md"


def test_onnx_guide_code_blocks_run(capsys):
    blocks = re.findall(r"^```python\n(.*?)^```$", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 4, "the guide lost its code blocks"
    ns = {"__name__": "onnx_guide"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{GUIDE.name} block {k}", "exec"), ns)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "'Erf'" in out and "Dropout" not in out.splitlines()[0]
    assert "(3, 10)" in out and "(1, 3, 12)" in out and "(1, 1, 12)" in out and "['input', 'h_0', 'c_0']" in out
    assert "export: no ONNX converter for Double" in out
