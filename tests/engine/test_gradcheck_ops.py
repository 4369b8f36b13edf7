"""Every primitive gradient-checked in float64 by central differences.

``nnbasics.gradcheck`` contracts the output with a random upstream gradient, so
each check sees more than ``sum``. Shapes use distinct sizes per dimension
(2, 3, 5, 7) so a transposed gradient cannot pass, and inputs of ops with kinks
(abs, relu, clip, max...) lie on both sides of the kink, never within 1e-3 of it.
Fused ops are compared against their composed twins, values and gradients.
"""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.ops.loss import softmax_cross_entropy

SEED = 20240611


# ----------------------------------------------------------------- input makers
def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape, low=0.5, high=2.0):
    return lambda rng: rng.uniform(low, high, shape)


def away_from(*shape, kinks=(0.0,), margin=0.05, low=-1.5, high=1.5):
    """Uniform values pushed at least ``margin`` away from every kink, with values on both sides of each."""

    def make(rng):
        x = rng.uniform(low, high, shape)
        for k in kinks:
            near = np.abs(x - k) < margin
            x[near] = np.where(x[near] >= k, k + 2 * margin, k - 2 * margin)
        flat = x.reshape(-1)
        if flat.size >= 2 * len(kinks):  # force both sides of every kink to be covered
            for j, k in enumerate(kinks):
                flat[2 * j] = k - 3 * margin
                flat[2 * j + 1] = k + 3 * margin
        return x

    return make


def leaf(array):
    return nb.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check(fn, *makers, tol=1e-6, seed=SEED, **kw):
    """Gradcheck ``fn`` on float64 leaves drawn by ``makers``; returns the leaves."""
    rng = np.random.default_rng(seed)
    xs = [leaf(m(rng)) for m in makers]
    nb.gradcheck(fn, *xs, tol=tol, **kw)
    return xs


def assert_same_value_and_grads(f_fused, f_composed, *makers, seed=SEED):
    """Fused op and its composed twin agree on values and on every gradient (random upstream)."""
    rng = np.random.default_rng(seed)
    arrays = [m(rng) for m in makers]
    results = []
    for f in (f_fused, f_composed):
        xs = [leaf(a) for a in arrays]
        out = f(*xs)
        w = np.random.default_rng(seed + 1).standard_normal(out.shape)
        (out * nb.tensor(w)).sum().backward()
        results.append((out._array, [x.grad._array for x in xs]))
    (v1, g1), (v2, g2) = results
    np.testing.assert_allclose(v1, v2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _id(shape):
    return "x".join(map(str, shape)) if shape else "scalar"


# ------------------------------------------------------------- binary elementwise
BROADCAST_PAIRS = [
    ((2, 3, 5), (2, 3, 5)),
    ((2, 3, 5), (5,)),
    ((5,), (2, 3, 5)),
    ((2, 1, 5), (3, 1)),
    ((7, 1, 5), (1, 3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((3, 5), (2, 1, 1)),
]

BINARY = {
    "add": (lambda a, b: a + b, normal, normal),
    "sub": (lambda a, b: a - b, normal, normal),
    "mul": (lambda a, b: a * b, normal, normal),
    "div": (lambda a, b: a / b, normal, lambda *s: away_from(*s, margin=0.3)),
    "pow": (lambda a, b: a**b, positive, normal),
    "maximum": (nb.maximum, normal, normal),
    "minimum": (nb.minimum, normal, normal),
    "fn_add": (nb.add, normal, normal),
    "fn_sub": (nb.sub, normal, normal),
    "fn_mul": (nb.mul, normal, normal),
    "fn_div": (nb.div, normal, lambda *s: away_from(*s, margin=0.3)),
    "fn_pow": (nb.pow, positive, normal),
}


@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS, ids=[f"{_id(a)}-{_id(b)}" for a, b in BROADCAST_PAIRS])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcasting(name, sa, sb):
    fn, make_a, make_b = BINARY[name]
    a, b = check(fn, make_a(*sa), make_b(*sb))
    assert a.grad.shape == sa and b.grad.shape == sb


@pytest.mark.parametrize("sc,sa,sb", [
    ((2, 3, 5), (2, 3, 5), (2, 3, 5)),
    ((3, 1), (2, 1, 5), (5,)),
    ((5,), (), (2, 3, 5)),
], ids=["same", "broadcast", "scalar-a"])
def test_where(sc, sa, sb):
    cond = np.random.default_rng(3).random(sc) < 0.5
    cond.reshape(-1)[:2] = [True, False]  # both branches taken
    check(lambda a, b: nb.where(nb.tensor(cond), a, b), normal(*sa), normal(*sb))


SCALAR_OPERAND = {
    "x+2.5": (lambda x: x + 2.5, normal),
    "2.5+x": (lambda x: 2.5 + x, normal),
    "x-3": (lambda x: x - 3, normal),
    "3-x": (lambda x: 3 - x, normal),
    "x*-1.5": (lambda x: x * -1.5, normal),
    "-1.5*x": (lambda x: -1.5 * x, normal),
    "x/4": (lambda x: x / 4, normal),
    "4/x": (lambda x: 4 / x, lambda *s: away_from(*s, margin=0.3)),
    "2**x": (lambda x: 2.0**x, normal),
    "max(x,0.3)": (lambda x: nb.maximum(x, 0.3), lambda *s: away_from(*s, kinks=(0.3,))),
    "min(0.3,x)": (lambda x: nb.minimum(0.3, x), lambda *s: away_from(*s, kinks=(0.3,))),
}


@pytest.mark.parametrize("name", list(SCALAR_OPERAND))
def test_python_scalar_operand(name):
    fn, make = SCALAR_OPERAND[name]
    check(fn, make(2, 3, 5))


# ---------------------------------------------------------------- ties
def test_maximum_minimum_ties_split_half_half():
    a = leaf([1.0, 2.0, 3.0, -1.0])
    b = leaf([1.0, 0.0, 3.0, 4.0])
    nb.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad._array, [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(b.grad._array, [0.5, 0.0, 0.5, 1.0])
    a.grad = b.grad = None
    nb.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad._array, [0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad._array, [0.5, 1.0, 0.5, 0.0])


@pytest.mark.parametrize("op", [nb.maximum, nb.minimum], ids=["maximum", "minimum"])
def test_maximum_minimum_ties_gradcheck(op):
    # central differences at an exact tie give 1/2 to each side: the half/half convention
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 5))
    b = rng.standard_normal((2, 3, 5))
    b.reshape(-1)[::3] = a.reshape(-1)[::3]
    nb.gradcheck(op, leaf(a), leaf(b))
    # broadcast tie: b (5,) equals row a[0, 0]
    b5 = a[0, 0].copy()
    nb.gradcheck(op, leaf(a), leaf(b5))


# ----------------------------------------------------------------- unary elementwise
UNARY = {
    "neg": (lambda x: -x, normal),
    "fn_neg": (nb.neg, normal),
    "exp": (lambda x: x.exp(), normal),
    "log": (lambda x: x.log(), positive),
    "sqrt": (lambda x: x.sqrt(), positive),
    "abs": (lambda x: x.abs(), away_from),
    "builtin_abs": (lambda x: abs(x), away_from),
    "sign": (lambda x: x.sign(), away_from),
    "tanh": (lambda x: x.tanh(), normal),
    "sigmoid": (lambda x: x.sigmoid(), normal),
    "relu": (lambda x: x.relu(), away_from),
    "pow2": (lambda x: x**2, normal),
    "pow3_int": (lambda x: x**3, normal),
    "pow0.5": (lambda x: x**0.5, positive),
    "pow-1.5": (lambda x: x**-1.5, positive),
    "pow_method": (lambda x: x.pow(1.7), positive),
    "clip_both": (lambda x: x.clip(-0.5, 0.7), lambda *s: away_from(*s, kinks=(-0.5, 0.7))),
    "clip_min": (lambda x: x.clip(min=-0.5), lambda *s: away_from(*s, kinks=(-0.5,))),
    "clip_max": (lambda x: nb.clip(x, max=0.7), lambda *s: away_from(*s, kinks=(0.7,))),
    "clamp": (lambda x: nb.clamp(x, -0.5, 0.7), lambda *s: away_from(*s, kinks=(-0.5, 0.7))),
}


@pytest.mark.parametrize("shape", [(2, 3, 5), (7,), ()], ids=_id)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, shape):
    fn, make = UNARY[name]
    if shape == () and make is away_from:
        def make(*s):
            return lambda rng: np.array(-0.8)
    check(fn, make(*shape))


@pytest.mark.parametrize("value,expected", [(-0.8, 0.0), (-0.5, 1.0), (0.0, 1.0), (0.7, 1.0), (0.9, 0.0)])
def test_clip_gradient_at_and_beyond_bounds(value, expected):
    # bounds included in the pass-through region, as PyTorch's clamp
    x = leaf([value])
    x.clip(-0.5, 0.7).sum().backward()
    assert x.grad._array[0] == expected


def test_relu_abs_sign_gradient_zero_at_kink():
    x = leaf([0.0, 0.0, 0.0])
    (x.relu() + x.abs() + x.sign()).sum().backward()
    np.testing.assert_array_equal(x.grad._array, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("mid", [np.float32, np.float16, np.longdouble], ids=["float32", "float16", "longdouble"])
def test_cast_between_float_dtypes(mid):
    # a float64 -> mid -> float64 round trip: the gradient passes through, cast back to float64
    precise = np.finfo(mid).eps < 1e-15
    eps, tol = (1e-6, 1e-6) if precise else (1e-2, 2e-3 if mid is np.float32 else 5e-2)
    x = check(lambda t: (t.astype(mid) * 1.5).tanh().astype(np.float64), normal(2, 3), eps=eps, tol=tol)[0]
    assert x.grad.dtype == np.float64


def test_cast_gradient_comes_back_in_input_dtype():
    x = nb.tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64
    (y * nb.tensor([1.0, 2.0, 3.0], dtype=np.float64)).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad._array, [1.0, 2.0, 3.0])


# ----------------------------------------------------------------- reductions
REDUCE_CONFIGS = [
    {},
    {"dim": 0},
    {"dim": 1},
    {"dim": 2},
    {"dim": -1},
    {"dim": 1, "keepdim": True},
    {"dim": (0, 2)},
    {"dim": (2, 0), "keepdim": True},
    {"dim": None, "keepdim": True},
    {"axis": 1},
    {"axis": (0, 1), "keepdims": True},
    {"axis": -2, "keepdims": False},
]


def _cfg_id(cfg):
    return ",".join(f"{k}={v}" for k, v in cfg.items()).replace(" ", "") or "all"


REDUCTIONS = {
    "sum": lambda x, **kw: x.sum(**kw),
    "fn_sum": lambda x, **kw: nb.sum(x, **kw),
    "mean": lambda x, **kw: x.mean(**kw),
    "max": lambda x, **kw: x.amax(**kw),
    "min": lambda x, **kw: nb.amin(x, **kw),
    "logsumexp": lambda x, **kw: x.logsumexp(**kw),
    "var_c1": lambda x, **kw: x.var(**kw),
    "var_c0": lambda x, **kw: nb.var(x, correction=0, **kw),
    "std_c1": lambda x, **kw: x.std(correction=1, **kw),
    "std_c0": lambda x, **kw: nb.std(x, correction=0, **kw),
}

NUMPY_REDUCTIONS = {
    "sum": np.sum, "fn_sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min,
    "logsumexp": lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)),
    "var_c1": lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1),
    "var_c0": np.var,
    "std_c1": lambda a, axis, keepdims: np.std(a, axis=axis, keepdims=keepdims, ddof=1),
    "std_c0": np.std,
}


def _numpy_axes(cfg):
    axis = cfg.get("dim", cfg.get("axis"))
    keep = cfg.get("keepdim", cfg.get("keepdims", False))
    return axis, keep


@pytest.mark.parametrize("cfg", REDUCE_CONFIGS, ids=_cfg_id)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction(name, cfg):
    fn = REDUCTIONS[name]
    x = check(lambda t: fn(t, **cfg), normal(2, 3, 5))[0]
    axis, keep = _numpy_axes(cfg)
    expected = NUMPY_REDUCTIONS[name](x._array, axis=axis, keepdims=keep)
    out = fn(x, **cfg)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out._array, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_two_way_ties_gradcheck(name):
    # a 2-way tie: central differences give 1/2 to each tied entry, as does the analytic gradient
    x = np.random.default_rng(7).standard_normal((3, 5))
    pick = np.argmax(x, axis=1) if name == "max" else np.argmin(x, axis=1)
    other = (pick + 2) % 5
    x[np.arange(3), other] = x[np.arange(3), pick]
    nb.gradcheck(lambda t: REDUCTIONS[name](t, dim=1), leaf(x))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_share_gradient_equally(name):
    v = 2.0 if name == "max" else -2.0
    x = leaf([[v, 0.5, v, v, 0.1], [0.3, v, 0.4, 0.2, 0.0]])
    REDUCTIONS[name](x, dim=1).sum().backward()
    third = 1.0 / 3.0
    np.testing.assert_allclose(x.grad._array, [[third, 0, third, third, 0], [0, 1, 0, 0, 0]])
    x.grad = None
    REDUCTIONS[name](x).backward()  # over everything: 4 tied entries
    np.testing.assert_allclose(x.grad._array, (x._array == v) / 4.0)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(name, dim):
    fn = (lambda t: t.softmax(dim)) if name == "softmax" else (lambda t: nb.log_softmax(t, dim=dim))
    x = check(fn, normal(2, 3, 5))[0]
    e = np.exp(x._array - x._array.max(axis=dim, keepdims=True))
    ref = e / e.sum(axis=dim, keepdims=True)
    np.testing.assert_allclose(fn(x)._array, ref if name == "softmax" else np.log(ref), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------- fused vs composed twins
TWINS = {
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1 / (1 + (-x).exp()), (2, 3, 5)),
    "softmax_dim1": (lambda x: x.softmax(1), lambda x: x.exp() / x.exp().sum(1, keepdim=True), (2, 3, 5)),
    "softmax_dim-1": (lambda x: nb.softmax(x), lambda x: x.exp() / x.exp().sum(-1, keepdim=True), (3, 7)),
    "log_softmax_dim0": (lambda x: x.log_softmax(0), lambda x: x - x.logsumexp(0, keepdim=True), (2, 3, 5)),
    "log_softmax_vs_log_exp": (
        lambda x: x.log_softmax(2), lambda x: x - x.exp().sum(2, keepdim=True).log(), (2, 3, 5)),
    "mean_all": (lambda x: x.mean(), lambda x: x.sum() / 30, (2, 3, 5)),
    "mean_dims": (lambda x: x.mean((0, 2)), lambda x: x.sum((0, 2)) / 10, (2, 3, 5)),
    "logsumexp_all": (lambda x: x.logsumexp(), lambda x: x.exp().sum().log(), (2, 3, 5)),
    "logsumexp_dim1": (lambda x: nb.logsumexp(x, 1), lambda x: x.exp().sum(1).log(), (2, 3, 5)),
    "logsumexp_keep": (lambda x: x.logsumexp(axis=-1, keepdims=True),
                       lambda x: x.exp().sum(-1, keepdim=True).log(), (2, 3, 5)),
}


@pytest.mark.parametrize("name", list(TWINS))
def test_fused_matches_composed_twin(name):
    fused, composed, shape = TWINS[name]
    assert_same_value_and_grads(fused, composed, normal(*shape))


LABELS = np.array([0, 4, 4, 2, 1, 3, 0])


def _composed_cross_entropy(x):
    return -x.log_softmax(1).take_along_axis(LABELS[:, None], 1)[:, 0]


def test_softmax_cross_entropy_gradcheck():
    check(lambda x: softmax_cross_entropy(x, LABELS), normal(7, 5))


def test_softmax_cross_entropy_matches_composed_twins():
    assert_same_value_and_grads(lambda x: softmax_cross_entropy(x, nb.tensor(LABELS)), _composed_cross_entropy,
                                normal(7, 5))
    assert_same_value_and_grads(lambda x: softmax_cross_entropy(x, LABELS),
                                lambda x: x.logsumexp(1) - x[np.arange(7), LABELS], normal(7, 5))


# ----------------------------------------------------------------- stability
BIG = [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_stable_for_huge_inputs(dtype):
    x_np = np.array(BIG, dtype=dtype)
    third, half = 1 / 3, 0.5
    expected = {
        "sigmoid": (lambda t: t.sigmoid(), [[1, 0, 0.5], [0, 0, 0], [1, 1, 0]]),
        "softmax": (lambda t: t.softmax(1), [[1, 0, 0], [third] * 3, [half, half, 0]]),
        "log_softmax": (lambda t: t.log_softmax(1),
                        [[0, -2e4, -1e4], [np.log(third)] * 3, [np.log(half), np.log(half), -2e4 - np.log(2)]]),
        "logsumexp": (lambda t: t.logsumexp(1), [1e4, -1e4 + np.log(3), 1e4 + np.log(2)]),
        "cross_entropy": (lambda t: softmax_cross_entropy(t, np.array([1, 0, 0])),
                          [2e4, -np.log(third), -np.log(half)]),
    }
    for name, (fn, ref) in expected.items():
        x = nb.tensor(x_np, requires_grad=True)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = fn(x)
            (out * nb.tensor(np.ones(out.shape, dtype=dtype))).sum().backward()
        assert out.dtype == dtype, name
        assert np.all(np.isfinite(out._array)), name
        assert np.all(np.isfinite(x.grad._array)), name
        np.testing.assert_allclose(out._array, ref, rtol=1e-6, atol=1e-6, err_msg=name)


def test_cross_entropy_gradient_at_huge_logits():
    x = leaf(BIG)
    softmax_cross_entropy(x, np.array([1, 0, 0])).sum().backward()
    np.testing.assert_allclose(x.grad._array, [[1, -1, 0], [1 / 3 - 1, 1 / 3, 1 / 3], [-0.5, 0.5, 0]], atol=1e-12)


# ----------------------------------------------------------------- matmul
MATMUL = [
    ((5,), (5,)),
    ((5,), (5, 7)),
    ((3, 5), (5,)),
    ((3, 5), (5, 7)),
    ((2, 3, 5), (2, 5, 7)),
    ((2, 1, 3, 5), (4, 5, 7)),
    ((2, 3, 5), (5, 7)),
    ((3, 5), (2, 5, 7)),
    ((5,), (2, 5, 7)),
    ((2, 3, 5), (5,)),
]


@pytest.mark.parametrize("sa,sb", MATMUL, ids=[f"{_id(a)}@{_id(b)}" for a, b in MATMUL])
def test_matmul(sa, sb):
    a, b = check(lambda a, b: a @ b, normal(*sa), normal(*sb))
    np.testing.assert_allclose((a @ b)._array, np.matmul(a._array, b._array), rtol=1e-12)
    assert a.grad.shape == sa and b.grad.shape == sb


def test_matmul_only_one_side_requires_grad():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 7))
    nb.gradcheck(lambda a: nb.matmul(a, nb.tensor(w)), leaf(rng.standard_normal((2, 3, 5))))
    nb.gradcheck(lambda b: nb.tensor(w.T) @ b, leaf(rng.standard_normal((2, 5, 3))))


# ----------------------------------------------------------------- movement
MASK_235 = np.random.default_rng(11).random((2, 3, 5)) < 0.5
MASK_23 = np.array([[True, False, True], [False, True, True]])
MASK_3 = np.array([True, False, True])

MOVEMENT = {
    "reshape": (lambda x: x.reshape(5, 6), (2, 3, 5)),
    "reshape_-1": (lambda x: nb.reshape(x, (3, -1)), (2, 3, 5)),
    "view": (lambda x: x.view(-1), (2, 3, 5)),
    "transpose": (lambda x: x.transpose(0, 2), (2, 3, 5)),
    "transpose_neg": (lambda x: nb.transpose(x, -1, -2), (2, 3, 5)),
    "transpose_all": (lambda x: x.transpose(), (3, 5)),
    "permute": (lambda x: x.permute(2, 0, 1), (2, 3, 5)),
    "permute_tuple": (lambda x: nb.permute(x, (1, 2, 0)), (2, 3, 5)),
    "T": (lambda x: x.T, (2, 3, 5)),
    "mT": (lambda x: x.mT, (2, 3, 5)),
    "expand": (lambda x: x.expand(2, 3, 5), (3, 1)),
    "expand_-1": (lambda x: x.expand(7, -1, 5), (3, 1)),
    "broadcast_to": (lambda x: nb.broadcast_to(x, (2, 3, 5)), (5,)),
    "broadcast_to_method": (lambda x: x.broadcast_to((2, 3, 5)), (2, 1, 1)),
    "broadcast_scalar": (lambda x: x.broadcast_to((3, 2)), ()),
    "squeeze_all": (lambda x: x.squeeze(), (2, 1, 3, 1)),
    "squeeze_dim": (lambda x: x.squeeze(1), (2, 1, 3, 1)),
    "squeeze_dims": (lambda x: nb.squeeze(x, (1, -1)), (2, 1, 3, 1)),
    "unsqueeze0": (lambda x: x.unsqueeze(0), (2, 3)),
    "unsqueeze-1": (lambda x: nb.unsqueeze(x, -1), (2, 3)),
    "unsqueeze1": (lambda x: x.unsqueeze(1), (2, 3)),
    "flatten": (lambda x: x.flatten(), (2, 3, 5)),
    "flatten_1": (lambda x: nb.flatten(x, 1), (2, 3, 5, 7)),
    "flatten_1_2": (lambda x: x.flatten(1, 2), (2, 3, 5, 7)),
    "getitem_slices": (lambda x: x[1:, ::2], (2, 3, 5)),
    "getitem_neg_step": (lambda x: x[::-1, 2::-2, -2:0:-1], (2, 3, 5)),
    "getitem_int": (lambda x: x[1], (2, 3, 5)),
    "getitem_ints": (lambda x: x[-1, 2], (2, 3, 5)),
    "getitem_none": (lambda x: x[None, :, None, 1:], (2, 3, 5)),
    "getitem_ellipsis": (lambda x: x[..., 1], (2, 3, 5)),
    "getitem_ellipsis_none": (lambda x: x[0, ..., None, 2:], (2, 3, 5)),
    "getitem_array_repeats": (lambda x: x[np.array([1, 0, 1, 1])], (2, 3, 5)),
    "getitem_list_repeats": (lambda x: x[:, [2, 2, 0, 1, 2]], (2, 3, 5)),
    "getitem_negative_array": (lambda x: x[..., [-1, -1, 0, 4]], (2, 3, 5)),
    "getitem_pairs_repeat": (lambda x: x[[1, 0, 1], [2, 0, 2]], (2, 3, 5)),
    "getitem_2d_index": (lambda x: x[np.array([[0, 6, 6], [3, 0, 6]])], (7, 3)),
    "getitem_tensor_index": (lambda x: x[nb.tensor([0, 0, 1])], (2, 3, 5)),
    "getitem_bool_full": (lambda x: x[MASK_235], (2, 3, 5)),
    "getitem_bool_lead": (lambda x: x[MASK_23], (2, 3, 5)),
    "getitem_bool_tensor": (lambda x: x[nb.tensor(MASK_23)], (2, 3, 5)),
    "getitem_bool_mixed": (lambda x: x[:, MASK_3, 1:4], (2, 3, 5)),
    "getitem_mixed": (lambda x: x[1, [0, 2, 2], 1:4], (2, 3, 5)),
    "getitem_mixed_neg_step": (lambda x: x[[1, 1], :, ::-2], (2, 3, 5)),
    "getitem_split_advanced": (lambda x: x[[0, 1, 1], :, [4, 4, 2]], (2, 3, 5)),
    "getitem_scalar_tensor": (lambda x: x[nb.tensor(2)], (3, 5)),
    "getitem_0d": (lambda x: x[()], ()),
}


@pytest.mark.parametrize("name", list(MOVEMENT))
def test_movement(name):
    fn, shape = MOVEMENT[name]
    x = check(fn, normal(*shape))[0]
    assert x.grad.shape == shape


def _numpy_index_ref(x, index):
    return x._array[tuple(i._array if isinstance(i, nb.Tensor) else i for i in index)] if isinstance(index, tuple) \
        else x._array[index._array if isinstance(index, nb.Tensor) else index]


@pytest.mark.parametrize("index", [
    (slice(None, None, -1), 1), (Ellipsis, None, slice(1, 4)), ([1, 1, 0],), (MASK_23,), (0, [2, 2], slice(None)),
], ids=["neg_step_int", "ellipsis_none", "repeats", "mask", "mixed"])
def test_getitem_values_match_numpy(index):
    x = nb.randn(2, 3, 5, rng=0)
    np.testing.assert_array_equal(x[index]._array, x._array[tuple(np.asarray(i) if isinstance(i, list) else i
                                                             for i in index)])


def test_getitem_repeated_indices_accumulate():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    x[[0, 2, 2, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad._array, [2.0, 0.0, 3.0, 0.0])
    y = leaf(np.zeros((2, 3)))
    y[[1, 1, 0], [2, 2, 2]].backward(gradient=np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(y.grad._array, [[0, 0, 100], [0, 0, 11]])


def test_concatenate():
    xs = check(lambda a, b, c: nb.concatenate([a, b, c], dim=1), normal(2, 3, 5), normal(2, 7, 5), normal(2, 1, 5))
    assert [x.grad.shape for x in xs] == [(2, 3, 5), (2, 7, 5), (2, 1, 5)]
    check(lambda a, b: nb.cat([a, b * 2], dim=-1), normal(2, 3), normal(2, 5))
    check(lambda a, b: nb.concatenate((a, b, a)), normal(2, 3), normal(5, 3))  # reused input


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    check(lambda a, b, c: nb.stack([a, b * 3, c], dim=dim), normal(2, 5), normal(2, 5), normal(2, 5))


SPLITS = {  # name: (shape, split_size_or_sections, dim, expected sizes)
    "int_dim0": ((7, 3), 3, 0, [3, 3, 1]),
    "sections_dim0": ((7, 3), [2, 4, 1], 0, [2, 4, 1]),
    "int_dim-1": ((2, 3, 5), 2, -1, [2, 2, 1]),
    "sections_dim1": ((2, 3, 5), [1, 1, 1], 1, [1, 1, 1]),
}


@pytest.mark.parametrize("name", list(SPLITS))
def test_split(name):
    shape, size, dim, expected = SPLITS[name]

    def fn(x):
        parts = nb.split(x, size, dim=dim)
        # weight each part differently; the middle part is left unused (its gradient must be 0)
        return nb.concatenate([p * (i + 1) for i, p in enumerate(parts) if i != 1], dim=dim)

    x = check(fn, normal(*shape))[0]
    assert [p.shape[dim] for p in x.split(size, dim)] == expected
    middle = [slice(None)] * len(shape)
    middle[dim] = slice(expected[0], expected[0] + expected[1])
    assert np.all(x.grad._array[tuple(middle)] == 0)


@pytest.mark.parametrize("widths", [((1, 2), (0, 3), (2, 0)), 1], ids=["pairs", "int"])
def test_pad(widths):
    x = check(lambda t: nb.pad(t, widths, value=1.5), normal(2, 3, 5))[0]
    np.testing.assert_array_equal(x.pad(widths, 1.5)._array, np.pad(x._array, widths, constant_values=1.5))


TAKE = {
    "axis1_repeats": ((3, 5), np.array([[0, 0, 4, 0], [2, 2, 2, 1], [4, 3, 4, 4]]), 1),
    "axis0_repeats": ((3, 5), np.array([[0, 2, 2, 1, 0], [0, 0, 2, 1, 1]]), 0),
    "one_per_row": ((3, 5), np.array([[4], [0], [2]]), 1),
    "3d_axis-1": ((2, 3, 5), np.random.default_rng(2).integers(0, 5, (2, 3, 7)), -1),
}


@pytest.mark.parametrize("name", list(TAKE))
def test_take_along_axis_and_gather(name):
    shape, idx, axis = TAKE[name]
    x = check(lambda t: nb.take_along_axis(t, idx, axis), normal(*shape))[0]
    check(lambda t: t.gather(axis, nb.tensor(idx)), normal(*shape))
    np.testing.assert_array_equal(x.take_along_axis(idx, axis)._array, np.take_along_axis(x._array, idx, axis))
    # repeated picks accumulate
    x.grad = None
    nb.gather(x, axis, idx).sum().backward()
    counts = np.zeros(shape)
    full = list(np.indices(idx.shape, sparse=True))
    full[axis] = idx
    np.add.at(counts, tuple(full), 1.0)
    np.testing.assert_array_equal(x.grad._array, counts)


# ----------------------------------------------------------------- composites & reuse
def test_reused_inputs_and_deep_composite():
    check(lambda x, y: (x * y + x.exp() * x - (y / (1 + x * x))).tanh() @ y.T, normal(3, 5), normal(1, 5))


def test_reused_leaf_through_every_op_kind():
    def fn(x):
        h = x.reshape(5, 6).T @ x.reshape(5, 6)  # (6, 6)
        return (h.softmax(0) * x.flatten()[:6] + h.logsumexp(1, keepdim=True)).amax(1)

    check(fn, normal(2, 3, 5))
