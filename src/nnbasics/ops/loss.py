"""Fused loss primitives (fused for stability and speed; composed twins serve as test oracles).

* :class:`SoftmaxCrossEntropy` — log-softmax + negative log-likelihood in one op, with class
  weights, ``ignore_index``, label smoothing and K-dim inputs. Twin:
  ``nnbasics.functional.loss.cross_entropy_composed``.
* :class:`BinaryCrossEntropy` — BCE on probabilities with PyTorch's log clamp at -100.
  Twin: ``nnbasics.functional.loss.binary_cross_entropy_composed``.
* :class:`BinaryCrossEntropyWithLogits` — sigmoid + BCE, stable for any logit, with
  ``pos_weight``. Twin: ``nnbasics.functional.loss.binary_cross_entropy_with_logits_composed``.

The functions here return UNREDUCED per-element losses; reductions live in
:mod:`nnbasics.functional.loss`.
"""

from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import is_float_dtype, is_int_dtype, xp
from ..tensor import Tensor
from .util import as_operand

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "check_class_target", "check_class_weight",
           "softmax_cross_entropy"]


def _rows_of(x):
    """``x`` with the class axis (1, or 0 for a 1-D input) moved last and flattened to (M, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])  # (N, *D, C) -> (N*prod(D), C)


def _unrows(d, shape):
    """Inverse of :func:`_rows_of` for a gradient ``d`` (M, C) of an input of ``shape``."""
    if len(shape) <= 2:
        return d.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp.moveaxis(d.reshape(moved), -1, 1)


class SoftmaxCrossEntropy(Function):
    """Per-element loss of integer labels y under logits x, class axis 1 (or 0 for a 1-D x).

    With s = log_softmax(x) along the class axis, C classes, class weights w
    (all 1 when None), smoothing eps and keep_i = (y_i != ignore_index)::

        loss_i = keep_i * [ (1 - eps) * w[y_i] * (-s_i[y_i]) + eps / C * sum_c w_c * (-s_i[c]) ]

    which is PyTorch's ``cross_entropy(..., reduction='none')``. Written as
    loss_i = a_i * lse_i - sum_c q_ic x_ic with q_ic = keep_i ((1-eps) w[y_i] [c = y_i] + eps w_c / C)
    and a_i = sum_c q_ic, the derivative is

        d loss_i / d x_ic = a_i * softmax(x_i)_c - q_ic

    (for the plain case a_i = 1, q = onehot: softmax - onehot). Stable for logits of any
    size: the row max is subtracted before exp, and every term uses the shifted logits.
    Ignored rows (and their possibly out-of-range labels) give 0 loss and 0 gradient.
    Shapes: x (C,), (N, C) or (N, C, d1, ...); y () , (N,) or (N, d1, ...); out = y.shape.
    Composed twin: ``nnbasics.functional.loss.cross_entropy_composed``.
    """

    def forward(self, x, y, weight=None, ignore_index=-100, label_smoothing=0.0):
        self.shape = x.shape
        xm = _rows_of(x)  # (M, C)
        ym = y.reshape(-1)  # (M,)
        c = xm.shape[1]
        shifted = xm - xm.max(axis=1, keepdims=True)  # NOTE: subtract the max before exp
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s[:, 0])  # logsumexp of the shifted row
        rows = xp.arange(xm.shape[0])
        self.rows, self.p = rows, e / s  # softmax, kept for backward
        keep = ym != ignore_index
        plain = weight is None and label_smoothing == 0 and bool(keep.all())
        if plain:  # the common case, kept lean: loss = lse - x[y]
            self.y, self.cy, self.smooth = ym, None, None
            return (lse - shifted[rows, ym]).reshape(y.shape)
        ysafe = xp.where(keep, ym, 0)
        w = xp.ones(c, dtype=x.dtype) if weight is None else weight.astype(x.dtype, copy=False)
        cy = ((1.0 - label_smoothing) * w[ysafe] * keep).astype(x.dtype, copy=False)  # (M,)
        loss = cy * (lse - shifted[rows, ysafe])
        self.y, self.cy, self.smooth = ysafe, cy, None
        if label_smoothing:
            ks = (label_smoothing / c) * keep.astype(x.dtype)  # (M,)
            loss = loss + ks * (w.sum() * lse - shifted @ w)  # sum_c w_c (lse - shifted_c)
            self.smooth = ks, w
        return loss.reshape(y.shape).astype(x.dtype, copy=False)

    def backward(self, g):
        g = g.reshape(-1)
        if self.cy is None:
            d = self.p * g[:, None]
            d[self.rows, self.y] -= g
        else:
            gc = g * self.cy
            a = gc if self.smooth is None else gc + g * self.smooth[0] * self.smooth[1].sum()
            d = self.p * a[:, None]
            d[self.rows, self.y] -= gc
            if self.smooth is not None:
                ks, w = self.smooth
                d -= (g * ks)[:, None] * w[None, :]
        return (_unrows(d, self.shape), None)


class BinaryCrossEntropy(Function):
    """loss = -(y * max(log x, -100) + (1 - y) * max(log(1 - x), -100)) for probabilities x.

    The clamp at -100 is PyTorch's: x = 0 or 1 gives a finite loss (at most 100).
    d loss / d x = (x - y) / max(x (1 - x), 1e-12)   (PyTorch's formula, finite at 0 and 1);
    d loss / d y = max(log(1 - x), -100) - max(log x, -100)   (the derivative of the clamped
    forward: PyTorch returns ±inf at x = 0 or 1 instead).
    Composed twin: ``nnbasics.functional.loss.binary_cross_entropy_composed``.
    """

    def forward(self, x, y):
        with xp.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100)
            l1x = xp.maximum(xp.log1p(-x), -100)
        self.x, self.y, self.lx, self.l1x = x, y, lx, l1x
        return -(y * lx + (1 - y) * l1x)

    def backward(self, g):
        x, y = self.x, self.y
        gx = g * (x - y) / xp.maximum(x * (1 - x), 1e-12) if self.needs_grad[0] else None
        gy = g * (self.l1x - self.lx) if self.needs_grad[1] else None
        return gx, gy


class BinaryCrossEntropyWithLogits(Function):
    """loss = (1 - y) x + l_w softplus(-x), l_w = 1 + (pos_weight - 1) y, for logits x.

    Without ``pos_weight`` this is max(x, 0) - x y + log(1 + exp(-|x|)), the stable form of
    -(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))): no overflow for any |x| (±1e4 is fine).
    softplus(-x) = max(-x, 0) + log1p(exp(-|x|)).
    d loss / d x = (1 - y) - l_w sigmoid(-x)   (= sigmoid(x) - y without pos_weight; smooth at 0);
    d loss / d y = -x + (pos_weight - 1) softplus(-x).
    ``pos_weight`` is a constant (PyTorch does not differentiate it either).
    Composed twin: ``nnbasics.functional.loss.binary_cross_entropy_with_logits_composed``.
    """

    def forward(self, x, y, pos_weight=None):
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x) = -log sigmoid(x)
        self.x, self.y, self.sp, self.pw = x, y, sp, pos_weight
        if pos_weight is None:
            return (1 - y) * x + sp
        return (1 - y) * x + (1 + (pos_weight - 1) * y) * sp

    def backward(self, g):
        x, y, sp, pw = self.x, self.y, self.sp, self.pw
        gx = gy = None
        if self.needs_grad[0]:
            sig_neg = xp.exp(-(sp + x))  # sigmoid(-x) = exp(-softplus(x)), softplus(x) = sp + x
            lw = 1 if pw is None else 1 + (pw - 1) * y
            gx = g * ((1 - y) - lw * sig_neg)
        if self.needs_grad[1]:
            gy = g * (-x if pw is None else -x + (pw - 1) * sp)
        return gx, gy


# ----------------------------------------------------------------- validation
def check_class_target(name, x, target, ignore_index=-100):
    """Validate integer class labels ``target`` for scores ``x`` (class axis 1, or 0 if 1-D).

    Returns the labels as an integer array. Raises TypeError for non-integer labels and
    ValueError for a wrong shape or a label outside [0, C) that is not ``ignore_index``.
    """
    y = target._array if isinstance(target, Tensor) else xp.asarray(target)
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, (C,), (N, C) or (N, C, d1, ...); got a scalar.")
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    expected = () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])
    if not is_int_dtype(y.dtype):
        hint = " Use target.long() for class indices." if y.dtype.kind in "fb" else ""
        raise TypeError(
            f"{name}: class-index target must hold integers (int64); got dtype {y.dtype}.{hint}"
        )
    if y.shape != expected:
        raise ValueError(
            f"{name}: target must have shape {expected} (the input {tuple(x.shape)} without its class "
            f"dimension 1); got {tuple(y.shape)}."
        )
    if not y.size or (y.min() >= 0 and y.max() < c):  # fast path: every label in range
        return y
    bad = (y < 0) | (y >= c)
    if ignore_index is not None:
        bad &= y != ignore_index
    if bad.any():
        v = y[bad].reshape(-1)[0]
        also = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise ValueError(f"{name}: class labels must be in [0, {c - 1}] for {c} classes{also}; got {v}.")
    return y


def check_class_weight(name, weight, c, dtype):
    """Validate a per-class ``weight`` of length C; returns it as an array of ``dtype`` (or None)."""
    if weight is None:
        return None
    w = weight._array if isinstance(weight, Tensor) else xp.asarray(weight)
    if w.shape != (c,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({c},); got {tuple(w.shape)}.")
    if not is_float_dtype(w.dtype) and not is_int_dtype(w.dtype):
        raise TypeError(f"{name}: weight must be numeric; got dtype {w.dtype}.")
    return w.astype(dtype, copy=False)


def _check_float(name, what, t):
    if not is_float_dtype(t.dtype):
        raise TypeError(f"{name}: {what} must be floating point; got dtype {t.dtype}. Use .float().")


# ----------------------------------------------------------------- functions
def softmax_cross_entropy(logits, target, weight=None, ignore_index=-100, label_smoothing=0.0) -> Tensor:
    """Per-element cross-entropy of integer ``target`` under ``logits``, no reduction.

    Args:
        logits: (C,), (N, C) or (N, C, d1, ...) float scores (class axis 1).
        target: (), (N,) or (N, d1, ...) integer labels in [0, C) or ``ignore_index``.
        weight: optional (C,) class weights (constants, not differentiated).
        ignore_index: label whose elements give 0 loss and 0 gradient.
        label_smoothing: eps in [0, 1]; mixes the one-hot target with eps/C uniform.

    Returns:
        Tensor of ``target``'s shape: w[y] * nll (smoothed), 0 where ignored (PyTorch's
        ``reduction='none'``). Formula and derivative: :class:`SoftmaxCrossEntropy`.
    """
    name = "softmax_cross_entropy"
    logits = as_operand(logits)
    _check_float(name, "logits", logits)
    y = check_class_target(name, logits, target, ignore_index)
    c = logits.shape[0] if logits.ndim == 1 else logits.shape[1]
    w = check_class_weight(name, weight, c, logits.dtype)
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be a float in [0, 1]; got {label_smoothing!r}.")
    return SoftmaxCrossEntropy.apply(
        logits, Tensor._make(y, False, None),
        weight=w, ignore_index=ignore_index, label_smoothing=float(label_smoothing),
    )


def _input_and_target(name, input, target):
    """``(input, target)`` of a binary cross-entropy as float Tensors of one shape (target cast to input's dtype)."""
    x = as_operand(input)
    _check_float(name, "input", x)
    t = as_operand(target)
    if not is_float_dtype(t.dtype):
        raise TypeError(
            f"{name}: target must hold floating-point values in [0, 1] (same dtype as input); got dtype "
            f"{t.dtype}. Use target.float()."
        )
    if t.shape != x.shape:
        raise ValueError(
            f"{name}: target shape {tuple(t.shape)} must equal input shape {tuple(x.shape)} "
            "(one target per prediction)."
        )
    if t.dtype != x.dtype and not t.requires_grad:
        t = Tensor._make(t._array.astype(x.dtype), False, None)
    return x, t


def binary_cross_entropy(input, target) -> Tensor:  # PyTorch's name
    """Per-element BCE on probabilities ``input`` in [0, 1], log clamped at -100 (no reduction).

    Shape: input and target the same shape (any). Formula: :class:`BinaryCrossEntropy`.
    """
    x, t = _input_and_target("binary_cross_entropy", input, target)
    if x._array.size and ((x._array < 0).any() or (x._array > 1).any()):
        lo, hi = float(x._array.min()), float(x._array.max())
        raise ValueError(
            f"binary_cross_entropy: input must hold probabilities in [0, 1]; got values in [{lo:g}, {hi:g}]. "
            "Apply sigmoid first, or use binary_cross_entropy_with_logits on raw scores (more stable)."
        )
    if t._array.size and ((t._array < 0).any() or (t._array > 1).any()):  # NOTE: NaN passes, as in torch
        lo, hi = float(t._array.min()), float(t._array.max())
        raise ValueError(
            f"binary_cross_entropy: target must hold values in [0, 1] (1 = the positive class); got values in "
            f"[{lo:g}, {hi:g}]. For class indices 0..C-1 use cross_entropy on C outputs."
        )
    return BinaryCrossEntropy.apply(x, t)


def binary_cross_entropy_with_logits(input, target, pos_weight=None) -> Tensor:
    """Per-element BCE on logits (sigmoid folded in, stable for any logit), no reduction.

    Args:
        input: logits, any shape.
        target: same shape, floats in [0, 1].
        pos_weight: optional weight of positive examples, broadcast against the input's last
            dims (e.g. (C,) for input (N, C)); a constant.

    Formula and derivatives: :class:`BinaryCrossEntropyWithLogits`.
    """
    x, t = _input_and_target("binary_cross_entropy_with_logits", input, target)
    pw = None
    if pos_weight is not None:
        pw = pos_weight._array if isinstance(pos_weight, Tensor) else xp.asarray(pos_weight)
        try:
            ok = xp.broadcast_shapes(pw.shape, x.shape) == tuple(x.shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"binary_cross_entropy_with_logits: pos_weight of shape {tuple(pw.shape)} does not broadcast "
                f"to the input shape {tuple(x.shape)}; give one weight per class, shape ({x.shape[-1] if x.ndim else 1},)."
            )
        pw = pw.astype(x.dtype, copy=False)
    return BinaryCrossEntropyWithLogits.apply(x, t, pos_weight=pw)
