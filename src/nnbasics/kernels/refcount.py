"""CPython's reference counts: how the kernels know that nobody else holds an array.

Two kernels reuse memory on that knowledge, as PyTorch's allocator and AccumulateGrad do with
their use counts: the workspace pool (:mod:`nnbasics.kernels.workspace`) hands an array out
again once only the pool holds it, and the backward walk (:mod:`nnbasics.kernels.engine`)
keeps a view as a leaf's gradient without a copy once only the view holds its base.

The counts are reliable only on CPython with the GIL: PyPy has no ``sys.getrefcount``, and
free-threaded CPython defers and biases its counts. There :data:`ENABLED` is False and both
kernels take the safe path (allocate, copy).

Example:
    >>> import numpy as np
    >>> from nnbasics.kernels import refcount
    >>> refcount.sole_view(np.ones((2, 3)).T) == refcount.ENABLED  # a fresh transpose: only the view holds it
    True
"""

from __future__ import annotations

import sys

from ..backend import xp

__all__ = ["ENABLED", "count", "sole_view"]

_getrefcount = getattr(sys, "getrefcount", None)
#: True where reference counts can be trusted (CPython with the GIL).
ENABLED = _getrefcount is not None and getattr(sys, "_is_gil_enabled", lambda: True)()
count = _getrefcount if ENABLED else None  # sys.getrefcount, or None
_sole_count = None  # what count(view.base) reads when only the view holds its base


def _sole_view_count():
    """Measure, once, the count of a base held by one view alone (2 on CPython 3.10-3.13)."""
    global _sole_count
    if _sole_count is None:
        view = xp.empty((2, 3), dtype=xp.float32).T
        _sole_count = count(view.base)
    return _sole_count


def sole_view(a) -> bool:
    """True when view ``a`` is writeable (not a broadcast), spans all of its base array, and
    nothing but ``a`` references that base: then whoever holds ``a`` may treat it as its own."""
    base = a.base
    if not ENABLED or type(base) is not xp.ndarray or not a.flags.writeable or a.nbytes != base.nbytes:
        return False
    del base
    return count(a.base) <= _sole_view_count()
