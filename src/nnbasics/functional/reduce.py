"""Composite reductions: variance and standard deviation."""

from __future__ import annotations

from .. import ops
from ..tensor import Tensor

__all__ = ["var", "std"]


def var(x, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None) -> Tensor:
    """Variance over ``dim`` with Bessel's correction by default.

    var = sum((x - mean)^2) / (n - correction). ``correction=1`` (the default,
    as ``torch.var``) is the unbiased sample variance; ``correction=0`` is the
    population variance (NumPy's default, ``ddof=0``).
    """
    x = ops.util.as_operand(x)
    axes, keep = ops.util.reduce_axes(dim, axis, keepdim, keepdims, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    d = x - ops.mean(x, axes, True)
    return ops.sum(d * d, axes, keep) * (1.0 / max(n - correction, 0) if n > correction else float("nan"))


def std(x, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None) -> Tensor:
    """Standard deviation: sqrt of :func:`var` (same ``correction`` convention, default 1)."""
    return ops.sqrt(var(x, dim, keepdim, correction=correction, axis=axis, keepdims=keepdims))
