"""Composite reductions: variance and standard deviation."""

from __future__ import annotations

from .. import ops
from ..tensor import Tensor

__all__ = ["std", "var"]


def _correction(unbiased, correction, owner) -> int:
    """PyTorch's two spellings: ``unbiased`` (bool, the older one) or ``correction`` (default 1)."""
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{owner}: give unbiased or correction, not both.")
        if not isinstance(unbiased, bool):
            raise TypeError(f"{owner}: unbiased must be True or False; got {unbiased!r} (the third positional "
                            f"argument is keepdim: {owner}(x, dim, unbiased, keepdim), as in PyTorch).")
        return int(unbiased)
    return 1 if correction is None else correction


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None) -> Tensor:
    """Variance over ``dim`` with Bessel's correction by default (``torch.var``).

    var = sum((x - mean)^2) / (n - correction). ``correction=1`` (the default; also
    ``unbiased=True``) is the unbiased sample variance; ``correction=0`` (``unbiased=False``)
    is the population variance (NumPy's default, ``ddof=0``). The positional order is
    PyTorch's: ``var(x, dim, unbiased, keepdim)``.
    """
    c = _correction(unbiased, correction, "var")
    x = ops.util.as_operand(x)
    axes, keep = ops.util.reduce_axes(dim, axis, keepdim, keepdims, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    d = x - ops.mean(x, axes, True)
    return ops.sum(d * d, axes, keep) * (1.0 / max(n - c, 0) if n > c else float("nan"))


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None) -> Tensor:
    """Standard deviation: sqrt of :func:`var` (same arguments, ``correction`` 1 by default).

    Where the standard deviation is 0 (all values equal) its gradient is 0, as in PyTorch:
    d sqrt(v)/dv is infinite at v = 0, and the plain composite would give inf * 0 = nan.
    """
    v = var(x, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    nonzero = v != 0  # NOTE: nan != 0, so a nan variance stays nan
    return ops.where(nonzero, ops.sqrt(ops.where(nonzero, v, 1.0)), 0.0)
