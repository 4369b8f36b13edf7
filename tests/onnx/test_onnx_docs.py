"""docs/onnx.md: every ```python block runs, in order, in one namespace (the guide's code is tested)."""

from guides import run_guide


def test_onnx_guide_code_blocks_run(capsys):
    run_guide("onnx.md", min_blocks=6)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm']"  # dropout gone, view(N, -1) a Flatten
    assert out[1] == "(5, 10)"  # exported at batch 3, run at 5
    assert out[2] == "['Mul']"  # the branch the example took
    assert out[3].startswith("export: the dims ['batch'] cannot stay dynamic") and out[4] == "[6, 4]"
    assert out[5] == "['input', 'h_0', 'c_0'] ['logits', 'h_n', 'c_n']"
    assert out[6] == "(1, 5, 12)" and out[7] == "(1, 1, 12)"
    assert out[8].startswith("ONNXProgram(") and "['images']" in out[8] and "'logits'" in out[8]
    assert out[9] == "['Gemm', 'Add']"  # the registered converter's node
