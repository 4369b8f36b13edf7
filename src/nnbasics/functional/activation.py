"""Activation functions, with PyTorch's names and arguments, and lookup by name.

Each function takes a Tensor and returns one of the same shape and dtype (``maxout``
shrinks one dimension). Where composing primitives would overflow or be slow, a fused
primitive from :mod:`nnbasics.ops.activation` does the work; the rest is composed here.
Every docstring gives the derivative at the kinks, which follows PyTorch.

Example:
    >>> import nnbasics as nb
    >>> import nnbasics.functional as F
    >>> F.leaky_relu(nb.tensor([-2.0, 3.0]), negative_slope=0.1).tolist()
    [-0.20000000298023224, 3.0]
    >>> F.get_activation("LeakyReLU", negative_slope=0.1)(nb.tensor([-2.0])).shape
    (1,)
"""

from __future__ import annotations

import functools
import inspect
import warnings

from .. import ops
from .._validate import is_int
from ..ops import activation as _act
from ..tensor import Tensor

__all__ = ["celu", "elu", "gelu", "get_activation", "hardsigmoid", "hardtanh", "leaky_relu", "log_softmax",
           "logsigmoid", "maxout", "mish", "prelu", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus",
           "softsign", "step", "swish", "tanh"]

#: SELU's constants (Klambauer et al. 2017, "Self-Normalizing Neural Networks"), as PyTorch.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def step(input, at_zero=0.0) -> Tensor:
    """Heaviside step: 1 where input > 0, 0 where input < 0, ``at_zero`` where input == 0.

    The perceptron's activation (Rosenblatt 1958). Its derivative is 0 everywhere (and
    undefined at 0, taken as 0), so no gradient flows through it: a perceptron learns by
    the perceptron rule, not by backpropagation; use sigmoid or tanh for that.
    ``step(x, v)`` equals ``torch.heaviside(x, torch.tensor(v))``.

    Args:
        input: Tensor.
        at_zero: the value at exactly 0 (default 0: a unit fires only when strictly positive).

    Shape: any; the output has the input's shape and dtype.

    Example:
        >>> import nnbasics as nb
        >>> step(nb.tensor([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 1.0]
    """
    return _act.step(input, at_zero)


def sigmoid(input) -> Tensor:
    """Logistic sigmoid 1 / (1 + exp(-x)), in (0, 1).

    Derivative s (1 - s), at most 1/4; computed as (1 + tanh(x/2)) / 2, finite for any x.

    Shape: any -> same.
    """
    return ops.sigmoid(input)


def tanh(input) -> Tensor:
    """Hyperbolic tangent, in (-1, 1). Derivative 1 - tanh(x)^2.

    Shape: any -> same.
    """
    return ops.tanh(input)


def apply_in_place(input, name, fn):
    """``input`` changed in place to ``fn(input)`` and returned, as PyTorch's ``inplace=True`` does."""
    from ..inplace import apply_  # NOTE: inplace imports the tensor module, which imports this package

    return apply_(ops.util.as_operand(input), name, fn)


def relu(input, inplace=False) -> Tensor:
    """Rectified linear unit max(x, 0).

    Derivative 1 for x > 0, 0 for x < 0, and 0 at the kink x = 0 (as PyTorch and JAX).

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "relu_", relu)
    return ops.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (Maas et al. 2013).

    Derivative 1 for x > 0, negative_slope for x < 0, and negative_slope at x = 0 (as PyTorch).

    Args:
        input: float Tensor.
        negative_slope: slope for negative inputs.

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "leaky_relu_", lambda t: leaky_relu(t, negative_slope))
    return _act.leaky_relu(input, negative_slope)


def prelu(input, weight) -> Tensor:
    """Leaky ReLU with a learned slope: x for x > 0, weight * x otherwise (He et al. 2015).

    ``weight`` holds one slope shared by every channel, or one per channel; the channel
    dimension is dim 1 (as PyTorch; inputs with fewer than 2 dims have one channel).
    Derivatives: d/dx = 1 for x > 0, weight for x <= 0 (weight at the kink, as PyTorch);
    d/dweight = x for x <= 0, else 0.

    Args:
        input: float Tensor (N, C, *) or any shape for a single slope.
        weight: Tensor of shape (1,) or (C,).

    Shape: input (N, C, *) -> same.
    """
    x = ops.util.as_operand(input)
    w = weight if isinstance(weight, Tensor) else ops.util.as_operand(weight, x)
    if w.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D with 1 or C elements; got shape {w.shape}.")
    channels = x.shape[1] if x.ndim >= 2 else 1
    n = w.shape[0]
    if n == 1:
        w = ops.reshape(w, ())
    elif n == channels:
        w = ops.reshape(w, (n,) + (1,) * (x.ndim - 2))  # (C, 1, ..., 1) against (N, C, *)
    else:
        raise ValueError(
            f"prelu: weight has {n} slopes but the input has {channels} channel(s) (dim 1 of shape "
            f"{x.shape}); use PReLU(num_parameters={channels}) or num_parameters=1."
        )
    pos = ops.relu(x)
    return pos + w * (x - pos)  # x - relu(x) = min(x, 0), with gradient 1 at 0: d/dx = w at the kink


def elu(input, alpha=1.0, inplace=False) -> Tensor:
    """Exponential linear unit: x for x > 0, alpha (exp(x) - 1) otherwise (Clevert et al. 2015).

    Derivative 1 for x > 0, alpha exp(x) for x <= 0; at x = 0 it is alpha (the left value,
    as PyTorch), so 1 and continuous for the default alpha = 1.

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "elu_", lambda t: elu(t, alpha))
    return _act.elu(input, alpha)


def selu(input, inplace=False) -> Tensor:
    """Scaled ELU: scale * (x for x > 0, alpha (exp(x) - 1) otherwise) (Klambauer et al. 2017).

    alpha = 1.6733, scale = 1.0507, chosen so that activations keep mean 0 and variance 1
    through a deep net of LeCun-initialized layers (Var w = 1/fan_in).
    Derivative scale for x > 0, scale alpha exp(x) for x <= 0; at x = 0 scale * alpha = 1.7581
    (the left value, as PyTorch).

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "selu_", selu)
    return _act.elu(input, SELU_ALPHA, SELU_SCALE)


def celu(input, alpha=1.0, inplace=False) -> Tensor:
    """Continuously differentiable ELU: x for x > 0, alpha (exp(x / alpha) - 1) otherwise (Barron 2017).

    Derivative 1 for x > 0, exp(x / alpha) for x <= 0: 1 at x = 0 for every alpha (no kink).

    Args:
        alpha: positive scale of the negative part.

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "celu_", lambda t: celu(t, alpha))
    a = _act.check_finite_real(alpha, "alpha", "celu")
    if a <= 0:
        raise ValueError(f"celu: alpha must be positive; got {alpha}.")
    return _act.elu(input, a, 1.0, 1.0 / a)


def gelu(input, approximate="none") -> Tensor:
    """Gaussian error linear unit x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016).

    ``approximate='none'`` uses Phi(x) = (1 + erf(x / sqrt 2)) / 2 exactly;
    ``approximate='tanh'`` uses (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 (GPT-2's form).
    Smooth, no kink; derivative Phi(x) + x phi(x).

    Shape: any -> same.
    """
    return _act.gelu(input, approximate)


def silu(input, inplace=False) -> Tensor:
    """Sigmoid linear unit x * sigmoid(x), also called swish (Elfwing et al. 2017; Ramachandran et al. 2017).

    Smooth, no kink; derivative s (1 + x (1 - s)), s = sigmoid(x). Finite for any x.

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "silu_", silu)
    x = ops.util.as_operand(input)
    return x * ops.sigmoid(x)


swish = silu


def mish(input, inplace=False) -> Tensor:
    """x * tanh(softplus(x)) (Misra 2019).

    Smooth, no kink; derivative tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x), sp = softplus(x).
    Finite for any x (softplus is stable and tanh saturates).

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "mish_", mish)
    x = ops.util.as_operand(input)
    return x * ops.tanh(_act.softplus(x))


def softplus(input, beta=1.0, threshold=20.0) -> Tensor:
    """Smooth ReLU log(1 + exp(beta x)) / beta; exactly x where beta x > threshold (as PyTorch).

    Derivative sigmoid(beta x) (1 above the threshold). No kink; no overflow for any x.

    Args:
        beta: positive sharpness (larger is closer to ReLU).
        threshold: above this value of beta x the function is taken as linear.

    Shape: any -> same.
    """
    return _act.softplus(input, beta, threshold)


def logsigmoid(input) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), finite for any x (as ``torch.nn.functional.logsigmoid``).

    Derivative 1 - sigmoid(x) = sigmoid(-x). Composing ``log(sigmoid(x))`` instead gives
    -inf once sigmoid(x) underflows (x < -104 in float32); softplus never overflows.

    Shape: any -> same.

    Example:
        >>> import nnbasics as nb
        >>> float(logsigmoid(nb.tensor([-1e4]))[0])
        -10000.0
    """
    x = ops.util.as_operand(input)
    return -_act.softplus(-x)


def softsign(input) -> Tensor:
    """x / (1 + |x|), in (-1, 1). Derivative 1 / (1 + |x|)^2, which is 1 at x = 0 (no kink).

    Shape: any -> same.
    """
    x = ops.util.as_operand(input)
    return x / (ops.abs(x) + 1.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False) -> Tensor:
    """Clamp to [min_val, max_val].

    Derivative 1 for min_val < x < max_val, 0 outside, and 0 at both kinks (as PyTorch).

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "hardtanh_", lambda t: hardtanh(t, min_val, max_val))
    return _act.hardtanh(input, min_val, max_val)


def relu6(input, inplace=False) -> Tensor:
    """min(max(x, 0), 6) (Krizhevsky 2010; MobileNet).

    Derivative 1 for 0 < x < 6, else 0; 0 at both kinks x = 0 and x = 6 (as PyTorch).

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "relu6_", relu6)
    return _act.hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False) -> Tensor:
    """Piecewise-linear sigmoid relu6(x + 3) / 6: 0 below -3, 1 above 3 (as PyTorch).

    Derivative 1/6 for -3 < x < 3, else 0; 0 at the kinks x = -3 and x = 3 (as PyTorch).

    Shape: any -> same.
    """
    if inplace:  # PyTorch's inplace=True: the input takes the result (nnbasics.inplace rules)
        return apply_in_place(input, "hardsigmoid_", hardsigmoid)
    x = ops.util.as_operand(input)
    return _act.hardtanh(x + 3.0, 0.0, 6.0) * (1.0 / 6.0)


def maxout(input, pool_size, dim=-1) -> Tensor:
    """Maximum over groups of ``pool_size`` consecutive features along ``dim`` (Goodfellow et al. 2013).

    Feature c belongs to group c // pool_size, so a Linear layer with ``out * pool_size``
    outputs followed by ``maxout(., pool_size)`` gives ``out`` maxout units.
    The gradient goes to the largest feature of each group; ties share it equally.

    Args:
        input: Tensor (*, C, *).
        pool_size: features per group; must divide C.
        dim: the feature dimension.

    Shape: (*, C, *) -> (*, C // pool_size, *).

    Example:
        >>> import nnbasics as nb
        >>> maxout(nb.tensor([[1.0, 5.0, 3.0, 2.0]]), 2).tolist()
        [[5.0, 3.0]]
    """
    x = ops.util.as_operand(input)
    if not is_int(pool_size) or pool_size < 1:
        raise ValueError(f"maxout: pool_size must be a positive int; got {pool_size!r}.")
    d = ops.util.normalize_dim(dim, x.ndim)
    c = x.shape[d]
    if c % pool_size:
        raise ValueError(
            f"maxout: dim {dim} has {c} features, not a multiple of pool_size={pool_size}; "
            f"give the layer before it out_features = units * {pool_size}."
        )
    grouped = ops.reshape(x, x.shape[:d] + (c // pool_size, int(pool_size)) + x.shape[d + 1:])
    return ops.amax(grouped, d + 1)


def _softmax_dim(dim, ndim, name):
    """``dim``, or PyTorch's legacy choice when it is None: 0 for 0-, 1- and 3-d input, else 1 (with its warning)."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  f"as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed with the maximum subtracted (no overflow).

    Smooth; Jacobian diag(y) - y y^T. ``dim=None`` is PyTorch's legacy choice (dim 0 for 0-, 1-
    and 3-d input, else dim 1) with its warning: give ``dim``. ``dtype`` casts the input first.

    Shape: any -> same; sums to 1 along ``dim``.
    """
    x = ops.util.as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    return ops.softmax(x, _softmax_dim(dim, x.ndim, "softmax"))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim``; finite even for logits of +-1e4 (``dim=None``: as :func:`softmax`).

    Smooth; derivative g - softmax(x) * sum(g).

    Shape: any -> same.
    """
    x = ops.util.as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    return ops.log_softmax(x, _softmax_dim(dim, x.ndim, "log_softmax"))


# ------------------------------------------------------------------ by name
_FUNCTIONS = {
    "step": step, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "prelu": prelu, "elu": elu, "selu": selu, "celu": celu, "gelu": gelu, "silu": silu,
    "swish": swish, "mish": mish, "softplus": softplus, "softsign": softsign,
    "hardtanh": hardtanh, "relu6": relu6, "hardsigmoid": hardsigmoid, "maxout": maxout,
    "softmax": softmax, "log_softmax": log_softmax,
}


def _normalize_name(name) -> str:
    """'LeakyReLU', 'leaky_relu' and 'leaky-relu' all become 'leakyrelu'."""
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def lookup_activation(table, name, what):
    """The entry of ``table`` named ``name`` (case, "-" and "_" ignored); TypeError/ValueError naming ``what``."""
    if not isinstance(name, str):
        raise TypeError(f"{what}: name must be a str such as 'relu'; got {type(name).__name__}.")
    key = _normalize_name(name)
    for canonical, value in table.items():
        if _normalize_name(canonical) == key:
            return value
    raise ValueError(f"{what}: unknown activation {name!r}; valid names: {', '.join(table)} (case-insensitive).")


def get_activation(name, **kwargs):
    """The activation function called ``name``, with ``kwargs`` bound.

    Names are PyTorch's functional names, case-insensitive, with or without underscores
    (``'relu'``, ``'leaky_relu'``, ``'LeakyReLU'``); ``'swish'`` is ``silu``.

    Args:
        name: str.
        **kwargs: arguments of that function other than the input, e.g. ``negative_slope=0.1``.

    Returns:
        callable: ``f(x) -> Tensor``.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
        TypeError: an argument the function does not take.

    Example:
        >>> f = get_activation("leaky_relu", negative_slope=0.1)
    """
    fn = lookup_activation(_FUNCTIONS, name, "get_activation")
    if not kwargs:
        return fn
    try:
        inspect.signature(fn).bind_partial(None, **kwargs)
    except TypeError:
        params = [p for p in inspect.signature(fn).parameters if p != "input"]
        raise TypeError(
            f"get_activation: {fn.__name__} takes {params or 'no arguments'} besides the input; "
            f"got {sorted(kwargs)}."
        ) from None
    return functools.partial(fn, **kwargs)
