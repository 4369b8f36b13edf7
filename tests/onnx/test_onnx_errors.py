"""ONNX export: refusals with clear messages, argument checks, metadata, mode restoring, lazy import."""

import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
from onnx_roundtrip import roundtrip, run_onnx

import nnbasics as nb
import nnbasics.onnx as nx
from nnbasics import nn
from nnbasics.autograd import Function


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2, rng=0)

    def forward(self, x):
        return self.fc(x) * 2.0


class MyLinear(nn.Linear):
    def forward(self, x):  # changes the computation: must not be exported as a plain Linear
        return super().forward(x) + 1.0


def _mlp():
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))


class Cube(Function):
    """An op defined outside nnbasics, with no ONNX mapping."""

    def forward(self, a):
        return a ** 3

    def backward(self, g):
        raise NotImplementedError


class UsesCube(nn.Module):
    def forward(self, x):
        y = x + 1.0
        return Cube.apply(y)  # the line the refusal names


def test_custom_forward_exports(rng, tmp_path):
    net = nn.Sequential(nn.Linear(3, 3, rng=0), nn.Sequential(Custom()))
    roundtrip(net, rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32),
              tmp_path)


def test_op_without_mapping_names_the_op_the_layer_and_the_user_line(tmp_path):
    net = nn.Sequential(nn.Linear(3, 3, rng=0), nn.Sequential(UsesCube()))
    with pytest.raises(nx.UnsupportedModuleError) as e:
        nx.export(net, nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
    msg = str(e.value)
    assert "Cube" in msg and "layer '1.0'" in msg
    assert "test_onnx_errors.py" in msg and "return Cube.apply(y)  # the line the refusal names" in msg
    assert not (tmp_path / "m.onnx").exists()
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)


def test_refused_primitive_gives_its_reason(monkeypatch, tmp_path):
    from nnbasics.onnx import mapping
    from nnbasics.ops import elementwise as ew

    monkeypatch.delitem(mapping.MAPPINGS, ew.Sign)
    monkeypatch.setitem(mapping.REFUSALS, ew.Sign, "a reason that says what to do instead")
    net = nn.Sequential(nn.Linear(3, 3, rng=0))

    class M(nn.Module):
        def forward(self, x):
            return net(x).sign()
    with pytest.raises(nx.UnsupportedModuleError, match="Sign.*test_onnx_errors.py.*return net.*a reason that says"):
        nx.export(M(), nb.randn(2, 3, rng=0), tmp_path / "m.onnx")


def test_subclass_with_own_forward_exports_its_own_computation(rng, tmp_path):
    roundtrip(nn.Sequential(MyLinear(3, 2, rng=0)), rng.standard_normal((2, 3)).astype(np.float32),
              rng.standard_normal((4, 3)).astype(np.float32), tmp_path)


def test_register_converter_replaces_the_traced_ops(rng, tmp_path):
    class Double(nn.Module):
        def forward(self, x):
            return x * 2.0

    nx.register_converter(Double, lambda g, m, x, y: g.op("Add", [x.name, x.name]))
    proto = roundtrip(nn.Sequential(nn.Linear(3, 2, rng=0), Double()), rng.standard_normal((2, 3)).astype(np.float32),
                      rng.standard_normal((5, 3)).astype(np.float32), tmp_path)
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Add"]
    assert "Double" in nx.supported_types()
    with pytest.raises(TypeError, match="nnbasics Module class"):
        nx.register_converter(int, lambda *a: None)


@pytest.mark.parametrize("bad", [[[1.0, 2.0, 3.0]], "x", None, np.array([["a", "b", "c"]]), np.ones((2, 3), bool)])
def test_example_input_of_wrong_type(bad, tmp_path):
    with pytest.raises(TypeError, match="export: example_input"):
        nx.export(_mlp(), bad, tmp_path / "m.onnx")


def test_example_input_of_wrong_shape_names_the_layer(tmp_path):
    with pytest.raises(nx.OnnxExportError, match=r"layer '0' \(Linear\).*got shape \(2, 5\)"):
        nx.export(_mlp(), nb.randn(2, 5, rng=0), tmp_path / "m.onnx")
    with pytest.raises(nx.OnnxExportError, match="at least one dim"):
        nx.export(_mlp(), np.array(1.0, np.float32), tmp_path / "m.onnx")


def test_unbatched_input_exports_for_its_size_with_a_warning(rng, tmp_path):
    """Dim 0 of an unbatched image is its channels: it cannot follow a batch size, so the export says so."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0))
    with pytest.warns(nx.OnnxExportWarning, match=r"cannot stay dynamic.*batch = 1.*fails at another input size"):
        nx.export(net, nb.randn(1, 5, 5, rng=0), tmp_path / "m.onnx")
    x = rng.standard_normal((1, 5, 5)).astype(np.float32)
    (got,) = run_onnx(tmp_path / "m.onnx", x)
    np.testing.assert_allclose(got, net(nb.tensor(x)).detach().numpy(), atol=1e-5, rtol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        roundtrip(net, x, x, tmp_path, dynamic_batch=False)


def test_settings_onnx_cannot_express(tmp_path):
    class Mask(nn.Module):
        def forward(self, x):
            return x[x > 0]  # how many elements: known only from the data

    with pytest.raises(nx.OnnxExportError, match="boolean mask computed from the input"):
        nx.export(Mask(), nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
    with pytest.raises(nx.OnnxExportError, match="pools over a dim that changes with the input"):
        nx.export(nn.Sequential(nn.MaxPool2d(2)), nb.randn(2, 3, 6, 6, rng=0), tmp_path / "m.onnx",
                  dynamic_axes={"input": {0: "batch", 2: "height"}})


def test_argument_checks(tmp_path):
    x = nb.randn(2, 3, rng=0)
    with pytest.raises(TypeError, match="model must be an nnbasics Module"):
        nx.export(lambda v: v, x, tmp_path / "m.onnx")
    for opset in (12, 10_000, 17.0, True):
        with pytest.raises(ValueError, match="opset must be an int from 13"):
            nx.export(_mlp(), x, tmp_path / "m.onnx", opset=opset)
    with pytest.raises(ValueError, match="needs 1 names"):
        nx.export(_mlp(), x, tmp_path / "m.onnx", output_names=["a", "b"])
    with pytest.raises(TypeError, match="input_names must be a list"):
        nx.export(_mlp(), x, tmp_path / "m.onnx", input_names="x")
    with pytest.raises(ValueError, match="must differ"):
        nx.export(_mlp(), x, tmp_path / "m.onnx", input_names=["x"], output_names=["x"])
    with pytest.raises(TypeError, match="path must be"):
        nx.export(_mlp(), x, 3)


def test_names_metadata_initializers_and_static_batch(tmp_path):
    net = _mlp()
    path = tmp_path / "m.onnx"
    nx.export(net, nb.randn(2, 3, rng=0), path, input_names=["features"], output_names=["scores"],
              dynamic_batch=False, doc_string="two-layer tanh net")
    proto = onnx.load(str(path))
    assert proto.producer_name == "nnbasics" and proto.producer_version == nb.__version__
    assert proto.doc_string == "two-layer tanh net"
    assert {p.key: p.value for p in proto.metadata_props}["nnbasics.class"] == "Sequential"
    assert [i.name for i in proto.graph.input] == ["features"] and [o.name for o in proto.graph.output] == ["scores"]
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 3]
    assert all(i.data_type == onnx.TensorProto.FLOAT for i in proto.graph.initializer)
    assert proto.opset_import[0].version == nx.DEFAULT_OPSET


def test_float64_model_exports_float32(rng, tmp_path):
    net = nn.Sequential(nn.Linear(3, 4, rng=0, dtype="float64"), nn.Sigmoid())
    proto = roundtrip(net, rng.standard_normal((2, 3)), rng.standard_normal((5, 3)).astype(np.float32), tmp_path)
    assert proto.graph.initializer[0].data_type == onnx.TensorProto.FLOAT


def test_identity_model_and_mode_restored_after_error(tmp_path):
    roundtrip(nn.Identity(), np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), tmp_path)
    net = nn.Sequential(nn.Dropout(0.5), UsesCube())
    net.train()
    net[1].eval()
    with pytest.raises(nx.UnsupportedModuleError):
        nx.export(net, nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
    assert [m.training for m in net.modules()] == [True, True, False]


def test_failed_export_leaves_an_existing_file_unchanged(tmp_path):
    path = tmp_path / "m.onnx"
    nx.export(_mlp(), nb.randn(2, 3, rng=0), path)
    before = path.read_bytes()
    with pytest.raises(nx.UnsupportedModuleError):
        nx.export(UsesCube(), nb.randn(2, 3, rng=0), path)
    with pytest.raises(nx.OnnxExportError):
        nx.export(_mlp(), nb.randn(2, 5, rng=0), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary file left


def test_importing_nnbasics_onnx_does_not_import_onnx():
    code = "import sys, nnbasics.onnx; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_in_place_change_of_a_computed_tensor_is_refused(tmp_path):
    class Patch(nn.Module):
        def forward(self, x):
            y = x * 2.0  # the op whose result changes
            y[:, 0] = 0.0  # invisible to a graph
            return y + 1.0

    with pytest.raises(nx.OnnxExportError, match=r"Mul at test_onnx_errors.py:\d+ in forward: y = x \* 2.0.*in place"):
        nx.export(Patch(), nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
