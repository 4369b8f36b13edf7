"""Shared by the ONNX tests: export, check, run in onnxruntime on another batch size, compare with nnbasics."""

import numpy as np
import onnx
import onnxruntime as ort

import nnbasics as nb
import nnbasics.onnx as nx

ATOL, RTOL = 1e-5, 1e-4


def _arrays(x):
    if isinstance(x, (tuple, list)):
        return [a for e in x for a in _arrays(e)]
    return [x._array if isinstance(x, nb.Tensor) else np.asarray(x)]


def _tensors(x):
    if isinstance(x, (tuple, list)):
        return tuple(_tensors(e) for e in x)
    return nb.tensor(x)


def run_onnx(path, inputs):
    """onnxruntime (CPU) outputs for the flattened ``inputs`` in graph-input order."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: a for i, a in zip(sess.get_inputs(), _arrays(inputs))}
    return sess.run(None, feeds)


def roundtrip(model, example, other, tmp_path, atol=ATOL, rtol=RTOL, call=None, **kwargs):
    """Export ``model`` with ``example``; compare onnxruntime on ``other`` with nnbasics' eval output.

    ``other`` is a NumPy array or a tuple of them, of a different batch size than ``example``.
    ``call(model, tensors)`` gives nnbasics' outputs (default ``model(*tensors)``).
    Returns the ModelProto.
    """
    path = tmp_path / "model.onnx"
    modes = [m.training for m in model.modules()]
    proto = nx.export(model, example, path, **kwargs)
    assert [m.training for m in model.modules()] == modes, "export did not restore the modules' modes"
    onnx.checker.check_model(str(path), full_check=True)
    got = run_onnx(path, other)
    model.eval()
    with nb.no_grad():
        args = _tensors(other) if isinstance(other, tuple) else (nb.tensor(other),)
        ref = call(model, args) if call is not None else model(*args)
    for m, mode in zip(model.modules(), modes):
        m.train(mode)
    refs = _arrays(ref)
    assert len(got) == len(refs)
    for g, r in zip(got, refs):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, atol=atol, rtol=rtol)
    return proto


def roundtrip_batches(model, inputs, tmp_path, rng, batches=(3, 5, 1), atol=ATOL, rtol=RTOL, **kwargs):
    """Export with ``inputs(batches[0], rng)``; onnxruntime on each other batch size must match nnbasics' eval output.

    ``inputs(n, rng)`` returns the tuple of example arrays at batch size ``n``. Returns the ModelProto.
    """
    path = tmp_path / "model.onnx"
    modes = [m.training for m in model.modules()]
    proto = nx.export(model, inputs(batches[0], rng), path, **kwargs)
    assert [m.training for m in model.modules()] == modes, "export did not restore the modules' modes"
    onnx.checker.check_model(str(path), full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    for n in batches[1:]:
        xs = inputs(n, rng)
        got = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), xs)})
        with nb.no_grad():
            ref = model(*[nb.tensor(a) for a in xs])
        refs = _arrays(ref)
        assert len(got) == len(refs)
        for g, r in zip(got, refs):
            assert g.shape == r.shape, f"batch {n}: onnx {g.shape}, nnbasics {r.shape}"
            np.testing.assert_allclose(g, r, atol=atol, rtol=rtol, err_msg=f"batch {n}")
    return proto
