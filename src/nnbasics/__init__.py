"""nnbasics: neural-network basics from scratch on NumPy.

Importing defines names and does nothing else (no I/O, no seeding).

Example:
    >>> import nnbasics as nb
    >>> w = nb.randn(3, 2, rng=0, requires_grad=True)
    >>> loss = (nb.ones(4, 3) @ w).relu().sum()
    >>> loss.backward()
    >>> w.grad.shape
    (3, 2)
"""

from . import functional, nn, ops, optim  # noqa: F401
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import xp as _xp
from .gradcheck import GradcheckError, GradcheckResult, gradcheck
from .ops import (  # noqa: F401
    abs, add, argmax, argmin, cat, clip, concatenate, div, exp, expand, flatten, gather, linear, log,
    log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg, pad, permute,
    pow, relu, reshape, sigmoid, sign, softmax, split, sqrt, squeeze, stack, sub, sum,
    take_along_axis, tanh, transpose, unsqueeze, where,
)
from .functional.reduce import std, var  # noqa: F401
from .rng import as_generator
from .tensor import Tensor, arange, as_tensor, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like

__version__ = "0.1.0"

float16 = _xp.float16
float32 = _xp.float32
float64 = _xp.float64
int32 = _xp.int32
int64 = _xp.int64
bool_ = _xp.bool_

clamp = clip
broadcast_to = expand

__all__ = [
    "Tensor", "tensor", "as_tensor", "zeros", "ones", "full", "arange", "randn", "rand",
    "zeros_like", "ones_like", "Function", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "gradcheck", "GradcheckError", "GradcheckResult", "as_generator",
    "functional", "ops", "AnomalyError", "detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly",
    "float16", "float32", "float64", "int32", "int64", "bool_",
]
