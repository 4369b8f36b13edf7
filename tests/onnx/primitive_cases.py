"""One small model per primitive (and per variant of its settings), for the ONNX export tests.

``CASES`` maps a case id to ``(forward, inputs, params)``: ``forward(m, *xs)`` uses the op,
``inputs(n, rng)`` makes the example arrays at batch size ``n``, ``params`` are the
module's Parameters/sub-modules. test_onnx_primitives.py exports each at batch 3 and runs
it in onnxruntime at batches 5 and 1; test_onnx_coverage.py checks that together they run
every primitive that has a mapping.
"""

import numpy as np

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn, ops
from nnbasics.nn.parameter import Parameter
from nnbasics.ops import activation as act
from nnbasics.ops import conv as cv
from nnbasics.ops import loss as ls
from nnbasics.ops import recurrent as rc


class Fn(nn.Module):
    """A module whose forward is ``fn(self, *inputs)``."""

    def __init__(self, fn, **params):
        super().__init__()
        for k, v in params.items():
            setattr(self, k, v)
        self.fn = fn

    def forward(self, *xs):
        return self.fn(self, *xs)


def _p(rng_seed, *shape, scale=1.0):
    return Parameter(np.random.default_rng(rng_seed).standard_normal(shape).astype(np.float32) * scale)


def f(*shape, scale=2.0):
    """inputs(n, rng): one float array (n, *shape)."""
    return lambda n, rng: (rng.standard_normal((n, *shape)).astype(np.float32) * scale,)


def pos(*shape):
    return lambda n, rng: (np.abs(rng.standard_normal((n, *shape))).astype(np.float32) + 0.1,)


def ids(high, *shape):
    return lambda n, rng: (rng.integers(0, high, size=(n, *shape)),)


def both(a, b):
    return lambda n, rng: a(n, rng) + b(n, rng)


def _lstm_direct(m, x):  # the fused op called directly, reverse, with given states
    t = x.transpose(0, 1)  # (T, N, I)
    h0 = nb.ops.tanh(m.h(x[:, 0]))  # (N, H), computed from the input
    out = rc.lstm_layer(t, h0, h0 * 0.5, m.w_ih, m.w_hh, m.b_ih, m.b_hh, reverse=True)
    return out.transpose(0, 1)


def _gru_direct(m, x):
    t = x.transpose(0, 1)
    h0 = nb.zeros(x.shape[0], 4)
    return rc.gru_layer(t, h0, m.w_ih, m.w_hh, reverse=True).transpose(0, 1)


def _rnn_direct(m, x):
    t = x.transpose(0, 1)
    h0 = nb.ops.tanh(m.h(x[:, 0]))
    return rc.rnn_layer(t, h0, m.w_ih, m.w_hh, m.b_ih, m.b_hh, nonlinearity="relu").transpose(0, 1)


def _bn_trained(cls, c, shape, **kw):
    bn = cls(c, **kw)
    bn.train()
    r = np.random.default_rng(5)
    for _ in range(3):
        bn(nb.tensor(r.standard_normal((4, c, *shape)).astype(np.float32) * 2 + 1))
    return bn


CASES = {
    # ----------------------------------------------------------------- elementwise
    "add-const": (lambda m, x: x + 1.5, f(4), {}),
    "add-param-broadcast": (lambda m, x: x + m.b, f(3, 4), {"b": _p(0, 4)}),
    "sub-rsub": (lambda m, x: 2.0 - x - m.b, f(4), {"b": _p(1, 4)}),
    "mul": (lambda m, x: x * x * 3.0, f(4), {}),
    "div": (lambda m, x: x / m.b + 1.0 / (x * x + 1.0), f(4), {"b": _p(2, 4)}),
    "int-arith": (lambda m, i: (i * 2 + 1 - i).float() * 0.5, ids(7, 5), {}),
    "int-float-mix": (lambda m, i: i + 0.5, ids(7, 5), {}),
    "int-div": (lambda m, i: i / 2, ids(7, 5), {}),
    "neg-exp-log-sqrt": (lambda m, x: -ops.exp(x) + ops.log(x) + ops.sqrt(x), pos(4), {}),
    "abs-sign": (lambda m, x: ops.abs(x) * ops.sign(x), f(4), {}),
    "trig": (lambda m, x: x.sin() + x.cos() + x.tan() + x.atan() + x.sinh() + x.cosh(), f(4), {}),
    "asin-acos": (lambda m, x: (x * 0.1).asin() + (x * 0.1).acos(), f(4), {}),
    "log1p-expm1": (lambda m, x: (x * x).log1p() + x.expm1(), f(4), {}),
    "cumsum-prod": (lambda m, x: x.cumsum(1) + x.prod(1, keepdim=True) + x.prod(), f(4), {}),
    "tanh-sigmoid": (lambda m, x: ops.tanh(x) + ops.sigmoid(x), f(4, scale=5.0), {}),
    "relu": (lambda m, x: ops.relu(x), f(4), {}),
    "relu-int": (lambda m, i: ops.relu(i - 3), ids(7, 5), {}),
    "pow-scalar": (lambda m, x: x ** 2 + x ** 3 + ops.abs(x) ** 0.5, f(4), {}),
    "pow-int": (lambda m, i: i ** 2, ids(7, 5), {}),
    "pow-tensor": (lambda m, x: x ** m.e, pos(4), {"e": _p(3, 4)}),
    "max-min": (lambda m, x: ops.maximum(x, m.b) - ops.minimum(x, 0.25), f(4), {"b": _p(4, 4)}),
    "where": (lambda m, x: ops.where(x > 0, x, x * 0.1), f(4), {}),
    "where-const-cond": (lambda m, x: ops.where(np.array([True, False, True, False]), x, -x), f(4), {}),
    "clip": (lambda m, x: ops.clip(x, -0.5, 0.7) + ops.clip(x, min=0.2), f(4), {}),
    "clip-int": (lambda m, i: ops.clip(i, 2, 4), ids(7, 5), {}),
    "cast-float": (lambda m, x: (x.double() * 2.0).float(), f(4), {}),
    "clone": (lambda m, x: x.clone() * 2.0 + x.t().contiguous().t(), f(4), {}),
    "cast-int-bool": (lambda m, x: (x > 0).long() * 3 + (x * 2.0).long() + x.bool().long(), f(4), {}),
    "compare": (lambda m, x: ((x < 0.5).float() + (x <= 0.5).float() + (x > m.b).float() + (x >= 0.0).float()
                              + (x == ops.abs(x)).float() + (x != 0.0).float()), f(4), {"b": _p(5, 4)}),
    "compare-int": (lambda m, i: (i > 3).long() + (i == 2).long(), ids(7, 5), {}),
    "argmax": (lambda m, x: x.argmax(1) + x.argmin(1, keepdim=True)[:, 0] * 10 + x.argmax() * 0, f(6), {}),
    # values computed from the input without a gradient (ops_discrete.py): never constants of the example
    "logical": (lambda m, x: ((~(x > 0) | (x < -1)) ^ ((x > 1) & (x < 2))).float(), f(4), {}),
    "logical-functions": (lambda m, i: (nb.logical_and(i, i - 3) | nb.logical_or(i - 1, i - 2)
                                        ^ nb.logical_xor(i, i - 4) & nb.logical_not(i - 5)).long(), ids(7, 5), {}),
    "floor-divide": (lambda m, x, i: (x // 0.7) + ((i - 3) // 2 + (3 - i) // -2 + (i - 3) // (i + 1)).float(),
                     both(f(5), ids(7, 5)), {}),
    "rounding": (lambda m, x: x.floor() + x.ceil() * 2 + x.round() * 3 + x.trunc() * 4 + x.round(decimals=1),
                 f(4, scale=3.0), {}),
    "any-all": (lambda m, x: (x > 0).any(1, keepdim=True).float() + (x > -1).all(1).unsqueeze(1).float()
                + x.any().float() + (x > 0).all((0, 1)).float(), f(4), {}),
    "predicates": (lambda m, x: (x.isnan() | x.isinf()).float() + x.isfinite().float() * 2, f(4), {}),
    "one-hot": (lambda m, i: F.one_hot(i, 7) * 2, ids(7, 5), {}),
    "sort-topk": (lambda m, x: x.sort(1).values + x.sort(1, descending=True).indices.float()
                  + x.topk(2, 1).values.sum(1, keepdim=True) + x.kthvalue(2, 1, keepdim=True).values
                  + x.median(1, keepdim=True).values + x.argsort(0).float() + x.max(1).indices.unsqueeze(1),
                  f(6), {}),
    # ----------------------------------------------------------------- activations
    "erf": (lambda m, x: act.erf(x), f(4), {}),
    "step": (lambda m, x: F.step(ops.where(x > 1.0, x * 0.0, x), at_zero=0.5), f(4), {}),
    "leaky": (lambda m, x: F.leaky_relu(x, 0.2), f(4), {}),
    "elu-selu-celu": (lambda m, x: F.elu(x, 0.7) + F.selu(x) + F.celu(x, 1.3) + act.elu(x, 0.5, 2.0, 3.0), f(4), {}),
    "gelu": (lambda m, x: F.gelu(x) + F.gelu(x, approximate="tanh"), f(4), {}),
    "softplus": (lambda m, x: F.softplus(x) + F.softplus(x, beta=2.0, threshold=3.0), f(4, scale=8.0), {}),
    "hardtanh": (lambda m, x: F.hardtanh(x, -0.5, 0.8) + F.relu6(x * 4), f(4), {}),
    # -------------------------------------------------------------------- reductions
    "sum-mean": (lambda m, x: x.sum(1) + x.mean(dim=(1, 2)).reshape(-1, 1) + x.sum(2, keepdim=True)[:, 0],
                 f(3, 4), {}),
    "max-min-reduce": (lambda m, x: x.amax(1) + x.amin(2).sum(1, keepdim=True) + x.max(), f(3, 4), {}),
    "max-min-dim": (lambda m, x: x.max(1).values + x.min(2, keepdim=True).values.sum(1), f(3, 4), {}),
    "sum-all-int": (lambda m, i: i.sum() + (i > 3).sum(1), ids(7, 5), {}),
    "logsumexp": (lambda m, x: x.logsumexp(1) + x.logsumexp(2, keepdim=True)[:, 0], f(3, 4, scale=30.0), {}),
    "softmax": (lambda m, x: F.softmax(x, dim=1) + F.log_softmax(x, dim=-1), f(3, 4), {}),
    # ---------------------------------------------------------------------- linalg
    "matmul": (lambda m, x: x @ m.w + ops.matmul(x, x.transpose(1, 2)).sum(2, keepdim=True), f(3, 4),
               {"w": _p(6, 4, 2)}),
    "matmul-vec": (lambda m, x: x @ m.v, f(4), {"v": _p(7, 4)}),
    "linear-2d-3d": (lambda m, x: m.fc(x).sum(1) + m.fc(x[:, 0]) + F.linear(x[:, 1], m.fc.weight),
                     f(3, 4), {"fc": nn.Linear(4, 2, rng=0)}),
    # -------------------------------------------------------------------- movement
    "view-batch": (lambda m, x: x.view(x.size(0), -1) + x.reshape(-1, 12), f(3, 4), {}),
    "reshape-split-dims": (lambda m, x: x.reshape(x.shape[0], 2, 6).sum(1), f(3, 4), {}),
    "permute-transpose": (lambda m, x: x.permute(0, 2, 1).reshape(x.size(0), -1) + x.transpose(1, 2).flatten(1),
                          f(3, 4), {}),
    "expand": (lambda m, x: x[:, :1].expand(-1, 5) + m.b.expand(x.shape[0], 5), f(4), {"b": _p(8, 5)}),
    "getitem-basic": (lambda m, x: x[:, 1:3, ::2] + x[:, -1:, :5:2] * x[..., None, 0, :2].sum(), f(4, 5), {}),
    "getitem-negative-step": (lambda m, x: x[:, ::-1] + x[:, 3::-2].sum(1, keepdim=True), f(6), {}),
    "getitem-int-none": (lambda m, x: x[:, 0, None] + x[:, -1][:, None], f(3, 4), {}),
    "getitem-dynamic-slice": (lambda m, x: x[: x.size(0) - 1].sum(0) + x[x.size(0) - 1], f(4), {}),
    "getitem-array": (lambda m, x: x[:, np.array([2, 0, 2])] + x[:, [1, 1, 0]], f(4), {}),
    "getitem-rows-cols": (lambda m, x: x[np.arange(x.shape[0]), x.argmax(1)], f(4), {}),
    "getitem-two-arrays": (lambda m, x: x[:, np.array([0, 2]), np.array([[1], [3]])], f(3, 4), {}),
    "getitem-bool-const": (lambda m, x: x[:, np.array([True, False, True, True])], f(4), {}),
    "cat-stack": (lambda m, x: ops.cat([x, x * 2.0], dim=1) + ops.stack([x, x], dim=1).flatten(1), f(4), {}),
    "pad": (lambda m, x: x.pad(((0, 0), (2, 1), (0, 3)), value=0.5), f(3, 4), {}),
    "gather": (lambda m, x: x.gather(1, x.argmax(1, keepdim=True)) + ops.take_along_axis(x, np.zeros((1, 2), int), 1),
               f(4), {}),
    # ---------------------------------------------------------------------- layers
    "conv2d": (lambda m, x: m.c(x), f(2, 7, 6), {"c": nn.Conv2d(2, 4, 3, stride=(2, 1), padding=(1, 2), rng=0)}),
    "conv2d-groups-dilation": (lambda m, x: m.c(x), f(4, 7, 6),
                               {"c": nn.Conv2d(4, 4, 3, groups=2, dilation=2, padding="same", rng=1)}),
    "conv1d": (lambda m, x: m.c(x), f(2, 9), {"c": nn.Conv1d(2, 3, 3, stride=2, rng=2)}),
    "im2col": (lambda m, x: cv.im2col(x, (2, 3), dilation=1, padding=1, stride=2), f(2, 5, 6), {}),
    "col2im": (lambda m, x: cv.col2im(cv.im2col(x, 2, stride=2), (5, 6), 2, stride=2), f(2, 5, 6), {}),
    "maxpool": (lambda m, x: F.max_pool2d(x, 3, 2, padding=1, ceil_mode=True), f(2, 8, 7), {}),
    "avgpool": (lambda m, x: F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True, count_include_pad=False)
                + F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True)[..., :, :], f(2, 8, 7), {}),
    "avgpool-global": (lambda m, x: F.avg_pool2d(x, (8, 7)), f(2, 8, 7), {}),
    "adaptive-unequal": (lambda m, x: F.adaptive_avg_pool2d(x, 3), f(2, 7, 7), {}),
    "batchnorm-eval": (lambda m, x: m.bn(x), f(3, 4, 4), {"bn": _bn_trained(nn.BatchNorm2d, 3, (4, 4))}),
    "batchnorm1d-noaffine": (lambda m, x: m.bn(x), f(3), {"bn": _bn_trained(nn.BatchNorm1d, 3, (), affine=False)}),
    "batchnorm-batch-stats": (lambda m, x: m.bn(x), f(3, 4),
                              {"bn": nn.BatchNorm1d(3, track_running_stats=False)}),
    "layernorm": (lambda m, x: m.ln(x) + m.ln2(x), f(3, 4),
                  {"ln": nn.LayerNorm(4), "ln2": nn.LayerNorm((3, 4), elementwise_affine=False)}),
    "embedding": (lambda m, i: m.e(i).sum(1), ids(9, 4), {"e": nn.Embedding(9, 3, padding_idx=0, rng=0)}),
    # ------------------------------------------------------------------- recurrent
    "lstm-direct-reverse": (_lstm_direct, f(5, 3), {"w_ih": _p(9, 16, 3), "w_hh": _p(10, 16, 4), "b_ih": _p(11, 16),
                                                    "b_hh": _p(12, 16), "h": nn.Linear(3, 4, rng=0)}),
    "gru-direct-reverse": (_gru_direct, f(5, 3), {"w_ih": _p(13, 12, 3), "w_hh": _p(14, 12, 4)}),
    "rnn-direct-relu": (_rnn_direct, f(5, 3), {"w_ih": _p(15, 4, 3), "w_hh": _p(16, 4, 4), "b_ih": _p(17, 4),
                                               "b_hh": _p(18, 4), "h": nn.Linear(3, 4, rng=1)}),
    "lstm-weights-computed": (lambda m, x: rc.lstm_layer(x.transpose(0, 1), nb.zeros(x.shape[0], 4),
                                                         nb.zeros(x.shape[0], 4), m.w_ih * 1.0, m.w_hh * 1.0,
                                                         m.b_ih * 1.0, m.b_hh * 1.0),
                              f(5, 3), {"w_ih": _p(9, 16, 3), "w_hh": _p(10, 16, 4), "b_ih": _p(11, 16),
                                        "b_hh": _p(12, 16)}),
    "lstm-module": (lambda m, x: m.lstm(x)[0], f(5, 3),
                    {"lstm": nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, rng=0)}),
    # ---------------------------------------------------------------------- losses
    "cross-entropy": (lambda m, x, y: ls.softmax_cross_entropy(x, y, weight=np.array([1.0, 2.0, 0.5, 1.0]),
                                                               ignore_index=2, label_smoothing=0.1),
                      both(f(4), ids(4)), {}),
    "cross-entropy-plain": (lambda m, x, y: F.cross_entropy(x, y), both(f(4, 3), ids(4, 3)), {}),
    "bce": (lambda m, x: ls.binary_cross_entropy(ops.sigmoid(x), ops.sigmoid(x * 0.5)), f(4), {}),
    "bce-logits": (lambda m, x: ls.binary_cross_entropy_with_logits(x, ops.sigmoid(x * 0.3),
                                                                    pos_weight=np.array([1.0, 2.0, 3.0, 0.5])),
                   f(4, scale=10.0), {}),
}
