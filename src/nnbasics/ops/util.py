"""Helpers shared by the primitives: undoing broadcasting, operands, dims."""

from __future__ import annotations

import numbers

from ..backend import default_float, xp
from ..tensor import Tensor

__all__ = ["sum_to", "operands", "as_operand", "reduce_axes", "normalize_dim"]


def sum_to(grad, shape):
    """Sum ``grad`` over the dimensions that broadcasting added or stretched.

    The one place broadcasting is undone: ``sum_to(g, x.shape)`` is the
    gradient w.r.t. ``x`` of any op that broadcast ``x`` to ``g.shape``.

    Shape: grad (*B, *S') -> ``shape`` S, where S broadcasts to S'.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    stretched = tuple(lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1)
    # NOTE: return a fresh array, not a reshaped view, where one sum gives the shape directly
    # (a bias gradient): the engine must copy a view before a leaf keeps it.
    if not stretched and shape:
        return grad.sum(axis=tuple(range(lead)))
    if not lead:
        return grad.sum(axis=stretched, keepdims=True)
    return grad.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def as_operand(x, like=None) -> Tensor:
    """Tensor for ``x``; a Python number takes the dtype of ``like`` (the other operand).

    An int tensor combined with a Python float gives float32, as in PyTorch.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number) and not isinstance(x, bool) and like is not None:
        dt = like.data.dtype
        if isinstance(x, float) and dt.kind not in "fc":
            dt = default_float
        return Tensor._make(xp.asarray(x, dtype=dt), False, None)
    return Tensor(x)


def operands(a, b):
    """Both operands of a binary op as Tensors (numbers adopt the other's dtype)."""
    if isinstance(a, Tensor):
        a, b = a, as_operand(b, a)
    else:
        b = as_operand(b)
        a = as_operand(a, b)
    # NOTE: NumPy promotes float32 with an int tensor to float64; PyTorch keeps the float dtype, as we do.
    if a.dtype.kind == "f" and b.dtype.kind in "iu":
        b = Tensor._make(b.data.astype(a.dtype), False, None)
    elif b.dtype.kind == "f" and a.dtype.kind in "iu":
        a = Tensor._make(a.data.astype(b.dtype), False, None)
    return a, b


def reduce_axes(dim, axis, keepdim, keepdims, ndim):
    """Resolve PyTorch ``dim``/``keepdim`` and NumPy ``axis``/``keepdims`` to (axes, keep).

    Returns ``axes`` as a tuple of non-negative ints (all dims when None).
    """
    if axis is not None:
        if dim is not None:
            raise TypeError("give either dim (PyTorch) or axis (NumPy), not both.")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if dim is None:
        return tuple(range(ndim)), bool(keepdim)
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    axes = tuple(normalize_dim(d, ndim) for d in dims)
    return (() if ndim == 0 else axes), bool(keepdim)  # a 0-d tensor accepts dim 0 / -1, as in PyTorch


def normalize_dim(d, ndim, *, extra=0):
    """``d`` as a non-negative dim of a tensor with ``ndim`` dims (``extra`` allows insert positions)."""
    n = ndim + extra
    if type(d) is int and -n <= d < n:  # the common case, without the ABC check below
        return d % n
    if not isinstance(d, numbers.Integral) or not -max(n, 1) <= d < max(n, 1):
        raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimension(s).")
    return int(d) % max(n, 1)
