"""Max-norm constraint (Srivastava et al., 2014): parity with torch.renorm, semantics, use in training."""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import optim
from nnbasics.nn import Parameter
from nnbasics.nn.utils import MaxNorm, max_norm_


@pytest.mark.parametrize("shape,dim", [((5, 3), 0), ((5, 3), 1), ((4, 3, 2, 5), 0), ((5, 3), -1)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_max_norm_matches_torch_renorm(torch, rng, shape, dim, norm_type):
    w = (2.0 * rng.standard_normal(shape)).astype(np.float32)
    p = Parameter(w.copy())
    data = p._array
    assert max_norm_(p, 1.5, dim=dim, norm_type=norm_type) is p
    assert p._array is data  # in place
    expected = torch.renorm(torch.tensor(w), norm_type, dim, 1.5).numpy()
    np.testing.assert_allclose(p._array, expected, rtol=1e-6, atol=1e-7)


def test_max_norm_of_a_vector_bounds_each_entry():
    p = Parameter(np.array([-3.0, 0.5, 2.0], dtype=np.float32))  # torch.renorm refuses 1-d input
    max_norm_(p, 1.0)
    np.testing.assert_allclose(p._array, [-1.0, 0.5, 1.0], rtol=1e-6)


def test_max_norm_rows_of_linear_weight():
    w = np.array([[3.0, 4.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, -10.0]], dtype=np.float64)
    p = Parameter(w.copy())
    max_norm_(p, 2.0)  # dim=0: each row (a unit's incoming weights)
    norms = np.linalg.norm(p._array, axis=1)
    np.testing.assert_allclose(norms, [2.0, 1.0, 2.0], rtol=1e-6)
    np.testing.assert_array_equal(p._array[1], w[1])  # under the bound: untouched
    np.testing.assert_allclose(p._array[0] / norms[0], w[0] / 5.0)  # direction kept


def test_max_norm_constraint_bounds_weights_during_training(rng):
    W = Parameter(rng.standard_normal((5, 3)).astype(np.float32))
    X = nb.tensor(rng.standard_normal((7, 3)).astype(np.float32))
    opt = optim.SGD([W], lr=0.5, momentum=0.9, maximize=True)  # ascent: the weights grow without the constraint
    constraint = MaxNorm([W], max_value=3.0)
    for _ in range(20):
        opt.zero_grad()
        (X @ W.T).pow(2).sum().backward()
        opt.step()
        constraint()
        assert np.linalg.norm(W._array, axis=1).max() <= 3.0 * (1 + 1e-5)
    assert np.linalg.norm(W._array, axis=1).max() > 2.9  # the constraint was active


@pytest.mark.parametrize("call,error,message", [
    (lambda p: max_norm_(p, -1.0), ValueError, "max_value of max_norm_ must be a number >= 0"),
    (lambda p: max_norm_(p, 1.0, dim=2), ValueError, "dim of max_norm_ is 2, out of range"),
    (lambda p: max_norm_(p, 1.0, norm_type=0), ValueError, "norm_type of max_norm_"),
    (lambda p: max_norm_([1.0, 2.0], 1.0), TypeError, "expects a Tensor/Parameter or an ndarray"),
    (lambda p: MaxNorm([p, "w"], 3.0), TypeError, "MaxNorm constrains Tensors"),
])
def test_max_norm_validation(call, error, message):
    with pytest.raises(error, match=message):
        call(Parameter(np.ones((2, 3), dtype=np.float32)))
