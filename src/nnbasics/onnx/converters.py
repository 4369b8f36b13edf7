"""One ONNX converter per layer type (every layer with one input and one output).

A converter is ``fn(g, module, x, y) -> str | Value``: ``g`` the :class:`~.graph.GraphBuilder`,
``x`` the input :class:`~.graph.Value`, ``y`` the array nnbasics computed for the module's
output on the example (its shape and dtype). Returning a name means "same batch axis as the
input". :func:`register_converter` adds one for a new type; :func:`find_converter` looks one
up, accepting a subclass only when it keeps the registered class's ``forward``.

The recurrent layers (several inputs and outputs) are in :mod:`.recurrent`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..functional.activation import SELU_ALPHA, SELU_SCALE
from ..ops.pool import pool_output_size
from .errors import OnnxExportError
from .graph import Value

__all__ = ["find_converter", "register_converter", "supported_types"]

_CONVERTERS: dict = {}


def register_converter(cls, fn=None):
    """Register ``fn(g, module, x, y) -> str | Value`` as the converter of Module type ``cls``.

    Usable as a decorator: ``@register_converter(MyLayer)``. A later registration replaces
    an earlier one. See the module docstring for the arguments ``fn`` receives.

    Example:
        >>> import nnbasics.nn as nn
        >>> class Double(nn.Module):
        ...     def forward(self, x):
        ...         return x * 2.0
        >>> @register_converter(Double)
        ... def _double(g, m, x, y):
        ...     return g.op("Mul", [x.name, g.const(2.0)])
    """
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise TypeError(f"register_converter: cls must be an nnbasics Module class; got {cls!r}.")
    if fn is None:
        return lambda f: register_converter(cls, f)
    if not callable(fn):
        raise TypeError(f"register_converter: fn must be callable; got {type(fn).__name__}.")
    _CONVERTERS[cls] = fn
    return fn


def find_converter(module):
    """The converter for ``module``'s type, or None.

    A subclass of a registered type uses that type's converter only if it does not override
    ``forward`` (``ReLU6`` uses Hardtanh's); a subclass with its own forward needs its own.
    """
    for cls in type(module).__mro__:
        fn = _CONVERTERS.get(cls)
        if fn is not None:
            return fn if getattr(type(module), "forward", None) is getattr(cls, "forward", None) else None
    return None


def supported_types():
    """Names of the module types with a converter (sorted)."""
    return sorted(c.__name__ for c in _CONVERTERS)


def _conv(cls):
    return register_converter(cls)


# ------------------------------------------------------------------ linear, identity
@_conv(nn.Linear)
def _linear(g, m, x, y):
    w = m.weight._array
    if x.ndim == 2:  # (N, in) -> Gemm with the (out, in) weight as stored (transB)
        ins = [x.name, g.initializer(w, "weight")]
        if m.bias is not None:
            ins.append(g.initializer(m.bias._array, "bias"))
        return g.op("Gemm", ins, transB=1)
    out = g.op("MatMul", [x.name, g.initializer(w.T, "weight_t")])  # (*, in) @ (in, out)
    if m.bias is not None:
        out = g.op("Add", [out, g.initializer(m.bias._array, "bias")])
    return out


@_conv(nn.Identity)
def _identity(g, m, x, y):
    return x.name


def _drop(g, m, x, y):  # eval semantics: dropout is the identity ('classic' scaling multiplies by 1 - p)
    if getattr(m, "scaling", "inverted") == "classic":
        return g.op("Mul", [x.name, g.const(1.0 - m.p)])
    return x.name


for _cls in (nn.Dropout, nn.Dropout2d, nn.AlphaDropout):
    register_converter(_cls, _drop)


# ----------------------------------------------------------------------- activations
def _simple(op_type, **attrs):
    return lambda g, m, x, y: g.op(op_type, [x.name], **attrs)


register_converter(nn.ReLU, _simple("Relu"))
register_converter(nn.Sigmoid, _simple("Sigmoid"))
register_converter(nn.Tanh, _simple("Tanh"))
register_converter(nn.Softsign, _simple("Softsign"))
register_converter(nn.SELU, _simple("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE))
# relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1)
register_converter(nn.Hardsigmoid, _simple("HardSigmoid", alpha=1.0 / 6.0, beta=0.5))


@_conv(nn.LeakyReLU)
def _leaky(g, m, x, y):
    return g.op("LeakyRelu", [x.name], alpha=float(m.negative_slope))


@_conv(nn.ELU)
def _elu(g, m, x, y):
    return g.op("Elu", [x.name], alpha=float(m.alpha))


@_conv(nn.CELU)
def _celu(g, m, x, y):
    return g.op("Celu", [x.name], alpha=float(m.alpha))


@_conv(nn.Hardtanh)  # also ReLU6 (Hardtanh(0, 6))
def _hardtanh(g, m, x, y):
    return g.op("Clip", [x.name, g.const(m.min_val, "min"), g.const(m.max_val, "max")])


@_conv(nn.PReLU)
def _prelu(g, m, x, y):
    w = m.weight._array
    if m.num_parameters > 1:  # (C,) -> (C, 1, ..., 1): broadcast over the dims after the channels
        w = w.reshape((-1,) + (1,) * max(x.ndim - 2, 0))
    return g.op("PRelu", [x.name, g.initializer(w, "weight")])


@_conv(nn.GELU)
def _gelu(g, m, x, y):
    if g.opset >= 20:
        return g.op("Gelu", [x.name], approximate=m.approximate)
    half = g.op("Mul", [x.name, g.const(0.5)])
    if m.approximate == "none":  # x/2 (1 + erf(x / sqrt 2))
        inner = g.op("Erf", [g.op("Mul", [x.name, g.const(1.0 / math.sqrt(2.0))])])
    else:  # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Mul", [x.name, x.name]), x.name])
        poly = g.op("Add", [x.name, g.op("Mul", [cube, g.const(0.044715)])])
        inner = g.op("Tanh", [g.op("Mul", [poly, g.const(math.sqrt(2.0 / math.pi))])])
    return g.op("Mul", [half, g.op("Add", [inner, g.const(1.0)])])


@_conv(nn.SiLU)
def _silu(g, m, x, y):
    return g.op("Mul", [x.name, g.op("Sigmoid", [x.name])])


def _softplus_name(g, x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and exactly x where beta x > threshold (nnbasics' and PyTorch's rule)."""
    bx = x if beta == 1 else g.op("Mul", [x, g.const(beta)])
    sp = g.op("Softplus", [bx])
    if beta != 1:
        sp = g.op("Div", [sp, g.const(beta)])
    return g.op("Where", [g.op("Greater", [bx, g.const(threshold)]), x, sp])


@_conv(nn.Softplus)
def _softplus(g, m, x, y):
    return _softplus_name(g, x.name, float(m.beta), float(m.threshold))


@_conv(nn.Mish)
def _mish(g, m, x, y):
    if g.opset >= 18:
        return g.op("Mish", [x.name])
    return g.op("Mul", [x.name, g.op("Tanh", [_softplus_name(g, x.name)])])


@_conv(nn.Step)
def _step(g, m, x, y):
    zero = g.const(0.0)
    inner = g.op("Where", [g.op("Equal", [x.name, zero]), g.const(m.at_zero), zero])
    return g.op("Where", [g.op("Greater", [x.name, zero]), g.const(1.0), inner])


@_conv(nn.Softmax)
def _softmax(g, m, x, y):
    return g.op("Softmax", [x.name], axis=m.dim)


@_conv(nn.LogSoftmax)
def _log_softmax(g, m, x, y):
    return g.op("LogSoftmax", [x.name], axis=m.dim)


@_conv(nn.Maxout)
def _maxout(g, m, x, y):
    d = m.dim % x.ndim
    grouped = np.empty(x.shape[:d] + (x.shape[d] // m.pool_size, m.pool_size) + x.shape[d + 1:], dtype=y.dtype)
    b = x.batch_axis
    r = Value(g.reshape(x, grouped, None if b is None else (b if b <= d else b + 1)), grouped, b)
    return g.reduce("ReduceMax", r.name, [d + 1], keepdims=False)


# --------------------------------------------------------------------- reshaping
def _merged_batch_axis(x, start, end):
    """Where the batch goes when dims start..end merge: (new axis, still a pure batch axis)."""
    b = x.batch_axis
    if b is None:
        return None
    if b < start:
        return b
    if b > end:
        return b - (end - start)
    return start  # merged with other dims: that dim absorbs the batch


@_conv(nn.Flatten)
def _flatten(g, m, x, y):
    s, e = m.start_dim % max(x.ndim, 1), m.end_dim % max(x.ndim, 1)
    if (s, e) == (1, x.ndim - 1) and x.batch_axis == 0:
        return g.op("Flatten", [x.name], axis=1)  # (N, *) -> (N, prod *)
    axis = _merged_batch_axis(x, s, e)
    pure = x.batch_axis is not None and not (s <= x.batch_axis <= e and s != e)
    return Value(g.reshape(x, y, axis), y, axis if pure else None)


@_conv(nn.Unflatten)
def _unflatten(g, m, x, y):
    d = m.dim % x.ndim
    b = x.batch_axis
    if b is not None and b == d:
        raise OnnxExportError(f"Unflatten(dim={m.dim}) splits the batch dim; exporting it with a dynamic batch is "
                              f"not supported. Use dynamic_batch=False.")
    axis = None if b is None else (b if b < d else b + len(m.unflattened_size) - 1)
    return Value(g.reshape(x, y, axis), y, axis)


# ------------------------------------------------------------------- convolution
def _need_batched(x, m, ndim):
    if x.ndim != ndim:
        raise OnnxExportError(
            f"export: {type(m).__name__} needs a batched input of {ndim} dims for ONNX; got shape {x.shape}. "
            f"Add the batch dim to the example input (e.g. x[None])."
        )


@_conv(nn.Conv2d)
def _conv2d(g, m, x, y):
    _need_batched(x, m, 4)
    (pt, pb), (pl, pr) = m._pads
    ins = [x.name, g.initializer(m.weight._array, "weight")]
    if m.bias is not None:
        ins.append(g.initializer(m.bias._array, "bias"))
    return g.op("Conv", ins, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=[pt, pl, pb, pr],
                dilations=list(m.dilation), group=m.groups)


@_conv(nn.Conv1d)
def _conv1d(g, m, x, y):
    _need_batched(x, m, 3)
    (pl, pr), = m._pads
    ins = [x.name, g.initializer(m.weight._array, "weight")]
    if m.bias is not None:
        ins.append(g.initializer(m.bias._array, "bias"))
    return g.op("Conv", ins, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=[pl, pr],
                dilations=list(m.dilation), group=m.groups)


# ----------------------------------------------------------------------- pooling
def _pool_pads(x, k, s, p, d, ceil_mode):
    """Explicit ONNX pads [top, left, bottom, right] (ceil_mode 0) giving PyTorch's output size.

    ``ceil_mode`` becomes extra padding at the end: enough for PyTorch's last window (which
    starts inside the input or the left padding), so no runtime's ceil rule is relied on.
    """
    out, extra = [], []
    for size, ki, si, pi, di in zip(x.shape[2:], k, s, p, d):
        o = pool_output_size(size, ki, si, pi, di, ceil_mode)
        out.append(o)
        extra.append(max(0, (o - 1) * si + di * (ki - 1) + 1 - (size + 2 * pi)))
    return [p[0], p[1], p[0] + extra[0], p[1] + extra[1]], out, extra


@_conv(nn.MaxPool2d)
def _maxpool(g, m, x, y):
    _need_batched(x, m, 4)
    pads, _, _ = _pool_pads(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    return g.op("MaxPool", [x.name], kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=pads,
                dilations=list(m.dilation), ceil_mode=0)


def _avg_divisors(x, k, s, p, out, include_pad):
    """PyTorch's divisor of every window (OH, OW): the window clipped to input + padding
    (``include_pad``) or to the input alone."""
    divs = []
    for size, ki, si, pi, o in zip(x.shape[2:], k, s, p, out):
        start = np.arange(o) * si - pi
        end = np.minimum(start + ki, size + pi)
        if not include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        divs.append((end - start).astype(np.float64))
    return np.outer(divs[0], divs[1])


@_conv(nn.AvgPool2d)
def _avgpool(g, m, x, y):
    _need_batched(x, m, 4)
    k, s, p = m.kernel_size, m.stride, m.padding
    pads, out, extra = _pool_pads(x, k, s, p, (1, 1), m.ceil_mode)
    plain = m.divisor_override is None and (not any(extra) or not m.count_include_pad)
    attrs = {"kernel_shape": list(k), "strides": list(s), "pads": pads, "ceil_mode": 0}
    if plain:  # ONNX's divisor is PyTorch's: the whole padded window, or only the input elements
        return g.op("AveragePool", [x.name], count_include_pad=int(m.count_include_pad), **attrs)
    # Windows that overhang the padding (ceil_mode), or divisor_override: window sums (mean over the
    # full kernel times its size) over PyTorch's divisor, one constant per output position (OH, OW).
    if m.divisor_override is not None:
        div = np.full(out, float(m.divisor_override))
    else:
        div = _avg_divisors(x, k, s, p, out, m.count_include_pad)
    mean = g.op("AveragePool", [x.name], count_include_pad=1, **attrs)
    return g.op("Mul", [mean, g.initializer(k[0] * k[1] / div, "window_scale")])


@_conv(nn.AdaptiveAvgPool2d)
def _adaptive_avg(g, m, x, y):
    _need_batched(x, m, 4)
    (h, w), (oh, ow) = x.shape[2:], y.shape[2:]
    if (oh, ow) == (1, 1):
        return g.op("GlobalAveragePool", [x.name])
    if h % oh or w % ow:
        raise OnnxExportError(
            f"export: AdaptiveAvgPool2d(output_size={m.output_size!r}) on a {h}x{w} input has windows of unequal "
            f"size ({h}/{oh}, {w}/{ow} are not integers), which ONNX's AveragePool cannot express. Use an input "
            f"size divisible by the output size, or output size 1 (GlobalAveragePool)."
        )
    kh, kw = h // oh, w // ow
    return g.op("AveragePool", [x.name], kernel_shape=[kh, kw], strides=[kh, kw], pads=[0, 0, 0, 0])


@_conv(nn.GlobalAvgPool2d)
def _global_avg(g, m, x, y):
    _need_batched(x, m, 4)
    out = g.op("GlobalAveragePool", [x.name])  # (N, C, 1, 1)
    return out if m.keepdim else g.op("Flatten", [out], axis=1)


# ------------------------------------------------------------------- normalization
def _batch_norm(g, m, x, y):
    if not m.track_running_stats:
        raise OnnxExportError(
            f"export: {type(m).__name__}(track_running_stats=False) normalizes by each batch's own statistics even "
            f"in eval mode; ONNX's BatchNormalization needs running statistics. Train with "
            f"track_running_stats=True."
        )
    C = m.num_features
    scale = m.weight._array if m.affine else np.ones(C, np.float32)
    bias = m.bias._array if m.affine else np.zeros(C, np.float32)
    ins = [x.name, g.initializer(scale, "weight"), g.initializer(bias, "bias"),
           g.initializer(m.running_mean._array, "running_mean"), g.initializer(m.running_var._array, "running_var")]
    return g.op("BatchNormalization", ins, epsilon=float(m.eps))


register_converter(nn.BatchNorm1d, _batch_norm)
register_converter(nn.BatchNorm2d, _batch_norm)


@_conv(nn.LayerNorm)
def _layer_norm(g, m, x, y):
    S = m.normalized_shape
    k = len(S)
    w = m.weight._array if m.weight is not None else np.ones(S, np.float32)
    if g.opset >= 17:
        ins = [x.name, g.initializer(w, "weight")]
        if m.bias is not None:
            ins.append(g.initializer(m.bias._array, "bias"))
        return g.op("LayerNormalization", ins, axis=-k, epsilon=float(m.eps))
    axes = list(range(x.ndim - k, x.ndim))  # opset < 17: (x - mean) / sqrt(var + eps) * w + b
    centered = g.op("Sub", [x.name, g.reduce("ReduceMean", x.name, axes, True)])
    var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, True)
    out = g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.const(m.eps)])])])
    out = g.op("Mul", [out, g.initializer(w, "weight")])
    if m.bias is not None:
        out = g.op("Add", [out, g.initializer(m.bias._array, "bias")])
    return out


# ---------------------------------------------------------------------- embedding
@_conv(nn.Embedding)
def _embedding(g, m, x, y):
    if x.data.dtype.kind not in "iu":
        raise OnnxExportError(f"export: Embedding expects integer ids; got dtype {x.data.dtype}.")
    return g.op("Gather", [g.initializer(m.weight._array, "weight"), x.name], axis=0)
