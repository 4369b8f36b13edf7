"""gradcheck_model: passes correct models (dropout, batch norm, conv, LSTM) and localizes a wrong backward."""

import json

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.autograd import Function
from nnbasics.diagnostics import gradcheck_model


class _BadScale(Function):
    """y = x * w with a WRONG weight gradient (twice the true one); the input gradient is right."""

    def forward(self, x, w):
        self.x, self.w = x, w
        return x * w

    def backward(self, g):
        return g * self.w, 2.0 * (g * self.x).sum(axis=0)


class BadScale(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(nb.ones(n)._array + 0.5)

    def forward(self, x):
        return _BadScale.apply(x, self.weight)


def test_correct_model_with_dropout_and_batchnorm_passes(rng):
    net = nn.Sequential(nn.Linear(5, 7, rng=0), nn.BatchNorm1d(7), nn.ReLU(), nn.Dropout(0.5, rng=1),
                        nn.Linear(7, 3, rng=2))
    X, y = rng.standard_normal((6, 5)).astype(np.float32), rng.integers(0, 3, 6)
    w_before = net[0].weight._array.copy()
    rep = gradcheck_model(net, X, y, max_coords=10, rng=0)
    assert rep.ok, str(rep)
    assert [(r.layer, r.param) for r in rep.rows] == [("0", "weight"), ("0", "bias"), ("1", "weight"),
                                                      ("1", "bias"), ("4", "weight"), ("4", "bias")]
    assert rep.rows[0].checked == 10 and rep.rows[1].checked == 7
    assert max(rep.by_layer().values()) < 1e-5
    # the user's model is untouched: float32, same weights, same modes, no grads
    assert net[0].weight.dtype == np.float32 and np.array_equal(net[0].weight._array, w_before)
    assert net[0].weight.grad is None and net.training
    # dropout was really active during the check (train-mode loss differs from eval-mode loss)
    assert rep.loss != pytest.approx(gradcheck_model(net, X, y, max_coords=1, train=False).loss)
    json.dumps(rep.to_dict(), allow_nan=False)


def test_wrong_backward_is_flagged_at_its_layer(rng):
    net = nn.Sequential(nn.Linear(3, 5, rng=0), nn.Tanh(), BadScale(5), nn.Linear(5, 2, rng=1))
    X, y = rng.standard_normal((7, 3)), rng.integers(0, 2, 7)
    rep = gradcheck_model(net, X, y)
    assert not rep.ok
    assert rep.failing() == ["2.weight"]  # the bad op's own parameter; its input gradient is right
    bad = next(r for r in rep.rows if r.layer == "2")
    assert bad.max_rel_error > 0.1 and bad.kind == "badscale"
    assert any(f.startswith("layer 2 (badscale)") for f in rep.findings()) and "NO" in str(rep)


def test_conv_and_lstm_models_pass(rng):
    conv = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 2 * 3, 4, rng=1))
    assert gradcheck_model(conv, rng.standard_normal((2, 2, 6, 8)), rng.integers(0, 4, 2), max_coords=6).ok

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 5, batch_first=True, rng=0)
            self.head = nn.Linear(5, 2, rng=1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    rep = gradcheck_model(Seq(), rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 2)), loss="mse", max_coords=6)
    assert rep.ok and {r.layer for r in rep.rows} == {"lstm", "head"}


def test_bad_arguments():
    net = nn.Linear(2, 2, rng=0)
    with pytest.raises(ValueError, match="max_coords"):
        gradcheck_model(net, np.ones((1, 2)), np.zeros(1, int), max_coords=0)
    with pytest.raises(TypeError, match="gradcheck_model"):
        gradcheck_model(object(), np.ones((1, 2)), np.zeros(1, int))
