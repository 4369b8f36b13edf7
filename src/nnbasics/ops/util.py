"""Helpers shared by the primitives: undoing broadcasting, operands, dims."""

from __future__ import annotations

import numbers

from .. import autograd as _autograd
from ..backend import default_float, xp
from ..tensor import Tensor, as_tensor

__all__ = ["as_operand", "float_operand", "normalize_dim", "operands", "reduce_axes", "sum_to"]


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
        dt = like._array.dtype
        if isinstance(x, float) and dt.kind not in "fc":
            dt = default_float
        elif dt.kind == "b":  # bool tensor + 2 is 3 (int64), not True
            dt = xp.dtype(xp.int64)
        return Tensor._make(xp.asarray(x, dtype=dt), False, None)
    if isinstance(x, (tuple, list)) and any(isinstance(v, Tensor) for v in x):
        # NOTE: PyTorch refuses a tuple where a tensor goes; converting it would be silently wrong
        hint = (" max(x, dim), sort, topk... return (values, indices): use .values or unpack it."
                if hasattr(x, "values") and hasattr(x, "indices") else " Use nnbasics.stack(...) to make one tensor.")
        raise TypeError(f"expected a Tensor, got a {type(x).__name__} of tensors.{hint}")
    return as_tensor(x)


def operands(a, b):
    """Both operands of a binary op as Tensors (numbers adopt the other's dtype)."""
    if isinstance(a, Tensor):
        b = as_operand(b, a)
    else:
        b = as_operand(b)
        a = as_operand(a, b)
    da, db = a._array.dtype, b._array.dtype
    if da == db:
        return a, b
    return _promote(a, b, da, db)


def _promote(a, b, da, db):
    """The promotion rules of binary ops, identical on NumPy 1.x (value-based casting) and 2.x (NEP 50).

    * float with int or bool: the float tensor's dtype (PyTorch's rule; NumPy would give
      float64 for float32 with int64);
    * same kind (float/float, int or uint/int or uint), one operand 0-d and the other not: the
      dimensioned tensor's dtype (PyTorch's rule; what NumPy 1.x does by value, NumPy 2 would
      widen): ``x32 - y64.mean()`` stays float32;
    * otherwise NumPy's dtype promotion (``result_type`` of the dtypes, never of the values):
      float32 with float64 tensors gives float64, int32 with int64 gives int64, bool with int gives int.
    """
    ka, kb = da.kind, db.kind
    if ka == "f" and kb in "biu":
        return a, retype(b, da)
    if kb == "f" and ka in "biu":
        return retype(a, db), b
    if ka.replace("u", "i") == kb.replace("u", "i") and (a._array.ndim == 0) != (b._array.ndim == 0):
        return (retype(a, db), b) if a._array.ndim == 0 else (a, retype(b, da))
    dt = xp.result_type(da, db)
    return (a if da == dt else retype(a, dt)), (b if db == dt else retype(b, dt))


def retype(t, dtype):
    """``t`` converted to ``dtype``; differentiable (a Cast op) when ``t`` requires grad."""
    if t.requires_grad:
        from .elementwise import cast  # NOTE: elementwise imports this module

        return cast(t, dtype)
    return _cast_untracked(t, dtype)


def _cast_untracked(t, dtype):
    """``t`` converted to ``dtype`` with no graph; reported to a recorder (an ONNX trace) as a cast."""
    out = Tensor._make(t._array.astype(dtype), False, None)
    if _autograd._RECORDING:
        _autograd.record_op("cast", (t,), {"dtype": xp.dtype(dtype)}, out)
    return out


def float_operand(x, op: str) -> Tensor:
    """``x`` as a Tensor for an op that needs floats: int and bool tensors become float32 (PyTorch's rule).

    ``exp(int64)`` is float32 here as in PyTorch; NumPy would give float64 (and NumPy 1.x
    value-based casting made some of these ops return truncated integers).
    """
    x = as_operand(x)
    kind = x._array.dtype.kind
    if kind in "fc":
        return x
    if kind not in "biu":
        raise TypeError(f"{op}: needs a numeric tensor; got dtype {x._array.dtype}.")
    return _cast_untracked(x, default_float)


def reduce_axes(dim, axis, keepdim, keepdims, ndim):
    """Resolve PyTorch ``dim``/``keepdim`` and NumPy ``axis``/``keepdims`` to (axes, keep).

    Returns ``axes`` as a tuple of non-negative ints (all dims when None, and for an empty ``dim``:
    PyTorch's ``x.sum(dim=())`` reduces everything, where NumPy's ``axis=()`` reduces nothing).
    """
    if axis is not None:
        if dim is not None:
            raise TypeError("give either dim (PyTorch) or axis (NumPy), not both.")
        dims = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    else:
        dims = None if dim is None else (dim,) if isinstance(dim, numbers.Integral) else tuple(dim) or None
    if keepdims is not None:
        keepdim = keepdims
    if dims is None:
        return tuple(range(ndim)), bool(keepdim)
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
