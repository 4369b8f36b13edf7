"""ONNX export of whole models: the CNN zoo, a Conv1d net, recurrent layers and the recurrent zoo."""

import numpy as np
import pytest
from onnx_roundtrip import roundtrip

import nnbasics as nb
from nnbasics import nn
from nnbasics.models import build_model


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("kw", [{}, {"activation": "tanh", "pool": "avg", "image_size": 32}])
def test_lenet5(kw, rng, tmp_path):
    net = build_model("lenet5", rng=0, **kw)
    s = kw.get("image_size", 28)
    proto = roundtrip(net, _x(rng, 2, 1, s, s), _x(rng, 3, 1, s, s), tmp_path)
    assert sum(np.prod(i.dims) for i in proto.graph.initializer) == sum(p.numel() for p in net.parameters())


def test_lab_cnn_drops_dropout(rng, tmp_path):
    net = build_model("lab-cnn", dropout=0.3, rng=0)
    proto = roundtrip(net, _x(rng, 1, 1, 28, 28), _x(rng, 4, 1, 28, 28), tmp_path)
    assert [n.op_type for n in proto.graph.node] == ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten",
                                                     "Gemm"]
    assert {i.name for i in proto.graph.initializer} == set(net.state_dict())  # weights named by state-dict keys


def test_cnn_with_batch_norm_and_ceil_pooling(rng, tmp_path):
    net = build_model("lab-cnn-deep", batch_norm=True, hidden=32, image_size=14, rng=0)
    net.train()
    for _ in range(2):  # running statistics away from (0, 1)
        net(nb.tensor(_x(rng, 8, 1, 14, 14) * 2 + 1))
    roundtrip(net, _x(rng, 2, 1, 14, 14), _x(rng, 5, 1, 14, 14), tmp_path)
    assert net.training


def test_conv1d_model(rng, tmp_path):
    net = nn.Sequential(nn.Conv1d(2, 8, 5, padding="same", rng=0), nn.BatchNorm1d(8), nn.GELU(),
                        nn.Conv1d(8, 8, 3, stride=2, groups=4, rng=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(8 * 7, 4, rng=2), nn.LogSoftmax(dim=1))
    roundtrip(net, _x(rng, 3, 2, 16), _x(rng, 6, 2, 16), tmp_path)


def test_nested_sequential_mlp_from_zoo(rng, tmp_path):
    net = nn.Sequential(build_model("mlp", in_features=[1, 4, 4], hidden=[8, 8], out_features=3, activation="elu",
                                    dropout=0.2, rng=0), nn.Softmax(dim=-1))
    roundtrip(net, _x(rng, 2, 1, 4, 4), _x(rng, 7, 1, 4, 4), tmp_path)


def _rnn_refs(m, args):
    out = m(*args)
    return [out[0], *out[1]] if isinstance(out[1], tuple) else list(out)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers(cls, num_layers, batch_first, bidirectional, rng, tmp_path):
    m = cls(3, 5, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional, dropout=0.3, rng=0)

    def shape(n):
        return (n, 6, 3) if batch_first else (6, n, 3)
    proto = roundtrip(m, _x(rng, *shape(2)), _x(rng, *shape(4)), tmp_path, call=_rnn_refs)
    assert [o.name for o in proto.graph.output] == ["output", "h_n", "c_n"][:3 if cls is nn.LSTM else 2]
    batch = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert batch == (["batch", "", ""] if batch_first else ["", "batch", ""])


def test_rnn_relu_without_bias(rng, tmp_path):
    m = nn.RNN(3, 4, nonlinearity="relu", bias=False, rng=0)
    roundtrip(m, _x(rng, 5, 2, 3), _x(rng, 5, 3, 3), tmp_path, call=_rnn_refs)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_recurrent_with_initial_state_inputs(cls, rng, tmp_path):
    m = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, rng=0)

    def state(n):
        return _x(rng, 4, n, 4)  # (L*D, N, H)
    ex = (_x(rng, 2, 5, 3), (state(2), state(2)) if cls is nn.LSTM else state(2))
    other = (_x(rng, 3, 5, 3), (state(3), state(3)) if cls is nn.LSTM else state(3))
    proto = roundtrip(m, ex, other, tmp_path, call=_rnn_refs)
    assert [i.name for i in proto.graph.input] == ["input", "h_0", "c_0"][:3 if cls is nn.LSTM else 2]


@pytest.mark.parametrize("name", ["char-lstm", "char-gru", "char-rnn"])
def test_char_models(name, rng, tmp_path):
    lm = build_model(name, vocab_size=9, embedding_dim=4, hidden_size=6, num_layers=2, dropout=0.2, rng=0)
    ids = rng.integers(0, 9, size=(3, 7))
    proto = roundtrip(lm, rng.integers(0, 9, size=(2, 7)), ids, tmp_path, call=_rnn_refs)
    assert proto.graph.output[0].name == "logits"
    assert proto.graph.input[0].type.tensor_type.elem_type == 7  # int64 ids


def test_char_lstm_carries_state_across_calls(rng, tmp_path):
    lm = build_model("char-lstm", vocab_size=5, embedding_dim=3, hidden_size=4, rng=0)
    h = _x(rng, 1, 2, 4)
    roundtrip(lm, (rng.integers(0, 5, size=(2, 1)), (h, h)), (rng.integers(0, 5, size=(1, 1)), (h[:, :1], h[:, 1:])),
              tmp_path, call=_rnn_refs)


@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sequence_classifier(pooling, cell, rng, tmp_path):
    m = build_model("sequence-classifier", num_classes=3, vocab_size=10, embedding_dim=4, hidden_size=5,
                    num_layers=2, cell=cell, pooling=pooling, rng=0)
    roundtrip(m, rng.integers(1, 10, size=(2, 6)), rng.integers(1, 10, size=(4, 6)), tmp_path)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_sequence_classifier_with_lengths(pooling, rng, tmp_path):
    m = build_model("sequence-classifier", num_classes=3, input_size=2, hidden_size=5, pooling=pooling, rng=0)
    x = _x(rng, 4, 6, 2)
    lengths = np.array([6, 1, 3, 4])
    x[np.arange(6)[None, :] >= lengths[:, None]] = 9.0  # padding must not matter
    proto = roundtrip(m, (_x(rng, 2, 6, 2), np.array([2, 6])), (x, lengths), tmp_path)
    assert [i.name for i in proto.graph.input] == ["input", "lengths"]


def test_dynamic_sequence_length(rng, tmp_path):
    lm = build_model("char-gru", vocab_size=6, embedding_dim=3, hidden_size=4, num_layers=2, rng=0)
    proto = roundtrip(lm, rng.integers(0, 6, size=(2, 5)), rng.integers(0, 6, size=(3, 9)), tmp_path,
                      call=_rnn_refs, dynamic_sequence=True)
    assert [d.dim_param for d in proto.graph.output[0].type.tensor_type.shape.dim] == ["batch", "sequence", ""]
    m = nn.LSTM(3, 4, bidirectional=True, rng=0)
    roundtrip(m, _x(rng, 5, 2, 3), _x(rng, 8, 3, 3), tmp_path, call=_rnn_refs, dynamic_sequence=True)
    clf = build_model("sequence-classifier", num_classes=2, vocab_size=5, embedding_dim=3, hidden_size=4,
                      pooling="mean", rng=0)
    roundtrip(clf, rng.integers(1, 5, size=(2, 4)), rng.integers(1, 5, size=(3, 7)), tmp_path, dynamic_sequence=True)
    with pytest.raises(ValueError, match="dynamic_sequence=True is for recurrent models"):
        roundtrip(nn.Sequential(nn.Linear(3, 2, rng=0)), _x(rng, 2, 3), _x(rng, 2, 3), tmp_path, dynamic_sequence=True)
