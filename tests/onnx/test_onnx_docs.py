"""docs/onnx.md: every ```python block runs, in order, in one namespace (the guide's code is tested)."""

from guides import run_guide


def test_onnx_guide_code_blocks_run(capsys):
    run_guide("onnx.md", min_blocks=4)
    out = capsys.readouterr().out
    assert "'Erf'" in out and "Dropout" not in out.splitlines()[0]
    assert "(3, 10)" in out and "(1, 3, 12)" in out and "(1, 1, 12)" in out and "['input', 'h_0', 'c_0']" in out
    assert "export: no ONNX converter for Double" in out
