"""Reduction primitives: sum, mean, amax, amin, logsumexp, softmax, log_softmax.

PyTorch's ``max``/``min`` (values and indices along a dim) are composed from these in
:mod:`nnbasics.functional.selection`.

Every reduction takes PyTorch's ``dim``/``keepdim`` and NumPy's
``axis``/``keepdims`` (give one spelling, not both). ``dim=None`` reduces all.
"""

from __future__ import annotations

from .. import autograd as _autograd
from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor
from .util import as_operand, float_operand, normalize_dim, reduce_axes

__all__ = ["amax", "amin", "argmax", "argmin", "log_softmax", "logsumexp", "mean", "softmax", "sum"]


def _expand_back(g, shape, axes, keep):
    """Re-insert reduced axes into ``g`` so it broadcasts against the input."""
    if not keep and g.ndim:  # a 0-d g (everything reduced) broadcasts as it is
        g = xp.expand_dims(g, axes)
    return g


class Sum(Function):
    """z = sum over ``axes``.  dz/dx = 1 (the gradient broadcasts back)."""

    def forward(self, x, axes, keep):
        self.shape, self.axes, self.keep = x.shape, axes, keep
        # NOTE: bool and integer sums are int64, as in PyTorch (NumPy sums uint8 to uint64: x.sum() - 300 wraps)
        dtype = xp.int64 if x.dtype.kind in "bi" or (x.dtype.kind == "u" and x.dtype.itemsize < 8) else None
        return xp.asarray(x.sum(axis=axes, keepdims=keep, dtype=dtype))

    def backward(self, g):
        g = _expand_back(g, self.shape, self.axes, self.keep)
        return (xp.broadcast_to(g, self.shape),)


class Mean(Function):
    """z = sum / n over ``axes``.  dz/dx = 1/n.  (Fused for speed; twin: sum(x) / n.)"""

    def forward(self, x, axes, keep):
        self.shape, self.axes, self.keep = x.shape, axes, keep
        self.n = 1
        for a in axes:
            self.n *= x.shape[a]
        if self.n and x.dtype.itemsize >= 4:  # bit-identical to x.mean (float16 accumulates in float32 there)
            return xp.asarray(x.sum(axis=axes, keepdims=keep) / self.n)  # skips mean's Python wrapper (~2.5 us)
        return xp.asarray(x.mean(axis=axes, keepdims=keep))

    def backward(self, g):
        g = _expand_back(g, self.shape, self.axes, self.keep) * (1.0 / (self.n or 1))  # NOTE: max is the op here
        return (xp.broadcast_to(g, self.shape).astype(g.dtype, copy=False),)


class _Extreme(Function):
    """max/min over ``axes``; ties share the gradient equally (as PyTorch's amax/amin)."""

    reduce = None

    def forward(self, x, axes, keep):
        out = xp.asarray(type(self).reduce(x, axis=axes, keepdims=True))
        self.x, self.out_keep, self.axes, self.keep = x, out, axes, keep
        return out if keep else xp.squeeze(out, axis=axes)

    def backward(self, g):
        g = _expand_back(g, self.x.shape, self.axes, self.keep)
        mask = self.x == self.out_keep
        count = mask.sum(axis=self.axes, keepdims=True)
        return (g * mask / count.astype(g.dtype),)


class Max(_Extreme):
    reduce = staticmethod(xp.max)


class Min(_Extreme):
    reduce = staticmethod(xp.min)


class LogSumExp(Function):
    """z = log sum exp(x), computed as m + log sum exp(x - m), m = max: no overflow.

    dz/dx = softmax(x) along ``axes``.
    """

    def forward(self, x, axes, keep):
        if x.size == 0 or any(x.shape[a] == 0 for a in axes):  # log(sum of nothing) = log 0 = -inf, as PyTorch
            self.p, self.axes, self.keep = xp.zeros(x.shape, x.dtype), axes, keep
            return xp.full(xp.sum(x, axis=axes, keepdims=keep).shape, -xp.inf, dtype=x.dtype)
        m = xp.max(x, axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        e = xp.exp(x - m)
        s = e.sum(axis=axes, keepdims=True)
        out = xp.log(s) + m
        self.p, self.axes, self.keep = e / s, axes, keep
        return out if keep else xp.squeeze(out, axis=axes)

    def backward(self, g):
        g = _expand_back(g, self.p.shape, self.axes, self.keep)
        return (g * self.p,)


class Softmax(Function):
    """y = exp(x - max) / sum exp(x - max) along ``dim``.  dx = y * (g - sum(g * y))."""

    def forward(self, x, dim):
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        e /= e.sum(axis=dim, keepdims=True)
        self.out, self.dim = e, dim
        return e

    def backward(self, g):
        y = self.out
        gy = g * y
        gy -= y * gy.sum(axis=self.dim, keepdims=True)
        return (gy,)


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``dim`` (stable).  dx = g - softmax(x) * sum(g)."""

    def forward(self, x, dim):
        s = x - x.max(axis=dim, keepdims=True)
        s -= xp.log(xp.exp(s).sum(axis=dim, keepdims=True))
        self.out, self.dim = s, dim
        return s

    def backward(self, g):
        return (g - xp.exp(self.out) * g.sum(axis=self.dim, keepdims=True),)


def _reduce(cls, x, dim, keepdim, axis, keepdims):
    x = as_operand(x)
    axes, keep = reduce_axes(dim, axis, keepdim, keepdims, x.ndim)
    return cls.apply(x, axes=axes, keep=keep)


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    """Sum over ``dim`` (int, tuple, or None for all)."""
    return _reduce(Sum, x, dim, keepdim, axis, keepdims)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    """Arithmetic mean over ``dim``."""
    x = as_operand(x)
    if x.dtype.kind not in "fc":
        raise TypeError(f"mean: needs a floating-point tensor; got {x.dtype}. Use .float() first.")
    return _reduce(Mean, x, dim, keepdim, axis, keepdims)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    """Largest values over ``dim`` (int, tuple, or None for all): PyTorch's ``amax``, values only.

    Ties share the gradient equally (as ``torch.amax``); for the index of the largest value use
    :func:`argmax` or ``max(x, dim)``.
    """
    return _reduce(Max, x, dim, keepdim, axis, keepdims)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    """Smallest values over ``dim`` (values only); ties share the gradient equally."""
    return _reduce(Min, x, dim, keepdim, axis, keepdims)


def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    """log(sum(exp(x))) over ``dim``, stable for large inputs (int tensors give float32)."""
    return _reduce(LogSumExp, float_operand(x, "logsumexp"), dim, keepdim, axis, keepdims)


def softmax(x, dim=-1) -> Tensor:
    """Softmax along ``dim`` (stable: the max is subtracted before exp).

    Shape: any; the result has the input's shape and sums to 1 along ``dim``.
    """
    x = float_operand(x, "softmax")
    return Softmax.apply(x, dim=normalize_dim(dim, x.ndim))


def log_softmax(x, dim=-1) -> Tensor:
    """log(softmax(x)) along ``dim``, computed as x - logsumexp(x): finite for logits of ±1e4."""
    x = float_operand(x, "log_softmax")
    return LogSoftmax.apply(x, dim=normalize_dim(dim, x.ndim))


def argmax(x, dim=None, keepdim=False) -> Tensor:
    """Indices of the maxima (int64, no gradient); over the flattened tensor when ``dim`` is None."""
    x = as_operand(x)
    out = Tensor._make(xp.asarray(xp.argmax(x._array, axis=dim, keepdims=keepdim)), False, None)
    if _autograd._RECORDING:
        _autograd.record_op("argmax", (x,), {"dim": dim, "keepdim": bool(keepdim)}, out)
    return out


def argmin(x, dim=None, keepdim=False) -> Tensor:
    """Indices of the minima (int64, no gradient)."""
    x = as_operand(x)
    out = Tensor._make(xp.asarray(xp.argmin(x._array, axis=dim, keepdims=keepdim)), False, None)
    if _autograd._RECORDING:
        _autograd.record_op("argmin", (x,), {"dim": dim, "keepdim": bool(keepdim)}, out)
    return out
