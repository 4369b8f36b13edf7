"""Activation layers: Modules wrapping :mod:`nnbasics.functional.activation`, PyTorch's names.

Only :class:`PReLU` has a parameter. Each module's docstring names the function it
applies; the formula and the derivative at kinks are in that function's docstring.
``get_activation("relu")`` builds one by name.

Example:
    >>> import nnbasics as nb
    >>> import nnbasics.nn as nn
    >>> nn.LeakyReLU(0.2)
    LeakyReLU(negative_slope=0.2)
    >>> nn.get_activation("gelu", approximate="tanh")(nb.ones(2, 3)).shape
    (2, 3)
"""

from __future__ import annotations

from .. import functional as F
from .._validate import check_positive_int, is_int
from ..backend import default_float, xp
from ..functional import activation as _fa
from ..ops import activation as _act
from .module import Module
from .parameter import Parameter

__all__ = ["CELU", "ELU", "GELU", "SELU", "Hardsigmoid", "Hardtanh", "LeakyReLU", "LogSoftmax", "Maxout", "Mish",
           "PReLU", "ReLU", "ReLU6", "SiLU", "Sigmoid", "Softmax", "Softplus", "Softsign", "Step", "Tanh",
           "get_activation"]


class _InPlace(Module):
    """An activation with PyTorch's ``inplace`` flag: True changes the input itself (nnbasics.inplace rules)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Step(Module):
    """Heaviside step, the perceptron's activation: :func:`nnbasics.functional.step`.

    Its gradient is 0 everywhere: train a perceptron with the perceptron rule.

    Args:
        at_zero: the output at exactly 0.

    Shape: any -> same.
    """

    def __init__(self, at_zero=0.0):
        super().__init__()
        self.at_zero = _act.check_finite_real(at_zero, "at_zero", "Step")

    def forward(self, input):
        return F.step(input, self.at_zero)

    def extra_repr(self):
        return f"at_zero={self.at_zero}"


class Sigmoid(Module):
    """Logistic sigmoid: :func:`nnbasics.functional.sigmoid`. Shape: any -> same."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent: :func:`nnbasics.functional.tanh`. Shape: any -> same."""

    def forward(self, input):
        return F.tanh(input)


class ReLU(_InPlace):
    """max(x, 0), gradient 0 at 0: :func:`nnbasics.functional.relu`. Shape: any -> same.

    Args:
        inplace: change the input itself (PyTorch's ``ReLU(inplace=True)``).
    """

    def forward(self, input):
        return F.relu(input, self.inplace)


class LeakyReLU(_InPlace):
    """x for x > 0, negative_slope * x otherwise: :func:`nnbasics.functional.leaky_relu`.

    Args:
        negative_slope: slope for negative inputs (default 0.01).

    Shape: any -> same.
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        _act.check_finite_real(negative_slope, "negative_slope", "LeakyReLU")
        self.negative_slope = negative_slope

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """Leaky ReLU with learned slopes: :func:`nnbasics.functional.prelu` (He et al. 2015).

    Args:
        num_parameters: 1 (one slope shared by all channels) or the number of channels
            C (dim 1 of the input).
        init: the initial slope (0.25, as PyTorch and the paper).

    Attributes:
        weight (Parameter): the slopes, shape (num_parameters,).

    Shape: (N, C, *) -> same.

    Example:
        >>> import nnbasics as nb
        >>> PReLU(3)(nb.ones(2, 3, 5)).shape
        (2, 3, 5)
    """

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.num_parameters = check_positive_int(num_parameters, "num_parameters of PReLU")
        self.init = _act.check_finite_real(init, "init", "PReLU")
        self.weight = Parameter(xp.empty((self.num_parameters,), dtype=default_float))
        self.reset_parameters()

    def reset_parameters(self):
        """Set every slope to ``init``."""
        self.weight._array[...] = self.init

    def forward(self, input):
        if self.num_parameters > 1:
            shape = tuple(input.shape)
            if len(shape) < 2 or shape[1] != self.num_parameters:
                raise ValueError(
                    f"PReLU(num_parameters={self.num_parameters}) expected input (N, {self.num_parameters}, *) "
                    f"with the channels in dim 1; got shape {shape}."
                )
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(_InPlace):
    """Exponential linear unit: :func:`nnbasics.functional.elu`.

    Args:
        alpha: value the negative part saturates to is -alpha (default 1.0).

    Shape: any -> same.
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        _act.check_finite_real(alpha, "alpha", "ELU")
        self.alpha = alpha

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(_InPlace):
    """Scaled ELU for self-normalizing nets: :func:`nnbasics.functional.selu`. Shape: any -> same.

    Pair it with LeCun initialization (``nn.init.lecun_normal_``: Var w = 1/fan_in).
    """

    def forward(self, input):
        return F.selu(input, self.inplace)


class CELU(_InPlace):
    """Continuously differentiable ELU: :func:`nnbasics.functional.celu`.

    Args:
        alpha: positive scale of the negative part (default 1.0).

    Shape: any -> same.
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        if _act.check_finite_real(alpha, "alpha", "CELU") <= 0:
            raise ValueError(f"alpha of CELU must be positive; got {alpha}.")
        self.alpha = alpha

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Gaussian error linear unit x Phi(x): :func:`nnbasics.functional.gelu`.

    Args:
        approximate: ``'none'`` (exact, with erf) or ``'tanh'``.

    Shape: any -> same.
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate of GELU must be 'none' or 'tanh'; got {approximate!r}.")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(_InPlace):
    """x * sigmoid(x), also called swish: :func:`nnbasics.functional.silu`. Shape: any -> same."""

    def forward(self, input):
        return F.silu(input, self.inplace)


class Mish(_InPlace):
    """x * tanh(softplus(x)): :func:`nnbasics.functional.mish`. Shape: any -> same."""

    def forward(self, input):
        return F.mish(input, self.inplace)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta: :func:`nnbasics.functional.softplus`.

    Args:
        beta: positive sharpness (default 1.0).
        threshold: linear above beta x > threshold (default 20.0).

    Shape: any -> same.
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        if _act.check_finite_real(beta, "beta", "Softplus") <= 0:
            raise ValueError(f"beta of Softplus must be positive; got {beta}.")
        _act.check_finite_real(threshold, "threshold", "Softplus")
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """x / (1 + |x|): :func:`nnbasics.functional.softsign`. Shape: any -> same."""

    def forward(self, input):
        return F.softsign(input)


class Hardtanh(_InPlace):
    """Clamp to [min_val, max_val], gradient 0 at the bounds: :func:`nnbasics.functional.hardtanh`.

    Args:
        min_val, max_val: the bounds (defaults -1.0 and 1.0), min_val < max_val.

    Shape: any -> same.
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace)
        lo = _act.check_finite_real(min_val, "min_val", "Hardtanh")
        hi = _act.check_finite_real(max_val, "max_val", "Hardtanh")
        if not lo < hi:
            raise ValueError(f"min_val of Hardtanh must be less than max_val; got {min_val} and {max_val}.")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): :func:`nnbasics.functional.relu6` (Hardtanh(0, 6), as PyTorch). Shape: any -> same."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Hardsigmoid(_InPlace):
    """relu6(x + 3) / 6: :func:`nnbasics.functional.hardsigmoid`. Shape: any -> same."""

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)

    def extra_repr(self):
        return ""  # PyTorch does not show inplace here


class Maxout(Module):
    """Maximum over groups of ``pool_size`` features: :func:`nnbasics.functional.maxout`.

    Put it after a layer with ``units * pool_size`` outputs (Goodfellow et al. 2013).

    Args:
        pool_size: features per group.
        dim: the feature dimension (default -1).

    Shape: (*, C, *) -> (*, C // pool_size, *).
    """

    def __init__(self, pool_size, dim=-1):
        super().__init__()
        self.pool_size = check_positive_int(pool_size, "pool_size of Maxout")
        if not is_int(dim):
            raise TypeError(f"dim of Maxout must be an int; got {dim!r}.")
        self.dim = int(dim)

    def forward(self, input):
        shape = tuple(input.shape)
        if not -len(shape) <= self.dim < len(shape) or shape[self.dim] % self.pool_size:
            raise ValueError(
                f"Maxout(pool_size={self.pool_size}, dim={self.dim}) expected dim {self.dim} to hold a "
                f"multiple of {self.pool_size} features; got shape {shape}."
            )
        return F.maxout(input, self.pool_size, self.dim)

    def extra_repr(self):
        return f"pool_size={self.pool_size}, dim={self.dim}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim``: :func:`nnbasics.functional.softmax`.

    Args:
        dim: the dimension that sums to 1. None (the default, as PyTorch) picks one from the
            input's rank with PyTorch's legacy rule and its warning: give it.

    Shape: any -> same.
    """

    def __init__(self, dim=None):
        super().__init__()
        if dim is not None and (not is_int(dim)):
            raise TypeError(f"dim of Softmax must be an int; got {dim!r}.")
        self.dim = None if dim is None else int(dim)

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x - logsumexp(x) along ``dim``: :func:`nnbasics.functional.log_softmax`. Shape: any -> same."""

    def forward(self, input):
        return F.log_softmax(input, self.dim)


_MODULES = {
    "step": Step, "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU,
    "prelu": PReLU, "elu": ELU, "selu": SELU, "celu": CELU, "gelu": GELU, "silu": SiLU,
    "swish": SiLU, "mish": Mish, "softplus": Softplus, "softsign": Softsign,
    "hardtanh": Hardtanh, "relu6": ReLU6, "hardsigmoid": Hardsigmoid, "maxout": Maxout,
    "softmax": Softmax, "log_softmax": LogSoftmax,
}


def get_activation(name, **kwargs) -> Module:
    """A new activation module chosen by name, built with ``kwargs``.

    Names are case-insensitive, with or without underscores: ``'relu'``, ``'leaky_relu'``
    and ``'LeakyReLU'`` all work; ``'swish'`` gives :class:`SiLU`.

    Args:
        name: str.
        **kwargs: constructor arguments, e.g. ``negative_slope=0.1``.

    Returns:
        Module

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
        TypeError: an argument the module does not take.

    Example:
        >>> get_activation("LeakyReLU", negative_slope=0.1)
        LeakyReLU(negative_slope=0.1)
    """
    cls = _fa.lookup_activation(_MODULES, name, "get_activation")
    try:
        return cls(**kwargs)
    except TypeError as e:
        if "argument" not in str(e):
            raise
        raise TypeError(f"get_activation: {cls.__name__} does not take {sorted(kwargs)}: {e}") from None
