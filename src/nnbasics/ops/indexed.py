"""Indexed writes: ``scatter``, ``scatter_add``, ``index_put`` (item assignment), ``masked_fill``.

Each returns a new tensor (the in-place ``scatter_``, ``x[i] = v``... write it back through
:mod:`nnbasics.inplace`). ``scatter`` and ``scatter_add`` follow PyTorch's ``index``
convention: ``index`` has the tensor's number of dims and may be smaller than it outside
``dim``; for dim=1, ``out[i][index[i][j]] = src[i][j]`` (scatter) or ``+= src[i][j]``
(scatter_add). Only the leading ``index.shape`` block of ``src`` is read.

Example (one-hot labels, the classic use):
    >>> import nnbasics as nb
    >>> y = nb.tensor([2, 0])
    >>> nb.zeros(2, 3).scatter_(1, y.unsqueeze(1), 1.0).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
"""

from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import is_int_dtype, xp
from ..tensor import Tensor
from .elementwise import where
from .movement import as_index
from .util import as_operand, normalize_dim, sum_to

__all__ = ["index_put", "masked_fill", "scatter", "scatter_add"]


def _positions(index, dim):
    """The full NumPy index of the places ``index`` names along ``dim`` (the other dims: 0..size-1)."""
    pos = list(xp.indices(index.shape, sparse=True))
    pos[dim] = index
    return tuple(pos)


def _block(shape):
    return tuple(slice(0, s) for s in shape)


class Scatter(Function):
    """z = x with z[pos] = src[block].  dx = g with the written places zeroed; dsrc[block] = g[pos]."""

    def forward(self, x, src, dim, index):
        self.pos, self.block, self.src_shape = _positions(index, dim), _block(index.shape), src.shape
        out = x.copy()
        out[self.pos] = src[self.block]
        return out

    def backward(self, g):
        gx = None
        if self.needs_grad[0]:
            gx = g.copy()
            gx[self.pos] = 0
        gs = None
        if self.needs_grad[1]:
            gs = xp.zeros(self.src_shape, dtype=g.dtype)
            gs[self.block] = g[self.pos]
        return gx, gs


class ScatterAdd(Function):
    """z = x with src[block] added at pos (repeats accumulate).  dx = g; dsrc[block] = g[pos]."""

    def forward(self, x, src, dim, index):
        self.pos, self.block, self.src_shape = _positions(index, dim), _block(index.shape), src.shape
        out = x.copy()
        xp.add.at(out, self.pos, src[self.block])
        return out

    def backward(self, g):
        gs = None
        if self.needs_grad[1]:
            gs = xp.zeros(self.src_shape, dtype=g.dtype)
            gs[self.block] = g[self.pos]
        return g, gs


class IndexPut(Function):
    """z = x with z[index] = v (broadcast).  dx = g with z[index] zeroed; dv = g[index] summed to v's shape."""

    def forward(self, x, v, index):
        self.index, self.v_shape = index, v.shape
        out = x.copy()
        out[index] = v
        return out

    def backward(self, g):
        gx = None
        if self.needs_grad[0]:
            gx = g.copy()
            gx[self.index] = 0
        gv = sum_to(g[self.index], self.v_shape) if self.needs_grad[1] else None
        return gx, gv


def _check_index(x, dim, index, src, owner):
    """(dim, index array, src Tensor) validated as PyTorch does."""
    idx = index._array if isinstance(index, Tensor) else xp.asarray(index)
    if not is_int_dtype(idx.dtype):
        raise TypeError(f"{owner}: index must be an int64 tensor; got {idx.dtype}. Use .long().")
    if idx.ndim != x.ndim:
        raise ValueError(f"{owner}: index has {idx.ndim} dims, the tensor {x.ndim} (index must have the same number).")
    d = normalize_dim(dim, x.ndim)
    for i, (s, n) in enumerate(zip(idx.shape, x.shape)):
        if i != d and s > n:
            raise ValueError(f"{owner}: index {idx.shape} is larger than the tensor {x.shape} in dim {i}.")
        if i != d and src is not None and s > src.shape[i]:
            raise ValueError(f"{owner}: index {idx.shape} is larger than src {src.shape} in dim {i}.")
    if src is not None and idx.shape[d] > src.shape[d]:
        raise ValueError(f"{owner}: index {idx.shape} is larger than src {src.shape} in dim {d}.")
    if idx.size and (idx.min() < -x.shape[d] or idx.max() >= x.shape[d]):
        raise IndexError(f"{owner}: index {int(idx.max())} is out of bounds for dim {d} of size {x.shape[d]}.")
    return d, idx % x.shape[d] if idx.size else idx


def _as_src(x, src, value, owner):
    if src is None and value is None:
        raise TypeError(f"{owner}: give src (a tensor) or value (a number).")
    if src is None or isinstance(src, numbers.Number):
        v = value if src is None else src
        return Tensor._make(xp.asarray(v, dtype=x.dtype), False, None), True
    src = as_operand(src)
    if src.dtype != x.dtype:
        src = src.to(x.dtype)
    if src.ndim == 0:
        return src, True
    if src.ndim != x.ndim:
        raise ValueError(f"{owner}: src has {src.ndim} dims, the tensor {x.ndim}.")
    return src, False


def scatter(input, dim, index, src=None, *, value=None, reduce=None) -> Tensor:
    """PyTorch's ``scatter``: a copy of ``input`` with ``src`` (or the number ``value``) written at ``index``.

    ``reduce='add'`` adds instead of writing (``scatter_add``); ``'multiply'`` is not supported.
    Where ``index`` repeats a place, one of the writes wins (PyTorch: unspecified which).
    """
    x = as_operand(input)
    if reduce not in (None, "add"):
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported; use reduce='add' or None.")
    s, scalar = _as_src(x, src, value, "scatter")
    d, idx = _check_index(x, dim, index, None if scalar else s, "scatter")
    if scalar:
        s = s.expand(*idx.shape)
    op = ScatterAdd if reduce == "add" else Scatter
    return op.apply(x, s, dim=d, index=idx)


def scatter_add(input, dim, index, src) -> Tensor:
    """PyTorch's ``scatter_add``: a copy of ``input`` with ``src`` added at ``index`` (repeats accumulate)."""
    return scatter(input, dim, index, src, reduce="add")


def index_put(input, index, value) -> Tensor:
    """A copy of ``input`` with ``input[index] = value`` (what item assignment records)."""
    x = as_operand(input)
    v = as_operand(value, x)
    if v.dtype != x.dtype:
        v = v.to(x.dtype)
    index = as_index(index)
    try:
        return IndexPut.apply(x, v, index=index)
    except IndexError as e:
        raise IndexError(f"index_put: index out of range for shape {x.shape}: {e}") from None


def masked_fill(input, mask, value) -> Tensor:
    """``input`` with ``value`` wherever the bool ``mask`` (broadcast) is True; the gradient flows elsewhere."""
    x = as_operand(input)
    m = mask._array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != xp.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor; got {m.dtype}. Use a comparison such as x > 0.")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor; got shape {value.shape}.")
    out = where(m, value, x)
    if out.dtype != x.dtype:  # a float value into an int tensor: PyTorch keeps the tensor's dtype
        out = out.to(x.dtype)
    return out
