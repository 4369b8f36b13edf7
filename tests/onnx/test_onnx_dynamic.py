"""Which traced numbers stay dynamic (docs/onnx.md, "Dynamic dims"): those that change with the batch (or
another dynamic dim) by a linear rule; numbers equal to the batch by coincidence stay fixed; anything else
makes the export fall back to the example's sizes with a warning naming the line."""

import contextlib
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx_roundtrip import roundtrip_batches, run_onnx

import nnbasics as nb
import nnbasics.onnx as nx
from nnbasics import nn
from nnbasics.onnx.symbolic import Sym, design, fit


class Lambda(nn.Module):
    def __init__(self, fn, **mods):
        super().__init__()
        for k, v in mods.items():
            setattr(self, k, v)
        self.fn = fn

    def forward(self, *xs):
        return self.fn(self, *xs)


def f(*shape):
    return lambda n, rng: (rng.standard_normal((n, *shape)).astype(np.float32),)


@contextlib.contextmanager
def _strict():
    """No warning may be emitted (no fallback to a fixed batch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _ops(proto):
    return [n.op_type for n in proto.graph.node]


def _dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def test_fit_finds_linear_rules_and_rejects_the_rest():
    d = design({"batch": 3})
    assert fit([3, 4, 5], d) == Sym.of("batch")
    assert fit([12, 16, 20], d) == Sym.of("batch") * 4
    assert fit([2, 3, 4], d) == Sym.of("batch") + -1
    assert fit([7, 7, 7], d) == 7
    assert fit([1, 2, 2], d) is None  # batch // 2
    assert fit([9, 16, 25], d) is None  # batch ** 2
    d2 = design({"batch": 3, "sequence": 5})
    prod = [e["batch"] * e["sequence"] for e in d2.envs]
    assert fit(prod, d2) == Sym({("batch", "sequence"): 1})
    assert str(fit([2 * e["batch"] + e["sequence"] - 1 for e in d2.envs], d2)) == "sequence + 2*batch - 1"


def test_view_from_size_is_computed_from_the_input_shape(rng, tmp_path):
    m = Lambda(lambda s, x: x.view(x.size(0), 2, -1).sum(1))
    with _strict():
        proto = roundtrip_batches(m, f(3, 4), tmp_path, rng)
    assert "Shape" in _ops(proto)
    assert _dims(proto.graph.input[0]) == ["batch", 3, 4] and _dims(proto.graph.output[0]) == ["batch", 6]


def test_a_number_equal_to_the_batch_by_coincidence_stays_fixed(rng, tmp_path):
    """Batch 3, three channels: the 3 of view(3, -1) does not change with the batch, so it is not the batch."""
    m = Lambda(lambda s, x: x.view(3, -1) * 2.0)  # 3 rows, whatever the batch
    conv = Lambda(lambda s, x: s.c(x).reshape(x.size(0), 3, -1).mean(2), c=nn.Conv2d(3, 3, 1, rng=0))
    with _strict():
        proto = roundtrip_batches(m, f(6), tmp_path, rng, batches=(3, 6, 9))  # nnbasics gives (3, 12), (3, 18)
        roundtrip_batches(conv, f(3, 2, 2), tmp_path, rng)
    assert "Shape" not in _ops(proto)


def test_shapes_made_in_forward_follow_the_batch(rng, tmp_path):
    m = Lambda(lambda s, x: x + nb.zeros(x.shape[0], 4) + nb.ones(x.size(0), 1) * 2.0 + nb.full((1, 4), 0.5))
    rows = Lambda(lambda s, x: x[np.arange(x.shape[0]), x.argmax(1)])
    scaled = Lambda(lambda s, x: x.sum(0) / x.size(0))  # a number read from the shape
    with _strict():
        assert "Expand" in _ops(roundtrip_batches(m, f(4), tmp_path, rng))
        assert "Range" in _ops(roundtrip_batches(rows, f(4), tmp_path, rng))
        roundtrip_batches(scaled, f(4), tmp_path, rng)


def test_two_dynamic_dims_and_their_product(rng, tmp_path):
    m = Lambda(lambda s, x: s.fc(x.reshape(x.size(0) * x.size(1), -1)).reshape(x.size(0), x.size(1), 2) + 1.0,
               fc=nn.Linear(3, 2, rng=0))
    path = tmp_path / "m.onnx"
    with _strict():
        proto = nx.export(m, rng.standard_normal((3, 5, 3)).astype(np.float32), path,
                          dynamic_axes={"input": {0: "batch", 1: "time"}, "output": {0: "batch", 1: "time"}})
    assert _dims(proto.graph.input[0]) == ["batch", "time", 3] and _dims(proto.graph.output[0]) == ["batch", "time", 2]
    for shape in [(5, 11, 3), (1, 2, 3)]:
        x = rng.standard_normal(shape).astype(np.float32)
        (got,) = run_onnx(path, x)
        np.testing.assert_allclose(got, m(nb.tensor(x)).detach().numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("batch, why", [(6, "no linear rule"), (4, "fails at another input size")])
def test_a_number_with_no_rule_fixes_the_batch_and_names_the_line(batch, why, rng, tmp_path):
    m = Lambda(lambda s, x: x.view(x.size(0) // 2, -1))  # 6, 7, 8 -> 3, 3, 4; 4 -> 2, then 5 fails
    path = tmp_path / "m.onnx"
    line = r"test_onnx_dynamic.py:\d+ in <lambda>: m = Lambda\(lambda s, x: x.view\(x.size\(0\) // 2"
    with pytest.warns(nx.OnnxExportWarning, match=rf"batch = {batch}(?=.*{why})(?=.*{line})"):
        proto = nx.export(m, rng.standard_normal((batch, 3)).astype(np.float32), path)
    assert _dims(proto.graph.input[0]) == [batch, 3]  # fixed: another batch is refused instead of computed wrong
    x = rng.standard_normal((batch, 3)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(path, x)[0], m(nb.tensor(x)).detach().numpy())
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="dimensions"):
        sess.run(None, {"input": rng.standard_normal((batch + 2, 3)).astype(np.float32)})


def test_control_flow_on_the_batch_size_fixes_the_batch(rng, tmp_path):
    def fwd(s, x):
        if x.size(0) > 3:  # traced as the path taken: 4 and 5 go the other way
            return x * 2.0
        return x + 1.0
    with pytest.warns(nx.OnnxExportWarning, match=r"another path.*Mul.*Add|another path.*Add.*Mul"):
        proto = nx.export(Lambda(fwd), rng.standard_normal((3, 2)).astype(np.float32), tmp_path / "m.onnx")
    assert _dims(proto.graph.input[0]) == [3, 2]


def test_a_value_read_from_the_data_is_reported(rng, tmp_path):
    m = Lambda(lambda s, x: x / float(x.abs().max()))  # a Python number from the data: traced as a constant
    with pytest.warns(nx.OnnxExportWarning, match=r"computed from the input's values.*|other values for other inputs"):
        nx.export(m, rng.standard_normal((3, 2)).astype(np.float32), tmp_path / "m.onnx")


def test_fixed_batch_has_no_shape_computations(rng, tmp_path):
    m = Lambda(lambda s, x: x.view(x.size(0), -1) + nb.zeros(x.size(0), 6))
    with _strict():
        proto = nx.export(m, rng.standard_normal((3, 2, 3)).astype(np.float32), tmp_path / "m.onnx",
                          dynamic_batch=False)
    assert "Shape" not in _ops(proto) and _dims(proto.graph.input[0]) == [3, 2, 3]
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)


def test_dynamic_sequence_on_a_user_model(rng, tmp_path):
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 3, rng=0)
            self.gru = nn.GRU(3, 4, batch_first=True, bidirectional=True, rng=1)
            self.fc = nn.Linear(8, 5, rng=2)

        def forward(self, ids):
            out, _ = self.gru(self.emb(ids))
            return self.fc(out).log_softmax(-1)

    path = tmp_path / "m.onnx"
    with _strict():
        proto = nx.export(Tagger(), rng.integers(0, 7, size=(2, 4)), path, dynamic_sequence=True)
    assert _dims(proto.graph.input[0]) == ["batch", "sequence"]
    m = Tagger()
    for shape in [(3, 9), (1, 1)]:
        ids = rng.integers(0, 7, size=shape)
        np.testing.assert_allclose(run_onnx(path, ids)[0], m(nb.tensor(ids)).detach().numpy(), atol=1e-5, rtol=1e-4)


def test_state_inputs_at_batch_one_find_their_batch_dim(rng, tmp_path):
    """At batch 1 a (layers, batch, hidden) state of one layer has size 1 in dims 0 and 1: dim 1 is tried too."""
    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 4, batch_first=True, rng=0)

        def forward(self, x, h):
            out, h = self.gru(x, h)
            return out, h

    m = WithState()
    path = tmp_path / "m.onnx"
    with _strict():
        proto = nx.export(m, (rng.standard_normal((1, 5, 3)).astype(np.float32), np.zeros((1, 1, 4), np.float32)),
                          path)
    assert _dims(proto.graph.input[1]) == [1, "batch", 4]
    x, h = rng.standard_normal((4, 5, 3)).astype(np.float32), rng.standard_normal((1, 4, 4)).astype(np.float32)
    got = run_onnx(path, (x, h))
    ref = m(nb.tensor(x), nb.tensor(h))
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r.detach().numpy(), atol=1e-5, rtol=1e-4)
