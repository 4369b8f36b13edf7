"""Fused batch norm and layer norm: fewer passes over the activations, in place where possible.

The references (:mod:`nnbasics.ops.norm`) write the textbook formulas with one NumPy
expression each. These kernels compute the same with fewer passes: per-channel sums over a
(N, C, L) view (the contiguous L first), ``sum(a * b)`` by ``einsum`` without the product
array, the centered input kept instead of x_hat (one pass less), and the input gradient built
in place.
"""

from __future__ import annotations

import math

from ..backend import xp
from ..dispatch import register
from ..ops import norm as ref


def _channel_sum(a3):
    """Sum of (N, C, L) over N and L -> (C,); the contiguous L first (pairwise summation)."""
    return a3.sum(axis=2).sum(axis=0)


def _channel_dot(a3, b3):
    """sum(a * b) of two (N, C, L) arrays over N and L -> (C,), without the (N, C, L) product.

    NOTE: einsum accumulates each row of L values (not pairwise), then the N rows are summed:
    for L = 784 float32 values the relative error stays ~1e-7 (checked against float64).
    """
    return xp.einsum("ncl,ncl->nc", a3, b3).sum(axis=0)


@register(ref.BatchNorm)
class BatchNorm(ref.BatchNorm):
    """:class:`nnbasics.ops.norm.BatchNorm` on a (N, C, L) view, with fused channel sums."""

    def forward(self, x, *params, affine, training, running_mean, running_var, momentum, eps):
        dt = x.dtype
        w = params[0].astype(dt, copy=False) if affine[0] else None
        b = params[-1].astype(dt, copy=False) if affine[1] else None
        N, C = x.shape[0], x.shape[1]
        L = math.prod(x.shape[2:])
        x3 = x.reshape(N, C, L)  # a view when x is contiguous
        self.affine, self.training, self.shape, self.w = affine, training, x.shape, w
        if training:
            n = N * L
            mean = _channel_sum(x3) / n  # (C,)
            xc = x3 - mean[:, None]  # (N, C, L), centered: the two-pass variance
            var = _channel_dot(xc, xc) / n  # biased: normalization uses it
            ref.update_running(running_mean, running_var, mean, var, n, momentum)
            r = (1.0 / xp.sqrt(var + eps)).astype(dt, copy=False)  # (C,)
            self.xc, self.r, self.n = xc, r, n  # NOTE: x_hat = xc * r is never stored (one pass less)
            y = xc * (r * w if w is not None else r)[:, None]
            shift = b
        else:  # fixed statistics: one pass, y = x * scale + shift
            mean = running_mean.astype(dt, copy=False)
            r = (1.0 / xp.sqrt(running_var.astype(dt, copy=False) + eps)).astype(dt, copy=False)
            self.x3, self.mean, self.r = x3, mean, r
            scale = r * w if w is not None else r
            shift = -mean * scale if b is None else b - mean * scale
            y = x3 * scale[:, None]
        if shift is not None:
            y += shift[:, None]
        return y.reshape(x.shape)

    def backward(self, g):
        needs = self.needs_grad
        need_w = needs[1] if self.affine[0] else False
        need_b = needs[-1] if self.affine[1] else False
        shape, w, r = self.shape, self.w, self.r
        N, C = shape[0], shape[1]
        g3 = g.reshape(N, C, -1)
        scale = r * w if w is not None else r  # (C,)
        gb = gw = gx = None
        if self.training:
            xc = self.xc
            if need_b or needs[0]:
                gb = _channel_sum(g3)
            if need_w or needs[0]:
                gw = _channel_dot(g3, xc) * r  # sum(g * x_hat)
            if needs[0]:
                # dx = scale * (g - gb/n - x_hat * gw/n), x_hat = xc * r
                n = self.n
                gx = xc * (-r * gw / n)[:, None]
                gx += g3
                gx *= scale[:, None]
                gx -= (scale * gb / n)[:, None]
        else:
            if need_b:
                gb = _channel_sum(g3)
            if need_w:
                gw = (_channel_dot(g3, self.x3) - self.mean * _channel_sum(g3)) * r  # sum(g * (x - mu) * r)
            if needs[0]:
                gx = g3 * scale[:, None]
        out = [None if gx is None else gx.reshape(shape)]
        if self.affine[0]:
            out.append(gw if need_w else None)
        if self.affine[1]:
            out.append(gb if need_b else None)
        return tuple(out)


@register(ref.LayerNorm)
class LayerNorm(ref.LayerNorm):
    """:class:`nnbasics.ops.norm.LayerNorm` on a (M, D) view, x_hat and the input gradient in place."""

    def forward(self, x, *params, affine, k, eps):
        dt = x.dtype
        D = math.prod(x.shape[x.ndim - k:])
        w = params[0].astype(dt, copy=False).reshape(D) if affine[0] else None
        b = params[-1].astype(dt, copy=False).reshape(D) if affine[1] else None
        x2 = x.reshape(-1, D)  # (M, D)
        mean = x2.sum(axis=1, keepdims=True) / D  # (M, 1)
        xc = x2 - mean
        var = (xc * xc).sum(axis=1, keepdims=True) / D
        r = (1.0 / xp.sqrt(var + eps)).astype(dt, copy=False)  # (M, 1)
        xc *= r  # x_hat, in place
        self.xhat, self.r, self.w, self.affine, self.shape = xc, r, w, affine, x.shape
        self.pshape = params[0].shape if params else None
        y = xc * w if w is not None else xc.copy()
        if b is not None:
            y += b
        return y.reshape(x.shape)

    def backward(self, g):
        needs = self.needs_grad
        xhat, r, w, shape = self.xhat, self.r, self.w, self.shape
        D = xhat.shape[1]
        g2 = g.reshape(-1, D)
        out = [None]
        if needs[0]:
            gxh = g2 * w if w is not None else g2
            gx = xhat * ((gxh * xhat).sum(axis=1, keepdims=True) / -D)
            gx += gxh
            gx -= gxh.sum(axis=1, keepdims=True) / D
            gx *= r
            out[0] = gx.reshape(shape)
        if self.affine[0]:
            out.append((g2 * xhat).sum(axis=0).reshape(self.pshape) if needs[1] else None)
        if self.affine[1]:
            out.append(g2.sum(axis=0).reshape(self.pshape) if needs[-1] else None)
        return tuple(out)
