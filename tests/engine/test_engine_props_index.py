"""Property tests (hypothesis): indexing with random slices (negative steps too), negative ints,
``None``, ``...``, boolean masks and repeated integer arrays: the forward equals NumPy's and the
gradient equals the ``np.add.at`` scatter of the upstream gradient (repeated positions accumulate).

Complements tests/engine/test_properties.py (one integer array on one dim, paired arrays).
Deterministic: 30 examples per test, 4 tests (120 cases).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnbasics as nb

PROPS = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def _slice(draw, n):
    bound = st.none() | st.integers(-n - 2, n + 2)
    step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
    return slice(draw(bound), draw(bound), step)


@st.composite
def basic_index(draw):
    """A random basic index: per dim an int (negative allowed), a slice, or nothing; plus None and `...`."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    items = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "slice", "none"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            items.append(_slice(draw, n))
        else:
            items.append(None)
            items.append(_slice(draw, n))
    if draw(st.booleans()) and len(items) < len(shape):
        items.append(Ellipsis)
        items.append(draw(st.integers(-shape[-1], shape[-1] - 1)))
    return shape, tuple(items), draw(st.integers(0, 2**32 - 1))


def _check(shape, index, seed, wrap=lambda i: i):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    x = nb.tensor(a, requires_grad=True)
    out = x[wrap(index)]
    expected = a[index]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out._array, expected)
    w = rng.standard_normal(out.shape)
    (out * nb.tensor(w)).sum().backward()
    ref = np.zeros(shape)
    np.add.at(ref, index, w)
    np.testing.assert_allclose(x.grad._array, ref, rtol=1e-12, atol=1e-12)


@PROPS
@given(case=basic_index())
def test_basic_indexing_forward_and_gradient(case):
    _check(*case)


@st.composite
def mask_index(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    where = draw(st.sampled_from(["full", "leading", "middle"]))
    if where == "full":
        mask = draw(hnp.arrays(np.bool_, shape))
        index = mask
    elif where == "leading":
        index = draw(hnp.arrays(np.bool_, shape[:1]))
    else:
        d = draw(st.integers(0, len(shape) - 1))
        index = (slice(None),) * d + (draw(hnp.arrays(np.bool_, shape[d:d + 1])),)
    return shape, index, draw(st.integers(0, 2**32 - 1))


@PROPS
@given(case=mask_index(), as_tensor=st.booleans())
def test_boolean_mask_forward_and_gradient(case, as_tensor):
    shape, index, seed = case

    def wrap(i):
        if not as_tensor:
            return i
        return tuple(nb.tensor(j) if isinstance(j, np.ndarray) else j for j in i) if isinstance(i, tuple) \
            else nb.tensor(i)

    _check(shape, index, seed, wrap)


@st.composite
def mixed_advanced(draw):
    """A slice or negative int on some dims and a repeated (negative-allowed) integer array on one dim."""
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5))
    d = draw(st.integers(0, len(shape) - 1))
    idx = draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=6)),
                          elements=st.integers(-shape[d], shape[d] - 1)))
    items = []
    for k, n in enumerate(shape):
        if k == d:
            items.append(idx)
        else:
            items.append(_slice(draw, n))
    return shape, tuple(items), draw(st.integers(0, 2**32 - 1))


@PROPS
@given(case=mixed_advanced(), as_tensor=st.booleans())
def test_repeated_integer_arrays_with_slices_accumulate(case, as_tensor):
    shape, index, seed = case
    wrap = (lambda i: tuple(nb.tensor(j) if isinstance(j, np.ndarray) else j for j in i)) if as_tensor else \
        (lambda i: i)
    _check(shape, index, seed, wrap)


@PROPS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), data=st.data())
def test_reused_index_result_accumulates_across_paths(shape, data):
    """x[i] used twice, and x used again directly: every path adds into x.grad."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = shape[0]
    idx = rng.integers(-n, n, data.draw(st.integers(1, 7)))
    a = rng.standard_normal(shape)
    x = nb.tensor(a, requires_grad=True)
    y = x[idx]
    out = (y * y).sum() + (x * 3.0).sum()
    out.backward()
    ref = np.full(shape, 3.0)
    np.add.at(ref, idx, 2 * a[idx])
    np.testing.assert_allclose(x.grad._array, ref, rtol=1e-12, atol=1e-12)
