"""In-place tensor methods (``add_``, ``x[i] = v``, ``copy_``, ``fill_``, ``normal_``...) with PyTorch's rules.

* A **leaf that requires grad** (a parameter, an input made with ``requires_grad=True``) may
  not be changed in place while autograd records: that raises. Under ``with no_grad():`` it
  is allowed (that is how optimizers and initializers update parameters).
* Any other tensor is changed in place. When autograd must record the change (the tensor, or
  an operand, requires grad), the change becomes an op of the graph: the tensor keeps its
  identity and memory, gets the new values and a new ``grad_fn``, and gradients flow through
  the op to its old value (PyTorch "rebases its history"). ``x += y`` is ``x.add_(y)``.
* Every change adds one to the tensor's version counter (:mod:`nnbasics.versions`): a
  backward that needs the old values raises instead of returning a wrong gradient.
* The result must keep the tensor's shape, and its dtype must cast to the tensor's dtype
  (float into an int tensor is refused), as in PyTorch.

An in-place change of a *view* (``x[0].add_(1)``, ``x.T.mul_(2)``, ``h[1].copy_(y)``) is a change of
its base, recorded as ``base[positions] = new values``; after any recorded change of a base, its
views get the new history (:mod:`nnbasics.views`), as PyTorch regenerates a view's ``grad_fn``.
"""

from __future__ import annotations

from .autograd import edge, is_grad_enabled, no_grad
from .backend import xp
from .rng import as_generator
from .tensor import Tensor
from .versions import mark_modified
from .views import is_tracked, positions, rebuild, register

__all__ = ["apply_", "binary_", "copy_", "fill_", "random_", "setitem_"]


def _leaf_error(name):
    return RuntimeError(
        f"{name}: a leaf tensor that requires grad (a parameter, or an input made with requires_grad=True) is "
        f"being used in an in-place operation. Do the change under `with nnbasics.no_grad():` (as optimizers "
        f"do), or on .data / .detach()."
    )


def _records(t, others) -> bool:
    return is_grad_enabled() and (t.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others))


def _check_writeable(t, name) -> None:
    if not t._array.flags.writeable:
        raise RuntimeError(f"{name}: this tensor's memory is read-only (an expand() or broadcast view, where "
                           f"several elements share one memory location); make a copy with .clone() first.")


def _can_cast(src, dst) -> bool:
    """PyTorch's rule for an in-place result: no float into an int or bool tensor, no number into a bool one
    (an int into any int tensor is fine: ``uint8 += int64`` wraps as in PyTorch, where NumPy's "same_kind"
    refuses it)."""
    if src.kind == "f" and dst.kind in "biu":
        return False
    return not (dst.kind == "b" and src.kind != "b")


def _write(t, arr, name) -> None:
    """Write ``arr`` into all of ``t``'s memory after PyTorch's checks; nothing changes if one fails."""
    if arr.shape != t._array.shape:
        raise RuntimeError(f"{name}: output with shape {list(t._array.shape)} doesn't match the broadcast shape "
                           f"{list(arr.shape)} (an in-place op keeps the tensor's shape).")
    if arr.dtype != t._array.dtype and not _can_cast(arr.dtype, t._array.dtype):
        raise RuntimeError(f"{name}: result type {arr.dtype} can't be cast to the desired output type "
                           f"{t._array.dtype}. Convert first (x = x.float()) or use the out-of-place op.")
    _check_writeable(t, name)
    t._array[...] = arr


def _standin(t):
    """The tensor as it is now, for the graph: a private copy of its values with its current history."""
    old = Tensor._make(t._array.copy(), t.requires_grad, t._ctx)
    # the graph's edge of that history, made now if no op used t yet: ops that used t before and ops of ``old``
    # (``t += t`` uses both) must share one edge, or backward would run t's op twice
    old._edge = edge(t) if t._ctx is not None else None
    return old


def _rebase(t, old, new, standins=None) -> None:
    """``t`` (already holding ``new``'s values) takes ``new``'s op as its history; ``old`` keeps the old one."""
    past = getattr(t, "_past", None)
    if past is None:
        past = t._past = []
    version = t._vc[0]
    past.append((version, old))  # ops that used t at versions <= this one used ``old``
    mark_modified(t)
    t._ctx = new._ctx
    t.requires_grad = True
    if t._base is None:
        rebuild(t, version, standins)  # its views now show the new values: they get the new history too


def apply_(t, name, compute, *others, standins=None):
    """Change ``t`` in place to ``compute(t)`` (an out-of-place op), following PyTorch's rules."""
    if not _records(t, others):
        with no_grad():
            out = compute(t)
        _write(t, out._array, name)
        mark_modified(t)
        return t
    if t._ctx is None and t.requires_grad:
        raise _leaf_error(name)
    if t._base is not None and (t.requires_grad or is_tracked(t)):
        return _view_apply_(t, name, compute)
    old = _standin(t)
    new = compute(old)
    _write(t, new._array, name)
    _rebase(t, old, new, standins)
    return t


def _view_apply_(t, name, compute):
    """A recorded in-place change of a view ``v`` of ``base``: written as ``base[positions] = compute(v)``
    (an index_put recorded on the base, which may then start to require grad), after which every view of
    the base, ``v`` included, gets the history ``base[positions]`` (:func:`nnbasics.views.rebuild`)."""
    base = t._base
    index = getattr(t, "_view_index", None)
    if index is None:
        index = positions(base._array, t._array)
    if index is None:
        raise RuntimeError(
            f"{name}: this tensor is a view of a tensor that requires grad, laid out in memory in a way nnbasics "
            f"cannot follow. Assign through the base instead (x[index] = new_values), or work on a copy "
            f"(v = v.clone())."
        )
    from .ops import index_put

    old = _standin(t)
    new = compute(old)
    register(t, base)  # made under no_grad: rebuild it too
    # recorded on the base (base[index] = new), writing into the memory t views; then every view of the base is
    # rebuilt, t keeping ``old`` as its past (one tensor per history: backward visits an op once)
    apply_(base, "__setitem__", lambda s: index_put(s, index, new), new, standins={id(t): old})
    return t


def binary_(t, name, op, other, alpha=1):
    """``t = op(t, other * alpha)`` in place (``add_``, ``sub_``, ``mul_``, ``div_``, ``pow_``)."""
    if alpha != 1:
        other = other * alpha
    return apply_(t, name, lambda s: op(s, other), other)


def _constant(t, values):
    """The out-of-place function ``s -> values`` whose gradient to ``s`` is zero (fill_, normal_...)."""
    from .ops import where

    mask = xp.zeros(t._array.shape, dtype=bool)
    return lambda s: where(mask, s, values)


def fill_(t, name, value):
    """Set every element to ``value`` (a number, or a 0-d tensor: then differentiable w.r.t. it)."""
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"{name}: only supports a 0-dimension value tensor, but got one of shape "
                           f"{tuple(value.shape)}.")
    if not _records(t, (value,)):
        _check_writeable(t, name)
        # NOTE: a Python float fills an int tensor truncated, as PyTorch's fill_
        t._array[...] = value._array if isinstance(value, Tensor) else value
        mark_modified(t)
        return t
    return apply_(t, name, _constant(t, value), value)


def copy_(t, src):
    """Copy ``src`` (broadcast to ``t``'s shape, cast to its dtype) into ``t``; differentiable w.r.t. ``src``."""
    arr = src._array if isinstance(src, Tensor) else xp.asarray(src)
    try:
        shape = xp.broadcast_shapes(arr.shape, t._array.shape)
    except ValueError:
        shape = None
    if shape != t._array.shape:
        raise RuntimeError(f"copy_: the source of shape {tuple(arr.shape)} does not broadcast to this tensor's "
                           f"shape {tuple(t._array.shape)}.")
    if not _records(t, (src,)):
        _check_writeable(t, "copy_")
        t._array[...] = arr  # NOTE: any dtype is cast, as PyTorch's copy_ does
        mark_modified(t)
        return t
    src = src if isinstance(src, Tensor) else Tensor._make(arr, False, None)
    return apply_(t, "copy_", lambda s: _cast_like(_constant(t, src)(s), t), src)


def _cast_like(out, t):
    return out if out.dtype == t.dtype else out.to(t.dtype)


def random_(t, name, draw, generator):
    """Fill ``t`` with ``draw(rng, shape)`` from ``generator`` (None: the default generator)."""
    values = xp.asarray(draw(as_generator(generator), t._array.shape)).astype(t._array.dtype)
    if not _records(t, ()):
        _write(t, values, name)
        mark_modified(t)
        return t
    return apply_(t, name, _constant(t, Tensor._make(values, False, None)))


def setitem_(t, index, value):
    """``t[index] = value``: written in place; recorded (differentiable w.r.t. both) when autograd must."""
    from .ops import as_index, index_put

    if not _records(t, (value,)):
        idx = as_index(index)
        v = value._array if isinstance(value, Tensor) else value
        _check_writeable(t, "__setitem__")
        t._array[idx] = v  # NOTE: NumPy casts to t's dtype, as PyTorch does for numbers
        mark_modified(t)
        return
    apply_(t, "__setitem__", lambda s: index_put(s, index, value), value)
