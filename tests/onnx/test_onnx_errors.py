"""ONNX export: refusals with clear messages, argument checks, metadata, mode restoring, lazy import."""

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx_roundtrip import roundtrip

import nnbasics as nb
import nnbasics.onnx as nx
from nnbasics import nn


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


def test_unsupported_module_names_type_path_and_supported_list(tmp_path):
    net = nn.Sequential(nn.Linear(3, 3, rng=0), nn.Sequential(Custom()))
    with pytest.raises(nx.UnsupportedModuleError, match=r"Custom at '1\.0' with its own forward") as e:
        nx.export(net, nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
    msg = str(e.value)
    assert "Conv2d" in msg and "LSTM" in msg and "register_converter" in msg
    assert not (tmp_path / "m.onnx").exists()
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)


def test_subclass_with_own_forward_is_refused(tmp_path):
    with pytest.raises(nx.UnsupportedModuleError, match="MyLinear"):
        nx.export(nn.Sequential(MyLinear(3, 2, rng=0)), nb.randn(2, 3, rng=0), tmp_path / "m.onnx")


def test_register_converter_adds_a_layer(rng, tmp_path):
    class Double(nn.Module):
        def forward(self, x):
            return x * 2.0

    nx.register_converter(Double, lambda g, m, x, y: g.op("Mul", [x.name, g.const(2.0)]))
    roundtrip(nn.Sequential(nn.Linear(3, 2, rng=0), Double()), rng.standard_normal((2, 3)).astype(np.float32),
              rng.standard_normal((5, 3)).astype(np.float32), tmp_path)
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


def test_unbatched_conv_and_unsupported_settings(tmp_path):
    with pytest.raises(nx.OnnxExportError, match="batched input of 4 dims"):
        nx.export(nn.Sequential(nn.Conv2d(1, 2, 3, rng=0)), nb.randn(1, 5, 5, rng=0), tmp_path / "m.onnx")
    with pytest.raises(nx.OnnxExportError, match="track_running_stats=False"):
        nx.export(nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False)), nb.randn(4, 3, rng=0), tmp_path / "a")
    with pytest.raises(nx.OnnxExportError, match="unequal"):
        nx.export(nn.Sequential(nn.AdaptiveAvgPool2d(3)), nb.randn(1, 2, 7, 7, rng=0), tmp_path / "b")
    with pytest.raises(nx.OnnxExportError, match="batched 3-D"):
        nx.export(nn.LSTM(3, 4, rng=0), nb.randn(5, 3, rng=0), tmp_path / "c")


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
    net = nn.Sequential(nn.Dropout(0.5), Custom())
    net.train()
    net[1].eval()
    with pytest.raises(nx.UnsupportedModuleError):
        nx.export(net, nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
    assert [m.training for m in net.modules()] == [True, True, False, False]


def test_importing_nnbasics_onnx_does_not_import_onnx():
    code = "import sys, nnbasics.onnx; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
