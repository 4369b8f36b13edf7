"""Fused loss primitives (fused for stability and speed; composed twins serve as test oracles)."""

from __future__ import annotations

from ..autograd import Function
from ..backend import is_int_dtype, xp
from ..tensor import Tensor
from .util import as_operand

__all__ = ["softmax_cross_entropy"]


class SoftmaxCrossEntropy(Function):
    """Per-sample loss_i = logsumexp(x_i) - x_i[y_i] for logits x (N, C) and labels y (N,).

    Stable for logits of any size (the row max is subtracted before exp).
    d loss_i / d x_i = softmax(x_i) - onehot(y_i).
    Composed twin: ``-log_softmax(x).take_along_axis(y[:, None], 1)``.
    """

    def forward(self, x, y):
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = xp.arange(x.shape[0])
        self.y, self.rows = y, rows
        self.p = e / s  # softmax, kept for backward
        return xp.log(s[:, 0]) - shifted[rows, y]

    def backward(self, g):
        d = self.p * g[:, None]
        d[self.rows, self.y] -= g
        return (d, None)


def softmax_cross_entropy(logits, target) -> Tensor:
    """Per-sample cross-entropy of integer ``target`` (N,) under ``logits`` (N, C), no reduction."""
    logits = as_operand(logits)
    y = target.data if isinstance(target, Tensor) else xp.asarray(target)
    if logits.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: logits must be (N, C); got shape {logits.shape}.")
    if not is_int_dtype(y.dtype):
        raise TypeError(f"softmax_cross_entropy: target must hold integer class labels; got {y.dtype}. Use .long().")
    if y.shape != logits.shape[:1]:
        raise ValueError(f"softmax_cross_entropy: target must have shape ({logits.shape[0]},); got {y.shape}.")
    c = logits.shape[1]
    if y.size and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"softmax_cross_entropy: labels must be in [0, {c - 1}]; got values in [{y.min()}, {y.max()}].")
    return SoftmaxCrossEntropy.apply(logits, Tensor._make(y, False, None))
