"""Masks and indices computed from the input's values stay computed in the exported graph.

Found by the audit of issue 16: ``~(x == 0)`` (a padding mask), ``a & b``, ``x // k``, ``floor``,
``isnan``, ``one_hot`` and the indices of ``sort``/``topk`` were not recorded by the trace, so
their values on the example input were written into the file as constants. With an example
without padding, the exported model ignored padding forever, silently (no warning; 2.6 off).
"""

import re
import warnings

import numpy as np
import onnx
import pytest
from onnx_roundtrip import run_onnx

import nnbasics as nb
import nnbasics.functional as F
import nnbasics.onnx as nx
from nnbasics import nn
from nnbasics.onnx import UnsupportedModuleError

MASKS = {
    "invert": lambda x, h: ~(x == 0),
    "and": lambda x, h: (x != 0) & (x != 5),
    "or": lambda x, h: (x > 6) | (x == 0),
    "xor": lambda x, h: (x == 1) ^ (x == 0),
    "logical_not": lambda x, h: nb.logical_not(x),
    "floor_divide": lambda x, h: (x // 4) == 0,
    "floor": lambda x, h: (h[..., 0] * 3).floor() > 0,
    "isfinite": lambda x, h: (h[..., 0] / (x != 0).float()).isfinite(),
    "one_hot": lambda x, h: F.one_hot(x, 12)[..., 0] == 0,
    "topk": lambda x, h: h.topk(2, dim=-1).indices[..., 0] == 1,
    "argsort": lambda x, h: h[..., 0].argsort(1) > 2,
    "any": lambda x, h: (h > 0.5).any(-1) | (x == 0).any(1, keepdim=True),
    "all": lambda x, h: (h > -0.5).all(dim=2) & x.all(1, keepdim=True) & x.bool().all(),
}


class Masked(nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.mask = mask
        self.emb = nn.Embedding(12, 4, rng=1)

    def forward(self, x):
        h = self.emb(x)
        keep = self.mask(x, h)
        return (h * keep.unsqueeze(-1).float()).sum(1)


@pytest.mark.parametrize("opset", [nx.MIN_OPSET, onnx.defs.onnx_opset_version()])
@pytest.mark.parametrize("name", sorted(MASKS))
def test_a_mask_made_from_the_input_is_computed_in_the_graph(name, opset, tmp_path):
    example = np.random.default_rng(0).integers(1, 5, (3, 6))  # no padding (0) in the example
    other = np.array([[0, 0, 3, 5, 1, 2], [1, 2, 3, 4, 0, 5], [7, 0, 9, 11, 0, 0], [6, 6, 6, 8, 0, 10]])
    model = Masked(MASKS[name]).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either: the batch stays dynamic
        nx.export(model, example, tmp_path / "m.onnx", opset=opset)
    with nb.no_grad(), np.errstate(divide="ignore", invalid="ignore"):
        ref = model(nb.tensor(other)).numpy()
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", other)[0], ref, atol=1e-6)


def test_bitwise_ops_of_integers_need_opset_18(tmp_path):
    model = Masked(lambda x, h: (x & 1) == 1).eval()
    example = np.random.default_rng(0).integers(0, 12, (3, 6))
    with pytest.raises(UnsupportedModuleError, match="opset 18"):
        nx.export(model, example, tmp_path / "m.onnx", opset=17)
    nx.export(model, example, tmp_path / "m.onnx", opset=18)
    other = np.arange(24).reshape(4, 6) % 12
    with nb.no_grad():
        ref = model(nb.tensor(other)).numpy()
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", other)[0], ref, atol=1e-6)


def test_indices_computed_in_numpy_are_refused_not_frozen(tmp_path):
    model = Masked(lambda x, h: h.mode(-1).indices == 1).eval()
    with pytest.raises(UnsupportedModuleError, match="data_index"):
        nx.export(model, np.random.default_rng(0).integers(0, 12, (3, 6)), tmp_path / "m.onnx")


class Branchy(nn.Module):
    def __init__(self, read):
        super().__init__()
        self.read = read
        self.fc = nn.Linear(4, 3, rng=0)

    def forward(self, x):
        y = self.fc(x)
        return self.read(self, x, y)


@pytest.mark.parametrize("read, how", [
    (lambda m, x, y: y if x.sum() > 0 else -y, "bool()"),          # every example input took the same branch
    (lambda m, x, y: y * (2.0 if (x > 0).all() else 1.0), "bool()"),
    (lambda m, x, y: y[:, : int(x.abs().argmax(1)[0]) + 1], "item()"),
    (lambda m, x, y: y + x.tolist()[0][0], "tolist()"),
])
def test_python_reading_a_value_from_the_input_warns_with_the_line(read, how, tmp_path):
    """Found by the audit (issue 16): ``if x.sum() > 0:`` in forward exported one branch with no warning
    (torch's tracer warns); a positive example took it every time, so no trace could tell."""
    example = np.abs(np.random.default_rng(0).standard_normal((3, 4))).astype(np.float32) + 0.1
    with pytest.warns(nx.OnnxExportWarning, match=rf"test_onnx_input_masks.py:\d+ .*{re.escape(how)} read a value"):
        nx.export(Branchy(read).eval(), example, tmp_path / "m.onnx", dynamic_batch=False)


def test_reading_a_parameter_or_a_shape_does_not_warn(tmp_path):
    def read(m, x, y):
        scale = 2.0 if m.fc.weight.sum() > -100 else 1.0   # a parameter: the same for every input
        return y * scale if x.shape[0] > 0 else y

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nx.export(Branchy(read).eval(), np.ones((3, 4), np.float32), tmp_path / "m.onnx")


class Bounded(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3, rng=0)

    def forward(self, x):
        y = self.fc(x)
        return y.clamp(min=x[:, :3], max=x[:, 1:] + 1.0) + y.index_select(1, (x[0, :2] > 0).long()).sum(1, keepdim=True)


def test_tensor_bounds_and_computed_indices_follow_the_input(tmp_path):
    """clamp(min=tensor) raised a raw ValueError in the exporter; index_select with an index computed
    from the input froze the example's index (both found by the audit)."""
    example = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nx.export(Bounded().eval(), example, tmp_path / "m.onnx")
    for other in (np.random.default_rng(1).standard_normal((5, 4)), -np.abs(np.random.default_rng(2).random((2, 4)))):
        other = other.astype(np.float32)
        with nb.no_grad():
            ref = Bounded().eval()(nb.tensor(other)).numpy()
        np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", other)[0], ref, atol=1e-6)


@pytest.mark.parametrize("forward", [lambda x: nb.nonzero(x > 0).float().sum() + x,
                                     lambda x: nb.where(x > 0)[1].float().sum() + x])
def test_nonzero_of_a_computed_mask_is_refused_not_frozen(forward, tmp_path):
    model = Branchy(lambda m, x, y: forward(y)).eval()
    with pytest.raises(UnsupportedModuleError, match="nonzero"):
        nx.export(model, np.ones((3, 4), np.float32), tmp_path / "m.onnx", dynamic_batch=False)


_EVAL_DROPOUT = nn.Dropout(0.5).eval()  # built outside forward: building a layer draws its weights


@pytest.mark.parametrize("draw, warns", [
    (lambda m, x, y: F.dropout(y, 0.5), True),                    # F.dropout's default is training=True
    (lambda m, x, y: y + nb.randn_like(y), True),
    (lambda m, x, y: F.dropout(y, 0.5, m.training), False),       # eval mode at export: no draw
    (lambda m, x, y: _EVAL_DROPOUT(y), False),
])
def test_a_random_draw_in_forward_warns(draw, warns, tmp_path):
    """Found by the audit (issue 16): F.dropout(y, 0.5) in forward (training=True by default, as torch) drew a
    mask at export, frozen into the file as a constant; with a fixed batch, silently."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        nx.export(Branchy(draw).eval(), np.ones((3, 4), np.float32), tmp_path / "m.onnx", dynamic_batch=False)
    messages = [str(w.message) for w in seen if issubclass(w.category, nx.OnnxExportWarning)]
    assert any("draws random numbers" in m and "test_onnx_input_masks.py" in m for m in messages) == warns, messages
