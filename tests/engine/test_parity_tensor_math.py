"""PyTorch parity of the everyday tensor math (nnbasics.tensor_math): values and gradients, and gradchecks.

Each case is one lambda run as a Tensor method on both sides (``x.sin()``, ``x.cumsum(1)``...), with
distinct sizes per dimension, a random upstream gradient (tests/parity.py), and inputs kept inside
each function's domain (asin in (-1, 1), log1p above -1...). The primitives (ops.unary, ops.scan)
are also gradchecked in float64, cumprod/prod with zeros in the input.
"""

import math

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb
from nnbasics import ops

# name -> (method call, input sampler)
UNARY = {
    "sin": (lambda x: x.sin(), lambda r: r.standard_normal((2, 3, 5))),
    "cos": (lambda x: x.cos(), lambda r: r.standard_normal((2, 3, 5))),
    "tan": (lambda x: x.tan(), lambda r: r.uniform(-1.2, 1.2, (3, 5))),
    "asin": (lambda x: x.asin(), lambda r: r.uniform(-0.9, 0.9, (3, 5))),
    "acos": (lambda x: x.acos(), lambda r: r.uniform(-0.9, 0.9, (3, 5))),
    "atan": (lambda x: x.atan(), lambda r: r.standard_normal((3, 5))),
    "sinh": (lambda x: x.sinh(), lambda r: r.standard_normal((3, 5))),
    "cosh": (lambda x: x.cosh(), lambda r: r.standard_normal((3, 5))),
    "log1p": (lambda x: x.log1p(), lambda r: r.uniform(-0.9, 3.0, (3, 5))),
    "expm1": (lambda x: x.expm1(), lambda r: r.standard_normal((3, 5))),
    "square": (lambda x: x.square(), lambda r: r.standard_normal((3, 5))),
    "reciprocal": (lambda x: x.reciprocal(), lambda r: r.uniform(0.5, 2.0, (3, 5))),
    "rsqrt": (lambda x: x.rsqrt(), lambda r: r.uniform(0.5, 2.0, (3, 5))),
    "exp2": (lambda x: x.exp2(), lambda r: r.standard_normal((3, 5))),
    "log2": (lambda x: x.log2(), lambda r: r.uniform(0.5, 3.0, (3, 5))),
    "log10": (lambda x: x.log10(), lambda r: r.uniform(0.5, 3.0, (3, 5))),
    "frac": (lambda x: x.frac(), lambda r: r.uniform(-3.0, 3.0, (3, 5)) + 0.01),
    "deg2rad": (lambda x: x.deg2rad(), lambda r: r.standard_normal((3, 5))),
    "clamp_min": (lambda x: x.clamp_min(0.1), lambda r: r.standard_normal((3, 5))),
    "clamp_max": (lambda x: x.clamp_max(-0.1), lambda r: r.standard_normal((3, 5))),
}

SHAPED = {
    "cumsum": (lambda x: x.cumsum(1), (2, 3, 5)),
    "cumsum_neg": (lambda x: x.cumsum(-1), (3, 5)),
    "cumprod": (lambda x: x.cumprod(0), (3, 5)),
    "prod_all": (lambda x: x.prod(), (3, 5)),
    "prod_dim": (lambda x: x.prod(1, keepdim=True), (2, 3, 5)),
    "norm": (lambda x: x.norm(), (3, 5)),
    "norm_p1_dim": (lambda x: x.norm(p=1, dim=1), (3, 5)),
    "norm_p3": (lambda x: x.norm(3, 0, True), (3, 5)),
    "norm_inf": (lambda x: x.norm(float("inf"), dim=1), (3, 5)),
    "diff": (lambda x: x.diff(dim=0), (3, 5)),
    "diff2": (lambda x: x.diff(n=2), (3, 5)),
    "trace": (lambda x: x.trace(), (3, 5)),
    "tril": (lambda x: x.tril(), (3, 5)),
    "triu_k": (lambda x: x.triu(1), (2, 3, 5)),
    "tril_neg": (lambda x: x.tril(-1), (5, 3)),
    "diag2d": (lambda x: x.diag(), (3, 5)),
    "diag2d_k": (lambda x: x.diag(2), (3, 5)),
    "diag1d": (lambda x: x.diag(), (5,)),
    "diag1d_k": (lambda x: x.diag(-1), (3,)),
    "flip": (lambda x: x.flip(0), (2, 3, 5)),
    "flip2": (lambda x: x.flip((1, 2)), (2, 3, 5)),
    "roll": (lambda x: x.roll(2, 1), (2, 3, 5)),
    "roll_flat": (lambda x: x.roll(-4), (3, 5)),
    "roll_multi": (lambda x: x.roll((1, -2), (0, 2)), (2, 3, 5)),
    "narrow": (lambda x: x.narrow(1, 1, 2), (2, 3, 5)),
    "movedim": (lambda x: x.movedim(0, 2), (2, 3, 5)),
    "swapaxes": (lambda x: x.swapaxes(0, 2), (2, 3, 5)),
    "tile": (lambda x: x.tile((2, 1)), (3, 5)),
    "tile_short": (lambda x: x.tile((2,)), (3, 5)),
    "repeat_interleave": (lambda x: x.repeat_interleave(2, dim=0), (3, 5)),
    "repeat_interleave_flat": (lambda x: x.repeat_interleave(3), (2, 3)),
    "unflatten": (lambda x: x.unflatten(1, (5, 3)), (2, 15)),
    "unbind": (lambda x: x.unbind(1), (2, 3, 5)),
    "tensor_split": (lambda x: x.tensor_split(3, dim=1), (2, 7)),
    "tensor_split_idx": (lambda x: x.tensor_split([1, 4], dim=1), (2, 7)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(torch, rng, name):
    fn, sample = UNARY[name]
    assert_parity(fn, fn, sample(rng), torch=torch)


@pytest.mark.parametrize("name", sorted(SHAPED))
def test_shaped_ops_match_torch(torch, rng, name):
    fn, shape = SHAPED[name]
    assert_parity(fn, fn, rng.standard_normal(shape), torch=torch)


@pytest.mark.parametrize("case", ["dot", "mv", "outer", "bmm", "addmm", "lerp", "logaddexp", "hypot", "dist",
                                  "xlogy"])
def test_binary_products_match_torch(torch, rng, case):
    shapes = {"dot": ((5,), (5,)), "mv": ((3, 5), (5,)), "outer": ((3,), (5,)), "bmm": ((2, 3, 5), (2, 5, 7)),
              "addmm": ((3, 7), (3, 5), (5, 7)), "lerp": ((3, 5), (3, 5)), "logaddexp": ((3, 5), (3, 5)),
              "hypot": ((3, 5), (3, 5)), "dist": ((3, 5), (3, 5)), "xlogy": ((3, 5), (3, 5))}[case]
    arrays = [rng.standard_normal(s) for s in shapes]
    if case == "xlogy":
        arrays[1] = np.abs(arrays[1]) + 0.2
        arrays[0][0, :2] = 0.0  # x == 0 gives 0, whatever y
    fns = {"addmm": lambda a, b, c: a.addmm(b, c, beta=0.5, alpha=2.0), "lerp": lambda a, b: a.lerp(b, 0.3),
           "dist": lambda a, b: a.dist(b, 3)}
    fn = fns.get(case, lambda *t: getattr(t[0], case)(*t[1:]))
    assert_parity(fn, fn, *arrays, torch=torch)


def test_selections_with_index_and_mask_match_torch(torch, rng):
    x = rng.standard_normal((3, 5))
    idx = np.array([4, 0, 4, 2])
    assert_parity(lambda x, i: x.index_select(1, i), lambda x, i: x.index_select(1, i), x, idx, torch=torch)
    mask = rng.standard_normal((3, 5)) > 0
    assert_parity(lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m), x, mask, torch=torch)
    assert_parity(lambda x, i: x.take(i), lambda x, i: x.take(i), x, np.array([[14, 0], [3, 3]]), torch=torch)


def test_value_functions_match_torch(torch, rng):
    a = rng.integers(0, 4, (4, 5))
    t = torch.from_numpy(a)
    x = nb.tensor(a)
    for args in ((), ):
        ours = x.unique(*args, return_inverse=True, return_counts=True)
        theirs = t.unique(*args, return_inverse=True, return_counts=True)
        for o, th in zip(ours, theirs):
            np.testing.assert_array_equal(o.numpy(), th.numpy())
    np.testing.assert_array_equal(x.reshape(-1).bincount(minlength=6).numpy(), t.reshape(-1).bincount(minlength=6))
    np.testing.assert_array_equal(x.argwhere().numpy(), t.argwhere().numpy())
    np.testing.assert_array_equal(x.count_nonzero().numpy(), t.count_nonzero().numpy())
    f = rng.standard_normal(50)
    np.testing.assert_allclose(nb.tensor(f).float().histc(7, -1, 1).numpy(),
                               torch.from_numpy(f).float().histc(7, -1, 1).numpy())
    bad = np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32)
    np.testing.assert_array_equal(nb.tensor(bad).nan_to_num().numpy(), torch.from_numpy(bad).nan_to_num().numpy())
    np.testing.assert_array_equal(nb.tensor(bad).nan_to_num(0.0, 9.0, -9.0).numpy(), [0.0, 9.0, -9.0, 1.5])
    b = rng.standard_normal(6) > 0
    c = rng.standard_normal(6) > 0
    for op in ("logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(nb.tensor(b), op)(nb.tensor(c)).numpy(),
                                      getattr(torch.from_numpy(b), op)(torch.from_numpy(c)).numpy())
    assert nb.tensor(b).logical_not().tolist() == torch.from_numpy(b).logical_not().tolist()
    assert 2 in nb.tensor([1, 2, 3]) and 5 not in nb.tensor([1, 2, 3])


def test_memory_attributes_as_torch(torch):
    x = nb.zeros(2, 3, 5)
    t = torch.zeros(2, 3, 5)
    assert x.stride() == t.stride() and x.stride(1) == t.stride(1)
    assert x.get_device() == t.get_device() == -1
    assert x.ndimension() == t.ndimension() == 3
    assert x.pin_memory() is x and x.data_ptr() == x._array.__array_interface__["data"][0]


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "log1p", "expm1"])
def test_unary_primitives_gradcheck(rng, name):
    x = nb.tensor(rng.uniform(-0.8, 0.8, (3, 5)), requires_grad=True)
    nb.gradcheck(getattr(ops.unary, name), x)


@pytest.mark.parametrize("with_zeros", [False, True])
def test_scan_primitives_gradcheck(rng, with_zeros):
    a = rng.uniform(0.5, 1.5, (3, 5)) * np.where(rng.random((3, 5)) > 0.5, 1, -1)
    if with_zeros:
        a[0, 1] = 0.0
        a[2, 3] = a[2, 4] = 0.0  # two zeros in one slice: their gradients are 0 there
    x = nb.tensor(a, requires_grad=True)
    nb.gradcheck(lambda t: ops.scan.cumsum(t, 1), x)
    nb.gradcheck(lambda t: ops.scan.cumprod(t, 1), x)
    nb.gradcheck(lambda t: ops.scan.prod(t, 1), x)
    nb.gradcheck(lambda t: ops.scan.prod(t, 0, keepdim=True), x)
    nb.gradcheck(lambda t: ops.scan.prod(t), x)


def test_prod_and_cumprod_with_zeros_match_torch(torch):
    a = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 2.0]])
    for fn in (lambda x: x.prod(), lambda x: x.prod(1), lambda x: x.cumprod(1), lambda x: x.cumprod(0)):
        assert_parity(fn, fn, a, torch=torch, dtype=np.float64)
    assert nb.tensor([1, 2, 3]).cumsum(0).dtype == np.int64 and nb.tensor([True, True]).prod().item() == 1
    assert math.isclose(nb.tensor([2.0]).cumprod(0).item(), 2.0)
