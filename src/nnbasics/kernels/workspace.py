"""Reusable scratch and output arrays for the big ops (convolution, pooling, ReLU).

A training step of a CNN allocates a few dozen arrays of several megabytes (im2col matrices,
activations, their gradients) and frees them again. The C allocator hands such sizes to the
kernel (``mmap``) and gives them back on ``free``, so every step pays the page faults of
touching fresh memory again: a fifth of the lab CNN's step on the machine of BENCHMARKS.md.

:func:`empty` is ``xp.empty`` with a memory: it keeps the arrays it made and hands one out
again once nothing else references it. Whether anything else does is read from CPython's
reference count (as PyTorch's allocator knows a block is free when its tensor dies): an array
held by the pool alone has a known count; any Tensor, view, saved-for-backward slot, ``.grad``
or user variable that still holds it raises the count, and the array is then skipped. So an
array is never handed out twice while alive, whoever got it first, and results given to users
may come from here. The pool is bounded (``MAX_BYTES``, least-recently-used arrays dropped;
arrays over a quarter of it, e.g. those of large inference batches, are not kept);
where reference counts are unavailable or unreliable (PyPy, free-threaded CPython;
:mod:`nnbasics.kernels.refcount`) it is off and :func:`empty` is ``xp.empty``. :func:`clear`
drops everything it holds.

Example:
    >>> from nnbasics.kernels import workspace
    >>> a = workspace.empty((2, 3), "float32")
    >>> b = workspace.empty((2, 3), "float32")
    >>> a is b  # a is still alive, so b is another array
    False
"""

from __future__ import annotations

from collections import OrderedDict

from ..backend import xp
from . import refcount

__all__ = ["MAX_BYTES", "clear", "empty", "empty_like", "zeros"]

#: Upper bound on the bytes the pool keeps (free and handed-out arrays together).
MAX_BYTES = 256 * 2**20
#: Arrays smaller than this come straight from ``xp.empty`` (the allocator reuses those cheaply).
MIN_BYTES = 256 * 2**10

_enabled = refcount.ENABLED
_pool: OrderedDict = OrderedDict()  # (shape, dtype) -> [arrays], most recently used last
_bytes = 0
_free_count = None


def _measure_free_count():
    """The count :func:`_take` reads for an array held by a pool list alone (and the loop variable)."""
    probe = [xp.empty(1)]
    for a in probe:
        return refcount.count(a)
    return None  # pragma: no cover


def _take(arrays, free):
    for a in arrays:
        if refcount.count(a) <= free:  # only the list, this loop variable and the call's argument
            return a
    return None


def empty(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, reused when nobody holds it.

    Args:
        shape: tuple of ints.
        dtype: NumPy dtype (or its name).

    Returns:
        ndarray, contents undefined (as ``xp.empty``).
    """
    global _bytes, _free_count
    dtype = xp.dtype(dtype)
    shape = tuple(shape)
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    if not _enabled or nbytes < MIN_BYTES or nbytes > MAX_BYTES // 4:
        return xp.empty(shape, dtype)
    if _free_count is None:
        _free_count = _measure_free_count()
    key = (shape, dtype.str)
    arrays = _pool.get(key)
    if arrays is not None:
        _pool.move_to_end(key)
        a = _take(arrays, _free_count)
        if a is not None:
            return a
    else:
        arrays = _pool[key] = []
    a = xp.empty(shape, dtype)
    arrays.append(a)
    _bytes += nbytes
    while _bytes > MAX_BYTES:  # drop least-recently-used arrays (their holders keep them alive)
        old_key, old = next(iter(_pool.items()))
        dropped = old.pop(0)
        _bytes -= dropped.nbytes
        if not old:
            del _pool[old_key]
    return a


def empty_like(a, dtype=None):
    """:func:`empty` with the shape of ``a`` and its memory layout (axis order by stride).

    A channels-last (N, C, H, W) view, as :mod:`nnbasics.ops.conv` returns, gives a
    channels-last array, so elementwise passes between the two run over contiguous memory
    (NumPy's ``empty_like`` does the same for dense arrays; this one also does it for
    strided slices and takes the array from the pool).

    Args:
        a: ndarray.
        dtype: dtype of the result (default ``a.dtype``).

    Returns:
        ndarray of ``a.shape``, contents undefined; a transposed view of a pooled array.
    """
    dtype = a.dtype if dtype is None else dtype
    if a.ndim < 2 or a.flags.c_contiguous:
        return empty(a.shape, dtype)
    order = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))  # outermost axis first, stable
    if order == list(range(a.ndim)):
        return empty(a.shape, dtype)
    base = empty(tuple(a.shape[i] for i in order), dtype)
    inverse = [0] * a.ndim
    for pos, i in enumerate(order):
        inverse[i] = pos
    return base.transpose(inverse)


def zeros(shape, dtype):
    """:func:`empty`, filled with zeros."""
    a = empty(shape, dtype)
    a.fill(0)
    return a


def clear() -> None:
    """Forget every pooled array (arrays still in use stay valid for their holders)."""
    global _bytes
    _pool.clear()
    _bytes = 0
