"""Selection along a dim, as PyTorch returns it: ``max``/``min`` with ``dim``, ``sort``, ``argsort``,
``topk``, ``kthvalue``, ``median``, ``mode``.

Composed, with no derivative of their own: the indices are computed from the values (no
gradient), and the values are picked with :func:`~nnbasics.ops.take_along_axis`, whose backward
sends each gradient to the one element that was picked (PyTorch's rule for these functions;
``amax``/``amin`` and ``max()`` without a dim split it among ties instead).

Among equal values, ``max``/``min`` return the first index (as PyTorch documents) and ``mode``
the last (as PyTorch does); ``sort`` and ``argsort`` are always stable, and ``topk``,
``kthvalue`` and ``median`` take their index from that stable order (PyTorch leaves these
unspecified). NaN counts as larger than every number (sorted last, picked by ``max``).

Example:
    >>> import nnbasics as nb
    >>> out = nb.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    >>> _, pred = out.max(1)
    >>> pred.tolist()
    [1, 0]
    >>> nb.topk(out, 2).indices.tolist()
    [[1, 2], [0, 1]]
"""

from __future__ import annotations

import builtins
import numbers

from .. import autograd as _autograd
from .. import ops, return_types
from ..backend import xp
from ..ops.util import as_operand, normalize_dim
from ..tensor import Tensor

__all__ = ["argsort", "kthvalue", "max", "median", "min", "mode", "sort", "topk"]


def _dim(x, dim, owner):
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{owner}: dim must be one int; got {dim!r} (amax/amin reduce over several dims).")
    return normalize_dim(dim, builtins.max(x.ndim, 1))


def _nonempty(x, d, owner):
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{owner}(): expected reduction dim {d} to have non-zero size (shape {x.shape}).")


def _order(a, d, descending):
    """Indices that sort ``a`` along ``d`` (stable; NaN last ascending, first descending), int64."""
    if not descending:
        return xp.argsort(a, axis=d, kind="stable").astype(xp.int64, copy=False)
    # NOTE: a stable descending order keeps equal values in their original order: sort the
    # reversed array ascending, reverse the result, and map positions back.
    idx = xp.argsort(xp.flip(a, d), axis=d, kind="stable")
    return ((a.shape[d] - 1) - xp.flip(idx, d)).astype(xp.int64, copy=False)


def _take(a, start, stop, d):
    return a[(slice(None),) * d + (slice(start, stop),)]


def _ordered(x, d, descending, start=0, stop=None):
    """Positions ``start:stop`` of the stable order of ``x`` along ``d``: an int64 array (keepdim layout).

    Reported to an ONNX trace as ``"sort_index"`` (``TopK``), so indices computed from the input
    are never kept as constants.
    """
    stop = x.shape[d] if stop is None else stop
    # NOTE: an array that owns its memory: a trace finds the views made of it (broadcast_to) by their base
    idx = xp.array(_take(_order(x._array, d, descending), start, stop, d), copy=True)
    if _autograd._RECORDING:
        _autograd.record_op("sort_index", (x,), {"dim": d, "descending": bool(descending), "start": int(start),
                                                  "stop": int(stop)}, Tensor._make(idx, False, None))
    return idx


def _pick(x, idx, d, keepdim, result):
    """``result(values, indices)`` with the values of ``x`` at ``idx`` (keepdim layout) along ``d``."""
    if x.ndim == 0:  # PyTorch accepts dim 0 / -1 on a 0-d tensor: the value itself, index 0
        return result(ops.reshape(x, ()), Tensor._make(xp.zeros((), xp.int64), False, None))
    values = ops.take_along_axis(x, idx, d)
    index = Tensor._make(idx, False, None)  # NOTE: an ONNX trace knows idx's array: squeeze is recorded on it
    if not keepdim:
        values, index = ops.squeeze(values, d), ops.squeeze(index, d)
    return result(values, index)


def _with_dim(x, dim, keepdim, axis, keepdims, owner):
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{owner}: give either dim (PyTorch) or axis (NumPy), not both.")
        dim = axis
    return dim, bool(keepdim if keepdims is None else keepdims)


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's ``max``: ``max(x)`` is the largest value (0-d; ties share the gradient),
    ``max(x, dim)`` the named tuple ``(values, indices)`` (the gradient goes to the index),
    ``max(x, other)`` the elementwise :func:`~nnbasics.maximum`.

    Shape: ``dim`` removed (kept as 1 with ``keepdim=True``).
    """
    x = as_operand(input)
    if isinstance(dim, Tensor):
        return ops.maximum(x, dim)
    dim, keepdim = _with_dim(x, dim, keepdim, axis, keepdims, "max")
    if dim is None:
        return ops.amax(x, None, keepdim)
    d = _dim(x, dim, "max")
    _nonempty(x, d, "max")
    # NOTE: through ops.argmax (not NumPy's), so an ONNX trace sees where the index comes from
    idx = ops.argmax(x, d, keepdim=True)._array if x.ndim else None
    return _pick(x, idx, d, keepdim, return_types.max)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's ``min``: the smallest value, ``(values, indices)`` along ``dim``, or :func:`~nnbasics.minimum`."""
    x = as_operand(input)
    if isinstance(dim, Tensor):
        return ops.minimum(x, dim)
    dim, keepdim = _with_dim(x, dim, keepdim, axis, keepdims, "min")
    if dim is None:
        return ops.amin(x, None, keepdim)
    d = _dim(x, dim, "min")
    _nonempty(x, d, "min")
    idx = ops.argmin(x, d, keepdim=True)._array if x.ndim else None
    return _pick(x, idx, d, keepdim, return_types.min)


def sort(input, dim=-1, descending=False, *, stable=False):
    """Sorted values and their original indices along ``dim``: ``(values, indices)`` (always stable)."""
    x = as_operand(input)
    d = _dim(x, dim, "sort")
    return _pick(x, _ordered(x, d, descending) if x.ndim else None, d, True, return_types.sort)


def argsort(input, dim=-1, descending=False, *, stable=False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64; always stable)."""
    x = as_operand(input)
    d = _dim(x, dim, "argsort")
    idx = _ordered(x, d, descending) if x.ndim else xp.zeros((), xp.int64)
    return Tensor._make(idx, False, None)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices, sorted.

    Shape: ``dim`` becomes ``k``. Raises IndexError unless 0 <= k <= size of ``dim``.
    """
    x = as_operand(input)
    d = _dim(x, dim, "topk")
    n = x.shape[d] if x.ndim else 1
    if not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise IndexError(f"topk: k ({k}) out of range: dim {d} has size {n}.")
    if x.ndim == 0:
        return _pick(x, None, d, True, return_types.topk)
    idx = _ordered(x, d, bool(largest), 0, int(k))
    return _pick(x, idx, d, True, return_types.topk)


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest value along ``dim`` (k counts from 1) and its index."""
    x = as_operand(input)
    d = _dim(x, dim, "kthvalue")
    n = x.shape[d] if x.ndim else 1
    if not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise IndexError(f"kthvalue: k ({k}) out of range: dim {d} has size {n} (k counts from 1).")
    idx = _ordered(x, d, False, k - 1, k) if x.ndim else None
    return _pick(x, idx, d, keepdim, return_types.kthvalue)


def _data_index(x, fn, idx):
    """``idx`` computed from ``x``'s values in NumPy; reported to an ONNX trace, which refuses it."""
    idx = xp.array(idx, dtype=xp.int64, copy=True)
    if _autograd._RECORDING:
        _autograd.record_op("data_index", (x,), {"fn": fn}, Tensor._make(idx, False, None))
    return idx


def _median_index(x, d):
    """Index of the lower median along ``d`` (keepdim layout); a slice with NaN gives its first NaN."""
    a, n = x._array, x.shape[d]
    if a.dtype.kind == "f" and xp.isnan(a).any():
        nan = xp.isnan(a)
        idx = _take(_order(a, d, False), (n - 1) // 2, (n - 1) // 2 + 1, d)
        idx = xp.where(nan.any(axis=d, keepdims=True), xp.argmax(nan, axis=d, keepdims=True), idx)
        return _data_index(x, "median of values with NaN", idx)
    return _ordered(x, d, False, (n - 1) // 2, (n - 1) // 2 + 1)


def median(input, dim=None, keepdim=False):
    """PyTorch's ``median``: the *lower* of the two middle values for an even count (not their mean).

    ``median(x)`` is a 0-d tensor; ``median(x, dim)`` the named tuple ``(values, indices)``.
    NaN propagates (as PyTorch; ``nanmedian`` is not provided).
    """
    x = as_operand(input)
    if dim is None:
        flat = ops.reshape(x, -1)
        if flat.shape[0] == 0:
            return Tensor._make(xp.asarray(xp.nan, dtype=x.dtype), False, None)
        return ops.reshape(ops.take_along_axis(flat, _median_index(flat, 0), 0), ())
    d = _dim(x, dim, "median")
    _nonempty(x, d, "median")
    return _pick(x, _median_index(x, d) if x.ndim else None, d, keepdim, return_types.median)


def _mode_index(a, d):
    """Index (keepdim layout) of the most frequent value along ``d``: the smallest such value, its last index."""
    m = xp.moveaxis(a, d, -1)
    n = m.shape[-1]
    rows = m.reshape(-1, n)  # (M, n)
    s = xp.sort(rows, axis=1)
    new = xp.ones(s.shape, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]  # True where a run of equal values starts
    pos = xp.arange(n)
    count = pos - xp.maximum.accumulate(xp.where(new, pos, 0), axis=1) + 1  # length of the run so far
    value = s[xp.arange(len(s)), xp.argmax(count, axis=1)][:, None]  # first longest run: smallest value
    eq = rows == value
    if a.dtype.kind == "f":
        eq |= xp.isnan(rows) & xp.isnan(value)
    last = (n - 1) - xp.argmax(eq[:, ::-1], axis=1)
    return xp.expand_dims(last.reshape(m.shape[:-1]), d).astype(xp.int64, copy=False)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` and the index of its last occurrence (ties: the smallest value)."""
    x = as_operand(input)
    d = _dim(x, dim, "mode")
    _nonempty(x, d, "mode")
    return _pick(x, _data_index(x, "mode", _mode_index(x._array, d)) if x.ndim else None, d, keepdim,
                 return_types.mode)
