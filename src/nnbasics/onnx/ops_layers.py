"""ONNX mappings of the layer primitives: matmul and linear, convolution, im2col/col2im, pooling,
batch and layer norm, embedding lookup.

Pooling with ``ceil_mode`` becomes explicit end padding (enough for PyTorch's last window),
and average-pooling windows that hang over the padding get PyTorch's divisor, so no runtime's
ceil rule is relied on; these need the spatial dims fixed, as they are unless a sequence or
image dim was made dynamic.
"""

from __future__ import annotations

import numpy as np

from ..ops import conv as cv
from ..ops import embedding as emb
from ..ops import linalg as la
from ..ops import norm as nm
from ..ops import pool as pl
from ..ops.pool import pool_output_size
from .errors import OnnxExportError
from .mapping import maps
from .ops_elementwise import out_dtype

__all__ = []


# ------------------------------------------------------------------------- linear
@maps(la.MatMul)
def _matmul(e, r, p):
    dt = out_dtype(r)
    return e.g.op("MatMul", [e.inp(r, 0, dt), e.inp(r, 1, dt)])


@maps(la.Linear)
def _linear(e, r, p):
    """x W^T + b: Gemm for a 2-D x (the weight as stored, transB=1), else MatMul with W^T and Add."""
    g = e.g
    x = e.inp(r, 0, np.float32)
    bias = [e.inp(r, 2, np.float32)] if len(r.inputs) == 3 else []
    if len(e.shape(r.inputs[0])) == 2:
        return g.op("Gemm", [x, e.inp(r, 1, np.float32)] + bias, transB=1)
    wt = e.param_as(r.inputs[1], lambda w: w.T, "_t")
    if wt is None:
        wt = g.op("Transpose", [e.inp(r, 1, np.float32)], perm=[1, 0])
    out = g.op("MatMul", [x, wt])  # (*, in) @ (in, out)
    return g.op("Add", [out] + bias) if bias else out


# -------------------------------------------------------------------- convolution
@maps(cv.Conv2d)
def _conv2d(e, r, p):
    p = e.static(r, p)
    pt, pb, pl_, pr = p["padding"]
    ins = [e.inp(r, i, np.float32) for i in range(len(r.inputs))]
    kh, kw = e.arr(r.inputs[1]).shape[2:]
    return e.g.op("Conv", ins, kernel_shape=[kh, kw], strides=list(p["stride"]), pads=[pt, pl_, pb, pr],
                  dilations=list(p["dilation"]), group=int(p["groups"]))


def _one_hot_kernels(c, kh, kw):
    """(C*kh*kw, 1, kh, kw) filters, filter c*kh*kw + p*kw + q picking offset (p, q) of channel c."""
    w = np.zeros((c * kh * kw, 1, kh, kw), np.float32)
    for k in range(kh * kw):
        w[k::kh * kw, 0, k // kw, k % kw] = 1.0
    return w


@maps(cv.Im2col)
def _im2col(e, r, p):
    """Im2col is a grouped convolution with one-hot filters, then (N, C*kh*kw, OH, OW) -> (N, C*kh*kw, L)."""
    g, p = e.g, e.static(r, p)
    c = e.arr(r.inputs[0]).shape[1]
    (kh, kw), (ph, pw) = p["kernel_size"], p["padding"]
    cols = g.op("Conv", [e.inp(r, 0, np.float32), g.initializer(_one_hot_kernels(c, kh, kw), "one_hot")],
                kernel_shape=[kh, kw], strides=list(p["stride"]), pads=[ph, pw, ph, pw],
                dilations=list(p["dilation"]), group=c)
    return g.op("Reshape", [cols, g.int64s([0, 0, -1])])


@maps(cv.Col2im)
def _col2im(e, r, p):
    """Col2im adds every column back onto its window: a transposed convolution with the one-hot filters."""
    g, p = e.g, e.static(r, p)
    (h, w), (kh, kw) = p["output_size"], p["kernel_size"]
    (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
    oh = cv.conv_output_size(h, kh, sh, 2 * ph, dh)
    ow = cv.conv_output_size(w, kw, sw, 2 * pw, dw)
    c = e.arr(r.inputs[0]).shape[1] // (kh * kw)
    x = g.op("Reshape", [e.inp(r, 0, np.float32), g.int64s([0, c * kh * kw, oh, ow])])
    extra = [h + 2 * ph - ((oh - 1) * sh + dh * (kh - 1) + 1), w + 2 * pw - ((ow - 1) * sw + dw * (kw - 1) + 1)]
    return g.op("ConvTranspose", [x, g.initializer(_one_hot_kernels(c, kh, kw), "one_hot")], group=c,
                kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw], dilations=[dh, dw],
                output_padding=extra)


# ------------------------------------------------------------------------ pooling
def _spatial(e, r):
    dims = e.shape(r.inputs[0])[2:]
    if any(d is None or not d.is_static for d in dims):
        raise OnnxExportError(f"export: {r.op_name} at {r.where} pools over a dim that changes with the input; "
                              f"its windows need a fixed image size. Export with that dim fixed.")
    return [d.value for d in dims]


def _pool_pads(size, k, s, p, d, ceil_mode):
    """Explicit ONNX pads [top, left, bottom, right] (ceil_mode 0) giving PyTorch's output size.

    ``ceil_mode`` becomes extra padding at the end: enough for PyTorch's last window (which
    starts inside the input or the left padding).
    """
    out, extra = [], []
    for n, ki, si, pi, di in zip(size, k, s, p, d):
        o = pool_output_size(n, ki, si, pi, di, ceil_mode)
        out.append(o)
        extra.append(max(0, (o - 1) * si + di * (ki - 1) + 1 - (n + 2 * pi)))
    return [p[0], p[1], p[0] + extra[0], p[1] + extra[1]], out, extra


@maps(pl.MaxPool2d)
def _maxpool(e, r, p):
    p = e.static(r, p)
    k, s, d = list(p["kernel_size"]), list(p["stride"]), list(p["dilation"])
    pads, _, _ = _pool_pads(_spatial(e, r), k, s, p["padding"], d, p["ceil_mode"])
    return e.g.op("MaxPool", [e.inp(r, 0, np.float32)], kernel_shape=k, strides=s, pads=pads, dilations=d,
                  ceil_mode=0)


def _avg_divisors(size, k, s, p, out, include_pad):
    """PyTorch's divisor of every window (OH, OW): the window clipped to input + padding, or to the input."""
    divs = []
    for n, ki, si, pi, o in zip(size, k, s, p, out):
        start = np.arange(o) * si - pi
        end = np.minimum(start + ki, n + pi)
        if not include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        divs.append((end - start).astype(np.float64))
    return np.outer(divs[0], divs[1])


@maps(pl.AvgPool2d)
def _avgpool(e, r, p):
    g, p = e.g, e.static(r, p)
    x = e.inp(r, 0, np.float32)
    size = _spatial(e, r)
    k, s, pad = list(p["kernel_size"]), list(p["stride"]), list(p["padding"])
    if k == size and pad == [0, 0] and p["divisor_override"] is None:
        return g.op("GlobalAveragePool", [x])  # one window over the whole image
    pads, out, extra = _pool_pads(size, k, s, pad, (1, 1), p["ceil_mode"])
    plain = p["divisor_override"] is None and (not any(extra) or not p["count_include_pad"])
    attrs = {"kernel_shape": k, "strides": s, "pads": pads, "ceil_mode": 0}
    if plain:  # ONNX's divisor is PyTorch's: the whole padded window, or only the input elements
        return g.op("AveragePool", [x], count_include_pad=int(p["count_include_pad"]), **attrs)
    # windows over the padding (ceil_mode) or divisor_override: the full-kernel mean times k/divisor
    if p["divisor_override"]:
        div = np.full(out, float(p["divisor_override"]))
    else:
        div = _avg_divisors(size, k, s, pad, out, p["count_include_pad"])
    mean = g.op("AveragePool", [x], count_include_pad=1, **attrs)
    return g.op("Mul", [mean, g.initializer(k[0] * k[1] / div, "window_scale")])


# ------------------------------------------------------------------ normalization
def _affine(e, r, affine):
    """The names of the (weight, bias) inputs, None where absent."""
    i, out = 1, []
    for has in affine:
        out.append(e.inp(r, i, np.float32) if has else None)
        i += has
    return out


def _per_channel(g, name, ndim):
    """A (C,) tensor shaped to broadcast over (N, C, *)."""
    return g.op("Unsqueeze", [name, g.int64s(list(range(1, ndim - 1)), "axes")]) if ndim > 2 else name


@maps(nm.BatchNorm)
def _batch_norm(e, r, p):
    g = e.g
    x = e.inp(r, 0, np.float32)
    c = e.arr(r.inputs[0]).shape[1]
    w, b = _affine(e, r, p["affine"])
    w = w or g.const(np.ones(c), "weight")
    b = b or g.const(np.zeros(c), "bias")
    if not p["training"]:
        mean, var = (g.cast(e.name(p[k]), e.dtype(p[k].ref), np.float32) for k in ("running_mean", "running_var"))
        return g.op("BatchNormalization", [x, w, b, mean, var], epsilon=float(p["eps"]))
    # batch statistics (track_running_stats=False normalizes by each batch even in eval)
    ndim = len(e.shape(r.inputs[0]))
    axes = [0] + list(range(2, ndim))
    centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, True)
    normed = g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.const(p["eps"])])])])
    return g.op("Add", [g.op("Mul", [normed, _per_channel(g, w, ndim)]), _per_channel(g, b, ndim)])


@maps(nm.LayerNorm)
def _layer_norm(e, r, p):
    g, k = e.g, int(p["k"])
    x = e.inp(r, 0, np.float32)
    w, b = _affine(e, r, p["affine"])
    if g.opset >= 17:
        w = w or g.const(np.ones(e.arr(r.inputs[0]).shape[-k:]), "weight")
        return g.op("LayerNormalization", [x, w] + ([b] if b else []), axis=-k, epsilon=float(p["eps"]))
    ndim = len(e.shape(r.inputs[0]))
    axes = list(range(ndim - k, ndim))  # opset < 17: (x - mean) / sqrt(var + eps) * w + b
    centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, True)
    out = g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.const(p["eps"])])])])
    if w:
        out = g.op("Mul", [out, w])
    return g.op("Add", [out, b]) if b else out


# ----------------------------------------------------------------------- embedding
@maps(emb.EmbeddingLookup)
def _embedding(e, r, p):
    ids = e.g.cast(e.name(p["indices"]), e.dtype(p["indices"].ref), np.int64)
    return e.g.op("Gather", [e.inp(r, 0, np.float32), ids], axis=0)
