"""Numerical traps: saturating logits (+-1e4, +-1e30) give finite outputs and gradients, as torch.

Each function gets a batch mixing huge positive and negative logits with ordinary ones, and a
random upstream gradient; forward and input gradient must be finite and match torch wherever
torch's are finite (float32: atol 1e-5, rtol 1e-4; float64 the same, the results are O(1) or exact).
"""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F

_W = np.array([1.0, 2.0, 0.5, 1.0])
_PW = np.array([1.0, 2.0, 3.0, 0.5])
_Y = np.array([1, 3, 0])
_T01 = np.array([[1, 0, 0.5, 1], [0, 1, 1, 0], [0.2, 0.3, 1, 0]])


def _cases(torch):
    TF = torch.nn.functional
    soft = _T01 / _T01.sum(1, keepdims=True)
    t = torch.tensor
    return {
        "softmax": (lambda a: F.softmax(a, dim=-1), lambda a: TF.softmax(a, -1)),
        "log_softmax": (lambda a: F.log_softmax(a, dim=-1), lambda a: TF.log_softmax(a, -1)),
        "logsumexp": (lambda a: nb.logsumexp(a, dim=-1), lambda a: torch.logsumexp(a, -1)),
        "cross_entropy": (lambda a: F.cross_entropy(a, _Y), lambda a: TF.cross_entropy(a, t(_Y))),
        "cross_entropy_none": (lambda a: F.cross_entropy(a, _Y, reduction="none"),
                               lambda a: TF.cross_entropy(a, t(_Y), reduction="none")),
        "cross_entropy_smoothing": (lambda a: F.cross_entropy(a, _Y, label_smoothing=0.1),
                                    lambda a: TF.cross_entropy(a, t(_Y), label_smoothing=0.1)),
        "cross_entropy_weight_smoothing": (
            lambda a: F.cross_entropy(a, _Y, weight=_W.astype(a.dtype), label_smoothing=0.2),
            lambda a: TF.cross_entropy(a, t(_Y), weight=t(_W).to(a.dtype), label_smoothing=0.2)),
        "cross_entropy_probabilities": (lambda a: F.cross_entropy(a, soft.astype(a.dtype)),
                                        lambda a: TF.cross_entropy(a, t(soft).to(a.dtype))),
        "bce_with_logits": (lambda a: F.binary_cross_entropy_with_logits(a, _T01.astype(a.dtype)),
                            lambda a: TF.binary_cross_entropy_with_logits(a, t(_T01).to(a.dtype))),
        "bce_with_logits_pos_weight": (
            lambda a: F.binary_cross_entropy_with_logits(a, _T01.astype(a.dtype), pos_weight=_PW.astype(a.dtype)),
            lambda a: TF.binary_cross_entropy_with_logits(a, t(_T01).to(a.dtype), pos_weight=t(_PW).to(a.dtype))),
        "sigmoid": (F.sigmoid, torch.sigmoid),
        "logsigmoid": (F.logsigmoid, TF.logsigmoid),
        "softplus": (F.softplus, TF.softplus),
        "tanh": (F.tanh, torch.tanh),
        "nn.LogSoftmax": (nb.nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
        "nn.CrossEntropyLoss": (lambda a: nb.nn.CrossEntropyLoss()(a, nb.tensor(_Y)),
                                lambda a: torch.nn.CrossEntropyLoss()(a, t(_Y))),
    }


_NAMES = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_none", "cross_entropy_smoothing",
          "cross_entropy_weight_smoothing", "cross_entropy_probabilities", "bce_with_logits",
          "bce_with_logits_pos_weight", "sigmoid", "logsigmoid", "softplus", "tanh", "nn.LogSoftmax",
          "nn.CrossEntropyLoss"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("big", [1e4, 1e30])
@pytest.mark.parametrize("name", _NAMES)
def test_huge_logits_stay_finite_and_match_torch(torch, name, big, dtype):
    ours, theirs = _cases(torch)[name]
    x = np.array([[big, -big, 0.0, 1.0], [-big, -big, 3.0, big], [1.0, -2.0, 3.0, 0.5]], dtype=dtype)
    xt = nb.tensor(x.copy(), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, not even a silenced one
        out = ours(xt)
    w = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        (out * nb.tensor(w)).sum().backward()
    assert out.dtype == dtype and xt.grad.dtype == dtype
    assert np.isfinite(out._array).all(), out._array
    assert np.isfinite(xt.grad._array).all(), xt.grad._array

    tx = torch.tensor(x.copy(), requires_grad=True)
    tout = theirs(tx)
    (tout * torch.tensor(w)).sum().backward()
    ref, ref_g = tout.detach().numpy(), tx.grad.numpy()
    ok, ok_g = np.isfinite(ref), np.isfinite(ref_g)
    np.testing.assert_allclose(out._array[ok], ref[ok], atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(xt.grad._array[ok_g], ref_g[ok_g], atol=1e-5, rtol=1e-4)


def test_logsigmoid_is_finite_where_log_of_sigmoid_is_not():
    x = nb.tensor(np.array([-1e4, -200.0, 0.0, 50.0], dtype=np.float32), requires_grad=True)
    y = F.logsigmoid(x)
    y.sum().backward()
    np.testing.assert_allclose(y._array, [-1e4, -200.0, -np.log(2.0), -1.9287e-22], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad._array, [1.0, 1.0, 0.5, 0.0], atol=1e-6)
    with np.errstate(divide="ignore", under="ignore"):
        naive = nb.log(nb.sigmoid(nb.tensor(np.array([-1e4], dtype=np.float32))))
    assert np.isinf(naive._array).all()  # the trap logsigmoid avoids
