"""nnbasics: neural-network basics from scratch on NumPy.

Importing defines names and does nothing else (no I/O, no seeding). The top-level names
follow PyTorch's ``torch`` namespace where they share a name (``nb.exp``, ``nb.max``,
``nb.cat``, ``nb.manual_seed``...); ``from nnbasics import *`` gives every public op.

Example:
    >>> import nnbasics as nb
    >>> w = nb.randn(3, 2, rng=0, requires_grad=True)
    >>> loss = (nb.ones(4, 3) @ w).relu().sum()
    >>> loss.backward()
    >>> w.grad.shape
    (3, 2)
"""

from . import functional, ops, return_types
from . import kernels as _kernels  # noqa: F401  (registers the fast implementations of the reference ops)
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import xp as _xp
from .compiled import compiled_kernels, is_compiled
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .device import DeviceError, device
from .dispatch import is_reference_mode, reference_mode
from .functional.discrete import allclose, ceil, floor, isfinite, isinf, isnan, nonzero, round, trunc
from .functional.reduce import std, var
from .functional.selection import argsort, kthvalue, max, median, min, mode, sort, topk
from .gradcheck import GradcheckError, GradcheckResult, gradcheck
from .ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    cat,
    chunk,
    clip,
    clone,
    concatenate,
    div,
    exp,
    expand,
    flatten,
    floor_divide,
    gather,
    index_put,
    linear,
    log,
    log_softmax,
    logsumexp,
    masked_fill,
    matmul,
    maximum,
    mean,
    minimum,
    mul,
    neg,
    pad,
    permute,
    pow,
    relu,
    remainder,
    repeat,
    reshape,
    scatter,
    scatter_add,
    sigmoid,
    sign,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    take_along_axis,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from .rng import as_generator, default_generator, initial_seed, manual_seed, seed
from .tensor import Tensor
from .tensor_base import is_tensor, numel
from .versions import InplaceError

__version__ = "0.1.0"

#: Subpackages imported on first use (``nb.nn``, ``from nnbasics import nn``, ``import nnbasics.optim``
#: as before): the layers and optimizers are ~30 ms of ``import nnbasics``'s ~150 (issue 19).
_LAZY = ("nn", "optim")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)  # sets the attribute: asked once
    raise AttributeError(f"module 'nnbasics' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


float16 = _xp.float16
float32 = _xp.float32
float64 = _xp.float64
int8 = _xp.int8
int16 = _xp.int16
int32 = _xp.int32
int64 = _xp.int64
uint8 = _xp.uint8
bool_ = _xp.bool_
# PyTorch's short dtype names (attributes only: not in __all__, so `import *` never shadows builtins)
half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
bool = bool_

clamp = clip
broadcast_to = expand
mm = matmul
concat = cat

__all__ = [  # every public op and class; dtypes' short torch names (float, int...) stay out
    "AnomalyError",
    "DeviceError",
    "Function",
    "GradcheckError",
    "GradcheckResult",
    "InplaceError",
    "Tensor",
    "abs",
    "add",
    "allclose",
    "amax",
    "amin",
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "as_generator",
    "as_tensor",
    "bool_",
    "broadcast_to",
    "cat",
    "ceil",
    "chunk",
    "clamp",
    "clip",
    "clone",
    "compiled_kernels",
    "concat",
    "concatenate",
    "default_generator",
    "detect_anomaly",
    "device",
    "div",
    "empty",
    "empty_like",
    "enable_grad",
    "exp",
    "expand",
    "eye",
    "flatten",
    "float16",
    "float32",
    "float64",
    "floor",
    "floor_divide",
    "from_numpy",
    "full",
    "full_like",
    "functional",
    "gather",
    "gradcheck",
    "index_put",
    "initial_seed",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_anomaly_enabled",
    "is_compiled",
    "is_grad_enabled",
    "is_reference_mode",
    "is_tensor",
    "isfinite",
    "isinf",
    "isnan",
    "kthvalue",
    "linear",
    "linspace",
    "log",
    "log_softmax",
    "logsumexp",
    "manual_seed",
    "masked_fill",
    "matmul",
    "max",
    "maximum",
    "mean",
    "median",
    "min",
    "minimum",
    "mm",
    "mode",
    "mul",
    "neg",
    "nn",
    "no_grad",
    "nonzero",
    "numel",
    "ones",
    "ones_like",
    "ops",
    "optim",
    "pad",
    "permute",
    "pow",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "reference_mode",
    "relu",
    "remainder",
    "repeat",
    "reshape",
    "return_types",
    "round",
    "scatter",
    "scatter_add",
    "seed",
    "set_detect_anomaly",
    "set_grad_enabled",
    "sigmoid",
    "sign",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "take_along_axis",
    "tanh",
    "tensor",
    "topk",
    "transpose",
    "trunc",
    "uint8",
    "unsqueeze",
    "var",
    "where",
    "zeros",
    "zeros_like",
]

# PyTorch's everyday math (also Tensor methods, nnbasics.tensor_math): x.sin(), nb.cumsum(x, 0), nb.flip(x, 0)...
from .functional.tensor_math import (
    addmm,
    argwhere,
    bincount,
    bmm,
    clamp_max,
    clamp_min,
    count_nonzero,
    deg2rad,
    diag,
    diff,
    dist,
    dot,
    exp2,
    flip,
    frac,
    histc,
    hypot,
    index_select,
    isclose,
    lerp,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    masked_select,
    movedim,
    mv,
    nan_to_num,
    narrow,
    norm,
    outer,
    rad2deg,
    reciprocal,
    repeat_interleave,
    roll,
    rsqrt,
    square,
    std_mean,
    swapaxes,
    take,
    tensor_split,
    tile,
    trace,
    tril,
    triu,
    unbind,
    unflatten,
    unique,
    var_mean,
    xlogy,
)
from .ops.scan import cumprod, cumsum, prod
from .ops.unary import acos, asin, atan, cos, cosh, expm1, log1p, sin, sinh, tan

__all__ += [
    "acos", "addmm", "argwhere", "asin", "atan", "bincount", "bmm", "clamp_max", "clamp_min", "cos", "cosh",
    "count_nonzero", "cumprod", "cumsum", "deg2rad", "diag", "diff", "dist", "dot", "exp2", "expm1", "flip", "frac",
    "histc", "hypot", "index_select", "isclose", "lerp", "log1p", "log2", "log10", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "masked_select", "movedim", "mv", "nan_to_num", "narrow", "norm",
    "outer", "prod", "rad2deg", "reciprocal", "repeat_interleave", "roll", "rsqrt", "sin", "sinh", "square",
    "std_mean", "swapaxes", "take", "tan", "tensor_split", "tile", "trace", "tril", "triu", "unbind", "unflatten",
    "unique", "var_mean", "xlogy",
]
