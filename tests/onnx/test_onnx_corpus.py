"""User-style models with their own forward (issue 16 item 4): exported at batch 3, run in onnxruntime at
batches 5 and 1, equal to nnbasics within 1e-5 abs / 1e-4 rel, checked with full_check, at every opset from
13 to the installed onnx's newest. No model may fall back to a fixed batch (warnings are errors here)."""

import warnings

import numpy as np
import onnx
import pytest
from onnx_roundtrip import roundtrip_batches

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn, ops

OPSETS = list(range(13, onnx.defs.onnx_opset_version() + 1))


def f(*shape, scale=1.0):
    return lambda n, rng: (rng.standard_normal((n, *shape)).astype(np.float32) * scale,)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16, rng=0)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(16, 4, rng=1)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.fc2(self.drop(F.relu(self.fc1(x))))


class CNN(nn.Module):  # the course's CNN: two conv/pool stages, then out.view(out.size(0), -1)
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, kernel_size=5, padding=2, rng=0), nn.BatchNorm2d(4), nn.ReLU(),
                                    nn.MaxPool2d(2))
        self.layer2 = nn.Sequential(nn.Conv2d(4, 8, kernel_size=5, padding=2, rng=1), nn.BatchNorm2d(8), nn.ReLU(),
                                    nn.MaxPool2d(2))
        self.fc = nn.Linear(8 * 3 * 3, 10, rng=2)

    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.view(out.size(0), -1)
        return self.fc(out)


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, rng=0)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, rng=1)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class ResNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1, rng=0)
        self.blocks = nn.ModuleList([ResidualBlock(4), ResidualBlock(4)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3, rng=3)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:  # stacked layers in a Python loop: traced as unrolled
            x = block(x)
        return self.fc(self.pool(x).flatten(1) + x.mean(dim=(2, 3)))


class TwoBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(6, 5, rng=0), nn.Tanh())
        self.b = nn.Sequential(nn.Linear(6, 3, rng=1), nn.ELU())
        self.head = nn.Linear(8, 2, rng=2)

    def forward(self, x):
        return self.head(ops.cat([self.a(x), self.b(x)], dim=1))


class LSTMClassifier(nn.Module):
    def __init__(self, cell=nn.LSTM, bidirectional=False):
        super().__init__()
        self.rnn = cell(4, 6, num_layers=2, batch_first=True, bidirectional=bidirectional, dropout=0.2, rng=0)
        self.fc = nn.Linear(12 if bidirectional else 6, 3, rng=1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


class LSTMWithState(nn.Module):  # zeros(num_layers, x.size(0), H) made in forward
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 5, num_layers=2, batch_first=True, rng=0)
        self.fc = nn.Linear(5, 2, rng=1)

    def forward(self, x):
        h0 = nb.zeros(2, x.size(0), 5)
        c0 = nb.zeros(2, x.size(0), 5)
        out, (h, _) = self.lstm(x, (h0, c0))
        return self.fc(out[:, -1, :]) + self.fc(h[-1])


class CharLSTM(nn.Module):
    def __init__(self, vocab=11):
        super().__init__()
        self.embed = nn.Embedding(vocab, 6, rng=0)
        self.lstm = nn.LSTM(6, 8, batch_first=True, rng=1)
        self.out = nn.Linear(8, vocab, rng=2)

    def forward(self, x, hidden=None):
        emb = self.embed(x)
        out, hidden = self.lstm(emb, hidden)
        logits = self.out(out.reshape(-1, out.size(2)))  # (N*T, V)
        return logits.view(x.size(0), x.size(1), -1), hidden


class Shapes(nn.Module):  # softmax along a dim, mean over a dim, transpose, pad, arithmetic with constants
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 5, rng=0)

    def forward(self, x):  # (N, 4, 5)
        y = self.fc(x).transpose(1, 2)  # (N, 5, 4)
        y = y.pad(((0, 0), (1, 1), (2, 0)))  # (N, 7, 6)
        p = F.softmax(y, dim=1)
        m = y.mean(dim=2)  # (N, 7)
        z = (p * 2.0 - 1.0) / 3.0 + 0.5
        return ops.cat([m, z.sum(1), x.flatten(1) ** 2], dim=1)


class TextConv(nn.Module):  # Conv1d over embedded tokens, max over time
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6, rng=0)
        self.conv = nn.Conv1d(6, 8, 3, padding=1, rng=1)
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 2, rng=2)

    def forward(self, ids):
        x = self.embed(ids).transpose(1, 2)  # (N, E, T)
        x = F.gelu(self.conv(x)).max(dim=2).values  # (N, 8)
        return F.log_softmax(self.fc(self.norm(x)), dim=-1)


class Pools(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, rng=0)
        self.avg = nn.AvgPool2d(2)
        self.maxp = nn.MaxPool2d(3, stride=2, ceil_mode=True)

    def forward(self, x):
        y = F.relu(self.conv(x))
        return ops.cat([self.avg(y).flatten(1), self.maxp(y).flatten(1)], dim=1)


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(12, 8, rng=0), nn.BatchNorm1d(8), nn.SiLU(),
                                 nn.Dropout(0.5), nn.Linear(8, 3, rng=1), nn.Softmax(dim=-1))

    def forward(self, x):
        return self.net(x)


def _ids(high, t):
    return lambda n, rng: (rng.integers(0, high, size=(n, t)),)


def _trained(model, inputs, rng):
    """Run in training mode at other batch sizes first: running statistics move, nothing else may stick."""
    model.train()
    for n in (7, 2):
        model(*[nb.tensor(a) for a in inputs(n, rng)])
    return model


MODELS = {
    "mlp": (MLP, f(3, 4)),
    "cnn": (CNN, f(1, 12, 12)),
    "resnet": (ResNetTiny, f(3, 6, 5)),
    "two-branches": (TwoBranches, f(6)),
    "lstm-classifier": (LSTMClassifier, f(7, 4)),
    "gru-classifier": (lambda: LSTMClassifier(nn.GRU), f(7, 4)),
    "bilstm-classifier": (lambda: LSTMClassifier(bidirectional=True), f(7, 4)),
    "rnn-classifier": (lambda: LSTMClassifier(nn.RNN), f(7, 4)),
    "lstm-zero-state": (LSTMWithState, f(6, 4)),
    "char-lstm": (CharLSTM, _ids(11, 9)),
    "shapes": (Shapes, f(4, 5)),
    "text-conv": (TextConv, _ids(20, 10)),
    "pools": (Pools, f(2, 9, 8)),
    "sequential-bn": (Seq, f(3, 4)),
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_user_model_exports_with_a_dynamic_batch(name, opset, rng, tmp_path):
    make, inputs = MODELS[name]
    model = _trained(make(), inputs, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        roundtrip_batches(model, inputs, tmp_path, rng, opset=opset)  # also checks the modes are restored
