"""Version counters: an in-place change of a tensor that backward still needs is an error, not a wrong gradient.

As in PyTorch, every tensor has a version counter, ``t._vc`` (a one-element list), shared
by the tensors over the same memory that autograd knows about: views made by view ops
(``reshape``, ``x[0]``, ``transpose``...) and :meth:`~nnbasics.Tensor.detach`. Every in-place
change (``add_``, ``x[i] = v``, ``copy_``, ``fill_``, also under ``no_grad`` and through a
``detach()``) adds one (:func:`mark_modified`). ``Tensor.data`` is the exception, as in
PyTorch: it has its own counter, so changes made through it are not seen.

When an op is recorded, :meth:`~nnbasics.autograd.Function.apply` notes the version of each
input (``fn.versions``). Backward compares them with the current versions (one tuple
comparison per op: the fast path). Where one differs, :func:`check_inputs` looks at what
the op kept for its backward: if it kept the modified memory, it raises PyTorch's error
naming the op and the versions; if not (``x + 1`` keeps nothing of ``x``), the gradient is
still right and backward goes on, as PyTorch does.

An op's own output can be kept too (``exp``, ``sigmoid``, ``tanh`` keep theirs): changing it
in place marks the op (:func:`mark_modified`), and backward through it raises.
"""

from __future__ import annotations

from .backend import xp

__all__ = ["InplaceError", "check_inputs", "mark_modified", "saves_memory"]

_HINT = ("Hint: make a copy before changing it (y = y.clone()), change it after backward, or use "
         "the out-of-place op (y = y + 1 instead of y += 1).")


class InplaceError(RuntimeError):
    """A tensor that backward needs was changed by an in-place operation after it was used."""


def _arrays(value):
    if isinstance(value, xp.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            if isinstance(v, xp.ndarray):
                yield v


def saves_memory(fn, arr) -> bool:
    """True when op ``fn`` kept, for its backward, an array that may share memory with ``arr``."""
    for key, value in vars(fn).items():
        if key in ("inputs", "versions", "needs_grad"):
            continue
        for a in _arrays(value):
            if a.size and xp.may_share_memory(a, arr):
                return True
    return False


def _describe(t) -> str:
    return f"[{t.dtype} tensor of shape {tuple(t.shape)}]"


def mark_modified(t) -> None:
    """Record an in-place change of ``t``: bump its version; mark the op that made it (or its base) if
    that op kept the memory now overwritten, so that backward through it raises."""
    t._vc[0] += 1
    for owner in (t, t._base):
        fn = None if owner is None else owner._ctx
        if fn is not None and not fn.released and fn.clobbered is None and saves_memory(fn, owner._array):
            fn.clobbered = (
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: {_describe(owner)}, which is output 0 of {type(fn).__name__}, is at version "
                f"{t._vc[0]}; expected version {t._vc[0] - 1} instead. {_HINT}"
            )


def check_inputs(fn) -> None:
    """Slow path of backward's version check for op ``fn`` (some input's version changed since forward).

    Raises :class:`InplaceError` when ``fn`` kept the changed memory; otherwise points ``fn`` at the
    tensor as it was when ``fn`` used it (an in-place op recorded since then gave it a new history).
    """
    if fn.clobbered is not None:
        raise InplaceError(fn.clobbered)
    inputs, versions = list(fn.inputs), list(fn.versions)
    for i, (t, v) in enumerate(zip(inputs, versions)):
        now = t._vc[0]
        if now == v:
            continue
        if saves_memory(fn, t._array):
            raise InplaceError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: {_describe(t)}, input {i} of {type(fn).__name__}, is at version {now}; expected "
                f"version {v} instead. {_HINT}"
            )
        for changed_at, standin in getattr(t, "_past", ()):
            if changed_at >= v:  # the history t had at version v (before a recorded in-place change)
                inputs[i], versions[i] = standin, standin._vc[0]
                break
        else:
            versions[i] = now  # changed under no_grad only: same history, nothing kept
    fn.inputs, fn.versions = tuple(inputs), tuple(versions)
