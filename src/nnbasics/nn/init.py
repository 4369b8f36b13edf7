"""Weight initializers: one general :func:`variance_scaling`, thin named wrappers, one fan helper.

Every initializer fills a Tensor (or Parameter) in place through its ``.data`` and returns
it; nothing is recorded by autograd. Random ones take ``rng`` (a Generator, an int seed or
None), resolved by :func:`nnbasics.rng.as_generator`, and draw in float64 before casting to
the tensor's dtype. Names and arguments follow ``torch.nn.init``.

Fans follow PyTorch's layouts: a Linear weight is (out_features, in_features) and a conv
weight (out_channels, in_channels, *kernel), so fan_in = in * prod(kernel) and
fan_out = out * prod(kernel).

Which scale is which (see docs/initialization.md for the story and a table):

=============================  ======================  ========================================
name                           Var(w)                  paper
=============================  ======================  ========================================
LeCun (``lecun_*``)            1 / fan_in              LeCun et al. 1998, "Efficient BackProp"
Glorot/Xavier (``xavier_*``)   2 / (fan_in + fan_out)  Glorot & Bengio 2010
He/Kaiming (``kaiming_*``)     2 / fan_in (ReLU)       He et al. 2015, "Delving Deep into Rectifiers"
orthogonal (``orthogonal_``)   rows/cols orthonormal   Saxe et al. 2013, "Exact solutions..."
=============================  ======================  ========================================

The lecture's "Xavier" ``randn(fan_in, fan_out) / sqrt(fan_in)`` has Var = 1/fan_in: that is
LeCun's scaling (CS231n's "calibrated" variance), widely called Xavier; Glorot's own is
2/(fan_in + fan_out). The lecture's He init ``randn(...) / sqrt(fan_in / 2)`` is Var = 2/fan_in.

Example:
    >>> import nnbasics as nb
    >>> from nnbasics.nn import init
    >>> w = nb.zeros(256, 128)
    >>> _ = init.kaiming_normal_(w, nonlinearity="relu", rng=0)
    >>> round(float(w.std() * (128 / 2) ** 0.5), 1)
    1.0
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

from .._validate import is_int, is_real
from ..backend import is_float_dtype, xp
from ..rng import as_generator
from ..tensor import Tensor

__all__ = ["calculate_fan_in_and_fan_out", "calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_",
           "lecun_normal_", "lecun_uniform_", "normal_", "ones_", "orthogonal_", "trunc_normal_", "uniform_",
           "variance_scaling", "xavier_normal_", "xavier_uniform_", "zeros_"]

#: Standard deviation of N(0, 1) truncated to [-2, 2]; a truncated normal of std s / this
#: constant has std s (Keras's VarianceScaling).
TRUNCATED_STD_AT_2 = 0.87962566103423978

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
_LINEAR_GAINS = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid")
_NONLINEARITIES = _LINEAR_GAINS + ("tanh", "relu", "leaky_relu", "selu")


# ------------------------------------------------------------------- helpers
def _check_tensor(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{fn}: expected a Tensor or Parameter to fill in place; got {type(tensor).__name__}.")
    return tensor


def _check_float(tensor, fn):
    _check_tensor(tensor, fn)
    if not is_float_dtype(tensor.dtype):
        raise TypeError(f"init.{fn}: random values need a floating-point tensor; got {tensor.dtype}.")
    return tensor


def _real(v, name, fn):
    if not is_real(v) or math.isnan(v):
        raise TypeError(f"init.{fn}: {name} must be a real number; got {v!r}.")
    return float(v)


def _fill(tensor, values):
    tensor._array[...] = values  # casts to the tensor's dtype; in place, outside autograd
    tensor._vc[0] += 1  # an in-place change, as PyTorch's init functions (nnbasics.versions)
    return tensor


def _truncated_standard_normal(gen, shape, lo, hi):
    """N(0, 1) samples conditioned on [lo, hi] (lo < hi, either may be infinite), by exact rejection.

    The proposal is chosen so that every round keeps at least about a fifth of its draws,
    also far in a tail (Robert 1995, "Simulation of truncated normal variables"):
    the interval holds 0: N(0, 1) itself when wide, else uniform on [lo, hi] kept with
    probability exp(-z^2/2); an interval in the right tail (a left one is mirrored):
    uniform kept with exp((lo^2 - z^2)/2) when narrow, else lo + Exp(lam) kept with
    exp(-(z - lam)^2/2), lam = (lo + sqrt(lo^2 + 4)) / 2.
    """
    n = math.prod(shape)
    flip = hi <= 0
    if flip:
        lo, hi = -hi, -lo
    out = xp.empty(n)
    filled = 0
    while filled < n:
        m = n - filled
        k = 2 * m + 64  # every proposal keeps >= ~1/5 in the worst case, ~1/2 or more typically
        if lo <= 0 <= hi:
            if hi - lo >= math.sqrt(2 * math.pi):
                z = gen.standard_normal(k)
                keep = (z >= lo) & (z <= hi)
            else:
                z = gen.uniform(lo, hi, k)
                keep = gen.random(k) <= xp.exp(-0.5 * z * z)
        else:
            lam = 0.5 * (lo + math.sqrt(lo * lo + 4))
            if hi - lo <= 1 / lam:
                z = gen.uniform(lo, hi, k)
                keep = gen.random(k) <= xp.exp(0.5 * (lo - z) * (lo + z))
            else:
                z = lo + gen.standard_exponential(k) / lam
                keep = (z <= hi) & (gen.random(k) <= xp.exp(-0.5 * (z - lam) ** 2))
        z = z[keep][:m]
        out[filled:filled + z.size] = z
        filled += z.size
    if flip:
        out = -out
    return out.reshape(shape)


# ---------------------------------------------------------------- fans, gain
def calculate_fan_in_and_fan_out(shape_or_tensor):
    """(fan_in, fan_out) of a weight, in PyTorch's layouts.

    Linear weight (out, in): fan_in = in, fan_out = out. Conv weight (out, in, *kernel):
    the receptive field prod(kernel) multiplies both, fan_in = in * prod(kernel),
    fan_out = out * prod(kernel).

    Args:
        shape_or_tensor: a Tensor, an array, or a shape (sequence of ints), at least 2-D.

    Returns:
        tuple[int, int]: (fan_in, fan_out).

    Raises:
        ValueError: fewer than 2 dimensions (a bias has no fan; initialize it with
            ``zeros_``/``uniform_`` instead).

    Example:
        >>> calculate_fan_in_and_fan_out((64, 3, 5, 5))
        (75, 1600)
    """
    shape = getattr(shape_or_tensor, "shape", shape_or_tensor)
    if isinstance(shape, numbers.Integral) or not all(
        is_int(s) for s in shape
    ):
        raise TypeError(f"calculate_fan_in_and_fan_out: expected a tensor or a shape of ints; got {shape!r}.")
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out need a weight with at least 2 dimensions, (out, in) for Linear or "
            f"(out, in, *kernel) for conv; got shape {shape}. Initialize 1-D tensors (biases) with "
            "zeros_, constant_ or uniform_ instead."
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity: the factor on the std that keeps signals steady.

    PyTorch's table: linear, conv*, conv_transpose*, sigmoid 1; tanh 5/3; relu sqrt(2);
    leaky_relu sqrt(2 / (1 + a^2)) with a = ``param`` (default 0.01); selu 3/4.
    ReLU's sqrt(2) compensates the half of the signal it zeroes (He et al. 2015).

    Args:
        nonlinearity: one of the names above (case-insensitive; ``'identity'`` means linear).
        param: the negative slope, for ``'leaky_relu'`` only.

    Returns:
        float

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or a bad ``param``.

    Example:
        >>> calculate_gain("leaky_relu", 0.2) == (2 / (1 + 0.2 ** 2)) ** 0.5
        True
    """
    name = nonlinearity.lower() if isinstance(nonlinearity, str) else nonlinearity
    if name in _LINEAR_GAINS:
        return 1.0
    if name == "tanh":
        return 5.0 / 3
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        if param is None:
            slope = 0.01
        elif is_real(param) and math.isfinite(param):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: the negative slope of leaky_relu must be a number; got {param!r}.")
        return math.sqrt(2.0 / (1 + slope**2))
    if name == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; valid: {', '.join(_NONLINEARITIES)}.")


# ------------------------------------------------------- the one general rule
def variance_scaling(tensor, scale=1.0, mode="fan_in", distribution="normal", rng=None):
    """Fill with zero-mean random values of variance ``scale / n`` (Keras's VarianceScaling).

    n is fan_in, fan_out or (fan_in + fan_out) / 2 by ``mode`` (at least 1). Every named
    random initializer below is this with a fixed ``scale``, ``mode`` and ``distribution``:
    LeCun scale 1 fan_in; Glorot scale gain^2 fan_avg; He scale gain^2 (2 for ReLU) fan_in.

    - ``'normal'``: N(0, std^2), std = sqrt(scale / n) (untruncated, as PyTorch; Keras calls
      it ``'untruncated_normal'``, which is accepted too).
    - ``'truncated_normal'``: N(0, s^2) cut at +-2 s, s = sqrt(scale / n) / 0.87962566103423978,
      the correction that gives the cut distribution the variance scale / n exactly.
    - ``'uniform'``: U(-limit, limit), limit = sqrt(3 scale / n).

    Args:
        tensor: float Tensor/Parameter, at least 2-D (see :func:`calculate_fan_in_and_fan_out`).
        scale: positive variance multiplier.
        mode: ``'fan_in'`` (keeps the forward signal's variance), ``'fan_out'`` (the
            backward gradient's) or ``'fan_avg'`` (Glorot's compromise).
        distribution: ``'normal'``, ``'truncated_normal'`` or ``'uniform'``.
        rng: Generator, int seed or None.

    Returns:
        the tensor, filled in place.

    Example:
        >>> import nnbasics as nb
        >>> w = variance_scaling(nb.zeros(400, 300), 2.0, "fan_in", "uniform", rng=0)
        >>> bool(w.abs().max() <= (3 * 2.0 / 300) ** 0.5)
        True
    """
    _check_float(tensor, "variance_scaling")
    scale = _real(scale, "scale", "variance_scaling")
    if not scale > 0 or math.isinf(scale):
        raise ValueError(f"init.variance_scaling: scale must be a positive number; got {scale}.")
    if mode not in _MODES:
        raise ValueError(f"init.variance_scaling: mode must be one of {', '.join(_MODES)}; got {mode!r}.")
    if distribution == "untruncated_normal":
        distribution = "normal"
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(
            f"init.variance_scaling: distribution must be one of {', '.join(_DISTRIBUTIONS)}; got {distribution!r}."
        )
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    var = scale / max(1.0, n)
    gen = as_generator(rng)
    shape = tensor.shape
    if distribution == "normal":
        values = math.sqrt(var) * gen.standard_normal(shape)
    elif distribution == "truncated_normal":
        values = (math.sqrt(var) / TRUNCATED_STD_AT_2) * _truncated_standard_normal(gen, shape, -2.0, 2.0)
    else:
        limit = math.sqrt(3.0 * var)
        values = gen.uniform(-limit, limit, shape)
    return _fill(tensor, values)


# -------------------------------------------------------------- constants
def constant_(tensor, val):
    """Fill with ``val``. Returns the tensor."""
    _check_tensor(tensor, "constant_")
    return _fill(tensor, _real(val, "val", "constant_"))


def zeros_(tensor):
    """Fill with 0 (the usual bias init). Returns the tensor."""
    return _fill(_check_tensor(tensor, "zeros_"), 0)


def ones_(tensor):
    """Fill with 1 (e.g. a normalization layer's scale). Returns the tensor."""
    return _fill(_check_tensor(tensor, "ones_"), 1)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, rectangular allowed).

    Keeps the input unchanged through a Linear layer; the identity-RNN trick (Le et al. 2015).
    """
    _check_tensor(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"init.eye_: needs a 2-D tensor; got shape {tensor.shape}.")
    return _fill(tensor, xp.eye(*tensor.shape))


# ------------------------------------------------------------ distributions
def normal_(tensor, mean=0.0, std=1.0, rng=None, *, generator=None):
    """Fill with samples of N(mean, std^2). Returns the tensor."""
    rng = rng if generator is None else generator  # PyTorch's name for it
    _check_float(tensor, "normal_")
    mean, std = _real(mean, "mean", "normal_"), _real(std, "std", "normal_")
    if std < 0:
        raise ValueError(f"init.normal_: std must be non-negative; got {std}.")
    return _fill(tensor, mean + std * as_generator(rng).standard_normal(tensor.shape))


def uniform_(tensor, a=0.0, b=1.0, rng=None, *, generator=None):
    """Fill with samples of U(a, b) (variance (b - a)^2 / 12). Returns the tensor."""
    rng = rng if generator is None else generator  # PyTorch's name for it
    _check_float(tensor, "uniform_")
    a, b = _real(a, "a", "uniform_"), _real(b, "b", "uniform_")
    if not a <= b:
        raise ValueError(f"init.uniform_: needs a <= b; got a={a}, b={b}.")
    return _fill(tensor, as_generator(rng).uniform(a, b, tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, rng=None, *, generator=None):
    """Fill with N(mean, std^2) conditioned on [a, b] (absolute bounds, as PyTorch).

    Exact rejection sampling, efficient also when [a, b] lies far in a tail. Note that the
    result's std is below ``std`` (0.88 std for the default bounds at +-2 std); for a target
    variance use :func:`variance_scaling` with ``'truncated_normal'``, which corrects for it.

    Args:
        mean, std: of the normal before truncation (std > 0).
        a, b: bounds, a < b (may be infinite).

    Returns:
        the tensor, filled in place.
    """
    rng = rng if generator is None else generator  # PyTorch's name for it
    _check_float(tensor, "trunc_normal_")
    mean, std = _real(mean, "mean", "trunc_normal_"), _real(std, "std", "trunc_normal_")
    a, b = _real(a, "a", "trunc_normal_"), _real(b, "b", "trunc_normal_")
    if not std > 0 or math.isinf(std):
        raise ValueError(f"init.trunc_normal_: std must be positive and finite; got {std}.")
    if not a < b:
        raise ValueError(f"init.trunc_normal_: needs a < b; got a={a}, b={b}.")
    z = _truncated_standard_normal(as_generator(rng), tensor.shape, (a - mean) / std, (b - mean) / std)
    return _fill(tensor, xp.clip(mean + std * z, a, b))  # clip: rounding only


# ------------------------------------------------------------- named rules
def lecun_normal_(tensor, rng=None, *, generator=None):
    """LeCun normal: truncated normal with Var = 1 / fan_in (LeCun et al. 1998, "Efficient BackProp").

    ``variance_scaling(tensor, 1.0, 'fan_in', 'truncated_normal')``, as Keras and JAX. The right
    init for SELU nets (Klambauer et al. 2017). The lecture's "Xavier"
    ``randn(fan_in, fan_out) / sqrt(fan_in)`` has this variance with an untruncated normal:
    ``variance_scaling(tensor, 1.0, 'fan_in', 'normal')``.
    """
    rng = rng if generator is None else generator  # PyTorch's name for it
    return variance_scaling(tensor, 1.0, "fan_in", "truncated_normal", rng)


def lecun_uniform_(tensor, rng=None, *, generator=None):
    """LeCun uniform: U(-sqrt(3 / fan_in), sqrt(3 / fan_in)), Var = 1 / fan_in (LeCun et al. 1998)."""
    rng = rng if generator is None else generator  # PyTorch's name for it
    return variance_scaling(tensor, 1.0, "fan_in", "uniform", rng)


def xavier_normal_(tensor, gain=1.0, rng=None, *, generator=None):
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010).

    ``variance_scaling(tensor, gain**2, 'fan_avg', 'normal')``: a compromise between keeping
    the forward variance (1/fan_in) and the backward one (1/fan_out). Not the lecture's
    "Xavier", which is LeCun's 1/fan_in (see the module docstring).
    """
    rng = rng if generator is None else generator  # PyTorch's name for it
    return variance_scaling(tensor, _real(gain, "gain", "xavier_normal_") ** 2, "fan_avg", "normal", rng)


def xavier_uniform_(tensor, gain=1.0, rng=None, *, generator=None):
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).

    ``variance_scaling(tensor, gain**2, 'fan_avg', 'uniform')``; the paper's "normalized
    initialization", Var = 2 / (fan_in + fan_out) for gain 1.
    """
    rng = rng if generator is None else generator  # PyTorch's name for it
    return variance_scaling(tensor, _real(gain, "gain", "xavier_uniform_") ** 2, "fan_avg", "uniform", rng)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, *, generator=None):
    """He normal: N(0, std^2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).

    He et al. 2015, "Delving Deep into Rectifiers". For ReLU (or leaky_relu with a = 0, the
    default) Var = 2 / fan_in: ReLU zeroes half the signal, the factor 2 restores it. The
    lecture's ``randn(fan_in, fan_out) / sqrt(fan_in / 2)`` is this.
    ``variance_scaling(tensor, gain**2, mode, 'normal')``.

    Args:
        a: the negative slope of the leaky ReLU that follows (used by 'leaky_relu' only).
        mode: 'fan_in' (forward variance kept, the default) or 'fan_out' (backward);
            'fan_avg' is accepted too.
        nonlinearity: a name known to :func:`calculate_gain`.
    """
    rng = rng if generator is None else generator  # PyTorch's name for it
    return variance_scaling(tensor, calculate_gain(nonlinearity, a) ** 2, mode, "normal", rng)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, *, generator=None):
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al. 2015).

    ``variance_scaling(tensor, gain**2, mode, 'uniform')``. PyTorch's default Linear and
    conv init is ``kaiming_uniform_(w, a=sqrt(5))``: gain^2 = 2/(1 + 5) = 1/3, so
    bound = 1 / sqrt(fan_in), U(-1/sqrt(fan_in), 1/sqrt(fan_in)), Var = 1 / (3 fan_in).
    """
    rng = rng if generator is None else generator  # PyTorch's name for it
    return variance_scaling(tensor, calculate_gain(nonlinearity, a) ** 2, mode, "uniform", rng)


def orthogonal_(tensor, gain=1.0, rng=None, *, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013, "Exact solutions to
    the nonlinear dynamics of learning in deep linear neural networks").

    The tensor is viewed as (rows, cols) = (shape[0], prod(shape[1:])). A wide matrix gets
    orthonormal rows (W W^T = gain^2 I), a tall one orthonormal columns (W^T W = gain^2 I):
    every singular value is ``gain``, so a deep linear net neither shrinks nor grows signals.
    Made as PyTorch: QR of a Gaussian matrix, with the signs of diag(R) folded into Q so the
    result is uniformly (Haar) distributed.

    Raises:
        ValueError: fewer than 2 dimensions.
    """
    rng = rng if generator is None else generator  # PyTorch's name for it
    _check_float(tensor, "orthogonal_")
    gain = _real(gain, "gain", "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"init.orthogonal_: needs at least 2 dimensions; got shape {tensor.shape}.")
    if tensor._array.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor._array.size // rows
    flat = as_generator(rng).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)  # (max, min), orthonormal columns
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


# ------------------------------------------------------- deprecated names (PyTorch keeps them, with a warning)
def _deprecated(new):
    old = new.__name__[:-1]

    @functools.wraps(new)
    def init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.", FutureWarning,
                      stacklevel=2)
        return new(*args, **kwargs)

    init.__name__ = init.__qualname__ = old
    init.__doc__ = f"Deprecated alias of :func:`{new.__name__}` (warns, as PyTorch's ``nn.init.{old}``)."
    return init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
