"""Running sums and products along a dimension, and the product reduction.

=========== ============================= ================================================
op          z                             gradient (g = dL/dz)
=========== ============================= ================================================
cumsum      z_i = sum_{j<=i} a_j          dL/da_i = sum_{j>=i} g_j  (a reversed cumsum)
cumprod     z_i = prod_{j<=i} a_j         dL/da_i = sum_{j>=i} g_j z_j / a_i  (exact at zeros)
prod        z = prod_i a_i                dL/da_i = g * prod_{j!=i} a_j       (exact at zeros)
=========== ============================= ================================================

At zeros the division form is undefined; those slices are computed exactly as products of the
other factors (as PyTorch does).

Example:
    >>> import nnbasics as nb
    >>> x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> cumsum(x, 0).tolist(), prod(x).item()
    ([1.0, 3.0, 6.0], 6.0)
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor
from .util import as_operand, normalize_dim

__all__ = ["cumprod", "cumsum", "prod"]


def _rev_cumsum(g, axis):
    return xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis)


def _products_without_one(a, axis):
    """``r_i = prod_{j != i} a_j`` along ``axis``, exact (no division): prefix times suffix products."""
    a = xp.moveaxis(a, axis, -1)
    ones = xp.ones(a.shape[:-1] + (1,), dtype=a.dtype)
    prefix = xp.cumprod(xp.concatenate([ones, a[..., :-1]], -1), axis=-1)
    suffix = xp.flip(xp.cumprod(xp.flip(xp.concatenate([a[..., 1:], ones], -1), -1), axis=-1), -1)
    return xp.moveaxis(prefix * suffix, -1, axis)


class CumSum(Function):
    """z = cumsum(a) along ``axis``; dL/da = reversed cumsum of g."""

    def forward(self, a, axis):
        self.axis = axis
        return xp.cumsum(a, axis=axis)

    def backward(self, g):
        return (_rev_cumsum(g, self.axis),)


class CumProd(Function):
    """z = cumprod(a) along ``axis``; see the module table for the gradient."""

    def forward(self, a, axis):
        self.a, self.axis = a, axis
        self.out = xp.cumprod(a, axis=axis)
        return self.out

    def backward(self, g):
        a, axis, out = self.a, self.axis, self.out
        if (a != 0).all():
            return (_rev_cumsum(g * out, axis) / a,)
        # NOTE: exact at zeros: dz_j/da_i = prod_{k<=j, k!=i} a_k, summed over j >= i with weights g_j
        am, gm = xp.moveaxis(a, axis, -1), xp.moveaxis(g, axis, -1)
        n = am.shape[-1]
        grad = xp.zeros_like(am)
        for i in range(n):
            others = am.copy()
            others[..., i] = 1
            partial = xp.cumprod(others, axis=-1)[..., i:]  # prod_{k<=j, k!=i} for j >= i
            grad[..., i] = (gm[..., i:] * partial).sum(-1)
        return (xp.moveaxis(grad, -1, axis),)


class Prod(Function):
    """z = prod of a over ``axis`` (None: all); dL/da_i = g * prod of the other factors."""

    def forward(self, a, axis, keepdims):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        return xp.asarray(xp.prod(a, axis=axis, keepdims=keepdims))

    def backward(self, g):
        a, axis = self.a, self.axis
        if axis is None:
            flat = a.reshape(-1)
            return ((g.reshape(1) * _products_without_one(flat, 0)).reshape(a.shape),)
        if not self.keepdims:
            g = xp.expand_dims(g, axis)
        return (g * _products_without_one(a, axis),)


def _dim(x, dim, name):
    if dim is None:
        raise TypeError(f"{name}() missing the required argument 'dim' (the dimension to run along).")
    return normalize_dim(dim, max(x.ndim, 1))


def cumsum(input, dim, *, dtype=None) -> Tensor:
    """Running sum along ``dim``; integer and bool inputs sum as int64 (PyTorch's rule)."""
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.long()
    if x.ndim == 0:
        return CumSum.apply(x.reshape(1), axis=0).reshape(())
    return CumSum.apply(x, axis=_dim(x, dim, "cumsum"))


def cumprod(input, dim, *, dtype=None) -> Tensor:
    """Running product along ``dim``; integer and bool inputs multiply as int64."""
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.long()
    if x.ndim == 0:
        return CumProd.apply(x.reshape(1), axis=0).reshape(())
    return CumProd.apply(x, axis=_dim(x, dim, "cumprod"))


def prod(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Product of all elements, or along ``dim``; integer and bool inputs multiply as int64."""
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.long()
    if dim is None:
        return Prod.apply(x, axis=None, keepdims=False)
    if x.ndim == 0:
        return x
    return Prod.apply(x, axis=normalize_dim(dim, x.ndim), keepdims=bool(keepdim))
