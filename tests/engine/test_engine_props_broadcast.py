"""Property tests (hypothesis): broadcasting binary ops against NumPy, gradients against a float64
central-difference oracle and a NumPy ``sum over broadcast axes`` oracle.

Complements tests/engine/test_properties.py (+ - * / forward and analytic gradients) with
maximum, minimum, where and pow, and with finite differences of a composite that reuses its
inputs. Deterministic (``derandomize=True``): 25 examples per test, 6 tests (150 cases).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnbasics as nb

PROPS = settings(max_examples=25, deadline=None, derandomize=True, database=None)

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4)


def unbroadcast(g, shape):
    """Oracle: sum ``g`` over the axes broadcasting added (leading) or stretched (size 1), written from scratch."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def central_diff(f, arrays, k, eps=1e-6):
    """d f(*arrays) / d arrays[k] by central differences (float64)."""
    x = arrays[k]
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f(*arrays)
        flat[i] = old - eps
        lo = f(*arrays)
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return grad


def _pair(shapes, seed, distinct=False):
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a, b = np.asarray(rng.standard_normal(sa)), np.asarray(rng.standard_normal(sb))
    return (_separate(a, b, shapes) if distinct else (a, b)) + (rng,)


def _separate(a, b, shapes):
    """Shift ``b`` until every broadcast pair differs by >= 0.05, so maximum/minimum are differentiable
    there and finite differences exact (a few tries suffice with at most 64 values)."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        d = np.abs(np.broadcast_to(a, shapes.result_shape) - np.broadcast_to(b, shapes.result_shape))
        if (d >= 0.05).all():
            return a, b
        b = np.asarray(b + rng.uniform(0.05, 0.3))
    raise AssertionError("could not separate the inputs")


BINARY = {
    "maximum": (nb.maximum, np.maximum,
                lambda w, a, b: w * (a > b), lambda w, a, b: w * (b > a)),
    "minimum": (nb.minimum, np.minimum,
                lambda w, a, b: w * (a < b), lambda w, a, b: w * (b < a)),
}


@PROPS
@given(shapes=shape_pairs, seed=st.integers(0, 2**32 - 1), name=st.sampled_from(sorted(BINARY)))
def test_maximum_minimum_forward_and_gradients(shapes, seed, name):
    nb_op, np_op, da, db = BINARY[name]
    a_np, b_np, rng = _pair(shapes, seed, distinct=True)
    a, b = nb.tensor(a_np, requires_grad=True), nb.tensor(b_np, requires_grad=True)
    out = nb_op(a, b)
    np.testing.assert_array_equal(out._array, np_op(a_np, b_np))
    w = rng.standard_normal(out.shape)
    out.backward(w)
    ab, bb = np.broadcast_to(a_np, out.shape), np.broadcast_to(b_np, out.shape)
    np.testing.assert_allclose(a.grad._array, unbroadcast(da(w, ab, bb), a_np.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad._array, unbroadcast(db(w, ab, bb), b_np.shape), rtol=1e-12, atol=1e-12)


@PROPS
@given(shapes=shape_pairs, seed=st.integers(0, 2**32 - 1))
def test_maximum_ties_split_the_gradient(shapes, seed):
    """The documented rule: where a == b each input gets half of the upstream gradient."""
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a_np = np.asarray(rng.integers(-1, 2, sa).astype(float))  # few values: many ties
    b_np = np.asarray(rng.integers(-1, 2, sb).astype(float))
    a, b = nb.tensor(a_np, requires_grad=True), nb.tensor(b_np, requires_grad=True)
    out = nb.maximum(a, b)
    w = rng.standard_normal(out.shape)
    out.backward(w)
    ab, bb = np.broadcast_to(a_np, out.shape), np.broadcast_to(b_np, out.shape)
    wa = (ab > bb) + 0.5 * (ab == bb)
    np.testing.assert_allclose(a.grad._array, unbroadcast(w * wa, sa), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad._array, unbroadcast(w * (1 - wa), sb), rtol=1e-12, atol=1e-12)


@PROPS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=1, max_side=4),
       seed=st.integers(0, 2**32 - 1))
def test_where_broadcasts_condition_and_both_branches(shapes, seed):
    sc, sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    cond = np.asarray(rng.random(sc) < 0.5)
    a_np, b_np = np.asarray(rng.standard_normal(sa)), np.asarray(rng.standard_normal(sb))
    a, b = nb.tensor(a_np, requires_grad=True), nb.tensor(b_np, requires_grad=True)
    out = nb.where(nb.tensor(cond), a, b)
    np.testing.assert_array_equal(out._array, np.where(cond, a_np, b_np))
    w = rng.standard_normal(out.shape)
    out.backward(w)
    c = np.broadcast_to(cond, out.shape)
    np.testing.assert_allclose(a.grad._array, unbroadcast(np.where(c, w, 0.0), sa), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad._array, unbroadcast(np.where(c, 0.0, w), sb), rtol=1e-12, atol=1e-12)


def _composite(a, b, w):
    """Reuses both inputs on several paths: sum(w * (a*b + a/b - maximum(a, b) + a**2 * b)), any array library."""
    mx = nb.maximum(a, b) if isinstance(a, nb.Tensor) else np.maximum(a, b)
    return ((a * b + a / b - mx + a**2 * b) * w).sum()


@PROPS
@given(shapes=shape_pairs, seed=st.integers(0, 2**32 - 1))
def test_composite_gradients_match_finite_differences(shapes, seed):
    a_np, b_np, rng = _pair(shapes, seed, distinct=True)
    b_np = np.asarray(np.sign(b_np) * (np.abs(b_np) + 0.5))  # away from 0 for the division
    a_np, b_np = _separate(a_np, b_np, shapes)
    w = rng.standard_normal(shapes.result_shape)
    a, b = nb.tensor(a_np.copy(), requires_grad=True), nb.tensor(b_np.copy(), requires_grad=True)
    out = _composite(a, b, w)
    np.testing.assert_allclose(out.item(), _composite(a_np, b_np, w), rtol=1e-12)
    out.backward()
    def f(x, y):
        return float(_composite(x, y, w))
    np.testing.assert_allclose(a.grad._array, central_diff(f, [a_np, b_np], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.grad._array, central_diff(f, [a_np, b_np], 1), rtol=1e-5, atol=1e-6)


@PROPS
@given(shapes=shape_pairs, seed=st.integers(0, 2**32 - 1))
def test_pow_of_tensors_broadcasts(shapes, seed):
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a_np, b_np = np.asarray(rng.uniform(0.5, 2.0, sa)), np.asarray(rng.uniform(-1.5, 1.5, sb))
    a, b = nb.tensor(a_np, requires_grad=True), nb.tensor(b_np, requires_grad=True)
    out = a**b
    np.testing.assert_allclose(out._array, a_np**b_np, rtol=1e-12)
    w = rng.standard_normal(out.shape)
    out.backward(w)
    ab, bb = np.broadcast_to(a_np, out.shape), np.broadcast_to(b_np, out.shape)
    np.testing.assert_allclose(a.grad._array, unbroadcast(w * bb * ab ** (bb - 1), sa), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad._array, unbroadcast(w * ab**bb * np.log(ab), sb), rtol=1e-10, atol=1e-12)


@PROPS
@given(shapes=shape_pairs, seed=st.integers(0, 2**32 - 1))
def test_float32_broadcast_gradients_keep_input_dtypes(shapes, seed):
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = nb.tensor(np.asarray(rng.standard_normal(sa), np.float32), requires_grad=True)
    b = nb.tensor(np.asarray(rng.uniform(1, 2, sb)), requires_grad=True)  # float64
    out = nb.where(a > 0, a * b, nb.maximum(a, b) - 1.5)
    # a 0-d operand takes the dtype of a dimensioned one of its kind; otherwise float32 with float64 is float64
    assert out.dtype == (np.float32 if sb == () and sa != () else np.float64)
    out.backward(np.ones(out.shape))
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert a.grad.shape == sa and b.grad.shape == sb
