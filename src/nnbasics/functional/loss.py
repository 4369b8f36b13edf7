"""Loss functions with PyTorch's names, arguments and reductions.

Every loss takes ``reduction``: ``'mean'`` (default), ``'sum'`` or ``'none'`` (per-element).
Classification losses take integer class labels and, where PyTorch does, per-class
``weight`` and ``ignore_index``; their ``'mean'`` is the WEIGHTED mean
sum_i w[y_i] l_i / sum_i w[y_i] over non-ignored elements, exactly as PyTorch.

Three losses are fused primitives (for stability at logits of ±1e4 and speed):
cross-entropy with class-index targets, binary cross-entropy and BCE-with-logits; each
keeps a ``*_composed`` twin here built only from primitives, used as the test oracle.

Example:
    >>> import nnbasics as nb
    >>> import nnbasics.functional as F
    >>> logits = nb.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
    >>> round(F.cross_entropy(logits, nb.tensor([0])).item(), 4)
    0.2413
"""

from __future__ import annotations

import warnings

from .. import ops
from .._validate import is_real
from ..backend import is_float_dtype, xp
from ..ops.loss import check_class_target, check_class_weight
from ..ops.util import as_operand
from ..tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "l1_loss",
           "mse_loss", "multi_margin_loss", "nll_loss", "smooth_l1_loss"]

REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------- helpers
def legacy_reduction(size_average, reduce, reduction) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` onto ``reduction`` (with its warning).

    Either given overrides ``reduction``: reduce=False gives 'none', size_average=False 'sum',
    otherwise 'mean' (a None counts as True).
    """
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else ("sum" if reduce else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  UserWarning, stacklevel=3)
    return ret


def check_reduction(name: str, reduction) -> str:
    """Raise ValueError unless ``reduction`` is one of 'mean', 'sum', 'none'."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of 'mean', 'sum', 'none'; got {reduction!r}.")
    return reduction


def _reduce(per: Tensor, reduction: str, denom=None) -> Tensor:
    """Apply ``reduction``; 'mean' divides the sum by ``denom`` (a number) when given, else by numel."""
    if reduction == "none":
        return per
    if reduction == "sum":
        return ops.sum(per)
    if denom is None:
        return ops.mean(per)
    with xp.errstate(divide="ignore", invalid="ignore"):
        inv = xp.asarray(1.0 / denom if denom else xp.nan, dtype=per.dtype)  # all ignored: nan, as PyTorch
    return ops.sum(per) * Tensor._make(inv, False, None)


def _float_input(name, input):
    x = as_operand(input)
    if not is_float_dtype(x.dtype):
        raise TypeError(f"{name}: input must be floating point; got dtype {x.dtype}. Use input.float().")
    return x


def _same_shape_target(name, x, target):
    """Regression target: a Tensor of ``x``'s shape (ints converted to ``x``'s dtype)."""
    t = as_operand(target)
    if t.shape != x.shape:
        raise ValueError(
            f"{name}: target shape {tuple(t.shape)} must equal input shape {tuple(x.shape)}. NumPy-style "
            "broadcasting of e.g. (N, 1) against (N,) would silently compare every pair; reshape one of them."
        )
    if not is_float_dtype(t.dtype):
        if t.dtype.kind not in "iu":
            raise TypeError(f"{name}: target must be numeric; got dtype {t.dtype}.")
        t = Tensor._make(t._array.astype(x.dtype), False, None)
    elif t.dtype != x.dtype and not t.requires_grad:
        t = Tensor._make(t._array.astype(x.dtype), False, None)
    return t


def _class_weighted_denominator(y, weight, ignore_index):
    """sum over non-ignored elements of w[y] (their count when ``weight`` is None): PyTorch's mean divisor."""
    keep = y != ignore_index
    if weight is None:
        return float(keep.sum())
    return float(weight.astype(xp.float64)[y[keep]].sum())


def _class_axis(x) -> int:
    return 0 if x.ndim == 1 else 1


def _as_class_broadcast(w, x):
    """(C,) weights shaped to broadcast along the class axis of ``x``: (C, 1, ..., 1)."""
    ax = _class_axis(x)
    return w.reshape((x.shape[ax],) + (1,) * (x.ndim - ax - 1))


# ------------------------------------------------------------- classification
def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits and class labels (or class probabilities), fused and stable.

    With s = log_softmax(input) along the class axis and smoothing eps:

    * class-index target y: l_i = (1 - eps) w[y_i] (-s_i[y_i]) + eps/C sum_c w_c (-s_i[c]), 0 where
      y_i == ignore_index; 'mean' = sum_i l_i / sum_{i not ignored} w[y_i] (PyTorch's normalisation,
      also with smoothing).
    * probability target t (float, input's shape): l_i = -sum_c w_c t'_ic s_ic with
      t' = (1 - eps) t + eps / C; 'mean' = sum_i l_i / (numel / C). ``ignore_index`` does not apply.

    Args:
        input: logits, (C,), (N, C) or (N, C, d1, ..., dk) (class axis 1, as PyTorch).
        target: integer labels of shape (), (N,) or (N, d1, ..., dk); or float probabilities
            of the input's shape.
        weight: optional (C,) class weights (constants).
        ignore_index: label to skip (index targets only).
        reduction: 'mean' | 'sum' | 'none'.
        label_smoothing: eps in [0, 1] (Szegedy et al. 2016, https://arxiv.org/abs/1512.00567).

    Shape:
        input (N, C, *D), index target (N, *D) -> scalar, or (N, *D) with reduction='none'.

    Returns:
        Tensor: the loss. Gradient d l_i / d x_i = a_i softmax(x_i) - q_i (see
        :class:`nnbasics.ops.loss.SoftmaxCrossEntropy`); finite for logits of ±1e4.

    Raises:
        TypeError: float labels of the index-target shape (use ``.long()``), non-float input.
        ValueError: wrong target shape, label out of [0, C) that is not ``ignore_index``,
            bad ``weight`` shape, ``label_smoothing`` outside [0, 1], unknown ``reduction``.

    Example:
        >>> import nnbasics as nb
        >>> x = nb.randn(4, 3, 5, rng=0, requires_grad=True)   # (N, C, d1)
        >>> y = nb.tensor([[0, 1, 2, 1, 0]] * 4)               # (N, d1)
        >>> cross_entropy(x, y).shape
        ()
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "cross_entropy"
    check_reduction(name, reduction)
    x = _float_input(name, input)
    eps = _check_smoothing(name, label_smoothing)
    t = as_operand(target)
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, (C,), (N, C) or (N, C, d1, ...); got a scalar.")
    if is_float_dtype(t.dtype):
        if t.shape == x.shape:
            return _soft_target_cross_entropy(x, t, weight, reduction, eps)
        raise TypeError(
            f"{name}: got a float target of shape {tuple(t.shape)} for input {tuple(x.shape)}. Class-index "
            "targets must be integers (use target.long()); class-probability targets must have the input's shape."
        )
    y = check_class_target(name, x, t, ignore_index)
    w = check_class_weight(name, weight, x.shape[_class_axis(x)], x.dtype)
    per = ops.loss.SoftmaxCrossEntropy.apply(  # validated above: apply the fused op directly
        x, Tensor._make(y, False, None), weight=w, ignore_index=ignore_index, label_smoothing=eps)
    denom = None
    if reduction == "mean" and (w is not None or (y == ignore_index).any()):
        denom = _class_weighted_denominator(y, w, ignore_index)  # else the plain mean over elements
    return _reduce(per, reduction, denom)


def _check_smoothing(name, eps):
    if not is_real(eps) or not 0.0 <= eps <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be a float in [0, 1]; got {eps!r}.")
    return float(eps)


def _soft_target_cross_entropy(x, t, weight, reduction, label_smoothing):
    """Cross-entropy with class-probability targets (composed: log_softmax is already stable)."""
    name = "cross_entropy"
    eps = label_smoothing
    ax = _class_axis(x)
    c = x.shape[ax]
    if t.dtype != x.dtype and not t.requires_grad:
        t = Tensor._make(t._array.astype(x.dtype), False, None)
    if eps:
        t = t * (1.0 - eps) + eps / c
    prod = ops.log_softmax(x, ax) * t
    w = check_class_weight(name, weight, c, x.dtype)
    if w is not None:
        prod = prod * Tensor._make(_as_class_broadcast(w, x), False, None)
    per = -ops.sum(prod, ax)
    return _reduce(per, reduction, x._array.size / c if reduction == "mean" else None)


def cross_entropy_composed(input, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0) -> Tensor:
    """Composed twin of :func:`cross_entropy` for index targets (test oracle; slower).

    PyTorch's own composition: (1 - eps) * nll_loss(log_softmax(x)) + eps/C * smooth term.
    """
    x = _float_input("cross_entropy", input)
    ax = _class_axis(x)
    c = x.shape[ax]
    y = check_class_target("cross_entropy", x, target, ignore_index)
    logp = ops.log_softmax(x, ax)
    nll = nll_loss(logp, y, weight, ignore_index=ignore_index, reduction=reduction)
    if not label_smoothing:
        return nll
    w = check_class_weight("cross_entropy", weight, c, x.dtype)
    wl = logp if w is None else logp * Tensor._make(_as_class_broadcast(w, x), False, None)
    keep = (y != ignore_index).astype(x.dtype)
    smooth = -ops.sum(wl, ax) * Tensor._make(keep, False, None)
    denom = _class_weighted_denominator(y, w, ignore_index) if reduction == "mean" else None
    return nll * (1.0 - label_smoothing) + _reduce(smooth, reduction, denom) * (label_smoothing / c)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer labels under log-probabilities (e.g. from log_softmax).

    l_i = -w[y_i] * input_i[y_i], 0 where y_i == ignore_index; 'mean' = sum_i l_i / sum_{i not
    ignored} w[y_i]. Composed from ``take_along_axis`` (gradient -w[y_i] at the picked entry).

    Args:
        input: log-probabilities (C,), (N, C) or (N, C, d1, ...).
        target: integer labels (), (N,) or (N, d1, ...).
        weight: optional (C,) class weights.
        ignore_index: label to skip.
        reduction: 'mean' | 'sum' | 'none'.

    Returns:
        Tensor: scalar, or the target's shape with reduction='none'.

    Example:
        >>> import nnbasics as nb
        >>> nll_loss(nb.tensor([[-0.1, -2.4]]), nb.tensor([1])).item()
        2.4000000953674316
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "nll_loss"
    check_reduction(name, reduction)
    x = _float_input(name, input)
    y = check_class_target(name, x, target, ignore_index)
    ax = _class_axis(x)
    w = check_class_weight(name, weight, x.shape[ax], x.dtype)
    keep = y != ignore_index
    ysafe = xp.where(keep, y, 0)
    picked = ops.take_along_axis(x, xp.expand_dims(ysafe, ax), ax)  # (N, 1, *D)
    picked = ops.reshape(picked, y.shape)
    coef = keep.astype(x.dtype) if w is None else w[ysafe] * keep
    per = picked * Tensor._make(-coef.astype(x.dtype, copy=False), False, None)
    denom = _class_weighted_denominator(y, w, ignore_index) if reduction == "mean" else None
    return _reduce(per, reduction, denom)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities: l = -w (y log x + (1 - y) log(1 - x)), logs clamped at -100.

    Prefer :func:`binary_cross_entropy_with_logits` on raw scores: it folds the sigmoid in and
    stays exact where sigmoid saturates. d l / d x = w (x - y) / max(x (1 - x), 1e-12).

    Args:
        input: probabilities in [0, 1], any shape.
        target: floats in [0, 1], same shape (integer targets are refused: use ``.float()``).
        weight: optional rescaling weight broadcast to the input's shape.
        reduction: 'mean' | 'sum' | 'none'.

    Example:
        >>> import nnbasics as nb
        >>> round(binary_cross_entropy(nb.tensor([0.8]), nb.tensor([1.0])).item(), 4)
        0.2231
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("binary_cross_entropy", reduction)
    per = ops.loss.binary_cross_entropy(input, target)
    return _reduce(_weighted("binary_cross_entropy", per, weight), reduction)


def binary_cross_entropy_composed(input, target) -> Tensor:
    """Composed twin of the fused BCE (test oracle): -(y clip(log x) + (1 - y) clip(log(1 - x)))."""
    x, t = as_operand(input), as_operand(target)
    lx = ops.clip(ops.log(x), -100.0)
    l1x = ops.clip(ops.log(1.0 - x), -100.0)
    return -(t * lx + (1.0 - t) * l1x)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """Binary cross-entropy on logits, stable for any logit (fused with the sigmoid).

    l = w [ (1 - y) x + (1 + (p - 1) y) softplus(-x) ], p = ``pos_weight``; without ``pos_weight``
    it is the stable max(x, 0) - x y + log(1 + exp(-|x|)). d l / d x = w (sigmoid(x) - y) when p = 1.

    Args:
        input: logits, any shape.
        target: floats in [0, 1], same shape.
        weight: optional rescaling weight broadcast to the input's shape.
        reduction: 'mean' | 'sum' | 'none'.
        pos_weight: optional weight of positives, broadcast along the last dims, e.g. (C,) for
            (N, C) — p > 1 raises recall (n_negative / n_positive is the usual choice).

    Example:
        >>> import nnbasics as nb
        >>> binary_cross_entropy_with_logits(nb.tensor([1e4, -1e4]), nb.tensor([1.0, 0.0])).item()
        0.0
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("binary_cross_entropy_with_logits", reduction)
    per = ops.loss.binary_cross_entropy_with_logits(input, target, pos_weight)
    return _reduce(_weighted("binary_cross_entropy_with_logits", per, weight), reduction)


def binary_cross_entropy_with_logits_composed(input, target, pos_weight=None) -> Tensor:
    """Composed twin of the fused BCE-with-logits (test oracle; its gradient at x = 0 differs: kink of |x|)."""
    x, t = as_operand(input), as_operand(target)
    sp = ops.relu(-x) + ops.log(ops.exp(-ops.abs(x)) + 1.0)  # softplus(-x)
    lw = 1.0 if pos_weight is None else (as_operand(pos_weight) - 1.0) * t + 1.0
    return (1.0 - t) * x + lw * sp


def _weighted(name, per, weight):
    if weight is None:
        return per
    w = as_operand(weight)
    try:
        ok = xp.broadcast_shapes(w.shape, per.shape) == tuple(per.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: weight of shape {tuple(w.shape)} does not broadcast to the input shape "
                         f"{tuple(per.shape)}.")
    if w.dtype != per.dtype and not w.requires_grad:
        w = Tensor._make(w._array.astype(per.dtype), False, None)
    return per * w


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None, size_average=None,
                      reduce=None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss (Weston & Watkins / Crammer-Singer style, as ``torch.nn.MultiMarginLoss``).

    l_i = sum_{j != y_i} w[y_i] max(0, margin - x_i[y_i] + x_i[j])^p / C,   p in {1, 2}.

    The gradient of max(0, z) is taken as 0 at the kink z = 0 (as PyTorch).

    Args:
        input: scores (N, C) or (C,).
        target: integer labels (N,) or ().
        p: 1 (hinge) or 2 (squared hinge).
        margin: the required gap between the true score and every other score.
        weight: optional (C,) class weights, applied by the true class.
        reduction: 'mean' (over N) | 'sum' | 'none'.

    Example:
        >>> import nnbasics as nb
        >>> multi_margin_loss(nb.tensor([[3.0, 1.0, 2.5]]), nb.tensor([0])).item()
        0.1666666716337204
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "multi_margin_loss"
    check_reduction(name, reduction)
    x = _float_input(name, input)
    if x.ndim not in (1, 2):
        raise ValueError(f"{name}: input must be (N, C) or (C,); got shape {tuple(x.shape)}.")
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"{name}: p must be 1 or 2; got {p!r}.")
    if not is_real(margin):
        raise TypeError(f"{name}: margin must be a number; got {type(margin).__name__}.")
    y = check_class_target(name, x, target, ignore_index=None)
    c = x.shape[-1]
    w = check_class_weight(name, weight, c, x.dtype)
    x2 = x if x.ndim == 2 else ops.reshape(x, (1, c))
    y2 = y.reshape(-1)
    xy = ops.take_along_axis(x2, y2[:, None], 1)  # (N, 1) score of the true class
    h = ops.relu(x2 - xy + float(margin))  # (N, C)
    if p == 2:
        h = h * h
    other = xp.ones(x2.shape, dtype=x.dtype)
    other[xp.arange(len(y2)), y2] = 0  # j != y_i
    if w is not None:
        other *= w[y2][:, None]
    per = ops.sum(h * Tensor._make(other / c, False, None), 1)  # (N,)
    if x.ndim == 1:
        per = ops.reshape(per, ())
    return _reduce(per, reduction)


# ----------------------------------------------------------------- regression
def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean squared error: l = (x - y)^2, reduced by ``reduction``.

    Shape: input and target the same shape (no broadcasting). d l / d x = 2 (x - y).

    Example:
        >>> import nnbasics as nb
        >>> mse_loss(nb.tensor([1.0, 2.0]), nb.tensor([0.0, 0.0])).item()
        2.5
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "mse_loss"
    check_reduction(name, reduction)
    x = _float_input(name, input)
    d = x - _same_shape_target(name, x, target)
    return _reduce(d * d, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error: l = |x - y|. d l / d x = sign(x - y), 0 at the kink x = y (as PyTorch).

    Example:
        >>> import nnbasics as nb
        >>> l1_loss(nb.tensor([1.0, -2.0]), nb.tensor([0.0, 0.0])).item()
        1.5
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "l1_loss"
    check_reduction(name, reduction)
    x = _float_input(name, input)
    return _reduce(ops.abs(x - _same_shape_target(name, x, target)), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Huber loss (Huber 1964): quadratic near 0, linear beyond ``delta``.

    With z = |x - y|:  l = 0.5 z^2 if z < delta, else delta (z - 0.5 delta).
    Continuous with its first derivative at z = delta; d l / d x = clip(x - y, -delta, delta).
    ``huber_loss(delta=d) == d * smooth_l1_loss(beta=d)``.

    Example:
        >>> import nnbasics as nb
        >>> huber_loss(nb.tensor([0.5, 3.0]), nb.tensor([0.0, 0.0])).item()
        1.3125
    """
    name = "huber_loss"
    check_reduction(name, reduction)
    if not is_real(delta) or not delta > 0:
        raise ValueError(f"{name}: delta must be a positive number; got {delta!r}.")
    x = _float_input(name, input)
    d = x - _same_shape_target(name, x, target)
    a = ops.abs(d)
    quad = d * d * 0.5
    lin = (a - 0.5 * delta) * float(delta)
    return _reduce(ops.where(a._array < delta, quad, lin), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1 loss (Girshick 2015, Fast R-CNN): L1 with a quadratic piece below ``beta``.

    With z = |x - y|:  l = 0.5 z^2 / beta if z < beta, else z - 0.5 beta; beta = 0 is plain L1.
    d l / d x = clip((x - y) / beta, -1, 1).

    Example:
        >>> import nnbasics as nb
        >>> smooth_l1_loss(nb.tensor([0.5, 3.0]), nb.tensor([0.0, 0.0])).item()
        1.3125
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "smooth_l1_loss"
    check_reduction(name, reduction)
    if not is_real(beta) or not beta >= 0:
        raise ValueError(f"{name}: beta must be a non-negative number; got {beta!r}.")
    x = _float_input(name, input)
    d = x - _same_shape_target(name, x, target)
    a = ops.abs(d)
    if beta == 0:
        return _reduce(a, reduction)
    quad = d * d * (0.5 / beta)
    lin = a - 0.5 * beta
    return _reduce(ops.where(a._array < beta, quad, lin), reduction)
