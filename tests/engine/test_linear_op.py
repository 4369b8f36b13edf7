"""The fused affine op ``linear(x, W, b) = x W^T + b`` (ops/linalg.py)."""

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F

IN, OUT = 5, 3
X_SHAPES = [(IN,), (7, IN), (2, 7, IN), (2, 1, 4, IN)]


def _t(a, grad=True):
    return nb.tensor(a, dtype="float64", requires_grad=grad)


@pytest.mark.parametrize("xshape", X_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(rng, xshape, bias):
    x, w = _t(rng.standard_normal(xshape)), _t(rng.standard_normal((OUT, IN)))
    if bias:
        b = _t(rng.standard_normal(OUT))
        nb.gradcheck(lambda x, w, b: F.linear(x, w, b), x, w, b)
    else:
        nb.gradcheck(lambda x, w: F.linear(x, w), x, w)


@pytest.mark.parametrize("which", [(True, False, False), (False, True, False), (False, False, True)])
def test_linear_gradcheck_one_input_requiring_grad(rng, which):
    x, w, b = (_t(rng.standard_normal(s), g) for s, g in zip([(7, IN), (OUT, IN), (OUT,)], which))
    nb.gradcheck(lambda x, w, b: F.linear(x, w, b), x, w, b)


@pytest.mark.parametrize("xshape", X_SHAPES, ids=str)
def test_linear_matches_composed_twin(rng, xshape):
    arrays = rng.standard_normal(xshape), rng.standard_normal((OUT, IN)), rng.standard_normal(OUT)
    g = rng.standard_normal(xshape[:-1] + (OUT,))
    fused, twin = [_t(a) for a in arrays], [_t(a) for a in arrays]
    y1, y2 = F.linear(*fused), twin[0] @ twin[1].T + twin[2]
    np.testing.assert_allclose(y1._array, y2._array, rtol=1e-12, atol=1e-12)
    y1.backward(g)
    y2.backward(g)
    for a, b in zip(fused, twin):
        np.testing.assert_allclose(a.grad._array, b.grad._array, rtol=1e-12, atol=1e-12)


def test_linear_weight_grad_is_c_ordered_float32(rng):
    x, w = nb.tensor(rng.standard_normal((7, IN)).astype(np.float32)), nb.randn(OUT, IN, rng=0, requires_grad=True)
    F.linear(x, w).sum().backward()
    assert w.grad.dtype == np.float32 and w.grad._array.flags.c_contiguous


@pytest.mark.parametrize("xshape", X_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_parity(torch, rng, xshape, bias):
    arrays = [rng.standard_normal(xshape), rng.standard_normal((OUT, IN))] + ([rng.standard_normal(OUT)] if bias else [])
    assert_parity(F.linear, torch.nn.functional.linear, *arrays, torch=torch)


@pytest.mark.parametrize(
    "shapes,pattern",
    [
        (((7, 4), (OUT, IN), (OUT,)), r"input of shape \(7, 4\) does not fit weight \(3, 5\)"),
        (((7, IN), (IN,), None), r"weight must be 2-D"),
        (((7, IN), (OUT, IN), (4,)), r"bias must have shape \(3,\)"),
    ],
)
def test_linear_errors_name_the_shapes(shapes, pattern):
    xs, ws, bs = shapes
    with pytest.raises(ValueError, match=pattern):
        F.linear(nb.zeros(*xs), nb.zeros(*ws), None if bs is None else nb.zeros(*bs))
