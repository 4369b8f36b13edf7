"""torch's free functions: ``torch.exp(x)``, ``torch.max(x, 1)``, ``torch.cat``, ``torch.where``...

Most of torch's functions are its Tensor methods called on their first argument
(``torch.max(x, 1) == x.max(1)``); those are generated here from :data:`METHOD_FUNCTIONS` into
:data:`MIRRORS` and call the method of :class:`nnbasics.Tensor`, so a function and its method
can never disagree.
The rest (joining tensors, ``where``, comparisons of whole tensors, grad-mode switches, print
options) are written out below.

Example:
    >>> import nnbasics as nb
    >>> MIRRORS["exp"](nb.zeros(2)).tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import numbers

import numpy as np

from ... import ops as _ops
from ...autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ...tensor import Tensor
from ..unsupported import UnsupportedTorchAPI
from ._creation import as_tensor
from ._out import accepts_out, write_out

#: torch functions that are ``input.<name>(*args, **kwargs)``.
METHOD_FUNCTIONS = (
    "abs", "absolute", "acos", "add", "addmm", "all", "allclose", "amax", "amin", "any", "argmax", "argmin",
    "argsort", "asin", "atan", "atan2", "bmm", "ceil", "chunk", "clamp", "clip", "clone", "cos", "cosh", "count_nonzero",
    "cumprod", "cumsum", "detach", "diag", "diagonal", "dist", "div", "divide", "dot", "eq", "equal", "erf", "exp",
    "exp2", "expm1", "flatten", "flip", "fliplr", "flipud", "floor", "floor_divide", "fmod", "frac", "gather", "ge",
    "greater", "greater_equal", "gt", "index_select", "isclose", "isfinite", "isinf", "isnan", "kthvalue", "le",
    "less", "less_equal", "lerp", "log", "log10", "log1p", "log2", "log_softmax", "logical_and", "logical_not",
    "logical_or", "logical_xor", "logsumexp", "lt", "masked_fill", "masked_select", "matmul", "max", "maximum",
    "mean", "median", "min", "minimum", "mm", "mode", "movedim", "mul", "multiply", "mv", "nan_to_num", "nanmean",
    "nansum", "narrow", "ne", "neg", "negative", "nonzero", "norm", "not_equal", "numel", "outer", "permute", "pow",
    "prod", "reciprocal", "relu", "remainder", "repeat_interleave", "reshape", "roll", "rot90", "round", "rsqrt",
    "scatter", "scatter_add", "select", "sigmoid", "sign", "sin", "sinh", "softmax", "sort", "split", "sqrt",
    "square", "squeeze", "std", "sub", "subtract", "sum", "swapaxes", "t", "take", "take_along_dim", "tan", "tanh",
    "tensor_split", "tile", "topk", "trace", "transpose", "tril", "triu", "true_divide", "trunc", "unbind",
    "unique", "unsqueeze", "var", "var_mean", "std_mean", "view_as_real", "xlogy",
)

#: every public name of this module (the compat torch package exports them).
PUBLIC = (
    "broadcast_tensors", "cat", "cdist", "column_stack", "concat", "concatenate", "einsum",
    "enable_grad", "get_num_threads", "hstack", "inference_mode", "is_grad_enabled", "is_nonzero", "meshgrid",
    "no_grad", "set_grad_enabled", "set_num_threads", "set_printoptions", "stack", "vstack", "where", "allclose",
    "isclose", "equal",
)


def _method_function(name):
    def function(input, *args, out=None, **kwargs):
        t = input if isinstance(input, Tensor) else as_tensor(input)
        method = getattr(type(t), name, None)
        if method is None:
            raise UnsupportedTorchAPI(f"torch.{name}")
        result = method(t, *args, **kwargs)
        return result if out is None else write_out(name, result, out, (t, *args))

    function.__name__ = function.__qualname__ = name
    function.__module__ = "torch"
    function.__doc__ = f"``torch.{name}(input, ...)``: the same as ``input.{name}(...)``."
    return function


#: ``{name: function}`` of the method-mirroring functions; kept out of this module's globals, where
#: ``any``, ``max``, ``abs``... would shadow the builtins the code below uses.
MIRRORS = {name: _method_function(name) for name in METHOD_FUNCTIONS}
MIRRORS["absolute"] = MIRRORS["abs"]


def _tensors(seq, api):
    if isinstance(seq, Tensor) or not isinstance(seq, (list, tuple)):
        raise TypeError(f"{api}: expected a list or tuple of tensors; got {type(seq).__name__}.")
    return [t if isinstance(t, Tensor) else as_tensor(t) for t in seq]


@accepts_out
def cat(tensors, dim=0, *, axis=None, out=None):
    """Join tensors along an existing dimension (``torch.cat``); empty 1-d tensors are skipped, as torch does."""
    ts = [t for t in _tensors(tensors, "torch.cat") if not (t.ndim == 1 and t.shape[0] == 0)] or list(tensors)[:1]
    return _ops.cat(ts, dim if axis is None else axis)


concat = concatenate = cat


@accepts_out
def stack(tensors, dim=0, *, out=None):
    """Join tensors along a new dimension."""
    return _ops.stack(_tensors(tensors, "torch.stack"), dim)


def hstack(tensors):
    ts = _tensors(tensors, "torch.hstack")
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    ts = [t.reshape(1, -1) if t.ndim == 1 else t for t in _tensors(tensors, "torch.vstack")]
    return cat(ts, 0)


def column_stack(tensors):
    ts = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in _tensors(tensors, "torch.column_stack")]
    return cat(ts, 1)


@accepts_out
def where(condition, input=None, other=None, *, out=None):
    """``torch.where(cond, x, y)`` elementwise; ``torch.where(cond)`` the indices of the true elements."""
    if input is None and other is None:  # nonzero(cond, as_tuple=True), through nnbasics (an ONNX trace refuses it)
        return _ops.where(condition if isinstance(condition, Tensor) else as_tensor(np.asarray(condition)))
    cond = condition if isinstance(condition, Tensor) else as_tensor(condition)
    a = input if isinstance(input, Tensor) else as_tensor(np.asarray(input, dtype=_scalar_dtype(input, other)))
    b = other if isinstance(other, Tensor) else as_tensor(np.asarray(other, dtype=_scalar_dtype(other, a)))
    return _ops.where(cond, a, b)


def _scalar_dtype(value, partner):
    if isinstance(partner, Tensor) and isinstance(value, numbers.Number):
        pd = partner.dtype
        if pd.kind == "f" or not isinstance(value, float):
            return pd
    return np.float32 if isinstance(value, float) else None


def einsum(equation, *operands):
    """``torch.einsum`` through matmul-free NumPy: values only, no gradient (raises if one is needed)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if is_grad_enabled() and any(isinstance(o, Tensor) and o.requires_grad for o in operands):
        raise UnsupportedTorchAPI("torch.einsum (with gradients)", "write the product with matmul, mul and sum "
                                  "(x @ w, (a * b).sum(dim)), which carry gradients", kind="call")
    return as_tensor(np.einsum(equation, *[np.asarray(o) for o in operands]))


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*[tuple(np.shape(t)) for t in tensors])
    return tuple((t if isinstance(t, Tensor) else as_tensor(t)).expand(*shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return tuple(as_tensor(g) for g in np.meshgrid(*[np.asarray(t) for t in tensors], indexing=indexing))


def cdist(x1, x2, p=2.0):
    """Pairwise p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M)."""
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return (diff.abs() ** p).sum(-1) ** (1.0 / p)


def is_nonzero(input) -> bool:
    return bool(input)


class inference_mode(no_grad):
    """``torch.inference_mode``: the same as :class:`no_grad` here."""

    def __init__(self, mode: bool = True):
        set_grad_enabled.__init__(self, not mode)


_threads = {"n": None}


def set_num_threads(n: int) -> None:
    """Accepted and remembered; nnbasics' threads follow NNBASICS_THREADS (docs/training.md)."""
    _threads["n"] = int(n)


def get_num_threads() -> int:
    import os

    return _threads["n"] or os.cpu_count() or 1


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Map torch's print options onto NumPy's (nnbasics prints tensors with NumPy)."""
    opts = {}
    if profile == "full":
        opts["threshold"] = np.inf
    elif profile == "short":
        opts.update(precision=2, threshold=1000, edgeitems=2)
    elif profile == "default":
        opts.update(precision=4, threshold=1000, edgeitems=3)
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                       ("linewidth", linewidth)):
        if value is not None:
            opts[key] = value
    if sci_mode is not None:
        opts["suppress"] = not sci_mode
    np.set_printoptions(**opts)


_ = (enable_grad, no_grad, is_grad_enabled)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when ``|input - other| <= atol + rtol * |other|`` everywhere (a Python bool)."""
    return bool(np.allclose(np.asarray(input), np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return as_tensor(np.isclose(np.asarray(input), np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other) -> bool:
    """True when both have the same shape and elements."""
    a, b = np.asarray(input), np.asarray(other)
    return a.shape == b.shape and bool(np.array_equal(a, b))
