"""Normalization primitives: batch norm and layer norm, one op each, with their textbook backward.

Each is one primitive rather than ~10 composed ops, for stability and speed: the variance is
the two-pass, centered one, ``mean((x - mean(x))^2)``, never ``mean(x^2) - mean(x)^2`` (which
cancels catastrophically for data far from zero), and float32 inputs are computed in float32
throughout. Their composed twins (built from the mean/var primitives) are
``nnbasics.functional.normalization.batch_norm_composed`` and ``layer_norm_composed``, used as
test oracles; the kernels registered for them (:mod:`nnbasics.kernels.norm`) take fewer passes.

Notation: x_hat = (x - mu) * r with r = 1 / sqrt(var + eps), y = x_hat * w + b, n the
number of values each mean is taken over, and for an upstream gradient g:

* dL/db = sum(g),  dL/dw = sum(g * x_hat)  (over everything except the normalized feature);
* batch statistics (mu, var from x itself):
  dL/dx = w * r * (g - sum(g)/n - x_hat * sum(g * x_hat)/n);
* fixed statistics (eval mode: running mu, var are constants): dL/dx = w * r * g.
"""

from __future__ import annotations

import math

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, as_tensor

__all__ = ["batch_norm", "layer_norm", "update_running"]


def update_running(running_mean, running_var, mean, var, n, momentum):
    """``running = (1 - momentum) * running + momentum * batch_stat``, IN PLACE, as PyTorch: the
    running variance takes the UNBIASED batch variance var * n / (n - 1) (either may be None)."""
    if running_mean is not None:
        running_mean *= 1.0 - momentum
        running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
    if running_var is not None:
        unbiased = var * (n / (n - 1)) if n > 1 else var
        running_var *= 1.0 - momentum
        running_var += (momentum * unbiased).astype(running_var.dtype, copy=False)


class BatchNorm(Function):
    """Batch normalization over every dim but the channel dim 1 (Ioffe & Szegedy 2015).

    Inputs: x (N, C, *), then weight (C,) and/or bias (C,) when ``affine`` says so.
    Params: ``affine`` = (has_weight, has_bias); ``training``: normalize with the batch
    statistics (else with ``running_mean``/``running_var``); ``running_mean``/``running_var``:
    (C,) arrays or None, updated IN PLACE in training mode (:func:`update_running`);
    ``momentum``: the update factor; ``eps``: added to the variance.

    Per channel c, over its n = N * prod(*) values (the module doc's formulas)::

        x_hat = (x - mu) / sqrt(var + eps);   y = w * x_hat + b
        training: dx = w r (g - mean(g) - x_hat mean(g x_hat));   eval: dx = w r g
        dw = sum(g x_hat);   db = sum(g)
    """

    def forward(self, x, *params, affine, training, running_mean, running_var, momentum, eps):
        dt = x.dtype
        w = params[0].astype(dt, copy=False) if affine[0] else xp.ones(x.shape[1], dtype=dt)
        b = params[-1].astype(dt, copy=False) if affine[1] else None
        axes = (0,) + tuple(range(2, x.ndim))  # every dim but the channels
        channel = (1, -1) + (1,) * (x.ndim - 2)  # a (C,) vector broadcast along dim 1
        if training:
            mean = x.mean(axis=axes)
            var = ((x - mean.reshape(channel)) ** 2).mean(axis=axes)  # biased, centered
            update_running(running_mean, running_var, mean, var, x.shape[0] * math.prod(x.shape[2:]), momentum)
        else:
            mean, var = running_mean.astype(dt, copy=False), running_var.astype(dt, copy=False)
        r = (1.0 / xp.sqrt(var + eps)).astype(dt, copy=False)  # (C,)
        x_hat = (x - mean.reshape(channel)) * r.reshape(channel)
        self.x_hat, self.r, self.w, self.axes, self.channel = x_hat, r, w, axes, channel
        self.affine, self.training = affine, training
        y = x_hat * w.reshape(channel)
        return y if b is None else y + b.reshape(channel)

    def backward(self, g):
        x_hat, r, w, axes, channel = self.x_hat, self.r, self.w, self.axes, self.channel
        gb, gw = g.sum(axis=axes), (g * x_hat).sum(axis=axes)  # (C,) each
        if self.training:
            n = g.shape[0] * math.prod(g.shape[2:])
            gx = (w * r).reshape(channel) * (g - (gb / n).reshape(channel) - x_hat * (gw / n).reshape(channel))
        else:
            gx = (w * r).reshape(channel) * g
        return (gx,) + ((gw,) if self.affine[0] else ()) + ((gb,) if self.affine[1] else ())


class LayerNorm(Function):
    """Layer normalization over the last ``k`` dims (Ba, Kiros & Hinton 2016).

    Inputs: x (*, *S) with S the normalized shape (``k`` dims), then weight S and/or bias S
    when ``affine`` = (has_weight, has_bias) says so. Each row of D = prod(S) values is
    normalized by its own mean and biased variance; statistics are always the input's own.

    Per row, with r = 1 / sqrt(var + eps) and gx_hat = g * w::

        x_hat = (x - mean(x)) r;   y = x_hat * w + b
        dx = r (gx_hat - mean(gx_hat) - x_hat mean(gx_hat x_hat))
        dw = sum over rows of g x_hat;   db = sum over rows of g
    """

    def forward(self, x, *params, affine, k, eps):
        dt, shape = x.dtype, x.shape[x.ndim - k:]
        x2 = x.reshape(-1, math.prod(shape))  # (M, D): one row per normalized group
        w = params[0].astype(dt, copy=False).reshape(-1) if affine[0] else xp.ones(x2.shape[1], dtype=dt)
        b = params[-1].astype(dt, copy=False).reshape(-1) if affine[1] else None
        mean = x2.mean(axis=1, keepdims=True)  # (M, 1)
        var = ((x2 - mean) ** 2).mean(axis=1, keepdims=True)
        r = (1.0 / xp.sqrt(var + eps)).astype(dt, copy=False)
        x_hat = (x2 - mean) * r
        self.x_hat, self.r, self.w, self.affine, self.shapes = x_hat, r, w, affine, (x.shape, shape)
        y = x_hat * w if b is None else x_hat * w + b
        return y.reshape(x.shape)

    def backward(self, g):
        x_hat, r, w, (x_shape, shape) = self.x_hat, self.r, self.w, self.shapes
        g2 = g.reshape(x_hat.shape)
        gxh = g2 * w
        gx = r * (gxh - gxh.mean(axis=1, keepdims=True) - x_hat * (gxh * x_hat).mean(axis=1, keepdims=True))
        gw, gb = (g2 * x_hat).sum(axis=0).reshape(shape), g2.sum(axis=0).reshape(shape)
        return (gx.reshape(x_shape),) + ((gw,) if self.affine[0] else ()) + ((gb,) if self.affine[1] else ())


def _affine_inputs(weight, bias):
    params = [as_tensor(p) for p in (weight, bias) if p is not None]
    return params, (weight is not None, bias is not None)


def batch_norm(x, weight=None, bias=None, running_mean=None, running_var=None, *, training=True,
               momentum=0.1, eps=1e-5) -> Tensor:
    """Fused batch norm (see :class:`BatchNorm`); arguments are assumed validated.

    Shape: x (N, C, *), weight/bias (C,) or None, running_mean/running_var (C,) ndarrays or
    None (updated in place when ``training``) -> (N, C, *).
    """
    params, affine = _affine_inputs(weight, bias)
    return BatchNorm.apply(x, *params, affine=affine, training=bool(training), running_mean=running_mean,
                           running_var=running_var, momentum=momentum, eps=float(eps))


def layer_norm(x, k, weight=None, bias=None, *, eps=1e-5) -> Tensor:
    """Fused layer norm over the last ``k`` dims (see :class:`LayerNorm`); arguments assumed validated.

    Shape: x (*, *S), weight/bias S or None -> (*, *S), with S = x.shape[-k:].
    """
    params, affine = _affine_inputs(weight, bias)
    return LayerNorm.apply(x, *params, affine=affine, k=int(k), eps=float(eps))
