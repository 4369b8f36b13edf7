"""PyTorch parity of the movement ops: reshape, permute, transpose, expand, squeeze,
unsqueeze, flatten, getitem, cat, stack, split, pad, gather/take_along_axis.

Values and gradients in float32. Index arrays with repeats check the scatter-add of getitem
and gather; negative-step slices are left out (torch has none).
"""

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb

SHAPE = (2, 3, 5)


def _same(fn):
    """The same lambda for both libraries (the method names agree)."""
    return fn, fn


@pytest.mark.parametrize(
    "shape", [(6, 5), (-1,), (5, -1, 2), (30,), (1, 2, 15), (2, 3, 5)], ids=str
)
def test_reshape_view(torch, rng, shape):
    x = rng.standard_normal(SHAPE)
    assert_parity(*_same(lambda x: x.reshape(*shape) * 2), x, torch=torch)
    assert_parity(*_same(lambda x: x.reshape(shape)), x, torch=torch)
    assert_parity(*_same(lambda x: x.view(*shape)), x, torch=torch)
    assert_parity(lambda x: nb.reshape(x, shape), lambda x: torch.reshape(x, shape), x, torch=torch)


@pytest.mark.parametrize("dims", [(2, 0, 1), (-1, 0, 1), (1, 0, 2), (0, 1, 2), (2, 1, 0)], ids=str)
def test_permute(torch, rng, dims):
    x = rng.standard_normal(SHAPE)
    assert_parity(*_same(lambda x: x.permute(*dims)), x, torch=torch)
    assert_parity(*_same(lambda x: x.permute(dims)), x, torch=torch)
    assert_parity(lambda x: nb.permute(x, *dims), lambda x: torch.permute(x, dims), x, torch=torch)


@pytest.mark.parametrize("dims", [(0, 2), (-1, -2), (1, 1), (2, 0)], ids=str)
def test_transpose(torch, rng, dims):
    x = rng.standard_normal(SHAPE)
    assert_parity(*_same(lambda x: x.transpose(*dims)), x, torch=torch)
    assert_parity(lambda x: nb.transpose(x, *dims), lambda x: torch.transpose(x, *dims), x, torch=torch)


def test_matrix_transposes(torch, rng):
    m = rng.standard_normal((3, 5))
    assert_parity(*_same(lambda m: m.T), m, torch=torch)
    assert_parity(lambda m: m.transpose(), lambda m: m.t(), m, torch=torch)
    x = rng.standard_normal(SHAPE)
    assert_parity(*_same(lambda x: x.mT), x, torch=torch)
    # no dims: all reversed (NumPy's transpose), torch spells it permute
    assert_parity(lambda x: x.transpose(), lambda x: x.permute(2, 1, 0), x, torch=torch)


@pytest.mark.parametrize(
    "case",
    [((3, 1), (2, 3, 5)), ((5,), (3, 5)), ((3, 1), (-1, 7)), ((), (2, 3)), ((1, 3, 1), (2, -1, 5)), ((3, 5), (3, 5))],
    ids=str,
)
def test_expand_broadcast_to(torch, rng, case):
    src, target = case
    x = rng.standard_normal(src)
    assert_parity(*_same(lambda x: x.expand(*target)), x, torch=torch)
    assert_parity(*_same(lambda x: x.expand(target)), x, torch=torch)
    if -1 not in target:
        assert_parity(lambda x: nb.broadcast_to(x, target), lambda x: torch.broadcast_to(x, target), x, torch=torch)
        assert_parity(*_same(lambda x: x.broadcast_to(target)), x, torch=torch)


@pytest.mark.parametrize("dim", [None, 0, -2, 1, (0, 2), (1, 3), -1], ids=str)
def test_squeeze(torch, rng, dim):
    x = rng.standard_normal((1, 3, 1, 5))  # dim 1 and 3 (size 3, 5) make squeeze a no-op there
    args = () if dim is None else (dim,)
    assert_parity(*_same(lambda x: x.squeeze(*args)), x, torch=torch)
    assert_parity(lambda x: nb.squeeze(x, *args), lambda x: torch.squeeze(x, *args), x, torch=torch)


@pytest.mark.parametrize("dim", [0, 1, 3, -1, -4, -2])
def test_unsqueeze(torch, rng, dim):
    x = rng.standard_normal(SHAPE)
    assert_parity(*_same(lambda x: x.unsqueeze(dim)), x, torch=torch)
    assert_parity(lambda x: nb.unsqueeze(x, dim), lambda x: torch.unsqueeze(x, dim), x, torch=torch)


@pytest.mark.parametrize("dims", [(), (1,), (0, 1), (1, -1), (-2, -1), (2, 2), (0, -1)], ids=str)
def test_flatten(torch, rng, dims):
    x = rng.standard_normal((2, 3, 5, 7))
    assert_parity(*_same(lambda x: x.flatten(*dims)), x, torch=torch)
    assert_parity(lambda x: nb.flatten(x, *dims), lambda x: torch.flatten(x, *dims), x, torch=torch)


def test_flatten_zero_dim(torch):
    assert_parity(*_same(lambda x: x.flatten()), np.array(3.0), torch=torch)


# ------------------------------------------------------------------ getitem
BASIC_INDICES = {
    "int": 1,
    "neg_int": -1,
    "slice": slice(1, 3),
    "step": (slice(None), slice(0, 5, 2)),
    "steps": (slice(None, None, 2), slice(1, None, 3)),
    "ellipsis": (Ellipsis, 1),
    "none": (None, slice(1, 3), Ellipsis, None),
    "scalar": (1, 2, 0),
    "mixed": (slice(None), -1, slice(None, 3)),
    "open_slices": (slice(-2, None), slice(None, -1)),
    "empty_slice": slice(2, 2),
}


@pytest.mark.parametrize("name", sorted(BASIC_INDICES))
def test_getitem_basic(torch, rng, name):
    x = rng.standard_normal((3, 5, 7))
    idx = BASIC_INDICES[name]
    assert_parity(*_same(lambda x: x[idx]), x, torch=torch)


# integer index arrays (given to each library as its own int64 tensor), repeats included
ARRAY_INDICES = {
    "first_dim_repeats": (lambda x, i: x[i], [0, 2, 0, 1, 2]),
    "second_dim": (lambda x, i: x[:, i], [4, 4, 0, -1]),
    "after_int": (lambda x, i: x[1, i], [3, 3, 3]),
    "two_d_index": (lambda x, i: x[i], [[0, 1], [2, 0], [0, 0]]),
    "ellipsis_last": (lambda x, i: x[..., i], [6, 0, 6, 2]),
    "paired": (lambda x, i: x[i, i], [0, 2, 2, 1]),
    "separated": (lambda x, i: x[i, :, i], [0, 2, 2]),  # advanced dims go first (NumPy = torch)
    "with_slice_after": (lambda x, i: x[i, 1:4], [2, 0, 2]),
}


@pytest.mark.parametrize("name", sorted(ARRAY_INDICES))
def test_getitem_integer_arrays_with_repeats(torch, rng, name):
    fn, idx = ARRAY_INDICES[name]
    x = rng.standard_normal((3, 5, 7))
    assert_parity(fn, fn, x, np.asarray(idx, dtype=np.int64), torch=torch)


def test_getitem_list_and_two_index_arrays(torch, rng):
    x = rng.standard_normal((3, 5, 7))
    assert_parity(*_same(lambda x: x[[0, 2, 0]]), x, torch=torch)
    rows, cols = np.array([0, 2, 2, 1]), np.array([[4], [0]])  # broadcast to (2, 4)
    assert_parity(*_same(lambda x, r, c: x[r, c]), x, rows, cols, torch=torch)


def test_getitem_bool_masks(torch, rng):
    x = rng.standard_normal((3, 5, 7))
    full = rng.random((3, 5, 7)) > 0.5
    first = np.array([True, False, True])
    middle = np.array([False, True, True, False, True])
    assert_parity(*_same(lambda x, m: x[m]), x, full, torch=torch)
    assert_parity(*_same(lambda x, m: x[m]), x, first, torch=torch)
    assert_parity(*_same(lambda x, m: x[:, m]), x, middle, torch=torch)
    assert_parity(*_same(lambda x, m: x[1, m]), x, middle, torch=torch)
    assert_parity(*_same(lambda x, m: x[m[:, :, 0]]), x, full, torch=torch)  # 2-D mask over (3, 5)
    assert_parity(*_same(lambda x: x[x > 0.3]), x, torch=torch)


def test_getitem_reused_slices_accumulate(torch, rng):
    x = rng.standard_normal((3, 5))
    assert_parity(*_same(lambda x: x[0] * x[1:2] + x[:, ::2].sum(1, keepdim=True)), x, torch=torch)


# ------------------------------------------------------------------ joining and splitting
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_cat(torch, rng, dim):
    shapes = [list(SHAPE) for _ in range(3)]
    for s, n in zip(shapes, (2, 1, 4)):
        s[dim] = n  # different sizes along the joined dim
    a, b, c = (rng.standard_normal(s) for s in shapes)
    assert_parity(lambda a, b, c: nb.cat([a, b, c], dim), lambda a, b, c: torch.cat([a, b, c], dim), a, b, c,
                  torch=torch)
    assert_parity(lambda a, b, c: nb.concatenate((a, b), dim=dim), lambda a, b, c: torch.cat((a, b), dim=dim),
                  a, b, c, torch=torch)


def test_cat_same_tensor_twice(torch, rng):
    a = rng.standard_normal((2, 3))
    assert_parity(lambda a: nb.cat([a, a * 2, a], 1), lambda a: torch.cat([a, a * 2, a], 1), a, torch=torch)


@pytest.mark.parametrize("dim", [0, 1, 3, -1, -4, -2])
def test_stack(torch, rng, dim):
    a, b, c = (rng.standard_normal(SHAPE) for _ in range(3))
    assert_parity(lambda a, b, c: nb.stack([a, b, c], dim), lambda a, b, c: torch.stack([a, b, c], dim), a, b, c,
                  torch=torch)


@pytest.mark.parametrize("how", [2, 3, 7, [1, 3, 1], [5], [0, 4, 1]], ids=str)
@pytest.mark.parametrize("dim", [1, -2])
def test_split(torch, rng, how, dim):
    x = rng.standard_normal((2, 5, 3))
    assert_parity(*_same(lambda x: x.split(how, dim)), x, torch=torch)
    assert_parity(lambda x: nb.split(x, how, dim=dim), lambda x: torch.split(x, how, dim=dim), x, torch=torch)


def test_split_only_some_chunks_used(torch, rng):
    x = rng.standard_normal((2, 7))
    assert_parity(*_same(lambda x: x.split(3, 1)[0] * 2), x, torch=torch)


# ------------------------------------------------------------------ pad
def _torch_pad_order(widths):
    """NumPy-style ((before, after) per dim) -> torch.nn.functional.pad's flat list, LAST dim first."""
    flat = []
    for lo, hi in reversed(widths):
        flat += [lo, hi]
    return flat


@pytest.mark.parametrize(
    "widths", [((0, 0), (1, 2), (3, 0)), ((2, 1), (0, 0), (0, 0)), ((1, 1), (2, 2), (1, 3)), ((0, 0),) * 3], ids=str
)
@pytest.mark.parametrize("value", [0.0, -1.5])
def test_pad_constant(torch, rng, widths, value):
    x = rng.standard_normal(SHAPE)
    tw = _torch_pad_order(widths)
    assert_parity(lambda x: x.pad(widths, value), lambda x: torch.nn.functional.pad(x, tw, value=value), x,
                  torch=torch)
    assert_parity(lambda x: nb.pad(x, widths, value=value), lambda x: torch.nn.functional.pad(x, tw, value=value),
                  x, torch=torch)


def test_pad_int_width(torch, rng):
    x = rng.standard_normal(SHAPE)
    assert_parity(lambda x: nb.pad(x, 2), lambda x: torch.nn.functional.pad(x, [2] * 6), x, torch=torch)


# ------------------------------------------------------------------ gather
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_gather_with_repeats(torch, rng, dim):
    x = rng.standard_normal((3, 5, 7))
    shape = list(x.shape)
    shape[dim] = 4
    idx = rng.integers(0, x.shape[dim], shape)
    idx.flat[:3] = 0  # repeated picks: their gradients add up
    assert_parity(lambda x, i: x.gather(dim, i), lambda x, i: x.gather(dim, i), x, idx, torch=torch)
    assert_parity(lambda x, i: nb.gather(x, dim, i), lambda x, i: torch.gather(x, dim, i), x, idx, torch=torch)
    assert_parity(lambda x, i: nb.take_along_axis(x, i, dim), lambda x, i: torch.gather(x, dim, i), x, idx,
                  torch=torch)
    assert_parity(lambda x, i: x.take_along_axis(i, axis=dim), lambda x, i: torch.take_along_dim(x, i, dim), x, idx,
                  torch=torch)


def test_gather_index_smaller_than_input(torch, rng):
    # torch.gather reads only the leading part of x outside dim; the output has the index's shape
    x = rng.standard_normal((3, 5, 7))
    idx = rng.integers(0, 5, (2, 6, 4))
    assert_parity(lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i), x, idx, torch=torch)


def test_take_along_axis_broadcasts_like_numpy(torch, rng):
    # NumPy broadcasts x and indices outside the axis; torch.take_along_dim does the same
    x = rng.standard_normal((3, 5))
    idx = np.array([[2, 2, 4]])  # (1, 3): the same picks for every row
    assert_parity(lambda x, i: nb.take_along_axis(x, i, 1), lambda x, i: torch.take_along_dim(x, i, 1), x, idx,
                  torch=torch)
    row = rng.standard_normal((1, 5))  # (1, 5) against indices (3, 2)
    idx = np.array([[0, 4], [1, 1], [3, 0]])
    assert_parity(lambda x, i: nb.take_along_axis(x, i, 1), lambda x, i: torch.take_along_dim(x, i, 1), row, idx,
                  torch=torch)


def test_gather_cross_entropy_pick(torch, rng):
    logits, y = rng.standard_normal((7, 5)), rng.integers(0, 5, (7, 1))
    assert_parity(*_same(lambda x, y: x.log_softmax(1).gather(1, y).mean()), logits, y, torch=torch)
