"""nn.init: statistics of large draws against the formulas and against torch.nn.init on the same
shape, calculate_gain and fan parity with torch, orthogonality, reproducibility, validation."""

import math

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.nn import init

SHAPE = (1000, 800)  # fan_in 800, fan_out 1000: 800k samples, variance known to ~0.2%
CONV = (200, 50, 3, 3)  # fan_in 450, fan_out 1800: 90k samples
VAR_RTOL = 0.02  # a wrong constant (sqrt 3, 2 vs 1, the truncation correction 0.88) is far outside


def _fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _n(shape, mode):
    fi, fo = _fans(shape)
    return {"fan_in": fi, "fan_out": fo, "fan_avg": (fi + fo) / 2}[mode]


def _check_moments(w, var, mean=0.0):
    x = w._array.astype(np.float64)
    se = math.sqrt(var / x.size)
    assert abs(x.mean() - mean) < 6 * se, f"mean {x.mean():.3g}, expected {mean} (se {se:.2g})"
    np.testing.assert_allclose(x.var(), var, rtol=VAR_RTOL, err_msg="variance")


def _normal_mass(lo, hi):
    """P(lo < Z < hi), by erfc on the side where it does not cancel."""
    if lo >= 0:
        return 0.5 * (math.erfc(lo / math.sqrt(2)) - math.erfc(hi / math.sqrt(2)))
    if hi <= 0:
        return _normal_mass(-hi, -lo)
    return 1 - 0.5 * math.erfc(-lo / math.sqrt(2)) - 0.5 * math.erfc(hi / math.sqrt(2))


def _truncated_moments(lo, hi):
    """Mean and variance of N(0, 1) conditioned on [lo, hi]."""
    def phi(x):
        return 0.0 if math.isinf(x) else math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def xphi(x):
        return 0.0 if math.isinf(x) else x * phi(x)

    z = _normal_mass(lo, hi)
    m = (phi(lo) - phi(hi)) / z
    return m, 1 + (xphi(lo) - xphi(hi)) / z - m * m


# ------------------------------------------------------------ variance_scaling
@pytest.mark.parametrize("shape", [SHAPE, CONV], ids=["linear", "conv"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling_statistics(shape, mode, distribution):
    scale = 2.0
    w = init.variance_scaling(nb.zeros(*shape), scale, mode, distribution, rng=0)
    var = scale / _n(shape, mode)
    _check_moments(w, var)
    x = np.abs(w._array)
    if distribution == "uniform":
        limit = math.sqrt(3 * var)
        assert x.max() <= limit and x.max() > 0.999 * limit
    elif distribution == "truncated_normal":
        bound = 2 * math.sqrt(var) / init.TRUNCATED_STD_AT_2
        assert x.max() <= bound and x.max() > 0.99 * bound
    else:
        assert x.max() > 4 * math.sqrt(var)  # an untruncated normal has tails


def test_variance_scaling_untruncated_alias_and_float64():
    a = init.variance_scaling(nb.zeros(30, 20, dtype="float64"), 1.0, distribution="untruncated_normal", rng=3)
    b = init.variance_scaling(nb.zeros(30, 20, dtype="float64"), 1.0, distribution="normal", rng=3)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a._array, b._array)


# ------------------------------------------------------------- named wrappers
# name -> (our call, expected variance for the shape, torch call on a torch tensor)
def _named(shape):
    fi, fo = _fans(shape)
    g_lrelu = math.sqrt(2 / (1 + 0.2**2))
    return {
        "lecun_normal": (lambda w: init.lecun_normal_(w, rng=0), 1 / fi,
                         lambda t, w: t.nn.init.kaiming_normal_(w, nonlinearity="linear")),
        "lecun_uniform": (lambda w: init.lecun_uniform_(w, rng=0), 1 / fi,
                          lambda t, w: t.nn.init.kaiming_uniform_(w, nonlinearity="linear")),
        "xavier_normal": (lambda w: init.xavier_normal_(w, rng=0), 2 / (fi + fo),
                          lambda t, w: t.nn.init.xavier_normal_(w)),
        "xavier_uniform": (lambda w: init.xavier_uniform_(w, rng=0), 2 / (fi + fo),
                           lambda t, w: t.nn.init.xavier_uniform_(w)),
        "xavier_normal_tanh": (lambda w: init.xavier_normal_(w, gain=5 / 3, rng=0), (5 / 3) ** 2 * 2 / (fi + fo),
                               lambda t, w: t.nn.init.xavier_normal_(w, gain=5 / 3)),
        "kaiming_normal": (lambda w: init.kaiming_normal_(w, rng=0), 2 / fi,
                           lambda t, w: t.nn.init.kaiming_normal_(w)),
        "kaiming_normal_relu_fan_out": (lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", rng=0),
                                        2 / fo, lambda t, w: t.nn.init.kaiming_normal_(w, mode="fan_out",
                                                                                        nonlinearity="relu")),
        "kaiming_normal_leaky_0.2": (lambda w: init.kaiming_normal_(w, a=0.2, rng=0), g_lrelu**2 / fi,
                                     lambda t, w: t.nn.init.kaiming_normal_(w, a=0.2)),
        "kaiming_uniform": (lambda w: init.kaiming_uniform_(w, rng=0), 2 / fi,
                            lambda t, w: t.nn.init.kaiming_uniform_(w)),
        "kaiming_uniform_fan_out_tanh": (
            lambda w: init.kaiming_uniform_(w, mode="fan_out", nonlinearity="tanh", rng=0), (5 / 3) ** 2 / fo,
            lambda t, w: t.nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="tanh")),
        "kaiming_uniform_torch_default": (lambda w: init.kaiming_uniform_(w, a=math.sqrt(5), rng=0), 1 / (3 * fi),
                                          lambda t, w: t.nn.init.kaiming_uniform_(w, a=math.sqrt(5))),
        "normal": (lambda w: init.normal_(w, 0.0, 0.02, rng=0), 0.02**2, lambda t, w: t.nn.init.normal_(w, 0, 0.02)),
        "uniform": (lambda w: init.uniform_(w, -0.3, 0.3, rng=0), 0.6**2 / 12,
                    lambda t, w: t.nn.init.uniform_(w, -0.3, 0.3)),
        "trunc_normal": (lambda w: init.trunc_normal_(w, 0.0, 0.5, -1.0, 1.0, rng=0),
                         0.25 * init.TRUNCATED_STD_AT_2**2,
                         lambda t, w: t.nn.init.trunc_normal_(w, 0.0, 0.5, -1.0, 1.0)),
    }


NAMED = list(_named(SHAPE))


@pytest.mark.parametrize("shape", [SHAPE, CONV], ids=["linear", "conv"])
@pytest.mark.parametrize("name", NAMED)
def test_named_initializer_matches_formula_and_torch(name, shape, torch):
    ours, var, theirs = _named(shape)[name]
    w = ours(nb.zeros(*shape))
    assert w.dtype == np.float32
    _check_moments(w, var)
    tw = theirs(torch, torch.empty(*shape))
    np.testing.assert_allclose(w._array.std(), float(tw.std()), rtol=VAR_RTOL / 2, err_msg="std vs torch.nn.init")
    if "uniform" in name:  # the same bound
        np.testing.assert_allclose(np.abs(w._array).max(), float(tw.abs().max()), rtol=1e-3)


def test_torch_default_linear_init_is_uniform_one_over_sqrt_fan_in():
    w = init.kaiming_uniform_(nb.zeros(*SHAPE), a=math.sqrt(5), rng=0)
    bound = 1 / math.sqrt(SHAPE[1])
    assert np.abs(w._array).max() <= bound and np.abs(w._array).max() > 0.999 * bound


def test_lecture_xavier_is_lecun_scaling():
    """randn(fan_in, fan_out) / sqrt(fan_in): Var 1/fan_in, which is variance_scaling(1, 'fan_in')."""
    fan_in, fan_out = 800, 1000
    lecture = np.random.default_rng(0).standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)
    ours = init.variance_scaling(nb.zeros(fan_out, fan_in, dtype="float64"), 1.0, "fan_in", "normal", rng=0)
    np.testing.assert_allclose(ours._array.var(), lecture.var(), rtol=VAR_RTOL)
    glorot = init.xavier_normal_(nb.zeros(fan_out, fan_in), rng=0)
    assert abs(glorot._array.var() - lecture.var()) > 0.05 * lecture.var()  # Glorot's is a different scale


# ----------------------------------------------------------- trunc_normal_
@pytest.mark.parametrize("lo,hi", [(-2, 2), (-0.1, 0.3), (0.5, 4), (3, math.inf), (-math.inf, -3),
                                   (5, 5.1), (8, 20), (-math.inf, 0.2), (-math.inf, math.inf)], ids=str)
def test_trunc_normal_moments_and_bounds(lo, hi):
    mean, std = 1.5, 0.5
    w = init.trunc_normal_(nb.zeros(400, 500, dtype="float64"), mean, std, mean + std * lo, mean + std * hi, rng=1)
    m, v = _truncated_moments(lo, hi)
    z = (w._array - mean) / std
    assert z.min() >= lo - 1e-12 and z.max() <= hi + 1e-12
    assert abs(z.mean() - m) < 6 * math.sqrt(v / z.size)
    np.testing.assert_allclose(z.var(), v, rtol=VAR_RTOL)


def test_trunc_normal_matches_torch(torch):
    w = init.trunc_normal_(nb.zeros(*SHAPE), std=0.02, a=-0.04, b=0.04, rng=0)
    tw = torch.nn.init.trunc_normal_(torch.empty(*SHAPE), std=0.02, a=-0.04, b=0.04)
    np.testing.assert_allclose(w._array.std(), float(tw.std()), rtol=VAR_RTOL / 2)
    assert np.abs(w._array).max() <= 0.04


# --------------------------------------------------------------- gain, fans
GAINS = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
         ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
         ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 1),
         ("leaky_relu", math.sqrt(5)), ("selu", None)]


@pytest.mark.parametrize("name,param", GAINS, ids=[f"{n}-{p}" for n, p in GAINS])
def test_calculate_gain_matches_torch(name, param, torch):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-12)


def test_calculate_gain_table():
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.3) == pytest.approx(math.sqrt(2 / 1.09))
    assert init.calculate_gain("selu") == 0.75 and init.calculate_gain("ReLU") == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("shape,expected", [((5, 3), (3, 5)), ((64, 3, 5, 5), (75, 1600)), ((8, 4, 3), (12, 24)),
                                            ((4, 2, 3, 5, 7), (210, 420)), ((7, 1), (1, 7))], ids=str)
def test_fans(shape, expected, torch):
    assert init.calculate_fan_in_and_fan_out(shape) == expected
    assert init.calculate_fan_in_and_fan_out(nb.zeros(*shape)) == expected
    assert init.calculate_fan_in_and_fan_out(list(shape)) == expected
    assert torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape)) == expected


def test_fans_of_real_layers():
    """The Linear layer stores (out, in): fan_in is in_features."""
    lin = nn.Linear(3, 5, rng=0)
    assert init.calculate_fan_in_and_fan_out(lin.weight) == (3, 5)


# --------------------------------------------------------------- orthogonal
@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (5, 5), (6, 2, 3, 3), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    w = init.orthogonal_(nb.zeros(*shape, dtype="float64"), gain=gain, rng=0)
    m = w._array.reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, gain**2 * np.eye(small), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(m, compute_uv=False), gain, rtol=1e-12)


def test_orthogonal_float32_and_torch_statistics(torch):
    w = init.orthogonal_(nb.zeros(300, 200), rng=0)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w._array.T @ w._array, np.eye(200), atol=1e-5)
    tw = torch.nn.init.orthogonal_(torch.empty(300, 200))
    np.testing.assert_allclose(w._array.std(), float(tw.std()), rtol=1e-2)  # 1/sqrt(300) for both


@pytest.mark.parametrize("shape", [(300, 200), (200, 300)], ids=str)
def test_orthogonal_is_haar_distributed(shape):
    """The sign fix (signs of diag R folded into Q) removes QR's bias: a bare Householder QR
    gives diagonal entries of mean about -0.04 here; Haar-distributed ones average 0 (+-0.004)."""
    w = init.orthogonal_(nb.zeros(*shape, dtype="float64"), rng=0)._array
    assert abs(np.diag(w).mean()) < 0.02


def test_orthogonal_is_random_not_a_fixed_matrix():
    a = init.orthogonal_(nb.zeros(4, 6), rng=0)._array
    b = init.orthogonal_(nb.zeros(4, 6), rng=1)._array
    assert not np.allclose(a, b)


# ------------------------------------------------------------------ constants
def test_constants_and_eye():
    w = nb.zeros(3, 5)
    assert init.constant_(w, 0.5) is w and np.all(w._array == 0.5)
    assert np.all(init.ones_(w)._array == 1) and np.all(init.zeros_(w)._array == 0)
    np.testing.assert_array_equal(init.eye_(nb.ones(3, 5))._array, np.eye(3, 5))
    assert init.zeros_(nb.ones(4, dtype="int64"))._array.sum() == 0  # constants work on any dtype


# ------------------------------------------------------ in place, reproducible
def test_in_place_on_a_parameter_without_recording():
    p = nn.Parameter(np.zeros((7, 3), dtype=np.float32))
    data = p._array
    out = init.xavier_uniform_(p, rng=0)
    assert out is p and p._array is data and p.requires_grad and p.is_leaf and p.grad is None
    assert np.any(p._array != 0)


@pytest.mark.parametrize("fn", [
    lambda w, r: init.variance_scaling(w, 1.0, "fan_avg", "truncated_normal", rng=r),
    lambda w, r: init.kaiming_uniform_(w, rng=r), lambda w, r: init.xavier_normal_(w, rng=r),
    lambda w, r: init.lecun_normal_(w, rng=r), lambda w, r: init.orthogonal_(w, rng=r),
    lambda w, r: init.normal_(w, rng=r), lambda w, r: init.uniform_(w, rng=r),
    lambda w, r: init.trunc_normal_(w, rng=r), lambda w, r: init.trunc_normal_(w, a=2.5, b=9.0, rng=r),
], ids=["vs", "kaiming_uniform", "xavier_normal", "lecun_normal", "orthogonal", "normal", "uniform",
        "trunc_normal", "trunc_normal_tail"])
def test_reproducible_with_seed(fn):
    a, b, c = (fn(nb.zeros(7, 5), r)._array for r in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    gen = np.random.default_rng(0)
    d, e = fn(nb.zeros(7, 5), gen)._array, fn(nb.zeros(7, 5), gen)._array  # a Generator advances
    assert not np.array_equal(d, e)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("call,err,pattern", [
    (lambda: init.variance_scaling(nb.zeros(3, 5), mode="fan_sum"), ValueError, "fan_in, fan_out, fan_avg"),
    (lambda: init.variance_scaling(nb.zeros(3, 5), distribution="cauchy"), ValueError,
     "normal, truncated_normal, uniform"),
    (lambda: init.variance_scaling(nb.zeros(3, 5), scale=0.0), ValueError, "positive"),
    (lambda: init.variance_scaling(nb.zeros(5)), ValueError, "at least 2 dimensions"),
    (lambda: init.kaiming_normal_(nb.zeros(3, 5), nonlinearity="gelu"), ValueError, "valid: .*leaky_relu"),
    (lambda: init.kaiming_uniform_(nb.zeros(3, 5), mode="avg"), ValueError, "fan_in"),
    (lambda: init.xavier_uniform_(nb.zeros(5)), ValueError, "at least 2 dimensions"),
    (lambda: init.calculate_fan_in_and_fan_out((5,)), ValueError, "at least 2 dimensions"),
    (lambda: init.calculate_fan_in_and_fan_out(nb.tensor(3.0)), ValueError, "at least 2 dimensions"),
    (lambda: init.calculate_fan_in_and_fan_out((5, 2.5)), TypeError, "shape of ints"),
    (lambda: init.calculate_gain("swish"), ValueError, "valid: linear.*tanh.*relu.*selu"),
    (lambda: init.calculate_gain("leaky_relu", "0.1"), ValueError, "negative slope"),
    (lambda: init.calculate_gain("leaky_relu", True), ValueError, "negative slope"),
    (lambda: init.orthogonal_(nb.zeros(5)), ValueError, "at least 2 dimensions"),
    (lambda: init.eye_(nb.zeros(2, 3, 4)), ValueError, "2-D"),
    (lambda: init.uniform_(nb.zeros(3), 1.0, 0.0), ValueError, "a <= b"),
    (lambda: init.normal_(nb.zeros(3), std=-1.0), ValueError, "non-negative"),
    (lambda: init.trunc_normal_(nb.zeros(3), a=1.0, b=1.0), ValueError, "a < b"),
    (lambda: init.trunc_normal_(nb.zeros(3), std=0.0), ValueError, "positive"),
    (lambda: init.normal_(np.zeros(3)), TypeError, "Tensor"),
    (lambda: init.normal_(nb.zeros(3, dtype="int64")), TypeError, "floating-point"),
    (lambda: init.xavier_normal_(nb.zeros(3, 5), gain="2"), TypeError, "gain"),
    (lambda: init.normal_(nb.zeros(3), rng=np.random.RandomState(0)), TypeError, "Generator"),
], ids=lambda v: "" if callable(v) or isinstance(v, type) else str(v)[:20])
def test_bad_arguments(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()
