"""Normalization functions with PyTorch's signatures: batch_norm, layer_norm, normalize.

``batch_norm`` and ``layer_norm`` run one fused primitive each (:mod:`nnbasics.ops.norm`);
their composed twins ``batch_norm_composed`` / ``layer_norm_composed``, built from the
mean/var primitives only, are kept here as test oracles.
"""

from __future__ import annotations

import numbers

from .. import ops
from .._validate import is_int, is_real
from ..ops import norm as _norm
from ..ops.util import as_operand
from ..tensor import Tensor, as_tensor
from .reduce import var as _var

__all__ = ["batch_norm", "layer_norm", "normalize"]


def _as_tensor(v, name, owner):
    if v is None:
        return None
    if isinstance(v, Tensor):
        return v
    try:
        return as_tensor(v)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be a Tensor, an array or None; got {type(v).__name__}.") from None


def _check_vector(v, name, C, owner, hint):
    if v is not None and tuple(v.shape) != (C,):
        raise ValueError(f"{owner}: {name} must have shape ({C},) ({hint}); got shape {tuple(v.shape)}.")


def check_eps(eps, owner):
    if not is_real(eps) or not eps >= 0:
        raise ValueError(f"{owner}: eps must be a non-negative number. Got {eps!r}.")
    return float(eps)


def check_momentum(momentum, owner):
    """``momentum`` must be None (cumulative average) or a number in [0, 1]; returns it."""
    if momentum is None:
        return None
    if not is_real(momentum) or not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"{owner}: momentum must be a number in [0, 1] (the weight of the new batch in the running "
            f"statistics), or None for a cumulative moving average. Got {momentum!r}."
        )
    return float(momentum)


def check_batch_size(shape, owner):
    """Training batch norm needs more than one value per channel (torch's error otherwise)."""
    size = 1
    for i, d in enumerate(shape):
        if i != 1:
            size *= d
    if size == 1:
        raise ValueError(
            f"{owner}: Expected more than 1 value per channel when training, got input size {tuple(shape)}. "
            "Use a batch of at least 2, or eval() mode (running statistics)."
        )


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5) -> Tensor:
    """Batch normalization over the channel dim 1 (PyTorch's ``F.batch_norm``).

    y = (x - mean) / sqrt(var + eps) * weight + bias, per channel, with the mean and BIASED
    variance of the batch over (N, *) when ``training``, else ``running_mean``/``running_var``.
    In training mode, ``running_mean``/``running_var`` (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, with the UNBIASED batch
    variance (n / (n - 1) times the biased one), exactly as PyTorch does.

    Args:
        input: (N, C, *) Tensor.
        running_mean, running_var: (C,) Tensors (module buffers) or None; required when
            ``training`` is False.
        weight, bias: (C,) Tensors or None (no scale / no shift).
        training: use (and accumulate) batch statistics.
        momentum: update factor of the running statistics, in [0, 1].
        eps: added to the variance.

    Shape:
        input (N, C, *) -> output (N, C, *).

    Returns:
        Tensor of the input's shape and dtype.

    Raises:
        ValueError: input with fewer than 2 dims, statistics or affine parameters whose shape
            is not (C,), no running statistics in eval mode, or one value per channel in training.

    Example:
        >>> import nnbasics as nb
        >>> x = nb.randn(8, 3, 5, rng=0)
        >>> y = batch_norm(x, None, None, training=True)
        >>> bool(y.mean(dim=(0, 2)).abs().max() < 1e-5)
        True
    """
    owner = "batch_norm"
    x = as_operand(input)
    if x.ndim < 2:
        raise ValueError(f"{owner}: expected input of shape (N, C, *) with at least 2 dims; got shape {tuple(x.shape)}.")
    C = x.shape[1]
    rm = _as_tensor(running_mean, "running_mean", owner)
    rv = _as_tensor(running_var, "running_var", owner)
    w = _as_tensor(weight, "weight", owner)
    b = _as_tensor(bias, "bias", owner)
    for v, name in ((rm, "running_mean"), (rv, "running_var"), (w, "weight"), (b, "bias")):
        _check_vector(v, name, C, owner, f"one value per channel of input {tuple(x.shape)}")
    eps = check_eps(eps, owner)
    if training:
        check_batch_size(x.shape, owner)
        m = check_momentum(momentum, owner)
        if m is None:
            raise ValueError(f"{owner}: momentum must be a number in [0, 1]; got None.")
    else:
        if rm is None or rv is None:
            raise ValueError(
                f"{owner}: running_mean and running_var are expected in eval mode (training=False); "
                "pass them, or training=True to normalize with the batch statistics."
            )
        m = 0.0
    return _norm.batch_norm(x, w, b, None if rm is None else rm._array, None if rv is None else rv._array,
                            training=training, momentum=m, eps=eps)


def normalized_shape_tuple(normalized_shape, owner):
    """``normalized_shape`` (int or sequence of positive ints) as a tuple."""
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{owner}: normalized_shape must be an int or a tuple of ints; got {normalized_shape!r}.") from None
    if not shape or any(not is_int(d) or d < 1 for d in shape):
        raise ValueError(f"{owner}: normalized_shape must be a positive int or a non-empty tuple of them; "
                         f"got {normalized_shape!r}.")
    return tuple(int(d) for d in shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Tensor:
    """Layer normalization over the trailing dims (PyTorch's ``F.layer_norm``).

    Each slice ``x[..., *S]`` is normalized by its own mean and biased variance, then
    scaled and shifted elementwise: y = (x - mean) / sqrt(var + eps) * weight + bias.

    Args:
        input: (*, *S) Tensor whose trailing dims equal ``normalized_shape`` S.
        normalized_shape: int or tuple S.
        weight, bias: Tensors of shape S, or None.
        eps: added to the variance.

    Shape:
        input (*, *S) -> output (*, *S).

    Returns:
        Tensor of the input's shape and dtype.

    Example:
        >>> import nnbasics as nb
        >>> y = layer_norm(nb.randn(4, 6, rng=0), 6)
        >>> bool(y.mean(dim=1).abs().max() < 1e-5), bool((y.std(dim=1, correction=0) - 1).abs().max() < 1e-3)
        (True, True)
    """
    owner = "layer_norm"
    x = as_operand(input)
    shape = normalized_shape_tuple(normalized_shape, owner)
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(
            f"{owner}: expected input of shape (*, {', '.join(map(str, shape))}) (trailing dims = normalized_shape "
            f"{shape}); got shape {tuple(x.shape)}."
        )
    w = _as_tensor(weight, "weight", owner)
    b = _as_tensor(bias, "bias", owner)
    for v, name in ((w, "weight"), (b, "bias")):
        if v is not None and tuple(v.shape) != shape:
            raise ValueError(f"{owner}: {name} must have shape {shape} (normalized_shape); got {tuple(v.shape)}.")
    return _norm.layer_norm(x, k, w, b, eps=check_eps(eps, owner))


def normalize(input, p=2.0, dim=1, eps=1e-12) -> Tensor:
    """Divide by the p-norm along ``dim`` (PyTorch's ``F.normalize``): x / max(||x||_p, eps).

    Composed from primitives. The norm is taken as ``clip(sum |x|^p, eps^p) ** (1/p)``, which
    equals ``max(||x||_p, eps)`` and, like PyTorch, passes no gradient through the norm where
    it is below ``eps`` (so an all-zero slice gives a zero output and a finite gradient).

    Args:
        input: Tensor.
        p: the norm's exponent, > 0.
        dim: the dim (or tuple of dims) to normalize along.
        eps: the smallest norm divided by.

    Shape:
        any -> same shape.

    Example:
        >>> import nnbasics as nb
        >>> normalize(nb.tensor([[3.0, 4.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    x = as_operand(input)
    if not is_real(p) or not p > 0:
        raise ValueError(f"normalize: p must be a positive number. Got {p!r}.")
    p = float(p)
    a = x * x if p == 2.0 else ops.abs(x) ** p
    s = ops.clip(ops.sum(a, dim, True), float(eps) ** p, None)
    n = ops.sqrt(s) if p == 2.0 else s ** (1.0 / p)
    return x / n


# ------------------------------------------------------------ composed twins (test oracles)
def batch_norm_composed(x, weight=None, bias=None, *, eps=1e-5):
    """Training-mode batch norm from the mean/var primitives (no running statistics)."""
    axes = (0,) + tuple(range(2, x.ndim))
    mean = ops.mean(x, axes, True)
    v = _var(x, axes, keepdim=True, correction=0)
    y = (x - mean) / ops.sqrt(v + eps)
    cshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * ops.reshape(weight, cshape)
    if bias is not None:
        y = y + ops.reshape(bias, cshape)
    return y


def layer_norm_composed(x, k, weight=None, bias=None, *, eps=1e-5):
    """Layer norm over the last ``k`` dims from the mean/var primitives."""
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = ops.mean(x, axes, True)
    v = _var(x, axes, keepdim=True, correction=0)
    y = (x - mean) / ops.sqrt(v + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
