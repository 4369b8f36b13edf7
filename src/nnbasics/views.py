"""Views that autograd tracks: their history follows a recorded in-place change of their base.

A view ``v`` (``x.reshape(3, 2)``, ``x.T``, ``x[0]``, ``x.unsqueeze(0)``...) shares memory with
its base ``x``. When ``x`` is then changed in place while autograd records (``x.mul_(2)``,
``x[0] = 0.0``), ``v``'s values change too, and so must its history: a later use of ``v`` has
to send its gradient through the change, as PyTorch does when it regenerates a view's
``grad_fn``. Conversely, an in-place change *through* ``v`` (``h[1].copy_(y)``, ``x.T.add_(1)``)
is a change of ``x``: ``x`` gets the new history (and, for a buffer made by ``zeros``, starts
to require grad), then every view of ``x`` is rebuilt.

How: a view made while grad mode is on is registered with its root base (:func:`register`;
weak references, so this keeps nothing alive). After a recorded in-place change of a base,
:func:`rebuild` gives each live view the history ``base[positions]``, where ``positions`` are
the base's elements the view's memory covers (found from the strides, so every kind of view
works), and keeps the view's old history for ops that used it before the change (the
``_past`` entries that :func:`nnbasics.versions.check_inputs` follows).
"""

from __future__ import annotations

import weakref

from .autograd import Function, edge, enable_grad, is_grad_enabled
from .backend import xp

__all__ = ["is_tracked", "positions", "rebuild", "register"]


def register(view, root) -> None:
    """Note ``view`` (sharing ``root``'s memory) as a view of ``root`` when grad mode is on."""
    if not is_grad_enabled():
        return
    views = getattr(root, "_views", None)
    if views is None:
        views = root._views = {}
    elif len(views) >= 64 and len(views) & (len(views) - 1) == 0:  # at 64, 128, 256...: drop dead entries
        for key in [k for k, ref in views.items() if ref() is None]:
            del views[key]
    views[id(view)] = weakref.ref(view)  # NOTE: weak: a view kept here would keep its graph alive


def _live(root):
    """The live tracked views of ``root``."""
    views = getattr(root, "_views", None)
    out = []
    for key, ref in list(views.items()) if views else ():
        v = ref()
        if v is None:
            del views[key]
        else:
            out.append(v)
    return out


def is_tracked(t) -> bool:
    """True when ``t`` is a view registered with its base (made by a view op while grad mode was on)."""
    base = t._base
    views = None if base is None else getattr(base, "_views", None)
    ref = None if views is None else views.get(id(t))
    return ref is not None and ref() is t


def _bounds(arr):
    """(lowest, one past the highest) byte address of ``arr``'s elements."""
    ptr = arr.__array_interface__["data"][0]
    span = [s * (n - 1) for s, n in zip(arr.strides, arr.shape)]
    return ptr + sum(s for s in span if s < 0), ptr + sum(s for s in span if s > 0) + arr.itemsize


def positions(base, view):
    """For each element of ``view`` (an ndarray over ``base``'s memory), its index into ``base``.

    Returns a tuple of integer arrays of ``view``'s shape (``base[result]`` has ``view``'s values),
    or None where that cannot be worked out (memory outside ``base``, overlapping elements).
    """
    isz = base.itemsize
    if (base.size == 0 or view.size == 0 or base.ndim == 0 or view.itemsize != isz
            or any(s % isz for s in base.strides + view.strides) or 0 in base.strides[:base.ndim]):
        return None
    lo, hi = _bounds(base)
    vlo, vhi = _bounds(view)
    if vlo < lo or vhi > hi:
        return None
    buf = xp.full((hi - lo) // isz, -1, dtype=xp.intp)

    def over(arr):  # ``arr``'s elements as seen in ``buf``
        start = (arr.__array_interface__["data"][0] - lo) // isz
        strides = tuple(s // isz * buf.itemsize for s in arr.strides)
        return xp.lib.stride_tricks.as_strided(buf[start:], arr.shape, strides)

    over(base)[...] = xp.arange(base.size).reshape(base.shape)
    flat = over(view).copy()
    if (flat < 0).any():
        return None
    return xp.unravel_index(flat, base.shape)


class _StaleView(Function):
    """The history of a view whose base changed in a way :func:`positions` cannot follow: backward refuses."""

    def forward(self, x):
        return x

    def backward(self, g):
        raise RuntimeError(
            "backward: a view (made by reshape, view, transpose, indexing...) was used after an in-place change "
            "of its base whose memory layout nnbasics cannot follow. Take the view again after the change "
            "(v = x.reshape(...) after x.mul_(2)), or change a copy (x = x.clone())."
        )


def rebuild(root, version, standins=None) -> None:
    """Give every live view of ``root`` the history ``root[positions]`` after a recorded in-place change.

    Args:
        root: the base, already holding its new values and its new history.
        version: the shared version counter's value before the change (ops that used a view at
            this version or earlier get the view's old history).
        standins: ``{id(view): tensor}``, a tensor already standing for a view's old history (the
            in-place op through that view computed from it); else one is made here. Never two: two
            tensors over one op would make backward run that op twice.
    """
    from .ops import getitem
    from .tensor import Tensor

    for v in _live(root):
        if v._base is not root or v._vc is not root._vc or not xp.may_share_memory(v._array, root._array):
            continue  # no longer over root's memory (``v.data = ...``): its values did not change either
        index = getattr(v, "_view_index", None)
        if index is None:
            index = positions(root._array, v._array)
        past = getattr(v, "_past", None)
        if past is None:
            past = v._past = []
        old = None if standins is None else standins.get(id(v))
        if old is None:
            old = Tensor._make(v._array, v.requires_grad, v._ctx)
            old._edge = edge(v) if v._ctx is not None else None  # one edge per history (see inplace._standin)
        past.append((version, old))
        with enable_grad():
            if index is None:
                new = _StaleView.apply(Tensor._make(v._array, True, None))
            else:
                new = getitem(root, index)
        v._ctx, v.requires_grad = new._ctx, True
