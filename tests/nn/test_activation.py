"""Activations: gradcheck (float64), fused primitives vs their composed twins, PyTorch parity
(float32, values and gradients, also at large magnitudes and exactly at the kinks), stability at
+-1e4, lookup by name, argument validation, module reprs and the module contract."""

import math
import warnings

import numpy as np
import pytest
from contract import check_module
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.ops import activation as A

ATOL, RTOL = 1e-5, 1e-4
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _tf(torch):
    return torch.nn.functional


def _maxout_torch(k, dim):
    def fn(x):
        d = dim % x.ndim
        shape = x.shape[:d] + (x.shape[d] // k, k) + x.shape[d + 1:]
        return x.reshape(shape).amax(d + 1)

    return fn


# id -> (nnbasics function, torch function given the torch module, kinks)
# Kinks include points where the derivative jumps (relu at 0) or the function itself does
# (softplus at beta x = threshold): inputs are kept at least 1e-2 away from them.
CASES = {
    "sigmoid": (F.sigmoid, lambda t: t.sigmoid, ()),
    "tanh": (F.tanh, lambda t: t.tanh, ()),
    "relu": (F.relu, lambda t: t.relu, (0.0,)),
    "leaky_relu": (F.leaky_relu, lambda t: _tf(t).leaky_relu, (0.0,)),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda t: lambda x: _tf(t).leaky_relu(x, 0.2), (0.0,)),
    "leaky_relu_-0.5": (lambda x: F.leaky_relu(x, -0.5), lambda t: lambda x: _tf(t).leaky_relu(x, -0.5), (0.0,)),
    "elu": (F.elu, lambda t: _tf(t).elu, (0.0,)),
    "elu_0.5": (lambda x: F.elu(x, 0.5), lambda t: lambda x: _tf(t).elu(x, 0.5), (0.0,)),
    "selu": (F.selu, lambda t: _tf(t).selu, (0.0,)),
    "celu": (F.celu, lambda t: _tf(t).celu, (0.0,)),
    "celu_1.7": (lambda x: F.celu(x, 1.7), lambda t: lambda x: _tf(t).celu(x, 1.7), (0.0,)),
    "celu_0.3": (lambda x: F.celu(x, 0.3), lambda t: lambda x: _tf(t).celu(x, 0.3), (0.0,)),
    "gelu": (F.gelu, lambda t: _tf(t).gelu, ()),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda t: lambda x: _tf(t).gelu(x, approximate="tanh"), ()),
    "silu": (F.silu, lambda t: _tf(t).silu, ()),
    "mish": (F.mish, lambda t: _tf(t).mish, ()),
    "softplus": (F.softplus, lambda t: _tf(t).softplus, (20.0,)),
    "softplus_2_5": (lambda x: F.softplus(x, 2.0, 5.0), lambda t: lambda x: _tf(t).softplus(x, 2.0, 5.0), (2.5,)),
    "softplus_0.5": (lambda x: F.softplus(x, beta=0.5), lambda t: lambda x: _tf(t).softplus(x, beta=0.5), (40.0,)),
    "softsign": (F.softsign, lambda t: _tf(t).softsign, ()),
    "hardtanh": (F.hardtanh, lambda t: _tf(t).hardtanh, (-1.0, 1.0)),
    "hardtanh_-0.5_2": (lambda x: F.hardtanh(x, -0.5, 2.0), lambda t: lambda x: _tf(t).hardtanh(x, -0.5, 2.0),
                        (-0.5, 2.0)),
    "relu6": (F.relu6, lambda t: _tf(t).relu6, (0.0, 6.0)),
    "hardsigmoid": (F.hardsigmoid, lambda t: _tf(t).hardsigmoid, (-3.0, 3.0)),
    "softmax_-1": (lambda x: F.softmax(x, -1), lambda t: lambda x: t.softmax(x, -1), ()),
    "softmax_0": (lambda x: F.softmax(x, 0), lambda t: lambda x: t.softmax(x, 0), ()),
    "log_softmax_1": (lambda x: F.log_softmax(x, 1), lambda t: lambda x: t.log_softmax(x, 1), ()),
    "maxout_2": (lambda x: F.maxout(x, 2), lambda t: _maxout_torch(2, -1), ()),
    "maxout_3_dim1": (lambda x: F.maxout(x, 3, dim=1), lambda t: _maxout_torch(3, 1), ()),
}
SHAPES = {"maxout_2": (3, 5, 4), "maxout_3_dim1": (2, 6, 5)}  # the feature dim divisible by the pool size


def _inputs(rng, shape, kinks, scale=4.0, margin=1e-2):
    """Random values spread over +-2.5 scale, both sides of every kink, none within ``margin`` of one.

    The first entries are forced to ``kink -+ d`` with d in [margin, 0.5], so both sides are
    always present.
    """
    x = rng.uniform(-2.5 * scale, 2.5 * scale, shape).reshape(-1)
    i = 0
    for k in kinks:
        for side in (-1.0, 1.0):
            x[i] = k + side * rng.uniform(5 * margin, 0.5)
            i += 1
    for k in kinks:  # push any other value off the kink
        near = np.abs(x - k) < margin
        x[near] = k + np.where(x[near] >= k, margin, -margin) * 3
    return x.reshape(shape)


def _big_inputs(rng, shape):
    """Ordinary values plus large magnitudes: the float32 ranges where naive formulas overflow."""
    x = rng.standard_normal(shape).reshape(-1) * 3.0
    big = np.array([-1e4, -1e3, -150.0, -30.0, -17.0, -9.0, 9.0, 17.0, 30.0, 150.0, 1e3, 1e4])
    x[: big.size] = big
    return x.reshape(shape)


# ------------------------------------------------------------------ gradcheck
@pytest.mark.parametrize("case", list(CASES))
def test_gradcheck(case, rng):
    fn, _, kinks = CASES[case]
    x = nb.tensor(_inputs(rng, SHAPES.get(case, (3, 7)), kinks), dtype="float64", requires_grad=True)
    nb.gradcheck(fn, x)


def test_gradcheck_reused_input(rng):
    x = nb.tensor(_inputs(rng, (2, 3, 5), (0.0,)), dtype="float64", requires_grad=True)
    nb.gradcheck(lambda t: F.gelu(t) * F.elu(t, 0.5) + F.softplus(F.leaky_relu(t, 0.1)), x)


def test_gradcheck_prelu(rng):
    x = nb.tensor(_inputs(rng, (2, 3, 5), (0.0,)), dtype="float64", requires_grad=True)
    w = nb.tensor(rng.uniform(-0.5, 0.8, 3), dtype="float64", requires_grad=True)
    nb.gradcheck(F.prelu, x, w)
    w1 = nb.tensor([0.3], dtype="float64", requires_grad=True)
    nb.gradcheck(F.prelu, x, w1)


def test_gradcheck_erf(rng):
    x = nb.tensor(rng.uniform(-4, 4, (3, 5)), dtype="float64", requires_grad=True)
    nb.gradcheck(A.erf, x)


def test_step_forward_and_zero_gradient(rng):
    x = nb.tensor([[-2.0, 0.0, 3.0], [0.5, -0.1, 0.0]], dtype="float64", requires_grad=True)
    y = F.step(x)
    np.testing.assert_array_equal(y._array, [[0, 0, 1], [1, 0, 0]])
    assert y.dtype == np.float64 and y.requires_grad
    (y * nb.tensor(rng.standard_normal(y.shape))).sum().backward()
    np.testing.assert_array_equal(x.grad._array, np.zeros((2, 3)))
    np.testing.assert_array_equal(F.step(x, at_zero=0.5)._array, [[0, 0.5, 1], [1, 0, 0.5]])


def test_step_matches_torch_heaviside(torch, rng):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    x[0, :2] = 0.0
    for v in (0.0, 1.0, 0.5):
        expected = torch.heaviside(torch.tensor(x), torch.tensor(np.float32(v))).numpy()
        np.testing.assert_array_equal(F.step(nb.tensor(x), v)._array, expected)


# ------------------------------------------------------ fused vs composed twin
TWINS = [
    ("leaky_relu", A.leaky_relu, A.leaky_relu_composed, [(0.01,), (0.3,), (-0.2,)], (0.0,)),
    ("elu", A.elu, A.elu_composed, [(1.0, 1.0, 1.0), (0.5, 1.0, 1.0), (SELU_ALPHA, SELU_SCALE, 1.0),
                                    (1.7, 1.0, 1 / 1.7)], (0.0,)),
    ("gelu", A.gelu, A.gelu_composed, [("none",), ("tanh",)], ()),
    ("softplus", A.softplus, A.softplus_composed, [(1.0, 20.0), (2.0, 5.0), (0.5, 3.0)], (20.0, 2.5, 6.0)),
    ("hardtanh", A.hardtanh, A.hardtanh_composed, [(-1.0, 1.0), (0.0, 6.0), (-0.5, 2.0)], (-1.0, 0.0, -0.5, 1.0,
                                                                                            2.0, 6.0)),
]


@pytest.mark.parametrize("name,fused,composed,params,kinks", TWINS, ids=[t[0] for t in TWINS])
def test_fused_matches_composed_twin(name, fused, composed, params, kinks, rng):
    x0 = _inputs(rng, (5, 7), kinks, scale=3.0)
    g = rng.standard_normal(x0.shape)
    for p in params:
        xs = [nb.tensor(x0, dtype="float64", requires_grad=True) for _ in range(2)]
        ys = [fused(xs[0], *p), composed(xs[1], *p)]
        np.testing.assert_allclose(ys[0]._array, ys[1]._array, rtol=1e-12, atol=1e-14, err_msg=f"{name}{p} forward")
        for x, y in zip(xs, ys):
            y.backward(g)
        np.testing.assert_allclose(xs[0].grad._array, xs[1].grad._array, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{name}{p} gradient")


def test_erf_matches_series_twin_and_math_erf(rng):
    x = rng.uniform(-2, 2, (4, 5))
    np.testing.assert_allclose(A.erf(nb.tensor(x))._array, A.erf_composed(nb.tensor(x))._array, rtol=1e-14, atol=1e-15)
    wide = np.concatenate([np.linspace(-7, 7, 4001), np.geomspace(1e-300, 27, 300), -np.geomspace(1e-300, 27, 300)])
    expected = np.array([math.erf(v) for v in wide])
    np.testing.assert_allclose(A.erf(nb.tensor(wide))._array, expected, rtol=1e-15, atol=0)


def test_normal_cdf_tails_are_accurate():
    # x * Phi(x) in the far left tail, where 1 + erf(x / sqrt 2) would cancel to 0
    x = -np.array([3.0, 6.0, 10.0, 20.0, 37.0])
    expected = np.array([v * math.erfc(-v / math.sqrt(2)) / 2 for v in x])
    np.testing.assert_allclose(F.gelu(nb.tensor(x))._array, expected, rtol=1e-11)
    assert np.all(F.gelu(nb.tensor(x))._array < 0)


# -------------------------------------------------------------- torch parity
@pytest.mark.parametrize("case", list(CASES))
def test_parity(case, torch, rng):
    fn, tfn, kinks = CASES[case]
    x = _inputs(rng, SHAPES.get(case, (2, 3, 7)), kinks)
    assert_parity(fn, tfn(torch), x, torch=torch, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("case", list(CASES))
def test_parity_large_magnitudes(case, torch, rng):
    fn, tfn, _ = CASES[case]
    shape = SHAPES.get(case, (3, 3, 4))
    x = _big_inputs(rng, shape)
    assert_parity(fn, tfn(torch), x, torch=torch, atol=ATOL, rtol=RTOL)


def test_parity_prelu(torch, rng):
    tf = _tf(torch)
    for shape, n in [((2, 3, 5), 3), ((2, 3, 5, 4), 3), ((3, 7), 7), ((2, 3, 5), 1), ((7,), 1)]:
        x = _inputs(rng, shape, (0.0,))
        w = rng.uniform(-0.5, 0.8, n)
        assert_parity(F.prelu, tf.prelu, x, w, torch=torch, atol=ATOL, rtol=RTOL)


KINK_CASES = [
    ("relu", F.relu, lambda t: t.relu, [0.0]),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda t: lambda x: _tf(t).leaky_relu(x, 0.2), [0.0]),
    ("elu_0.5", lambda x: F.elu(x, 0.5), lambda t: lambda x: _tf(t).elu(x, 0.5), [0.0]),
    ("selu", F.selu, lambda t: _tf(t).selu, [0.0]),
    ("celu_0.3", lambda x: F.celu(x, 0.3), lambda t: lambda x: _tf(t).celu(x, 0.3), [0.0]),
    ("hardtanh", F.hardtanh, lambda t: _tf(t).hardtanh, [-1.0, 1.0]),
    ("relu6", F.relu6, lambda t: _tf(t).relu6, [0.0, 6.0]),
    ("hardsigmoid", F.hardsigmoid, lambda t: _tf(t).hardsigmoid, [-3.0, 3.0]),
    ("softplus", lambda x: F.softplus(x, 2.0, 5.0), lambda t: lambda x: _tf(t).softplus(x, 2.0, 5.0), [2.5]),
]


@pytest.mark.parametrize("name,fn,tfn,kinks", KINK_CASES, ids=[c[0] for c in KINK_CASES])
def test_parity_exactly_at_kinks(name, fn, tfn, kinks, torch):
    """The derivative at a kink is a convention; ours is PyTorch's (as the docstrings say)."""
    x = np.array(kinks + [k - 0.5 for k in kinks] + [k + 0.5 for k in kinks])
    assert_parity(fn, tfn(torch), x, torch=torch, atol=ATOL, rtol=RTOL)


def test_parity_prelu_at_kink(torch):
    x = np.array([[0.0, -1.0, 2.0], [0.0, 0.0, -3.0]])
    assert_parity(F.prelu, _tf(torch).prelu, x, np.array([0.1, -0.4, 0.7]), torch=torch, atol=ATOL, rtol=RTOL)


def test_documented_kink_derivatives():
    def grad_at(fn, v):
        x = nb.tensor([v], dtype="float64", requires_grad=True)
        fn(x).sum().backward()
        return x.grad.item()

    assert grad_at(F.relu, 0.0) == 0.0
    assert grad_at(lambda x: F.leaky_relu(x, 0.2), 0.0) == pytest.approx(0.2)
    assert grad_at(lambda x: F.elu(x, 0.5), 0.0) == pytest.approx(0.5)
    assert grad_at(F.selu, 0.0) == pytest.approx(SELU_ALPHA * SELU_SCALE)
    assert grad_at(lambda x: F.celu(x, 0.3), 0.0) == pytest.approx(1.0)
    assert grad_at(F.relu6, 6.0) == 0.0 and grad_at(F.hardtanh, -1.0) == 0.0
    assert grad_at(F.softsign, 0.0) == pytest.approx(1.0)
    assert grad_at(F.step, 0.0) == 0.0 and grad_at(F.step, 1.0) == 0.0


# ----------------------------------------------------------------- stability
STABLE = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "celu_0.3", "gelu", "gelu_tanh", "silu",
          "mish", "softplus", "softplus_2_5", "softplus_0.5", "softsign", "hardtanh", "relu6",
          "hardsigmoid", "softmax_-1", "log_softmax_1"]


@pytest.mark.parametrize("case", STABLE)
def test_finite_at_1e4_without_warnings(case, rng):
    fn = CASES[case][0]
    x = nb.tensor(np.array([[-1e4, -1e3, -88.0, -20.0, -0.5], [1e4, 1e3, 88.0, 20.0, 0.5]], dtype=np.float32),
                  requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = fn(x)
        (y * nb.tensor(rng.standard_normal(y.shape).astype(np.float32))).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.all(np.isfinite(y._array)), y._array
    assert np.all(np.isfinite(x.grad._array)), x.grad._array


def test_large_inputs_have_the_right_limits():
    x = nb.tensor([-1e4, 1e4])
    np.testing.assert_array_equal(F.softplus(x)._array, [0.0, 1e4])
    np.testing.assert_array_equal(F.gelu(x)._array, [0.0, 1e4])
    np.testing.assert_array_equal(F.gelu(x, "tanh")._array, [0.0, 1e4])
    np.testing.assert_array_equal(F.mish(x)._array, [0.0, 1e4])
    np.testing.assert_array_equal(F.silu(x)._array, [0.0, 1e4])
    np.testing.assert_allclose(F.elu(x)._array, [-1.0, 1e4])
    np.testing.assert_allclose(F.selu(x)._array, [-SELU_ALPHA * SELU_SCALE, SELU_SCALE * 1e4], rtol=1e-6)


@pytest.mark.parametrize("case", ["gelu", "softplus", "elu", "silu", "mish", "leaky_relu", "hardtanh", "prelu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(case, dtype, rng):
    x = nb.tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True)
    fn = (lambda t: F.prelu(t, nb.tensor(np.array([0.25], dtype=dtype)))) if case == "prelu" else CASES[case][0]
    y = fn(x)
    y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype


# ------------------------------------------------------------------- by name
FUNCTION_NAMES = ["step", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu",
                  "silu", "swish", "mish", "softplus", "softsign", "hardtanh", "relu6", "hardsigmoid",
                  "maxout", "softmax", "log_softmax"]


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_functional_lookup(name):
    fn = F.get_activation(name)
    assert fn is getattr(F, name)
    assert F.get_activation(name.upper()) is fn


@pytest.mark.parametrize("name", [n for n in FUNCTION_NAMES if n not in ("prelu", "maxout")])
def test_module_lookup_matches_function(name, rng):
    m = nn.get_activation(name)
    assert isinstance(m, nn.Module)
    x = nb.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32))
    np.testing.assert_array_equal(m(x)._array, F.get_activation(name)(x)._array)


def test_lookup_spellings_and_kwargs(rng):
    x = nb.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    for spelling in ("leaky_relu", "LeakyReLU", "LEAKY-RELU", "leakyrelu"):
        m = nn.get_activation(spelling, negative_slope=0.1)
        assert isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.1
        f = F.get_activation(spelling, negative_slope=0.1)
        np.testing.assert_array_equal(f(x)._array, F.leaky_relu(x, 0.1)._array)
    assert isinstance(nn.get_activation("swish"), nn.SiLU)
    assert isinstance(nn.get_activation("LogSoftmax", dim=0), nn.LogSoftmax)
    assert nn.get_activation("maxout", pool_size=2)(x).shape == (3, 2)
    assert F.get_activation("maxout", pool_size=4)(x).shape == (3, 1)
    assert nn.get_activation("PReLU", num_parameters=4).weight.shape == (4,)


def test_lookup_errors():
    for get in (F.get_activation, nn.get_activation):
        with pytest.raises(ValueError, match="valid names: .*leaky_relu.*log_softmax"):
            get("relu7")
        with pytest.raises(TypeError, match="str"):
            get(None)
    with pytest.raises(TypeError, match="relu"):
        F.get_activation("relu", negative_slope=0.1)
    with pytest.raises(TypeError, match="ReLU"):
        nn.get_activation("relu", negative_slope=0.1)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("call,err,pattern", [
    (lambda x: F.leaky_relu(x, "0.1"), TypeError, "negative_slope"),
    (lambda x: F.gelu(x, "exact"), ValueError, "'none' or 'tanh'"),
    (lambda x: F.softplus(x, beta=0), ValueError, "beta must be positive"),
    (lambda x: F.hardtanh(x, 1.0, -1.0), ValueError, "min_val must be less than max_val"),
    (lambda x: F.celu(x, 0.0), ValueError, "alpha must be positive"),
    (lambda x: F.maxout(x, 3), ValueError, "multiple of pool_size=3"),
    (lambda x: F.maxout(x, 0), ValueError, "positive int"),
    (lambda x: F.prelu(x, nb.tensor([0.1, 0.2])), ValueError, "4 channel"),
    (lambda x: F.prelu(x, nb.ones(1, 4)), ValueError, "1-D"),
    (lambda x: F.gelu(nb.tensor([1, 2])), TypeError, r"\.float\(\)"),
    (lambda x: F.elu(x, float("nan")), TypeError, "finite"),
], ids=["slope-type", "gelu-approx", "softplus-beta", "hardtanh-order", "celu-alpha", "maxout-divides",
        "maxout-pool", "prelu-channels", "prelu-ndim", "gelu-int", "elu-nan"])
def test_bad_arguments(call, err, pattern):
    x = nb.ones(2, 4)
    with pytest.raises(err, match=pattern):
        call(x)


@pytest.mark.parametrize("make,err,pattern", [
    (lambda: nn.PReLU(0), ValueError, "num_parameters"),
    (lambda: nn.PReLU(2.5), ValueError, "num_parameters"),
    (lambda: nn.GELU("fast"), ValueError, "approximate"),
    (lambda: nn.Softplus(beta=-1), ValueError, "beta"),
    (lambda: nn.Hardtanh(2, 1), ValueError, "min_val"),
    (lambda: nn.CELU(-1.0), ValueError, "alpha"),
    (lambda: nn.Maxout(0), ValueError, "pool_size"),
    (lambda: nn.Softmax(dim=1.5), TypeError, "dim"),
    (lambda: nn.LeakyReLU("x"), TypeError, "negative_slope"),
])
def test_bad_module_arguments(make, err, pattern):
    with pytest.raises(err, match=pattern):
        make()


# ------------------------------------------------------------------- modules
REPRS = [
    (lambda: nn.Sigmoid(), "Sigmoid()"), (lambda: nn.Tanh(), "Tanh()"), (lambda: nn.ReLU(), "ReLU()"),
    (lambda: nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"), (lambda: nn.LeakyReLU(0), "LeakyReLU(negative_slope=0)"),
    (lambda: nn.PReLU(), "PReLU(num_parameters=1)"), (lambda: nn.PReLU(3), "PReLU(num_parameters=3)"),
    (lambda: nn.ELU(), "ELU(alpha=1.0)"), (lambda: nn.SELU(), "SELU()"), (lambda: nn.CELU(0.5), "CELU(alpha=0.5)"),
    (lambda: nn.GELU(), "GELU(approximate='none')"), (lambda: nn.GELU("tanh"), "GELU(approximate='tanh')"),
    (lambda: nn.SiLU(), "SiLU()"), (lambda: nn.Mish(), "Mish()"),
    (lambda: nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"), (lambda: nn.Softsign(), "Softsign()"),
    (lambda: nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"), (lambda: nn.ReLU6(), "ReLU6()"),
    (lambda: nn.Hardsigmoid(), "Hardsigmoid()"), (lambda: nn.Softmax(dim=1), "Softmax(dim=1)"),
    (lambda: nn.LogSoftmax(dim=1), "LogSoftmax(dim=1)"),
]


@pytest.mark.parametrize("make,expected", REPRS, ids=[r[1] for r in REPRS])
def test_repr_matches_torch(make, expected, torch):
    assert repr(make()) == expected
    tm = eval("torch.nn." + expected, {"torch": torch})
    assert repr(tm) == expected


def test_repr_of_our_own_modules():
    assert repr(nn.Step()) == "Step(at_zero=0.0)"
    assert repr(nn.Maxout(2)) == "Maxout(pool_size=2, dim=-1)"


def test_prelu_module_parity(torch, rng):
    m, tm = nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    np.testing.assert_array_equal(m.weight._array, tm.weight.detach().numpy())
    assert m.weight.dtype == np.float32
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    xn = nb.tensor(x, requires_grad=True)
    g = rng.standard_normal((2, 3, 5)).astype(np.float32)
    y, yt = m(xn), tm(xt)
    np.testing.assert_allclose(y._array, yt.detach().numpy(), atol=ATOL, rtol=RTOL)
    y.backward(g)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xn.grad._array, xt.grad.numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(m.weight.grad._array, tm.weight.grad.numpy(), atol=ATOL, rtol=RTOL)


CONTRACT = [
    ("Step", lambda: nn.Step(), None), ("Sigmoid", lambda: nn.Sigmoid(), None), ("Tanh", lambda: nn.Tanh(), None),
    ("ReLU", lambda: nn.ReLU(), None), ("LeakyReLU", lambda: nn.LeakyReLU(0.2), None),
    ("ELU", lambda: nn.ELU(0.5), None), ("SELU", lambda: nn.SELU(), None), ("CELU", lambda: nn.CELU(1.5), None),
    ("GELU", lambda: nn.GELU(), None), ("GELU_tanh", lambda: nn.GELU("tanh"), None),
    ("SiLU", lambda: nn.SiLU(), None), ("Mish", lambda: nn.Mish(), None),
    ("Softplus", lambda: nn.Softplus(2.0, 10.0), None), ("Softsign", lambda: nn.Softsign(), None),
    ("Hardtanh", lambda: nn.Hardtanh(-2.0, 2.0), None), ("ReLU6", lambda: nn.ReLU6(), None),
    ("Hardsigmoid", lambda: nn.Hardsigmoid(), None), ("Softmax", lambda: nn.Softmax(dim=1), None),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), None),
    ("Maxout", lambda: nn.Maxout(2, dim=1), (2, 3, 5)),
    ("PReLU", lambda: nn.PReLU(), None), ("PReLU_3", lambda: nn.PReLU(6), None),
]


@pytest.mark.parametrize("name,make,expected", CONTRACT, ids=[c[0] for c in CONTRACT])
def test_contract(name, make, expected):
    x = nb.randn(2, 6, 5, rng=3)
    bad = ()
    params = []
    if name == "PReLU_3":
        bad, params = [nb.randn(2, 5, 5, rng=4), nb.randn(6, rng=4)], ["weight"]
    elif name == "PReLU":
        params = ["weight"]
    elif name == "Maxout":
        bad = [nb.randn(2, 5, 5, rng=4), nb.randn(6, rng=4)]
    check_module(lambda rng: make(), x, expected_shape=expected or (2, 6, 5), param_names=params,
                 bad_inputs=bad, trains=name != "Step")


def test_prelu_learns_its_slope():
    m = nn.PReLU()
    x = nb.tensor([[-2.0, -1.0, 3.0]])
    (m(x) * nb.tensor([[1.0, 1.0, 1.0]])).sum().backward()
    np.testing.assert_allclose(m.weight.grad._array, [-3.0])  # d/dw = sum of the negative inputs
