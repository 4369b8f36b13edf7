"""Fused activation primitives, where composing would overflow, lose precision or be slow.

Each op writes its forward and backward side by side. Each keeps a composed twin at the
bottom of this file (built from other primitives, no derivative written): the tests check
that the two agree away from kinks. ``Step`` has none: it is a primitive only because no
composition has its zero gradient (a comparison has no gradient at all). The user-facing functions, with full docstrings, are in
:mod:`nnbasics.functional.activation`.

Also here: ``erf``, which NumPy lacks, is evaluated by our own Chebyshev fits accurate to
about 1 ulp in float64 (exact GELU needs it).
"""

from __future__ import annotations

import math

from .._validate import is_real
from ..autograd import Function
from ..backend import is_float_dtype, xp
from ..tensor import Tensor
from . import elementwise as _ew
from .util import as_operand

__all__ = ["elu", "erf", "gelu", "hardtanh", "leaky_relu", "softplus", "step"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)
_GELU_TANH_K = math.sqrt(2.0 / math.pi)  # tanh approximation: 0.5 x (1 + tanh(K (x + C x^3)))
_GELU_TANH_C = 0.044715


# --------------------------------------------------------------------------- erf
# Chebyshev coefficients fitted with mpmath (50 digits) at first-kind Chebyshev nodes:
#   erf(x)  = x * sum_k P[k] T_k(2 x^2 - 1)                  for |x| <= 1
#   erfc(z) = exp(-z^2) / z * sum_k Q[k] T_k((4 t + 1) / 3)  for z >= 1, t = (z - 3) / (z + 3)
# The map t covers [1, inf) in [-1/2, 1), so one fit serves the whole tail. Both fits have
# relative error below 5e-16 (checked against math.erf/erfc in the tests).
_ERF_P = (
    0.9754769393826541, -0.14226120510371365, 0.010035582187599796, -0.0005768764699767485,
    2.741993125219606e-05, -1.1043175507344507e-06, 3.8488755420345036e-08, -1.1808582533875466e-09,
    3.2334215826050907e-11, -7.991015947004549e-13, 1.799072511396137e-14, -3.7186354877527125e-16,
    7.103598527027531e-18,
)
_ERFC_Q = (
    0.3978841866746091, 0.246187260141133, -0.11044961344883751, 0.03323702535817215,
    -0.0069889120441494175, 0.0009652104558235805, -6.207516269197982e-05, -4.738301545525959e-06,
    1.1902086368407027e-06, 1.656516770344781e-10, -1.837009813789892e-08, 3.540146513110526e-10,
    3.1857079098919497e-10, -3.1164441926525997e-12, -6.1720389211442816e-12, -1.5683426531826297e-13,
    1.2036237434911971e-13, 1.0183410390260339e-14, -1.98144243611128e-15, -3.803562124227e-16,
    1.4429066127775352e-17, 1.0420847421122214e-17,
)


def _chebval(s, coef):
    """sum_k coef[k] T_k(s) by Clenshaw's recurrence (s in [-1, 1]), in place on three buffers."""
    s2 = s * 2.0
    b1 = xp.full_like(s, coef[-1])
    b2 = xp.zeros_like(s)
    tmp = xp.empty_like(s)
    for c in coef[-2:0:-1]:
        xp.multiply(s2, b1, out=tmp)
        tmp -= b2
        tmp += c
        b2, b1, tmp = b1, tmp, b2
    xp.multiply(s, b1, out=tmp)
    tmp -= b2
    tmp += coef[0]
    return tmp


def _erf_small(x):
    """erf(x) for |x| <= 1 (float64)."""
    s = x * x
    s *= 2.0
    s -= 1.0
    out = _chebval(s, _ERF_P)
    out *= x
    return out


def _erfc_tail(z):
    """erfc(z) for z >= 1 (float64); 0 once it underflows (z > 26.6)."""
    z = xp.minimum(z, 30.0)  # erfc(30) < 1e-300: keeps z*z finite for any input
    s = (z - 3.0) / (z + 3.0)  # t in [-1/2, 1)
    s *= 4.0
    s += 1.0
    s /= 3.0
    out = _chebval(s, _ERFC_Q)
    out /= z
    z *= z
    out *= xp.exp(-z)
    return out


_BLOCK = 1 << 16  # elements per block: the ~25 passes over a block stay in cache (2x faster)


def _blockwise(fn, x):
    """fn applied to a float64 array block by block (fn maps a 1-D block to an equal block)."""
    flat = x.reshape(-1)
    out = xp.empty_like(flat)
    for i in range(0, flat.size, _BLOCK):
        out[i:i + _BLOCK] = fn(flat[i:i + _BLOCK])
    return out.reshape(x.shape)


def _erf_block(x):
    out = xp.empty_like(x)
    small = xp.abs(x) <= 1.0
    out[small] = _erf_small(x[small])
    big = ~small
    if big.any():
        xb = x[big]
        out[big] = xp.copysign(1.0 - _erfc_tail(xp.abs(xb)), xb)
    return out


def _ndtr_block(x):
    z = x * _SQRT_HALF
    out = xp.empty_like(z)
    small = xp.abs(z) <= 1.0
    e = _erf_small(z[small])
    e *= 0.5
    e += 0.5
    out[small] = e
    big = ~small
    if big.any():
        zb = z[big]
        tail = 0.5 * _erfc_tail(xp.abs(zb))  # the mass beyond |z|
        out[big] = xp.where(zb < 0, tail, 1.0 - tail)
    return out


def _erf64(x):
    """erf of a float64 array, elementwise."""
    return _blockwise(_erf_block, x)


def _ndtr64(x):
    """Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 of a float64 array; accurate in both tails."""
    return _blockwise(_ndtr_block, x)


def _as_float64(a):
    return a if a.dtype == xp.float64 else a.astype(xp.float64)


class Erf(Function):
    """z = erf(a) = 2/sqrt(pi) * integral_0^a exp(-t^2) dt.  dz/da = 2/sqrt(pi) exp(-a^2).

    Evaluated in float64 (cast back to the input dtype); smooth, no kink.
    """

    def forward(self, a):
        self.a = a
        return _erf64(_as_float64(a)).astype(a.dtype, copy=False)

    def backward(self, g):
        u = xp.clip(self.a, -30.0, 30.0)  # exp(-900) is 0 already; keeps u*u finite
        return (g * (_TWO_OVER_SQRT_PI * xp.exp(-(u * u))),)


# --------------------------------------------------------------------- step
class Step(Function):
    """Heaviside step: z = 1 for a > 0, 0 for a < 0, ``at_zero`` at a = 0.

    dz/da = 0 everywhere (0 off the jump, undefined at it and taken as 0): no gradient
    flows through a step. It is the perceptron's activation, trained by the perceptron
    rule, not by backpropagation.
    """

    def forward(self, a, at_zero):
        self.shape = a.shape
        out = (a > 0).astype(a.dtype)
        if at_zero != 0:
            out[a == 0] = at_zero
        return out

    def backward(self, g):
        return (xp.zeros(self.shape, dtype=g.dtype),)


# ---------------------------------------------------------------- leaky relu
class LeakyReLU(Function):
    """z = a for a > 0, slope * a otherwise.

    dz/da = 1 for a > 0, slope for a < 0, and slope at the kink a = 0 (as PyTorch).
    """

    def forward(self, a, slope):
        mask = a > 0
        f = (~mask).astype(a.dtype)  # NOTE: arithmetic, not np.where: 10x faster on random signs
        f *= slope
        f += mask  # f = 1 where a > 0, else slope (both exact)
        self.f = f
        return a * f

    def backward(self, g):
        return (g * self.f,)


# ----------------------------------------------------------- elu, selu, celu
class ELU(Function):
    """z = scale * a for a > 0, scale * alpha * (exp(input_scale * a) - 1) for a <= 0.

    ELU is (alpha, 1, 1), SELU (1.6733, 1.0507, 1), CELU (alpha, 1, 1/alpha) (as PyTorch's
    one kernel). Only the negative part goes through exp, via expm1: no overflow, no
    cancellation near 0.

    dz/da = scale for a > 0, scale * alpha * input_scale * exp(input_scale * a) for a <= 0:
    at the kink a = 0 the left value (as PyTorch), which is 1 for ELU(alpha=1) and CELU,
    alpha for ELU, and scale * alpha = 1.7581 for SELU.
    """

    def forward(self, a, alpha, scale, input_scale):
        self.mask = a > 0
        em1 = xp.expm1(xp.minimum(a, 0) * input_scale)  # NOTE: exp of the negative part only; 0 for a > 0
        self.em1, self.pos, self.neg = em1, scale, scale * alpha * input_scale
        out = xp.maximum(a, 0)
        if scale != 1:
            out *= scale
        out += em1 * (scale * alpha)
        return out

    def backward(self, g):
        d = self.em1 + 1  # exp(input_scale * a) for a <= 0
        d *= self.neg
        d *= ~self.mask
        pos = self.mask.astype(d.dtype)
        pos *= self.pos
        d += pos  # an exact blend; np.where is 10x slower on random signs
        return (g * d,)


# ---------------------------------------------------------------------- gelu
class GELU(Function):
    """z = a * Phi(a), Phi the standard normal CDF (Hendrycks & Gimpel 2016).

    ``approximate='none'``: Phi(a) = erfc(-a / sqrt 2) / 2, evaluated in float64 so that both
    tails are exact; dz/da = Phi(a) + a * phi(a), phi(a) = exp(-a^2/2) / sqrt(2 pi).
    ``approximate='tanh'``: Phi(a) ~ (1 + tanh(k (a + c a^3))) / 2, k = sqrt(2/pi), c = 0.044715;
    dz/da = (1 + t)/2 + a (1 - t^2) k (1 + 3 c a^2) / 2.
    Smooth, no kink. Finite with finite gradients for any finite input.
    """

    def forward(self, a, approximate):
        self.a, self.approximate = a, approximate
        if approximate == "none":
            a64 = _as_float64(a)
            cdf = _ndtr64(a64)
            self.cdf = cdf.astype(a.dtype, copy=False)
            return (a64 * cdf).astype(a.dtype, copy=False)
        u = xp.clip(a, -100.0, 100.0)  # tanh saturated long before; keeps u^3 finite
        self.u = u
        self.t = xp.tanh(_GELU_TANH_K * (u + _GELU_TANH_C * (u * u * u)))
        return 0.5 * a * (1 + self.t)

    def backward(self, g):
        a = self.a
        if self.approximate == "none":
            u = xp.clip(a, -40.0, 40.0)  # phi(40) = 0 in float64: a * phi stays 0, never inf * 0
            return (g * (self.cdf + a * (_INV_SQRT_2PI * xp.exp(-0.5 * (u * u)))),)
        t, u = self.t, self.u
        d = 0.5 * (1 + t) + (0.5 * _GELU_TANH_K) * a * (1 - t * t) * (1 + (3 * _GELU_TANH_C) * (u * u))
        return (g * d,)


# ------------------------------------------------------------------ softplus
class Softplus(Function):
    """z = log(1 + exp(beta a)) / beta, and z = a where beta a > threshold (as PyTorch).

    Computed as (max(beta a, 0) + log1p(exp(-|beta a|))) / beta: no overflow for any a.
    dz/da = sigmoid(beta a), and 1 where beta a > threshold. Smooth; at the threshold switch
    (default 20) the two branches differ by about 2e-9 (relative), invisible in float32.
    """

    def forward(self, a, beta, threshold):
        ba = a * beta if beta != 1 else a
        e = xp.exp(-xp.abs(ba))  # in (0, 1]: never overflows
        sp = xp.maximum(ba, 0) + xp.log1p(e)
        if beta != 1:
            sp /= beta
        lin = ba > threshold
        self.lin = lin if lin.any() else None  # usually none: skip the masked copies
        if self.lin is not None:
            sp[lin] = a[lin]
        self.pos, self.e = ba >= 0, e
        return sp

    def backward(self, g):
        e = self.e
        sig = 1 / (1 + e)
        f = ~self.pos * e
        f += self.pos
        sig *= f  # sigmoid(beta a): 1/(1+e) for beta a >= 0, e/(1+e) below; stable either way
        if self.lin is not None:
            sig[self.lin] = 1
        return (g * sig,)


# ------------------------------------------------------------------ hardtanh
class Hardtanh(Function):
    """z = clip(a, lo, hi).

    dz/da = 1 for lo < a < hi, 0 outside and 0 at the kinks a = lo and a = hi (as PyTorch's
    hardtanh, relu6 and hardsigmoid; clamp's gradient, by contrast, includes the bounds).
    """

    def forward(self, a, lo, hi):
        self.mask = (a > lo) & (a < hi)
        return xp.clip(a, lo, hi)

    def backward(self, g):
        return (g * self.mask,)


# ------------------------------------------------------------------ functions
def _need_float(a, name):
    if not is_float_dtype(a.dtype):
        raise TypeError(f"{name}: needs a floating-point tensor; got {a.dtype}. Use .float() first.")
    return a


def check_finite_real(v, name, fn):
    """``v`` as a float, or TypeError: ``"{fn}: {name} must be a finite real number; got {v!r}."``."""
    if not is_real(v) or not math.isfinite(v):
        raise TypeError(f"{fn}: {name} must be a finite real number; got {v!r}.")
    return float(v)


def erf(a) -> Tensor:
    """Error function erf(a), elementwise (float64 inside, about 1 ulp)."""
    return Erf.apply(_need_float(as_operand(a), "erf"))


def step(a, at_zero=0.0) -> Tensor:
    """Heaviside step (1 for a > 0, 0 for a < 0, ``at_zero`` at 0); zero gradient everywhere."""
    return Step.apply(as_operand(a), at_zero=check_finite_real(at_zero, "at_zero", "step"))


def leaky_relu(a, negative_slope=0.01) -> Tensor:
    """a for a > 0, negative_slope * a otherwise; gradient negative_slope at 0."""
    slope = check_finite_real(negative_slope, "negative_slope", "leaky_relu")
    return LeakyReLU.apply(_need_float(as_operand(a), "leaky_relu"), slope=slope)


def elu(a, alpha=1.0, scale=1.0, input_scale=1.0) -> Tensor:
    """scale * a for a > 0, scale * alpha * expm1(input_scale * a) otherwise (ELU/SELU/CELU kernel)."""
    alpha = check_finite_real(alpha, "alpha", "elu")
    scale = check_finite_real(scale, "scale", "elu")
    input_scale = check_finite_real(input_scale, "input_scale", "elu")
    if input_scale <= 0:
        raise ValueError(f"elu: input_scale must be positive (exp of the negative part only); got {input_scale}.")
    return ELU.apply(_need_float(as_operand(a), "elu"), alpha=alpha, scale=scale, input_scale=input_scale)


def gelu(a, approximate="none") -> Tensor:
    """a * Phi(a), exact (``'none'``) or with the tanh approximation (``'tanh'``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh'; got {approximate!r}.")
    return GELU.apply(_need_float(as_operand(a), "gelu"), approximate=approximate)


def softplus(a, beta=1.0, threshold=20.0) -> Tensor:
    """log(1 + exp(beta a)) / beta, linear where beta a > threshold; stable for any a."""
    beta = check_finite_real(beta, "beta", "softplus")
    threshold = check_finite_real(threshold, "threshold", "softplus")
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive; got {beta}.")
    return Softplus.apply(_need_float(as_operand(a), "softplus"), beta=beta, threshold=threshold)


def hardtanh(a, min_val=-1.0, max_val=1.0) -> Tensor:
    """clip(a, min_val, max_val); gradient 1 strictly inside, 0 at and beyond the bounds."""
    lo = check_finite_real(min_val, "min_val", "hardtanh")
    hi = check_finite_real(max_val, "max_val", "hardtanh")
    if not lo < hi:
        raise ValueError(f"hardtanh: min_val must be less than max_val; got min_val={lo}, max_val={hi}.")
    return Hardtanh.apply(_need_float(as_operand(a), "hardtanh"), lo=lo, hi=hi)


# ------------------------------------------- composed twins (test oracles)
# The same functions from other primitives only. They differ from the fused ops at most at
# kinks (hardtanh: clamp's gradient includes the bounds) and in extreme ranges where the
# composition overflows; the tests compare them elsewhere.

def erf_composed(a, terms=60):
    """erf by its Maclaurin series sum_n (-1)^n a^(2n+1) / (n! (2n+1)) * 2/sqrt(pi); for |a| <= 2."""
    a = as_operand(a)
    term, total = a, a
    a2 = a * a
    for n in range(1, terms):
        term = term * a2 * (-1.0 / n)
        total = total + term * (1.0 / (2 * n + 1))
    return total * _TWO_OVER_SQRT_PI


def leaky_relu_composed(a, negative_slope=0.01):
    return _ew.where(a > 0, a, a * negative_slope)


def elu_composed(a, alpha=1.0, scale=1.0, input_scale=1.0):
    neg = _ew.exp(_ew.minimum(a, 0.0) * input_scale) - 1.0
    return _ew.where(a > 0, a * scale, neg * (scale * alpha))


def gelu_composed(a, approximate="none"):
    if approximate == "none":
        return a * 0.5 * (erf(a * _SQRT_HALF) + 1.0)
    inner = (a + a * a * a * _GELU_TANH_C) * _GELU_TANH_K
    return a * 0.5 * (_ew.tanh(inner) + 1.0)


def softplus_composed(a, beta=1.0, threshold=20.0):
    ba = a * beta
    sp = (_ew.relu(ba) + _ew.log(_ew.exp(-_ew.abs(ba)) + 1.0)) * (1.0 / beta)
    return _ew.where(ba > threshold, a, sp)


def hardtanh_composed(a, min_val=-1.0, max_val=1.0):
    return _ew.clip(a, min_val, max_val)
