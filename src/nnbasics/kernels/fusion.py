"""Which kernel made an array: lets a consumer kernel fuse its backward with its producer's.

A kernel that can be the first half of a fused pair notes each output it returns
(:func:`note`); the consumer asks who made its input (:func:`producer`). The note is keyed by
the output array *object* (a fresh view made for the call, so no other op can return the same
object while it lives) and dies with it; both the array and the op are held weakly, so
nothing is kept alive by being noted.

The ReLU -> 2x2 max-pool pair of a CNN uses it (:mod:`nnbasics.kernels.pool`): the pool's
backward masks its small gradient with ``y > 0`` before scattering it, which is the ReLU's
derivative at each window's maximum, and the ReLU's backward then passes that exact array on
instead of multiplying a full-size gradient by its mask again.

Example:
    >>> import numpy as np
    >>> from nnbasics.kernels import fusion
    >>> class Op: pass
    >>> op, out = Op(), np.zeros(3)[...]
    >>> fusion.note(out, op)
    >>> fusion.producer(out) is op, fusion.producer(np.zeros(3))
    (True, None)
"""

from __future__ import annotations

import weakref

__all__ = ["note", "producer"]

_made: dict = {}  # id(array) -> (weak reference to the array, weak reference to the op)


def _forget(ref, key):
    entry = _made.get(key)
    if entry is not None and entry[0] is ref:  # not a newer array that got the same id
        del _made[key]


def note(out, op) -> None:
    """Record that ``op`` made the array ``out`` (until ``out`` is garbage)."""
    key = id(out)
    _made[key] = (weakref.ref(out, lambda r, key=key: _forget(r, key)), weakref.ref(op))


def producer(a):
    """The op that :func:`note` says made ``a``, or None (not noted, or the op is gone)."""
    entry = _made.get(id(a))
    if entry is None or entry[0]() is not a:
        return None
    return entry[1]()
