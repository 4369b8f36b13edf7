"""Gradient clipping: parity with torch.nn.utils (returned norm and clipped grads), edge cases."""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.nn import Parameter
from nnbasics.nn.utils import clip_grad_norm_, clip_grad_value_
from nnbasics.optim import get_total_norm

SHAPES = [(5, 3), (5,), (2, 7)]


def make(rng, scale=1.0):
    grads = [(scale * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]
    params = [Parameter(np.zeros(s, dtype=np.float32)) for s in SHAPES]
    for p, g in zip(params, grads):
        p.grad = nb.tensor(g)
    return params, grads


def torch_params(torch, grads):
    ps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipping, and a bound above the norm (grads untouched)
def test_clip_grad_norm_matches_torch(torch, rng, norm_type, max_norm):
    params, grads = make(rng)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    tparams = torch_params(torch, grads)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type, foreach=False)
    np.testing.assert_allclose(float(total), float(ttotal), rtol=1e-5)
    assert total.dtype == np.float32
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad._array, tp.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert p.grad.dtype == np.float32
    clipped = float(get_total_norm([p.grad for p in params], norm_type))
    if max_norm < float(total):
        assert clipped == pytest.approx(max_norm, rel=1e-4)
    else:
        for p, g in zip(params, grads):
            np.testing.assert_array_equal(p.grad._array, g)


def test_clip_grad_norm_value_by_hand_and_no_in_place_write():
    shared = nb.tensor([3.0, 4.0])
    a, b = Parameter(np.zeros(2, dtype=np.float32)), Parameter(np.zeros(2, dtype=np.float32))
    a.grad = b.grad = shared  # one gradient array held twice
    total = clip_grad_norm_([a, b], max_norm=1.0)
    np.testing.assert_allclose(float(total), np.sqrt(50.0), rtol=1e-6)
    np.testing.assert_allclose(a.grad._array, np.array([3.0, 4.0]) / (np.sqrt(50.0) + 1e-6), rtol=1e-6)
    np.testing.assert_array_equal(shared._array, [3.0, 4.0])  # replaced, not written


def test_clip_grad_norm_skips_missing_grads_and_accepts_one_tensor(rng):
    params, grads = make(rng)
    params[1].grad = None
    total = clip_grad_norm_(params, 1e9)
    expected = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for i, g in enumerate(grads) if i != 1))
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)
    single = Parameter(np.zeros(2, dtype=np.float32))
    single.grad = nb.tensor([0.0, 2.0])
    assert float(clip_grad_norm_(single, 1.0)) == pytest.approx(2.0)
    np.testing.assert_allclose(single.grad._array, [0.0, 1.0], rtol=1e-5)
    assert float(clip_grad_norm_([Parameter(np.zeros(2, dtype=np.float32))], 1.0)) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_nonfinite(torch, bad):
    p = Parameter(np.zeros(3, dtype=np.float32))
    p.grad = nb.tensor(np.array([1.0, bad, 2.0], dtype=np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad._array, [1.0, bad, 2.0])  # untouched when it raises
    total = clip_grad_norm_([p], 1.0)
    tp = torch.zeros(3, requires_grad=True)
    tp.grad = torch.tensor([1.0, bad, 2.0])
    ttotal = torch.nn.utils.clip_grad_norm_([tp], 1.0, foreach=False)
    np.testing.assert_array_equal(float(total), float(ttotal))
    np.testing.assert_array_equal(p.grad._array, tp.grad.numpy())  # NaN/0 as PyTorch


@pytest.mark.parametrize("clip_value", [0.3, 1.0, 10.0])
def test_clip_grad_value_matches_torch(torch, rng, clip_value):
    params, grads = make(rng, scale=2.0)
    assert clip_grad_value_(params, clip_value) is None
    tparams = torch_params(torch, grads)
    torch.nn.utils.clip_grad_value_(tparams, clip_value, foreach=False)
    for p, tp, g in zip(params, tparams, grads):
        np.testing.assert_array_equal(p.grad._array, tp.grad.numpy())
        assert np.abs(p.grad._array).max() <= np.float32(clip_value)  # float32(0.3) > 0.3 on NumPy 1.x
    assert np.abs(grads[0]).max() > 0.3  # something was clipped at the smallest value


@pytest.mark.parametrize("call,message", [
    (lambda ps: clip_grad_norm_(ps, -1.0), "max_norm must be a number >= 0"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=0), "norm_type must be a number > 0"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type="fro"), "norm_type must be a number > 0"),
    (lambda ps: clip_grad_value_(ps, -0.5), "clip_value must be a number >= 0"),
])
def test_clip_validation(rng, call, message):
    params, _ = make(rng)
    with pytest.raises(ValueError, match=message):
        call(params)
