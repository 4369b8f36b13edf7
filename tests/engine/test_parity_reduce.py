"""PyTorch parity of the reductions (sum, mean, max/min, var/std, logsumexp, softmax,
log_softmax, argmax/argmin) and of the fused cross-entropy: values and gradients in float32.

Our ``max(dim)``/``min(dim)`` return values only, as ``torch.amax``/``torch.amin`` (documented
in ``ops.reduce.max``): ties share the gradient equally, which is what the amax tests check.
"""

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F

SHAPE = (2, 3, 5)
DIMS = [None, 0, 1, -1, (0, 2), (-1, -3), (0, 1, 2)]


def _torch_dim(dim):
    """torch's spelling of 'all dims' for ops whose dim is required (logsumexp)."""
    return tuple(range(len(SHAPE))) if dim is None else dim


def _kw(dim, keepdim):
    """dim/keepdim keywords for nnbasics (dim=None reduces all) and for torch (all dims listed)."""
    return {"dim": dim, "keepdim": keepdim}, {"dim": _torch_dim(dim), "keepdim": keepdim}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
def test_sum_mean(torch, rng, dim, keepdim):
    x = rng.standard_normal(SHAPE)
    kw, tkw = _kw(dim, keepdim)
    assert_parity(lambda x: x.sum(**kw), lambda x: x.sum(**tkw), x, torch=torch)
    assert_parity(lambda x: x.mean(**kw), lambda x: x.mean(**tkw), x, torch=torch)
    assert_parity(lambda x: nb.sum(x, **kw), lambda x: torch.sum(x, **tkw), x, torch=torch)
    assert_parity(lambda x: nb.mean(x, **kw), lambda x: torch.mean(x, **tkw), x, torch=torch)


def test_numpy_spelling_axis_keepdims(torch, rng):
    x = rng.standard_normal(SHAPE)
    assert_parity(lambda x: x.sum(axis=(0, 2), keepdims=True), lambda x: x.sum((0, 2), keepdim=True), x, torch=torch)
    assert_parity(lambda x: x.mean(axis=-1), lambda x: x.mean(-1), x, torch=torch)


def test_zero_dim_input(torch):
    x = np.array(1.7)
    for name in ("sum", "mean", "amax", "amin"):
        assert_parity(lambda x, name=name: getattr(x, name)(), lambda x, name=name: getattr(x, name)(), x, torch=torch)
    assert_parity(lambda x: x.sum(0), lambda x: x.sum(0), x, torch=torch)
    assert_parity(lambda x: x.softmax(0), lambda x: x.softmax(0), x, torch=torch)


def test_large_reduction_float32(torch, rng):
    # NOTE: 10^5 float32 terms summed in different orders (NumPy pairwise, torch vectorised):
    # the rounding differs by ~1e-5 relative to a total of ~300, so atol is loosened to 1e-3.
    x = rng.standard_normal((7, 100_003)) + 0.5
    assert_parity(lambda x: x.sum(), lambda x: x.sum(), x, torch=torch, atol=1e-3)
    assert_parity(lambda x: x.mean(-1), lambda x: x.mean(-1), x, torch=torch, atol=1e-5)


def _ties(rng, shape=SHAPE):
    """Small integers as floats: every reduction window has repeated maxima and minima."""
    return rng.integers(0, 3, shape).astype(float)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("which", ["max", "min"])
def test_amax_amin_with_ties(torch, rng, which, dim, keepdim):
    x = _ties(rng)
    kw, tkw = _kw(dim, keepdim)
    tname = "a" + which
    # values only, ties share the gradient equally: torch.amax / torch.amin
    assert_parity(lambda x: getattr(x, tname)(**kw), lambda x: getattr(torch, tname)(x, **tkw), x, torch=torch)
    assert_parity(lambda x: getattr(x, tname)(**kw), lambda x: getattr(x, tname)(**tkw), x, torch=torch)
    assert_parity(lambda x: getattr(nb, tname)(x, **kw), lambda x: getattr(torch, tname)(x, **tkw), x, torch=torch)


@pytest.mark.parametrize("which", ["max", "min"])
def test_full_max_min_with_ties_match_torch_max(torch, rng, which):
    # torch.max(x) (no dim) also spreads the gradient evenly over ties
    x = _ties(rng)
    assert_parity(lambda x: getattr(x, which)(), lambda x: getattr(x, which)(), x, torch=torch)
    x = rng.standard_normal(SHAPE)  # no ties: a single winner per window
    assert_parity(lambda x: getattr(x, which)(1).values, lambda x: getattr(x, which)(1).values, x, torch=torch)


@pytest.mark.parametrize("dim_keepdim", [(None, False), (0, False), (0, True), (-1, False), (-1, True)], ids=str)
@pytest.mark.parametrize("which", ["argmax", "argmin"])
def test_argmax_argmin_first_of_ties(torch, rng, which, dim_keepdim):
    dim, keepdim = dim_keepdim  # torch's argmax takes one dim, or none
    x = _ties(rng)
    assert_parity(lambda x: getattr(x, which)(dim, keepdim), lambda x: getattr(x, which)(dim, keepdim), x,
                  torch=torch)


@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("which", ["var", "std"])
def test_var_std(torch, rng, which, dim, keepdim, correction):
    x = rng.standard_normal(SHAPE) * 2.0 + 1.0
    kw, tkw = _kw(dim, keepdim)
    kw["correction"] = tkw["correction"] = correction
    assert_parity(lambda x: getattr(x, which)(**kw), lambda x: getattr(x, which)(**tkw), x, torch=torch)
    assert_parity(lambda x: getattr(nb, which)(x, **kw), lambda x: getattr(torch, which)(x, **tkw), x, torch=torch)


def test_var_std_default_correction_is_one_like_torch(torch, rng):
    x = rng.standard_normal((3, 7))
    assert_parity(lambda x: x.var(), lambda x: x.var(), x, torch=torch)
    assert_parity(lambda x: x.std(1), lambda x: x.std(1), x, torch=torch)
    assert_parity(lambda x: F.var(x, 0), lambda x: torch.var(x, 0), x, torch=torch)
    assert_parity(lambda x: F.std(x, axis=0, keepdims=True, correction=0),
                  lambda x: torch.std(x, 0, keepdim=True, correction=0), x, torch=torch)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
def test_logsumexp(torch, rng, dim, keepdim):
    x = rng.standard_normal(SHAPE) * 3
    assert_parity(lambda x: x.logsumexp(dim, keepdim), lambda x: x.logsumexp(_torch_dim(dim), keepdim), x, torch=torch)
    assert_parity(lambda x: nb.logsumexp(x, dim, keepdim=keepdim),
                  lambda x: torch.logsumexp(x, _torch_dim(dim), keepdim=keepdim), x, torch=torch)


def test_logsumexp_large_inputs(torch, rng):
    x = rng.standard_normal((3, 5)) + np.array([[1e4], [-1e4], [0.0]])
    # NOTE: torch's float32 backward is exp(x - lse) with lse ~1e4 rounded to its ulp (~1e-3), so its
    # gradient is off by ~1.5e-4 (ours, softmax kept from the forward, is within 1e-7 of float64):
    # atol 5e-4 in float32, and the default tolerance in float64 where torch's rounding vanishes.
    assert_parity(lambda x: x.logsumexp(1), lambda x: x.logsumexp(1), x, torch=torch, atol=5e-4)
    assert_parity(lambda x: x.logsumexp(1), lambda x: x.logsumexp(1), x, torch=torch, dtype=np.float64)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
def test_softmax_log_softmax(torch, rng, which, dim):
    x = rng.standard_normal(SHAPE) * 3
    assert_parity(lambda x: getattr(x, which)(dim), lambda x: getattr(x, which)(dim), x, torch=torch)
    assert_parity(lambda x: getattr(F, which)(x, dim), lambda x: getattr(torch.nn.functional, which)(x, dim),
                  x, torch=torch)


@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
def test_softmax_default_dim_and_large_logits(torch, rng, which):
    x = rng.standard_normal((3, 7))
    assert_parity(lambda x: getattr(x, which)(-1), lambda x: getattr(x, which)(-1), x, torch=torch)
    # logits of +-1e4: no overflow in either; NOTE: log_softmax values reach ~2e4, where a
    # float32 ulp is 2e-3, so rtol 1e-4 (not atol) carries the comparison
    x = rng.standard_normal((3, 7)) * 1e4
    assert_parity(lambda x: getattr(x, which)(1), lambda x: getattr(x, which)(1), x, torch=torch)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_fused(torch, rng, reduction):
    logits = rng.standard_normal((7, 5)) * 3
    target = rng.integers(0, 5, (7,))
    target[:3] = 2  # repeated labels
    assert_parity(lambda x, y: F.cross_entropy(x, y, reduction=reduction),
                  lambda x, y: torch.nn.functional.cross_entropy(x, y, reduction=reduction),
                  logits, target, torch=torch)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_large_logits(torch, rng, reduction):
    logits = rng.standard_normal((5, 3)) * 1e4  # stable: the row max is subtracted before exp
    target = np.array([0, 1, 2, 2, 0])
    assert_parity(lambda x, y: F.cross_entropy(x, y, reduction=reduction),
                  lambda x, y: torch.nn.functional.cross_entropy(x, y, reduction=reduction),
                  logits, target, torch=torch)


def test_cross_entropy_matches_composed_twin(torch, rng):
    # fused op vs its composed twin, both against torch: -log_softmax picked at the labels
    logits, target = rng.standard_normal((7, 5)), rng.integers(0, 5, (7, 1))
    assert_parity(lambda x, y: -x.log_softmax(1).take_along_axis(y, 1).mean(),
                  lambda x, y: torch.nn.functional.cross_entropy(x, y[:, 0]),
                  logits, target, torch=torch)
