"""ONNX export layer by layer: each converter against nnbasics' eval output, on another batch size."""

import numpy as np
import pytest
from onnx_roundtrip import roundtrip

import nnbasics as nb
from nnbasics import nn

ACTIVATIONS = [
    nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.SELU(), nn.CELU(1.3),
    nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(), nn.Mish(), nn.Softplus(), nn.Softplus(beta=2.0, threshold=3.0),
    nn.Softsign(), nn.Hardtanh(-0.5, 0.8), nn.ReLU6(), nn.Hardsigmoid(), nn.PReLU(), nn.PReLU(7, init=0.1),
    nn.Step(at_zero=0.5), nn.Maxout(7), nn.Softmax(dim=-1), nn.LogSoftmax(dim=1), nn.Identity(),
]


def _x(rng, *shape, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_mlp_with_every_activation(opset, rng, tmp_path):
    layers = []
    for k, act in enumerate(ACTIVATIONS):
        layers += [nn.Linear(7, 7 if not isinstance(act, nn.Maxout) else 49, rng=k), act]
    net = nn.Sequential(*layers, nn.Linear(7, 3, rng=99))
    proto = roundtrip(net, _x(rng, 2, 7), _x(rng, 6, 7), tmp_path, opset=opset)
    ops = {n.op_type for n in proto.graph.node}
    assert ("Gelu" in ops) == (opset >= 20)
    assert "Softplus" in ops and "Tanh" in ops  # Mish = x tanh(softplus(x)), traced as its three ops


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda m: repr(m))
def test_each_activation_alone_on_wide_inputs(act, rng, tmp_path):
    # GELU with erf (opset 17 lowering and onnxruntime's Erf) agrees with nnbasics to ~1e-7 here: no looser tolerance
    shape = (5, 49) if isinstance(act, nn.Maxout) else (5, 7)
    x = _x(rng, *shape, scale=6.0)
    x[0, 0] = 0.0
    x[1, 1] = 30.0  # Softplus's linear region
    roundtrip(nn.Sequential(act), _x(rng, 3, *shape[1:]), x, tmp_path)


def test_prelu_per_channel_on_images(rng, tmp_path):
    net = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.PReLU(3, init=0.2))
    net[1].weight._array[:] = [0.1, -0.3, 0.7]
    roundtrip(net, _x(rng, 2, 2, 6, 5), _x(rng, 4, 2, 6, 5), tmp_path)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_on_3d_input_is_matmul_add(bias, rng, tmp_path):
    net = nn.Sequential(nn.Linear(5, 3, bias=bias, rng=0))
    proto = roundtrip(net, _x(rng, 2, 4, 5), _x(rng, 3, 4, 5), tmp_path)
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Add"][:1 + bias]


@pytest.mark.parametrize("kw", [
    {"padding": 1}, {"padding": "same"}, {"padding": "same", "kernel_size": 4}, {"stride": 2, "padding": 2},
    {"dilation": 2, "padding": (1, 3)}, {"groups": 2}, {"groups": 4, "bias": False}, {"stride": (2, 1)},
])
def test_conv2d_options(kw, rng, tmp_path):
    kw = {"kernel_size": 3, **kw}
    net = nn.Sequential(nn.Conv2d(4, 8, rng=0, **kw))
    roundtrip(net, _x(rng, 2, 4, 9, 7), _x(rng, 3, 4, 9, 7), tmp_path)


@pytest.mark.parametrize("kw", [{"padding": "same", "kernel_size": 4}, {"stride": 2, "dilation": 2}, {"groups": 3}])
def test_conv1d_options(kw, rng, tmp_path):
    kw = {"kernel_size": 3, **kw}
    net = nn.Sequential(nn.Conv1d(3, 6, rng=0, **kw))
    roundtrip(net, _x(rng, 2, 3, 11), _x(rng, 5, 3, 11), tmp_path)


@pytest.mark.parametrize("kw", [
    {"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "ceil_mode": True}, {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, {"kernel_size": 2, "dilation": 2},
    {"kernel_size": (3, 2), "stride": (2, 3), "ceil_mode": True},
])
def test_maxpool(kw, rng, tmp_path):
    roundtrip(nn.Sequential(nn.MaxPool2d(**kw)), _x(rng, 2, 3, 8, 7), _x(rng, 3, 3, 8, 7), tmp_path)


@pytest.mark.parametrize("kw", [
    {"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1}, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 2, "divisor_override": 3}, {"kernel_size": 3, "stride": 2, "ceil_mode": True, "divisor_override": 5},
])
def test_avgpool(kw, rng, tmp_path):
    roundtrip(nn.Sequential(nn.AvgPool2d(**kw)), _x(rng, 2, 3, 8, 7), _x(rng, 3, 3, 8, 7), tmp_path)


@pytest.mark.parametrize("out", [1, (1, 1), (2, 7), (4, None)])
def test_adaptive_avgpool(out, rng, tmp_path):
    proto = roundtrip(nn.Sequential(nn.AdaptiveAvgPool2d(out)), _x(rng, 2, 3, 8, 7), _x(rng, 3, 3, 8, 7), tmp_path)
    ops = [n.op_type for n in proto.graph.node]
    assert ops == (["GlobalAveragePool"] if out in (1, (1, 1)) else ["AveragePool"])


@pytest.mark.parametrize("keepdim", [False, True])
def test_global_avgpool(keepdim, rng, tmp_path):
    roundtrip(nn.Sequential(nn.GlobalAvgPool2d(keepdim)), _x(rng, 2, 3, 5, 4), _x(rng, 4, 3, 5, 4), tmp_path)


def _trained_bn(bn, rng, shape):
    bn.train()
    for _ in range(3):
        bn(nb.tensor(_x(rng, *shape) + 2.0))
    return bn


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_uses_running_statistics(affine, rng, tmp_path):
    bn2 = _trained_bn(nn.BatchNorm2d(3, affine=affine, eps=1e-3), rng, (4, 3, 5, 5))
    if affine:
        bn2.weight._array[:] = [0.5, 2.0, -1.0]
        bn2.bias._array[:] = [0.1, 0.2, 0.3]
    net = nn.Sequential(bn2, nn.Flatten(), nn.Linear(75, 6, rng=0), _trained_bn(nn.BatchNorm1d(6), rng, (4, 6)))
    net.train()  # export switches to eval and back
    roundtrip(net, _x(rng, 2, 3, 5, 5), _x(rng, 5, 3, 5, 5), tmp_path)
    assert net.training and net[0].training


def test_batchnorm1d_on_sequences(rng, tmp_path):
    bn = _trained_bn(nn.BatchNorm1d(3), rng, (4, 3, 6))
    roundtrip(nn.Sequential(bn), _x(rng, 2, 3, 6), _x(rng, 5, 3, 6), tmp_path)


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("kw", [{"normalized_shape": 5}, {"normalized_shape": (4, 5), "bias": False},
                                {"normalized_shape": 5, "elementwise_affine": False}])
def test_layernorm(kw, opset, rng, tmp_path):
    ln = nn.LayerNorm(**kw)
    if ln.weight is not None:
        ln.weight._array[...] = rng.standard_normal(ln.weight.shape)
    if ln.bias is not None:
        ln.bias._array[...] = rng.standard_normal(ln.bias.shape)
    proto = roundtrip(nn.Sequential(ln), _x(rng, 2, 4, 5), _x(rng, 3, 4, 5), tmp_path, opset=opset)
    assert ("LayerNormalization" in {n.op_type for n in proto.graph.node}) == (opset >= 17)


@pytest.mark.parametrize("dims", [(1, -1), (2, 3), (1, 2), (0, -1), (0, 1)])
def test_flatten_ranges(dims, rng, tmp_path):
    net = nn.Sequential(nn.Flatten(*dims))
    roundtrip(net, _x(rng, 2, 3, 4, 5), _x(rng, 3, 3, 4, 5), tmp_path)


def test_unflatten_and_dropout_removed(rng, tmp_path):
    net = nn.Sequential(nn.Linear(6, 12, rng=0), nn.Dropout(0.5, rng=0), nn.Unflatten(1, (3, 4)), nn.Dropout2d(0.3),
                        nn.AlphaDropout(0.2), nn.Flatten())
    proto = roundtrip(net, _x(rng, 2, 6), _x(rng, 7, 6), tmp_path)
    assert not any("Dropout" in n.op_type for n in proto.graph.node)


def test_classic_dropout_scales_in_eval(rng, tmp_path):
    net = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Dropout(0.25, scaling="classic"))
    roundtrip(net, _x(rng, 2, 4), _x(rng, 3, 4), tmp_path)


def test_embedding_gather(rng, tmp_path):
    net = nn.Sequential(nn.Embedding(11, 4, padding_idx=0, rng=0), nn.Flatten(), nn.Linear(12, 2, rng=1))
    ids = rng.integers(0, 11, size=(5, 3))
    proto = roundtrip(net, rng.integers(0, 11, size=(2, 3)), ids, tmp_path)
    assert proto.graph.node[0].op_type == "Gather"
