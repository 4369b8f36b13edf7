"""PyTorch parity of selection along a dim (issue 13 §1): ``max``/``min`` with a dim return the named
tuple ``(values, indices)``; ``sort``, ``argsort``, ``topk``, ``kthvalue``, ``median``, ``mode`` return
what torch returns; values and gradients (to the picked element) match.

Values are drawn without ties where torch leaves tie indices unspecified; ties are tested where
torch documents the rule (max/min: first index; mode: smallest value, last index).
"""

import numpy as np
import pytest
from parity import assert_parity, to_numpy

import nnbasics as nb

SHAPE = (3, 4, 5)


def _distinct(rng, shape=SHAPE):
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) / 7.0 - 3.0


def _same_tuple(ours, theirs):
    assert type(ours).__name__ == type(theirs).__name__
    assert isinstance(ours, tuple) and len(ours) == 2
    np.testing.assert_array_equal(to_numpy(ours.indices), to_numpy(theirs.indices))
    np.testing.assert_allclose(to_numpy(ours.values), to_numpy(theirs.values), rtol=1e-6)
    assert ours.indices.dtype == np.int64
    v, i = ours  # unpacks like torch's
    assert v is ours.values and i is ours.indices and ours[0] is v and ours[1] is i


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("which", ["max", "min"])
def test_max_min_with_dim_is_values_and_indices(torch, rng, which, dim, keepdim):
    x = _distinct(rng)
    ours = getattr(nb.tensor(x), which)(dim, keepdim)
    theirs = getattr(torch.tensor(x), which)(dim, keepdim)
    _same_tuple(ours, theirs)
    _same_tuple(getattr(nb, which)(nb.tensor(x), dim=dim, keepdim=keepdim),
                getattr(torch, which)(torch.tensor(x), dim=dim, keepdim=keepdim))
    # the gradient goes to the picked element
    assert_parity(lambda t: getattr(t, which)(dim, keepdim).values, lambda t: getattr(t, which)(dim, keepdim).values,
                  x, torch=torch)


def test_underscore_pred_unpacking_gives_the_indices(torch, rng):
    out = rng.standard_normal((6, 4))
    _, pred = nb.tensor(out).max(1)
    _, tpred = torch.tensor(out).max(1)
    np.testing.assert_array_equal(pred.numpy(), tpred.numpy())
    assert pred.dtype == np.int64


@pytest.mark.parametrize("which", ["max", "min"])
def test_max_min_ties_give_the_first_index_and_the_gradient_to_it(torch, which):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    if which == "min":
        x = -x
    _same_tuple(getattr(nb.tensor(x), which)(1), getattr(torch.tensor(x), which)(1))
    assert_parity(lambda t: getattr(t, which)(1).values, lambda t: getattr(t, which)(1).values, x, torch=torch)


@pytest.mark.parametrize("which", ["max", "min"])
def test_max_min_of_a_tensor_pair_is_elementwise(torch, rng, which):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert_parity(lambda a, b: getattr(nb, which)(a, b), lambda a, b: getattr(torch, which)(a, b), a, b, torch=torch)
    assert_parity(lambda a, b: getattr(a, which)(b), lambda a, b: getattr(a, which)(b), a, b, torch=torch)


def test_max_min_of_a_0d_tensor_with_dim_0(torch):
    _same_tuple(nb.tensor(2.5).max(0), torch.tensor(2.5).max(0))
    _same_tuple(nb.tensor(2.5).min(-1), torch.tensor(2.5).min(-1))


def test_max_over_an_empty_dim_raises(torch):
    with pytest.raises(IndexError, match="non-zero size"):
        nb.zeros(2, 0).max(1)
    with pytest.raises((IndexError, RuntimeError)):
        torch.zeros(2, 0).max(1)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_and_argsort(torch, rng, dim, descending):
    x = _distinct(rng)
    _same_tuple(nb.sort(nb.tensor(x), dim, descending), torch.sort(torch.tensor(x), dim, descending))
    _same_tuple(nb.tensor(x).sort(dim=dim, descending=descending), torch.tensor(x).sort(dim=dim, descending=descending))
    np.testing.assert_array_equal(nb.tensor(x).argsort(dim, descending).numpy(),
                                  torch.tensor(x).argsort(dim, descending).numpy())
    assert_parity(lambda t: t.sort(dim, descending).values, lambda t: t.sort(dim, descending).values, x, torch=torch)


@pytest.mark.parametrize("descending", [False, True])
def test_stable_sort_with_ties_and_nan(torch, descending):
    x = np.array([[3.0, 1.0, 3.0, np.nan, 1.0, 2.0], [5.0, 5.0, 4.0, 4.0, 4.0, 5.0]])
    ours = nb.sort(nb.tensor(x), dim=1, descending=descending, stable=True)
    theirs = torch.sort(torch.tensor(x), dim=1, descending=descending, stable=True)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_topk(torch, rng, k, largest):
    x = _distinct(rng)
    _same_tuple(nb.topk(nb.tensor(x), k, largest=largest), torch.topk(torch.tensor(x), k, largest=largest))
    _same_tuple(nb.tensor(x).topk(min(k, 3), 0, largest), torch.tensor(x).topk(min(k, 3), 0, largest))
    assert_parity(lambda t: t.topk(k, 1, largest).values, lambda t: t.topk(k, 1, largest).values, x, torch=torch)


def test_topk_k_out_of_range_raises():
    with pytest.raises(IndexError, match="out of range"):
        nb.zeros(2, 3).topk(4)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_kthvalue(torch, rng, k, keepdim):
    x = _distinct(rng)
    _same_tuple(nb.kthvalue(nb.tensor(x), k, 1, keepdim), torch.kthvalue(torch.tensor(x), k, 1, keepdim))
    assert_parity(lambda t: t.kthvalue(k, -1, keepdim).values, lambda t: t.kthvalue(k, -1, keepdim).values, x,
                  torch=torch)


@pytest.mark.parametrize("n", [5, 6])
def test_median_is_the_lower_middle_value(torch, rng, n):
    x = _distinct(rng, (4, n))
    ours, theirs = nb.tensor(x).median(), torch.tensor(x).median()
    assert ours.shape == () and float(ours) == float(theirs)
    _same_tuple(nb.median(nb.tensor(x), 1), torch.median(torch.tensor(x), 1))
    _same_tuple(nb.tensor(x).median(0, keepdim=True), torch.tensor(x).median(0, keepdim=True))
    assert_parity(lambda t: t.median(), lambda t: t.median(), x, torch=torch)
    assert_parity(lambda t: t.median(1).values, lambda t: t.median(1).values, x, torch=torch)


def test_median_propagates_nan(torch):
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(nb.tensor(x).median(1).values.numpy(), torch.tensor(x).median(1).values.numpy())
    assert np.isnan(float(nb.tensor(x).median())) and np.isnan(float(torch.tensor(x).median()))


@pytest.mark.parametrize("keepdim", [False, True])
def test_mode(torch, keepdim):
    x = np.array([[3.0, 1.0, 3.0, 1.0, 2.0], [5.0, 5.0, 4.0, 4.0, 4.0], [7.0, 6.0, 8.0, 9.0, 0.5]])
    _same_tuple(nb.mode(nb.tensor(x), 1, keepdim), torch.mode(torch.tensor(x), 1, keepdim))
    _same_tuple(nb.tensor(x).mode(0), torch.tensor(x).mode(0))
    xi = np.array([[2, 2, 1, 1, 1, 0], [0, 3, 3, 0, 9, 9]])
    _same_tuple(nb.tensor(xi).mode(), torch.tensor(xi).mode())
    assert_parity(lambda t: t.mode(1).values, lambda t: t.mode(1).values, x, torch=torch)


def test_amax_amin_keep_values_only(torch, rng):
    x = _distinct(rng)
    out = nb.tensor(x).amax((0, 2))
    assert isinstance(out, nb.Tensor)
    np.testing.assert_allclose(out.numpy(), torch.tensor(x).amax((0, 2)).numpy())
    np.testing.assert_allclose(nb.amin(nb.tensor(x), 1).numpy(), torch.amin(torch.tensor(x), 1).numpy())
