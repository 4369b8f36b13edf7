"""User-style models the issue-16 corpus does not list (held-out cases): exported at batch 3, run in
onnxruntime at batches 5 and 1, equal to nnbasics, full_check, at the oldest and newest opsets.

Before this file the recurrent cells failed: ``GRUCell``/``LSTMCell``/``RNNCell`` stepped in a Python
loop (the classic hand-written RNN) raised a raw ``KeyError: 'reverse'`` in the exporter, which read
keywords the cells leave at their defaults.
"""

import math
import warnings

import numpy as np
import onnx
import pytest
from onnx_roundtrip import roundtrip_batches

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn

OPSETS = [13, onnx.defs.onnx_opset_version()]


def f(*shape):
    return lambda n, rng: (rng.standard_normal((n, *shape)).astype(np.float32),)


class CellLoop(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.cell = {"gru": nn.GRUCell(3, 4, rng=0), "lstm": nn.LSTMCell(3, 4, rng=0),
                     "rnn": nn.RNNCell(3, 4, nonlinearity="relu", rng=0)}[kind]
        self.fc = nn.Linear(4, 2, rng=1)

    def forward(self, x):
        h = nb.zeros(x.size(0), 4)
        c = nb.zeros(x.size(0), 4)
        for t in range(x.size(1)):
            if self.kind == "lstm":
                h, c = self.cell(x[:, t], (h, c))
            else:
                h = self.cell(x[:, t], h)
        return self.fc(h)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 5, rng=0), nn.Conv2d(6, 16, 5, rng=1)
        self.f1, self.f2 = nn.Linear(16 * 5 * 5, 32, rng=2), nn.Linear(32, 10, rng=3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(x.view(-1, 16 * 5 * 5))))


class GRUh0(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru, self.fc = nn.GRU(4, 6, num_layers=2, batch_first=True, rng=0), nn.Linear(6, 3, rng=1)

    def forward(self, x):
        out, _ = self.gru(x, nb.zeros(2, x.size(0), 6))
        return self.fc(out[:, -1, :])


class Attention(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.q, self.k, self.v, self.d = nn.Linear(d, d, rng=0), nn.Linear(d, d, rng=1), nn.Linear(d, d, rng=2), d

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        return F.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d), dim=-1) @ v


class Mixed(nn.Module):
    """Global average pooling by mean(dim=(2, 3)), stack, chunk/split, a sigmoid*tanh gate, clamp,
    LayerNorm, a buffer, a submodule called twice."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, rng=0)
        self.lin = nn.Linear(8, 8, rng=1)
        self.norm = nn.LayerNorm(4)
        self.register_buffer("scale", nb.tensor([1.0, 2.0, 3.0, 4.0]))

    def forward(self, x):
        h = F.relu(self.conv(x)).mean(dim=(2, 3))
        h = self.lin(F.relu(self.lin(h)))
        a, b = h.chunk(2, dim=1)
        c, d = h.split(4, dim=-1)
        g = (a.sigmoid() * b.tanh()).clamp(-0.3, 0.3) + nb.stack([c, d], dim=1).sum(1)
        return self.norm(g) * self.scale + self.scale.sum()


class EmbeddingMean(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.fc = nn.Embedding(20, 4, rng=0), nn.Linear(4, 2, rng=1)

    def forward(self, x):
        return self.fc(self.emb(x).mean(1))


MODELS = {
    "gru-cell-loop": (lambda: CellLoop("gru"), f(5, 3)),
    "lstm-cell-loop": (lambda: CellLoop("lstm"), f(5, 3)),
    "rnn-cell-loop": (lambda: CellLoop("rnn"), f(5, 3)),
    "lenet-view-minus-1": (LeNet, f(1, 32, 32)),
    "gru-h0-from-size": (GRUh0, f(5, 4)),
    "attention": (Attention, f(5, 8)),
    "mixed": (Mixed, f(3, 7, 6)),
    "embedding-mean": (EmbeddingMean, lambda n, rng: (rng.integers(0, 20, size=(n, 6)),)),
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_held_out_user_model_exports_with_a_dynamic_batch(name, opset, rng, tmp_path):
    make, inputs = MODELS[name]
    model = make().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        roundtrip_batches(model, inputs, tmp_path, rng, opset=opset)
