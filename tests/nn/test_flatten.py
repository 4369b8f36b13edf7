"""nn.Flatten and nn.Unflatten."""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn


@pytest.mark.parametrize("start, end, expected", [
    (1, -1, (2, 105)), (0, -1, (210,)), (1, 2, (2, 15, 7)), (-2, -1, (2, 3, 35)), (2, 2, (2, 3, 5, 7)),
])
def test_flatten_shapes(start, end, expected):
    x = nb.randn(2, 3, 5, 7, rng=0)
    y = nn.Flatten(start, end)(x)
    assert y.shape == expected
    np.testing.assert_array_equal(y._array, x._array.reshape(expected))


def test_flatten_gradcheck():
    x = nb.randn(2, 3, 5, rng=0, dtype="float64", requires_grad=True)
    nb.gradcheck(nn.Flatten(), x)


def test_flatten_parity(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7)).astype(np.float32)
    for args in [(), (0,), (1, 2), (-3, -2)]:
        expected = torch.nn.Flatten(*args)(torch.from_numpy(x)).numpy()
        got = nn.Flatten(*args)(nb.tensor(x))._array
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("shape", [(5,), ()])
def test_flatten_bad_input(shape):
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1, end_dim=-1\) expected .*got shape"):
        nn.Flatten()(nb.zeros(*shape))
    with pytest.raises(ValueError, match="Flatten"):
        nn.Flatten(2, 1)(nb.zeros(2, 3, 5))


def test_unflatten():
    x = nb.randn(2, 105, rng=0, requires_grad=True)
    u = nn.Unflatten(1, (3, 5, 7))
    y = u(x)
    assert y.shape == (2, 3, 5, 7)
    np.testing.assert_array_equal(nn.Flatten()(y)._array, x._array)
    assert nn.Unflatten(-1, (3, -1))(x).shape == (2, 3, 35)
    assert repr(u) == "Unflatten(dim=1, unflattened_size=(3, 5, 7))"
    with pytest.raises(ValueError, match=r"Unflatten.*expected .*size 15.*got shape \(2, 105\)"):
        nn.Unflatten(1, (3, 5))(x)
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))


def test_contracts():
    check_module(lambda rng: nn.Flatten(), nb.randn(2, 3, 5, rng=0), expected_shape=(2, 15), param_names=[],
                 bad_inputs=[nb.randn(7, rng=0)])
    check_module(lambda rng: nn.Unflatten(1, (3, 5)), nb.randn(2, 15, rng=0), expected_shape=(2, 3, 5),
                 param_names=[], bad_inputs=[nb.randn(2, 14, rng=0)])
