"""PyTorch parity of the elementwise primitives: values and gradients in float32.

Broadcasting is exercised with distinct sizes (2, 3, 5, 7), size-1 dims and 0-d operands;
kinks are evaluated *at* the kink on purpose, to check we follow PyTorch's convention there
(relu'(0) = abs'(0) = 0, ties of maximum/minimum split the gradient, clamp includes its bounds).
"""

import operator

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb

# (shape of a, shape of b): equal, trailing broadcast, both sides stretched, 0-d either side
BROADCAST_SHAPES = [
    ((2, 3, 5), (2, 3, 5)),
    ((2, 3, 5), (3, 1)),
    ((7, 1, 5), (3, 1)),
    ((2, 3, 5), ()),
    ((), (5,)),
    ((1, 5), (2, 3, 1)),
]


def _away_from_zero(rng, shape, low=0.2):
    """Standard normals pushed at least ``low`` away from 0 (for 1/x, sign changes...)."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + low, x - low)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul], ids=lambda f: f.__name__)
def test_add_sub_mul_broadcast(torch, rng, op, shapes):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    assert_parity(op, op, a, b, torch=torch)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_div_broadcast(torch, rng, shapes):
    a, b = rng.standard_normal(shapes[0]), _away_from_zero(rng, shapes[1], 0.5)
    assert_parity(operator.truediv, operator.truediv, a, b, torch=torch)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_pow_tensor_exponent(torch, rng, shapes):
    base = rng.uniform(0.3, 2.5, shapes[0])  # positive base: d/d(exponent) = a^b log a
    exponent = rng.uniform(-2.0, 3.0, shapes[1])
    assert_parity(operator.pow, operator.pow, base, exponent, torch=torch)


@pytest.mark.parametrize("p", [2, 3, 0.5, -1.5, 0, 1], ids=str)
def test_pow_scalar_exponent(torch, rng, p):
    x = rng.uniform(0.3, 2.5, (3, 5))
    assert_parity(lambda x: x**p, lambda x: x**p, x, torch=torch)


def test_pow_integer_exponent_negative_base(torch, rng):
    x = _away_from_zero(rng, (2, 7))
    assert_parity(lambda x: x**3 + x.pow(2), lambda x: x**3 + x.pow(2), x, torch=torch)


def test_scalar_base_tensor_exponent(torch, rng):
    x = rng.uniform(-2.0, 2.0, (3, 5))
    assert_parity(lambda x: 2.5**x, lambda x: 2.5**x, x, torch=torch)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x + 2.5,
        lambda x: 2.5 + x,
        lambda x: x - 1.5,
        lambda x: 1.5 - x,
        lambda x: x * -3.0,
        lambda x: 4.0 * x,
        lambda x: x / 3.0,
        lambda x: 3.0 / x,
        lambda x: x * 2,  # Python int with a float tensor stays float32
        lambda x: -x,
    ],
    ids=["x+s", "s+x", "x-s", "s-x", "x*s", "s*x", "x/s", "s/x", "x*int", "neg"],
)
def test_python_scalar_operands(torch, rng, fn):
    assert_parity(fn, fn, _away_from_zero(rng, (2, 3, 5)), torch=torch)


def test_int_operands_keep_float32(torch, rng):
    # PyTorch: float32 (op) int64 stays float32, and int / int is a float32 true division
    x, i = rng.standard_normal((3, 5)), rng.integers(1, 4, (5,))
    assert_parity(lambda x, i: x * i + x / i - i, lambda x, i: x * i + x / i - i, x, i, torch=torch)
    a, b = rng.integers(-5, 5, (2, 3)), rng.integers(1, 4, (3,))
    assert_parity(operator.truediv, operator.truediv, a, b, torch=torch)


UNARY = {
    "exp": (lambda x: x.exp(), lambda x: x.exp(), lambda rng, s: rng.uniform(-3, 3, s)),
    "log": (lambda x: x.log(), lambda x: x.log(), lambda rng, s: rng.uniform(0.05, 5, s)),
    "sqrt": (lambda x: x.sqrt(), lambda x: x.sqrt(), lambda rng, s: rng.uniform(0.05, 5, s)),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh(), lambda rng, s: rng.uniform(-4, 4, s)),
    "neg": (lambda x: nb.neg(x), lambda x: x.neg(), lambda rng, s: rng.standard_normal(s)),
    "exp_fn": (lambda x: nb.exp(x), lambda x: x.exp(), lambda rng, s: rng.uniform(-3, 3, s)),
    "log_fn": (lambda x: nb.log(x), lambda x: x.log(), lambda rng, s: rng.uniform(0.05, 5, s)),
    "sqrt_fn": (lambda x: nb.sqrt(x), lambda x: x.sqrt(), lambda rng, s: rng.uniform(0.05, 5, s)),
}


@pytest.mark.parametrize("shape", [(2, 3, 5), ()], ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_smooth(torch, rng, name, shape):
    nb_fn, torch_fn, make = UNARY[name]
    assert_parity(nb_fn, torch_fn, make(rng, shape), torch=torch)


def _with_zeros(rng, shape):
    """Normals with a few exact zeros: the kink itself, where conventions must match."""
    x = _away_from_zero(rng, shape, 1e-3)
    x.flat[:: 4] = 0.0
    return x


def test_abs_sign_relu_at_and_around_zero(torch, rng):
    x = _with_zeros(rng, (3, 7))
    assert (x == 0).any()
    assert_parity(lambda x: x.abs(), lambda x: x.abs(), x, torch=torch)
    assert_parity(lambda x: abs(x), lambda x: abs(x), x, torch=torch)
    assert_parity(lambda x: x.sign() * x, lambda x: x.sign() * x, x, torch=torch)
    assert_parity(lambda x: x.sign(), lambda x: x.sign(), x, torch=torch)
    assert_parity(lambda x: x.relu(), lambda x: x.relu(), x, torch=torch)
    assert_parity(lambda x: nb.relu(x), lambda x: torch.relu(x), x, torch=torch)


def test_sigmoid_including_saturation(torch, rng):
    # |x| up to 50: e^50 overflows nothing in either library, and the gradient underflows to ~0
    x = np.concatenate([rng.uniform(-6, 6, 20), [-50.0, -30.0, -17.0, 17.0, 30.0, 50.0]]).reshape(2, 13)
    assert_parity(lambda x: x.sigmoid(), lambda x: x.sigmoid(), x, torch=torch)
    assert_parity(lambda x: nb.sigmoid(x), lambda x: torch.sigmoid(x), x, torch=torch)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("which", ["maximum", "minimum"])
def test_maximum_minimum_broadcast(torch, rng, which, shapes):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    assert_parity(getattr(nb, which), getattr(torch, which), a, b, torch=torch)


@pytest.mark.parametrize("which", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_the_gradient(torch, rng, which):
    a = rng.standard_normal((3, 5))
    b = rng.standard_normal((3, 5))
    b[:, ::2] = a[:, ::2]  # exact ties: PyTorch gives each side half of the gradient
    assert_parity(getattr(nb, which), getattr(torch, which), a, b, torch=torch)
    # ties through broadcasting: one b element tied with several a elements
    a, b = rng.integers(-2, 3, (3, 5)).astype(float), rng.integers(-2, 3, (5,)).astype(float)
    assert_parity(getattr(nb, which), getattr(torch, which), a, b, torch=torch)
    # methods
    assert_parity(
        lambda a, b: getattr(a, which)(b), lambda a, b: getattr(a, which)(b), a, b, torch=torch
    )


def test_maximum_same_tensor_twice(torch, rng):
    # every element is a tie with itself: the two halves add back up to the whole gradient
    x = rng.standard_normal((2, 5))
    assert_parity(lambda x: nb.maximum(x, x), lambda x: torch.maximum(x, x), x, torch=torch)


@pytest.mark.parametrize(
    "shapes", [((3, 5), (3, 5), (3, 5)), ((3, 5), (5,), (3, 1)), ((2, 3, 5), (), (3, 5)), ((5,), (3, 5), ())],
    ids=str,
)
def test_where_broadcast(torch, rng, shapes):
    cshape, ashape, bshape = shapes
    cond = rng.random(cshape) > 0.4
    a, b = rng.standard_normal(ashape), rng.standard_normal(bshape)
    assert_parity(lambda c, a, b: nb.where(c, a, b), lambda c, a, b: torch.where(c, a, b), cond, a, b, torch=torch)


def test_where_with_comparison_condition(torch, rng):
    x, y = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    assert_parity(
        lambda x, y: nb.where(x > y, x * y, x - y), lambda x, y: torch.where(x > y, x * y, x - y), x, y, torch=torch
    )


@pytest.mark.parametrize(
    "bounds", [(-0.5, 0.5), (-0.5, None), (None, 0.5), (0.25, 0.25)], ids=str
)
def test_clip_clamp_bounds_included(torch, rng, bounds):
    lo, hi = bounds
    x = rng.uniform(-1.5, 1.5, (3, 7))
    x.flat[:6] = [-0.5, 0.5, 0.25, -0.5, 0.5, 0.25]  # exactly at the bounds: gradient 1 (PyTorch)
    kw = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
    assert_parity(lambda x: x.clip(**kw), lambda x: x.clamp(**kw), x, torch=torch)
    assert_parity(lambda x: x.clamp(**kw), lambda x: torch.clip(x, **kw), x, torch=torch)
    assert_parity(lambda x: nb.clamp(x, lo, hi), lambda x: torch.clamp(x, lo, hi), x, torch=torch)


def test_cast_float64_and_back(torch, rng):
    x = rng.standard_normal((3, 5))
    assert_parity(lambda x: x.double() * 3, lambda x: x.double() * 3, x, torch=torch)
    assert_parity(lambda x: (x.double() * 3).float(), lambda x: (x.double() * 3).float(), x, torch=torch)


@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons_give_bool_without_grad(torch, rng, op):
    a = rng.integers(-2, 3, (3, 5)).astype(float)
    b = rng.integers(-2, 3, (5,)).astype(float)
    f = getattr(operator, op)
    assert_parity(f, f, a, b, torch=torch)


def test_reused_input_accumulates(torch, rng):
    # x used along three paths: gradients add (x*x at 3 gives 6, and so on)
    x = rng.uniform(0.5, 2.0, (2, 3))
    assert_parity(lambda x: x * x + x.exp() * x - x / x.sqrt(), lambda x: x * x + x.exp() * x - x / x.sqrt(), x,
                  torch=torch)


class _WrongGrad(nb.Function):
    """Identity with a deliberately wrong backward (2g): the helper must catch it."""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (2 * g,)


def test_assert_parity_can_fail(torch, rng):
    x = rng.standard_normal((2, 3))
    with pytest.raises(AssertionError, match="output 0"):
        assert_parity(lambda x: x * 2, lambda x: x * 3, x, torch=torch)
    with pytest.raises(AssertionError, match="grad of input 0"):
        assert_parity(lambda x: _WrongGrad.apply(x), lambda x: x * 1, x, torch=torch)
    with pytest.raises(AssertionError, match="dtype"):
        assert_parity(lambda x: x.double(), lambda x: x * 1, x, torch=torch)
    with pytest.raises(AssertionError, match="shape"):
        assert_parity(lambda x: x.sum(0, keepdim=True), lambda x: x.sum(0), x, torch=torch)
