"""Property tests (hypothesis): broadcasting, reductions and indexing agree with NumPy references.

The gradient references are written here from first principles (sum the upstream over
the axes broadcasting added or stretched; ``np.add.at`` for indexing), independent of
the library's ``sum_to``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnbasics as nb

SETTINGS = settings(max_examples=40, deadline=None)

pair_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=5)


def reduce_to(g, shape):
    """Reference un-broadcast: sum ``g`` down to ``shape``."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


BINARY = {
    # name: (nb op, numpy op, d/da, d/db) with derivatives given upstream w
    "add": (lambda a, b: a + b, np.add, lambda w, a, b: w, lambda w, a, b: w),
    "sub": (lambda a, b: a - b, np.subtract, lambda w, a, b: w, lambda w, a, b: -w),
    "mul": (lambda a, b: a * b, np.multiply, lambda w, a, b: w * b, lambda w, a, b: w * a),
    "div": (lambda a, b: a / b, np.divide, lambda w, a, b: w / b, lambda w, a, b: -w * a / b**2),
}


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=pair_shapes, seed=st.integers(0, 2**32 - 1))
def test_broadcast_binary_matches_numpy_and_analytic_gradients(name, shapes, seed):
    nb_op, np_op, da, db = BINARY[name]
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a_np = rng.standard_normal(sa)
    b_np = np.asarray(rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb))  # away from 0 for div; 0-d stays an array
    a = nb.tensor(a_np, requires_grad=True)
    b = nb.tensor(b_np, requires_grad=True)
    out = nb_op(a, b)
    expected = np_op(a_np, b_np)
    assert out.shape == expected.shape == shapes.result_shape
    np.testing.assert_allclose(out._array, expected, rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(out.shape)
    out.backward(w)
    a_b, b_b = np.broadcast_to(a_np, out.shape), np.broadcast_to(b_np, out.shape)
    assert a.grad.shape == sa and b.grad.shape == sb
    np.testing.assert_allclose(a.grad._array, reduce_to(da(w, a_b, b_b), sa), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad._array, reduce_to(db(w, a_b, b_b), sb), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=pair_shapes, seed=st.integers(0, 2**32 - 1))
def test_broadcast_float32_stays_float32(shapes, seed):
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = nb.tensor(rng.standard_normal(sa).astype(np.float32), requires_grad=True)
    b = nb.tensor(rng.uniform(1, 2, sb).astype(np.float32), requires_grad=True)
    out = (a * b + a / b - 1.5) * 2.0
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert a.grad.dtype == b.grad.dtype == np.float32


@st.composite
def array_and_axes(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    axes = draw(st.none() | st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=len(shape),
                                     unique_by=lambda d: d % len(shape)).map(tuple))
    if axes is not None and len(axes) == 1 and draw(st.booleans()):
        axes = axes[0]  # a plain int too
    keep = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).standard_normal(shape), axes, keep


def _lse(a, axis, keepdims):
    return np.log(np.exp(a).sum(axis=axis, keepdims=keepdims))


REDUCTIONS = {
    "sum": (lambda t, d, k: t.sum(d, k), np.sum),
    "mean": (lambda t, d, k: t.mean(axis=d, keepdims=k), np.mean),
    "max": (lambda t, d, k: t.amax(d, keepdim=k), np.max),
    "min": (lambda t, d, k: nb.amin(t, axis=d, keepdims=k), np.min),
    "logsumexp": (lambda t, d, k: t.logsumexp(d, k), _lse),
    "var0": (lambda t, d, k: t.var(d, keepdim=k, correction=0), np.var),
    "std0": (lambda t, d, k: nb.std(t, d, keepdim=k, correction=0), np.std),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@SETTINGS
@given(case=array_and_axes())
def test_reductions_match_numpy(name, case):
    a, axes, keep = case
    fn, ref = REDUCTIONS[name]
    x = nb.tensor(a, requires_grad=True)
    out = fn(x, axes, keep)
    expected = np.asarray(ref(a, axis=axes, keepdims=keep))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out._array, expected, rtol=1e-10, atol=1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):  # std of one value: see below
        out.backward(np.ones(out.shape))
    assert x.grad.shape == a.shape
    if not (name == "std0" and out._array.min() == 0):  # sqrt's kink: d sqrt(0) is 0/0, nan as in PyTorch
        assert np.all(np.isfinite(x.grad._array))


@SETTINGS
@given(case=array_and_axes())
def test_sum_and_mean_gradients_match_reference(case):
    a, axes, keep = case
    x = nb.tensor(a, requires_grad=True)
    out = x.mean(axes, keep)
    w = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(w)
    norm = tuple(range(a.ndim)) if axes is None else tuple(d % a.ndim for d in np.atleast_1d(axes))
    n = int(np.prod([a.shape[d] for d in norm]))
    w_keep = w if keep else np.expand_dims(w, norm)
    np.testing.assert_allclose(x.grad._array, np.broadcast_to(w_keep, a.shape) / n, rtol=1e-12)


@st.composite
def index_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    dim = draw(st.integers(0, len(shape) - 1))
    n = shape[dim]
    idx_shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=8))
    idx = draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(-n, n - 1)))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, dim, idx, seed


@SETTINGS
@given(case=index_case())
def test_getitem_integer_array_gradient_matches_add_at(case):
    shape, dim, idx, seed = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    x = nb.tensor(a, requires_grad=True)
    index = (slice(None),) * dim + (idx,)
    out = x[index]
    np.testing.assert_array_equal(out._array, a[index])
    w = rng.standard_normal(out.shape)
    out.backward(w)
    ref = np.zeros(shape)
    np.add.at(ref, index, w)
    np.testing.assert_allclose(x.grad._array, ref, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(case=index_case())
def test_getitem_paired_integer_arrays_gradient_matches_add_at(case):
    shape, _, idx, seed = case
    rng = np.random.default_rng(seed)
    # one index array per dim, all of idx's shape (repeated positions are likely)
    index = tuple(rng.integers(-s, s, idx.shape) for s in shape)
    a = rng.standard_normal(shape)
    x = nb.tensor(a, requires_grad=True)
    out = x[index]
    w = rng.standard_normal(out.shape)
    out.backward(w)
    ref = np.zeros(shape)
    np.add.at(ref, index, w)
    np.testing.assert_allclose(x.grad._array, ref, rtol=1e-12, atol=1e-12)
