"""torch's ``out=`` argument: the result written into a given tensor (``torch.cat(ts, out=buf)``).

Every torch function of the compat namespace that takes ``out=`` goes through :func:`write_out`:
ignoring the argument would leave ``out`` unchanged without a word.
"""

from __future__ import annotations

import functools

from ...autograd import is_grad_enabled, no_grad
from ...tensor import Tensor

__all__ = ["accepts_out", "write_out"]


def write_out(name, result, out, inputs):
    """torch's ``out=``: the result written into ``out`` (resized when its shape differs), which is returned."""
    if not isinstance(out, Tensor):
        raise TypeError(f"torch.{name}: out must be a tensor; got {type(out).__name__}.")
    if is_grad_enabled() and (out.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in inputs)):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    with no_grad():
        if tuple(out.shape) == tuple(result.shape):
            out.copy_(result)
        else:
            out.data = result.detach()
    return out


def _tensor_args(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _tensor_args(a)
        elif isinstance(a, Tensor):
            yield a


def accepts_out(fn):
    """Decorator: ``fn(..., out=t)`` computes ``fn(...)`` and writes it into ``t`` (:func:`write_out`)."""

    @functools.wraps(fn)
    def wrapped(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        return write_out(fn.__name__, result, out, tuple(_tensor_args(list(args) + list(kwargs.values()))))

    return wrapped
