"""nnbasics.onnx.torch_export: torch.onnx.export's arguments and semantics for nnbasics models."""

import inspect
import io

import numpy as np
import onnx
import pytest
from onnx_roundtrip import run_onnx

import nnbasics as nb
import nnbasics.onnx as nx
from nnbasics import nn


def _dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


class TwoIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2, rng=0)

    def forward(self, x, y):
        return self.fc(x) + y, x.sum(1)


def test_takes_every_argument_of_torch_onnx_export(torch):
    ours = inspect.signature(nx.torch_export).parameters
    theirs = inspect.signature(torch.onnx.export).parameters
    assert list(theirs) == list(ours)[:len(theirs)], "same names in the same order"
    for name, p in theirs.items():
        assert ours[name].kind == p.kind, name


def test_static_by_default_and_dynamic_axes_by_name(rng, tmp_path):
    x, y = nb.randn(4, 3, rng=0), nb.randn(4, 2, rng=1)
    path = tmp_path / "m.onnx"
    assert nx.torch_export(TwoIn(), (x, y), path, dynamo=False) is None
    proto = onnx.load(str(path))
    assert [_dims(i) for i in proto.graph.input] == [[4, 3], [4, 2]]  # torch: fixed unless asked
    program = nx.torch_export(TwoIn(), (x, y, {}), path, input_names=["x"], output_names=["z"],
                              dynamic_axes={"x": {0: "n"}, "input_1": {0: "n"}, "z": {0: "n"}})
    g = program.model_proto.graph
    assert [i.name for i in g.input] == ["x", "input_1"] and [o.name for o in g.output] == ["z", "output_1"]
    assert _dims(g.input[0]) == ["n", 3] and _dims(g.output[0]) == ["n", 2]
    a, b = rng.standard_normal((7, 3)).astype(np.float32), rng.standard_normal((7, 2)).astype(np.float32)
    got = run_onnx(path, (a, b))
    ref = TwoIn()(nb.tensor(a), nb.tensor(b))
    np.testing.assert_allclose(got[0], ref[0].detach().numpy(), atol=1e-5, rtol=1e-4)


def test_dynamo_program_saves_later_and_dynamic_shapes(tmp_path):
    program = nx.torch_export(TwoIn(), (nb.randn(2, 3, rng=0), nb.randn(2, 2, rng=0)),
                              dynamic_shapes={"x": {0: "batch"}, "y": {0: "batch"}})
    buf = io.BytesIO()
    program.save(buf)
    program.save(tmp_path / "m.onnx")
    proto = onnx.load_from_string(buf.getvalue())
    assert _dims(proto.graph.input[0]) == ["batch", 3]
    assert (tmp_path / "m.onnx").read_bytes() == buf.getvalue()
    assert "ONNXProgram" in repr(program)
    listed = nx.torch_export(nn.Linear(3, 2, rng=0), nb.randn(2, 3, rng=0), input_names=["x"],
                             dynamic_axes={"x": [0]})  # torch's names for listed axes
    assert _dims(listed.model_proto.graph.input[0]) == ["x_dynamic_axes_1", 3]


def test_refuses_what_it_cannot_honour(tmp_path):
    x = (nb.randn(2, 3, rng=0), nb.randn(2, 2, rng=0))
    with pytest.raises(nx.OnnxExportError, match="export_params=False"):
        nx.torch_export(TwoIn(), x, tmp_path / "m.onnx", export_params=False)
    with pytest.raises(nx.OnnxExportError, match="eval-mode"):
        nx.torch_export(TwoIn(), x, tmp_path / "m.onnx", training="TrainingMode.TRAINING")
    with pytest.raises(nx.OnnxExportError, match="keyword arguments"):
        nx.torch_export(TwoIn(), x, tmp_path / "m.onnx", kwargs={"y": x[1]})
    assert not (tmp_path / "m.onnx").exists()


def test_same_numbers_as_torch_for_the_same_weights(torch, rng, tmp_path):
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    net = nn.Sequential(nn.Linear(4, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1))
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    path = tmp_path / "m.onnx"
    nx.torch_export(net, (nb.randn(3, 4, rng=0),), path, input_names=["x"], dynamic_axes={"x": {0: "batch"}},
                    training=torch.onnx.TrainingMode.EVAL, dynamo=False)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    (got,) = run_onnx(path, x)
    np.testing.assert_allclose(got, tnet(torch.from_numpy(x)).detach().numpy(), atol=1e-5, rtol=1e-4)
