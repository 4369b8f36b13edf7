"""nnbasics export RUN --onnx FILE: trained runs (classifiers and character models) as ONNX files."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import nnbasics as nb
from nnbasics.cli import main
from nnbasics.training import load_checkpoint, predict
from nnbasics.training.tbptt import load_char_lm


def _exit2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def spiral_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "spiral"
    assert main(["train", "spiral", "--hidden", "8", "--epochs", "1", "--n-train", "64", "--n-test", "32",
                 "--progress", "none", "--output", str(out)]) == 0
    return out


def _sess(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_export_a_trained_classifier_for_any_batch(spiral_run, tmp_path, capsys):
    path = tmp_path / "spiral.onnx"
    assert main(["export", str(spiral_run), "--onnx", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {path}" in out and "input (batch, 2)" in out and "output (batch, 3)" in out
    x = np.random.default_rng(0).standard_normal((7, 2)).astype(np.float32)
    (got,) = _sess(path).run(None, {"input": x})
    model = load_checkpoint(spiral_run / "last.safetensors").model
    np.testing.assert_allclose(got, predict(model, x), atol=1e-5, rtol=1e-4)
    onnx.checker.check_model(str(path), full_check=True)


def test_fixed_batch_opset_and_input_shape(spiral_run, tmp_path, capsys):
    path = tmp_path / "m.onnx"
    assert main(["export", str(spiral_run / "last.safetensors"), "--onnx", str(path), "--fixed-batch", "4",
                 "--opset", "13", "--input-shape", "2"]) == 0
    proto = onnx.load(str(path))
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [4, 2]
    assert proto.opset_import[0].version == 13


def test_export_a_character_model_with_its_state(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 20)
    run = tmp_path / "lm"
    assert main(["train-lm", str(text), "--hidden-size", "8", "--embedding-dim", "4", "--steps", "3", "--seq-len",
                 "10", "--batch-size", "2", "--sample", "0", "--output", str(run), "--quiet"]) == 0
    path = tmp_path / "lm.onnx"
    assert main(["export", str(run), "--onnx", str(path)]) == 0
    assert "input (batch, sequence), h_0 (1, batch, 8), c_0 (1, batch, 8)" in capsys.readouterr().out
    model, vocab, _ = load_char_lm(run / "best.safetensors")
    sess = _sess(path)
    h = np.zeros((1, 1, 8), np.float32)
    ids = np.array([vocab.encode("the qu")])
    logits, h1, c1 = sess.run(None, {"input": ids, "h_0": h, "c_0": h})  # prime: 6 steps
    step, _, _ = sess.run(None, {"input": ids[:, :1], "h_0": h1, "c_0": c1})  # then one at a time
    with nb.no_grad():
        ref, state = model(nb.tensor(ids))
        ref_step, _ = model(nb.tensor(ids[:, :1]), state)
    np.testing.assert_allclose(logits, ref.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(step, ref_step.numpy(), atol=1e-5, rtol=1e-4)


def test_errors_are_one_message_and_leave_files_alone(spiral_run, tmp_path, capsys):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    assert "no run at" in _exit2(["export", str(tmp_path / "none"), "--onnx", str(path)], capsys)
    assert "--onnx" in _exit2(["export", str(spiral_run)], capsys)
    assert "existing directory" in _exit2(["export", str(spiral_run), "--onnx", str(tmp_path / "no" / "m.onnx")],
                                          capsys)
    assert "positive ints" in _exit2(["export", str(spiral_run), "--onnx", str(path), "--input-shape", "a,b"], capsys)
    assert "does not fit layer" in _exit2(["export", str(spiral_run), "--onnx", str(path), "--input-shape", "3"],
                                          capsys)
    assert "opset must be an int from 13" in _exit2(["export", str(spiral_run), "--onnx", str(path), "--opset", "99"],
                                                    capsys)
    (tmp_path / "empty").mkdir()
    assert "no checkpoint in" in _exit2(["export", str(tmp_path / "empty"), "--onnx", str(path)], capsys)
    assert path.read_bytes() == b"previous"


def test_export_of_an_image_run_says_how_to_scale_inputs_and_names_the_classes(tmp_path, capsys):
    """Found by the audit (issues 14/16): predict divides raw pixels by 255 as training did, but the
    exported file does not, and export said nothing: raw images through onnxruntime gave other answers."""
    run = tmp_path / "shapes"
    assert main(["train", "shapes", "--n-train", "32", "--n-test", "16", "--hidden", "4", "--epochs", "1",
                 "--progress", "none", "--output", str(run)]) == 0
    capsys.readouterr()
    assert main(["export", str(run), "--onnx", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "divide raw 0-255 images by 255" in out and "classes: output i is 0=" in out
