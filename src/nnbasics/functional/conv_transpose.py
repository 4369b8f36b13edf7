"""Transposed convolutions (PyTorch's ``F.conv_transpose2d`` / ``F.conv_transpose1d``), composed.

A transposed convolution is the adjoint of a convolution: every input pixel *spreads* a
kernel-sized patch, weighted by its value, onto the output, and overlapping patches add up.
That is exactly col2im of one matrix product, so it is composed from differentiable
primitives (matmul, :func:`nnbasics.ops.conv.col2im`, pad, slicing) and needs no backward
of its own::

    cols[n, g] = W_g^T @ x[n, g]              (C_out/G*kh*kw, H*W)   W_g (C_in/G, C_out/G*kh*kw)
    full       = col2im(cols, stride, dilation)                       (N, C_out, H_f, W_f)
    H_f        = (H - 1)*sh + dh*(kh - 1) + 1
    y          = full[..., ph : ph + OH, pw : pw + OW] + b             (zeros past H_f)
    OH         = (H - 1)*sh - 2*ph + dh*(kh - 1) + output_padding_h + 1

Its gradient with respect to x is a plain convolution of the output gradient with the same
weight; autograd finds it through col2im's adjoint (im2col).
"""

from __future__ import annotations

from .._validate import int_tuple, is_int
from ..ops import reshape
from ..ops.conv import col2im
from ..ops.util import as_operand
from ..tensor import Tensor

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose_output_size"]


def conv_transpose_output_size(size, kernel, stride=1, padding=0, output_padding=0, dilation=1) -> int:
    """``(size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1`` (one axis)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _args(owner, nd, stride, padding, output_padding, dilation, groups):
    stride = int_tuple(stride, nd, f"{owner}: stride", low=1)
    padding = int_tuple(padding, nd, f"{owner}: padding", low=0)
    output_padding = int_tuple(output_padding, nd, f"{owner}: output_padding", low=0)
    dilation = int_tuple(dilation, nd, f"{owner}: dilation", low=1)
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{owner}: groups must be a positive int; got {groups!r}.")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{owner}: output_padding must be smaller than either stride or dilation; got "
                             f"output_padding={output_padding}, stride={stride}, dilation={dilation}.")
    return stride, padding, output_padding, dilation, int(groups)


def _conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups):
    """The composition on validated 4-D operands: x (N, C_in, H, W), w (C_in, C_out/G, kh, kw)."""
    n, cin, h, wd = x.shape
    cout_g, kh, kw = w.shape[1:]
    xg = reshape(x, n, groups, cin // groups, h * wd)  # (N, G, C_in/G, HW)
    wg = reshape(w, groups, cin // groups, cout_g * kh * kw)  # (G, C_in/G, C_out/G*kh*kw)
    cols = wg.transpose(1, 2) @ xg  # (N, G, C_out/G*kh*kw, HW): rows (c, p, q) as col2im reads them
    full_h, full_w = ((size - 1) * s + d * (k - 1) + 1 for size, s, d, k in zip((h, wd), stride, dilation, (kh, kw)))
    full = col2im(reshape(cols, n, groups * cout_g * kh * kw, h * wd), (full_h, full_w), (kh, kw),
                  dilation=dilation, padding=0, stride=stride)
    (ph, pw), (oph, opw) = padding, output_padding
    extra_h, extra_w = max(0, oph - ph), max(0, opw - pw)  # output_padding past the cropped padding: zeros
    if extra_h or extra_w:
        full = full.pad(((0, 0), (0, 0), (0, extra_h), (0, extra_w)))
    oh, ow = full_h - 2 * ph + oph, full_w - 2 * pw + opw
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    if b is not None:
        y = y + reshape(b, 1, -1, 1, 1)
    return y


def conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation, owner, nd):
    """Validate and run a transposed convolution of ``nd`` (1 or 2) spatial dims; ``owner`` names it in errors."""
    x, w = as_operand(input), as_operand(weight)
    stride, padding, output_padding, dilation, groups = _args(owner, nd, stride, padding, output_padding, dilation,
                                                              groups)
    if w.ndim != nd + 2:
        raise ValueError(f"{owner}: weight must have shape (in_channels, out_channels/groups, "
                         f"{', '.join('k' + str(i) for i in range(nd))}); got {tuple(w.shape)}.")
    if w.shape[0] % groups:
        raise ValueError(f"{owner}: in_channels {w.shape[0]} must be divisible by groups {groups}.")
    if x.ndim not in (nd + 1, nd + 2) or x.shape[-nd - 1] != w.shape[0]:
        dims = "L" if nd == 1 else "H, W"
        raise ValueError(f"{owner} expected input (N, {w.shape[0]}, {dims}) or unbatched ({w.shape[0]}, {dims}); "
                         f"got shape {tuple(x.shape)}.")
    if x.dtype != w.dtype:
        raise TypeError(f"{owner}: input dtype {x.dtype} differs from weight dtype {w.dtype}; cast one of them.")
    b = None
    if bias is not None:
        b = as_operand(bias)
        if tuple(b.shape) != (w.shape[1] * groups,):
            raise ValueError(f"{owner}: bias must have shape ({w.shape[1] * groups},); got {tuple(b.shape)}.")
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = reshape(x, 1, *x.shape)
    if nd == 1:
        y = _conv_transpose2d(reshape(x, *x.shape[:2], 1, x.shape[2]), reshape(w, *w.shape[:2], 1, w.shape[2]), b,
                              (1,) + stride, (0,) + padding, (0,) + output_padding, (1,) + dilation, groups)
        y = reshape(y, y.shape[0], y.shape[1], y.shape[3])
    else:
        y = _conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups)
    return reshape(y, *y.shape[1:]) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution ("deconvolution"), PyTorch's ``F.conv_transpose2d``.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_in, C_out/groups, kh, kw) -- note: in_channels first, unlike conv2d.
        bias: (C_out,) or None.
        stride, padding, output_padding, dilation: int or pair, as PyTorch: ``padding`` removes
            that many rows/columns from each side of the full output; ``output_padding`` adds
            rows/columns at the bottom/right (to pick one of the sizes a strided conv maps from).
        groups: channel groups.

    Shape:
        (N, C_in, H, W) -> (N, C_out, OH, OW), OH = (H-1)*sh - 2*ph + dh*(kh-1) + oph + 1.

    Example:
        >>> import nnbasics as nb
        >>> conv_transpose2d(nb.ones(1, 2, 3, 3), nb.ones(2, 4, 2, 2), stride=2).shape
        (1, 4, 6, 6)
    """
    return conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation,
                           "conv_transpose2d", 2)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution, PyTorch's ``F.conv_transpose1d``: a 2-D one of height 1.

    Shape:
        (N, C_in, L) -> (N, C_out, (L-1)*s - 2*p + d*(k-1) + output_padding + 1); weight (C_in, C_out/groups, k).

    Example:
        >>> import nnbasics as nb
        >>> conv_transpose1d(nb.ones(1, 2, 5), nb.ones(2, 3, 3)).shape
        (1, 3, 7)
    """
    return conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation,
                           "conv_transpose1d", 1)
