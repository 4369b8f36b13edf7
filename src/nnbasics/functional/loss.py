"""Loss functions (issue 3 extends these: NLL, BCE, L1, Huber, hinge, label smoothing...)."""

from __future__ import annotations

from .. import ops
from ..tensor import Tensor

__all__ = ["cross_entropy", "mse_loss"]


def cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """Cross-entropy of integer class labels under logits (fused, stable).

    Shape: logits (N, C), target (N,) int; returns a scalar ('mean', 'sum') or (N,) ('none').
    """
    per = ops.loss.softmax_cross_entropy(logits, target)
    if reduction == "mean":
        return ops.mean(per)
    if reduction == "sum":
        return ops.sum(per)
    if reduction == "none":
        return per
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}.")


def mse_loss(input, target, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """Mean squared error, (input - target)^2 reduced by ``reduction``."""
    d = ops.sub(input, target)
    sq = d * d
    if reduction == "mean":
        return ops.mean(sq)
    if reduction == "sum":
        return ops.sum(sq)
    if reduction == "none":
        return sq
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}.")
