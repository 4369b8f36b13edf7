"""Property tests (hypothesis): reductions along random axes, forward against NumPy and gradients
against float64 central differences (or, for max/min ties, the documented rule).

Complements tests/engine/test_properties.py (forwards, sum/mean gradients) with the gradients
of max, min, var and std (correction 0 and 1), logsumexp, softmax and log_softmax, under a
random upstream gradient. Deterministic: 25 examples per test, 4 tests (100 cases; each checks
several reductions).

Max/min ties: the gradient is shared equally among the tied entries (PyTorch's ``amax``/``amin``
rule); tested with integer-valued inputs where ties are common.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnbasics as nb

PROPS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


@st.composite
def reduction_case(draw, max_side=4):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=max_side))
    n = len(shape)
    axes = draw(st.none() | st.lists(st.integers(-n, n - 1), min_size=1, max_size=n,
                                     unique_by=lambda d: d % n).map(tuple))
    if axes is not None and len(axes) == 1 and draw(st.booleans()):
        axes = axes[0]
    return shape, axes, draw(st.booleans()), draw(st.integers(0, 2**32 - 1))


def _norm_axes(axes, ndim):
    return tuple(range(ndim)) if axes is None else tuple(sorted(d % ndim for d in np.atleast_1d(axes)))


def central_diff(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f(x)
        flat[i] = old - eps
        lo = f(x)
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return grad


def _lse(a, axis, keepdims):
    m = a.max(axis=axis, keepdims=True)
    out = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# name: (nnbasics call, NumPy reference, minimum count of reduced elements for the op to be smooth)
REDUCTIONS = {
    "max": (lambda t, d, k: t.amax(d, k), lambda a, d, k: a.max(axis=d, keepdims=k), 1),
    "min": (lambda t, d, k: t.amin(d, keepdim=k), lambda a, d, k: a.min(axis=d, keepdims=k), 1),
    "var1": (lambda t, d, k: t.var(d, keepdim=k), lambda a, d, k: a.var(axis=d, keepdims=k, ddof=1), 2),
    "var0": (lambda t, d, k: t.var(d, keepdim=k, correction=0), lambda a, d, k: a.var(axis=d, keepdims=k), 1),
    "std1": (lambda t, d, k: t.std(d, keepdim=k), lambda a, d, k: a.std(axis=d, keepdims=k, ddof=1), 2),
    "std0": (lambda t, d, k: t.std(d, keepdim=k, correction=0), lambda a, d, k: a.std(axis=d, keepdims=k), 2),
    "logsumexp": (lambda t, d, k: t.logsumexp(d, k), _lse, 1),
    "mean": (lambda t, d, k: t.mean(d, k), lambda a, d, k: a.mean(axis=d, keepdims=k), 1),
}


@PROPS
@given(case=reduction_case())
def test_reduction_gradients_match_finite_differences(case):
    shape, axes, keep, seed = case
    rng = np.random.default_rng(seed)
    # distinct values spaced >= 1e-3 apart (a permutation): max/min have a unique winner, std is not at 0
    a = (rng.permutation(int(np.prod(shape))).reshape(shape) + rng.uniform(0, 0.5, shape)) * 0.3
    count = int(np.prod([shape[d] for d in _norm_axes(axes, len(shape))]))
    for name, (fn, ref, need) in REDUCTIONS.items():
        if count < need:
            continue
        x = nb.tensor(a.copy(), requires_grad=True)
        out = fn(x, axes, keep)
        expected = np.asarray(ref(a, axes, keep))
        assert out.shape == expected.shape, name
        np.testing.assert_allclose(out._array, expected, rtol=1e-10, atol=1e-12, err_msg=name)
        w = rng.standard_normal(out.shape)
        out.backward(w)
        num = central_diff(lambda v, ref=ref, w=w: float((np.asarray(ref(v, axes, keep)) * w).sum()), a.copy())
        np.testing.assert_allclose(x.grad._array, num, rtol=1e-5, atol=1e-6, err_msg=name)


@PROPS
@given(case=reduction_case(max_side=5))
def test_max_min_ties_share_the_gradient_equally(case):
    shape, axes, keep, seed = case
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, shape).astype(float)  # three values: ties in most slices
    ax = _norm_axes(axes, len(shape))
    for name, np_red in (("max", np.max), ("min", np.min)):
        x = nb.tensor(a, requires_grad=True)
        out = getattr(x, "a" + name)(axes, keep)
        w = rng.standard_normal(out.shape)
        out.backward(w)
        hit = a == np_red(a, axis=ax, keepdims=True)
        share = hit / hit.sum(axis=ax, keepdims=True)
        w_keep = w if keep else np.expand_dims(w, ax)
        np.testing.assert_allclose(x.grad._array, share * w_keep, rtol=1e-12, atol=1e-12, err_msg=name)
        # the shares of each slice add up to that slice's upstream gradient
        np.testing.assert_allclose(x.grad._array.sum(axis=ax, keepdims=True), np.broadcast_to(w_keep, hit.sum(
            axis=ax, keepdims=True).shape), rtol=1e-12, atol=1e-12)


@PROPS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_softmax_and_log_softmax_along_a_random_dim(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal(shape) * 3
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    p = e / e.sum(axis=dim, keepdims=True)
    for fn, ref in ((nb.softmax, p), (nb.log_softmax, np.log(p))):
        x = nb.tensor(a.copy(), requires_grad=True)
        out = fn(x, dim)
        np.testing.assert_allclose(out._array, ref, rtol=1e-10, atol=1e-12)
        w = rng.standard_normal(shape)
        out.backward(w)
        if fn is nb.softmax:  # J^T w = p * (w - sum(w p))
            expected = p * (w - (w * p).sum(axis=dim, keepdims=True))
        else:  # w - p * sum(w)
            expected = w - p * w.sum(axis=dim, keepdims=True)
        np.testing.assert_allclose(x.grad._array, expected, rtol=1e-10, atol=1e-12)


@PROPS
@given(case=reduction_case())
def test_sum_of_ints_and_bools_matches_numpy_dtype_and_values(case):
    shape, axes, keep, seed = case
    rng = np.random.default_rng(seed)
    ints = rng.integers(-5, 6, shape)
    bools = ints > 0
    for arr in (ints, bools):
        out = nb.tensor(arr).sum(axes, keep)
        expected = np.asarray(arr.sum(axis=axes, keepdims=keep))
        assert out.dtype == np.int64 and out.shape == expected.shape
        np.testing.assert_array_equal(out._array, expected)
