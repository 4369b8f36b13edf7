"""Rounding, predicates and index-valued functions: ``round``, ``floor``, ``ceil``, ``trunc``, ``isnan``,
``isinf``, ``isfinite``, ``nonzero``, ``where(cond)``, ``one_hot``, ``allclose``.

Their derivative is zero almost everywhere. As in PyTorch, rounding a tensor that requires grad
gives one that requires grad with a zero gradient (composed with ``where``, no derivative of its
own); the predicates and index functions return bool or int64 tensors without gradient.

Example:
    >>> import nnbasics as nb
    >>> nb.tensor([0.5, 1.5, -2.7]).round().tolist()
    [0.0, 2.0, -3.0]
    >>> nb.functional.one_hot(nb.tensor([2, 0]), 3).tolist()
    [[0, 0, 1], [1, 0, 0]]
"""

from __future__ import annotations

import builtins
import numbers

from .. import autograd as _autograd
from .. import ops
from ..backend import xp
from ..ops.util import as_operand, normalize_dim
from ..tensor import Tensor

# NOTE: round/floor/ceil/trunc stay out of __all__: `from nnbasics.functional import *` must not shadow builtins
__all__ = ["allclose", "isfinite", "isinf", "isnan", "nonzero", "one_hot"]


def _no_grad_op(name, x, values, **params):
    """A tensor of ``values`` computed from ``x`` with no gradient, reported to an ONNX trace as ``name``."""
    out = Tensor._make(xp.asarray(values), False, None)
    if _autograd._RECORDING:  # NOTE: else an ONNX trace would keep these values as a constant
        _autograd.record_op("discrete", (x,), {"fn": name, **params}, out)
    return out


def _zero_grad_values(x, name, values, **params):
    """A tensor of ``values`` whose gradient w.r.t. ``x`` is zero (PyTorch's rounding functions)."""
    out = _no_grad_op(name, x, values, **params)
    if not x.requires_grad:
        return out
    return ops.where(xp.zeros(x.shape, dtype=bool), x, out)


def round(input, *, decimals: int = 0) -> Tensor:
    """Round half to even (as PyTorch and NumPy), to ``decimals`` places. Gradient 0."""
    x = as_operand(input)
    return _zero_grad_values(x, "round", xp.round(x._array, decimals), decimals=int(decimals))


def floor(input) -> Tensor:
    """Largest integer <= x (same dtype). Gradient 0."""
    x = as_operand(input)
    return _zero_grad_values(x, "floor", xp.floor(x._array))


def ceil(input) -> Tensor:
    """Smallest integer >= x (same dtype). Gradient 0."""
    x = as_operand(input)
    return _zero_grad_values(x, "ceil", xp.ceil(x._array))


def trunc(input) -> Tensor:
    """x rounded toward zero (same dtype). Gradient 0."""
    x = as_operand(input)
    return _zero_grad_values(x, "trunc", xp.trunc(x._array))


def any_all(fn, input, dim=None, keepdim=False) -> Tensor:
    """``x.any(dim)`` / ``x.all(dim)``: whether any / every element over ``dim`` (an int, a tuple, or None
    for all) is non-zero; a bool tensor."""
    x = as_operand(input)
    axes = None if dim is None else tuple(normalize_dim(d, builtins.max(x.ndim, 1)) for d in
                                          ((dim,) if isinstance(dim, numbers.Integral) else dim))
    axes = None if x.ndim == 0 else axes
    values = (xp.any if fn == "any" else xp.all)(x._array, axis=axes, keepdims=bool(keepdim))
    return _no_grad_op(fn, x, values, axes=axes, keepdim=bool(keepdim))


def isnan(input) -> Tensor:
    """Bool tensor: where x is NaN."""
    x = as_operand(input)
    return _no_grad_op("isnan", x, xp.isnan(x._array))


def isinf(input) -> Tensor:
    """Bool tensor: where x is +inf or -inf."""
    x = as_operand(input)
    return _no_grad_op("isinf", x, xp.isinf(x._array))


def isfinite(input) -> Tensor:
    """Bool tensor: where x is neither infinite nor NaN."""
    x = as_operand(input)
    return _no_grad_op("isfinite", x, xp.isfinite(x._array))


def nonzero(input, *, as_tuple: bool = False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one (n,) tensor per dim with
    ``as_tuple=True`` (what ``x[nonzero(x, as_tuple=True)]`` indexes with)."""
    x = as_operand(input)
    idx = xp.nonzero(x._array) if x.ndim else xp.nonzero(x._array.reshape(1))
    cols = [Tensor._make(i.astype(xp.int64), False, None) for i in idx]
    out = tuple(cols) if as_tuple else Tensor._make(
        xp.stack([c._array for c in cols], axis=1) if cols else xp.zeros((0, 0), xp.int64), False, None)
    if _autograd._RECORDING:  # NOTE: a count that depends on the values: an ONNX trace refuses it by name
        for t in (out if as_tuple else (out,)):
            _autograd.record_op("data_index", (x,), {"fn": "nonzero"}, t)
    return out


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """One-hot encoding of int64 class indices: shape ``(*, num_classes)``, int64 (as PyTorch).

    ``num_classes=-1`` takes the largest index + 1.
    """
    t = as_operand(tensor)
    if t._array.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class indices must be integers (int64); got {t.dtype}. Use .long().")
    a = t._array
    if a.size and a.min() < 0:
        raise ValueError("one_hot: class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(a.max()) + 1 if a.size else 0
    if not isinstance(num_classes, numbers.Integral) or (a.size and a.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be smaller than num_classes ({num_classes}).")
    return _no_grad_op("one_hot", t, (a[..., None] == xp.arange(num_classes)).astype(xp.int64),
                       num_classes=int(num_classes))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when every |input - other| <= atol + rtol |other| (PyTorch's and NumPy's rule)."""
    a, b = as_operand(input), as_operand(other)
    return bool(xp.allclose(a._array, b._array, rtol=rtol, atol=atol, equal_nan=equal_nan))
