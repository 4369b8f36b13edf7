"""Convolutions (PyTorch's ``F.conv1d``/``F.conv2d``) and the im2col / col2im teaching functions.

The arithmetic and the gradients live in one primitive, :class:`nnbasics.ops.conv.Conv2d`
(im2col + one GEMM; see that module for the algorithm). This module validates arguments,
resolves ``padding`` (an int, a pair, ``'valid'`` or ``'same'``) and maps 1-D convolution
and unbatched inputs onto it.
"""

from __future__ import annotations

from .._validate import int_tuple, is_int
from ..ops import reshape
from ..ops.conv import col2im, im2col
from ..ops.conv import conv2d as _conv2d_op
from ..ops.util import as_operand
from ..tensor import Tensor

__all__ = ["col2im", "conv1d", "conv2d", "fold", "im2col", "unfold"]

unfold = im2col  # PyTorch's name
fold = col2im  # PyTorch's name


def resolve_padding(padding, kernel, dilation, stride, owner):
    """``padding`` of a convolution as ((before, after), ...) per spatial dim.

    ``'valid'`` is no padding; ``'same'`` pads ``d*(k-1)`` in total per dim, ``total // 2``
    before and the rest after (PyTorch's split for even kernels), and needs stride 1.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(n))
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{owner}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride}); use stride 1 or an explicit padding.")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{owner}: padding must be an int, a tuple, 'valid' or 'same'; got {padding!r}.")
    return tuple((p, p) for p in int_tuple(padding, n, f"{owner}: padding", low=0))


def check_conv_input(x, weight_shape, groups, pads, dilation, owner, nd):
    """Raise ValueError naming ``owner``, the expected and the received shape, unless ``x`` fits."""
    c = weight_shape[1] * groups
    kernel = weight_shape[2:]
    mins = [d * (k - 1) + 1 - (a + b) for k, d, (a, b) in zip(kernel, dilation, pads)]
    dims = ("L",) if nd == 1 else ("H", "W")
    spatial = ", ".join(dims)
    need = f" with {', '.join(dims)} >= {', '.join(str(max(m, 1)) for m in mins)}" if max(mins) > 1 else ""
    expected = f"input (N, {c}, {spatial}){need} or unbatched ({c}, {spatial})"
    shape = tuple(x.shape)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{owner} expected {expected}; got shape {shape} ({x.ndim} dims).")
    cin = shape[-nd - 1]
    if cin != c:
        raise ValueError(f"{owner} expected {expected} ({c} input channels); got shape {shape} with {cin} channels.")
    if any(s < m for s, m in zip(shape[-nd:], mins)):
        raise ValueError(
            f"{owner} expected {expected}: the image after padding must be at least as large as the "
            f"(dilated) kernel; got shape {shape}."
        )


def _conv(x, weight, bias, stride, padding, dilation, groups, owner, nd):
    x, w = as_operand(x), as_operand(weight)
    if w.ndim != nd + 2:
        raise ValueError(f"{owner}: weight must have shape (out_channels, in_channels/groups, "
                         f"{', '.join('k' + str(i) for i in range(nd))}); got {tuple(w.shape)}.")
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{owner}: groups must be a positive int; got {groups!r}.")
    if w.shape[0] % groups:
        raise ValueError(f"{owner}: out_channels {w.shape[0]} must be divisible by groups {groups}.")
    stride = int_tuple(stride, nd, f"{owner}: stride", low=1)
    dilation = int_tuple(dilation, nd, f"{owner}: dilation", low=1)
    pads = resolve_padding(padding, tuple(w.shape[2:]), dilation, stride, owner)
    check_conv_input(x, w.shape, groups, pads, dilation, owner, nd)
    b = None
    if bias is not None:
        b = as_operand(bias)
        if tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"{owner}: bias must have shape ({w.shape[0]},); got {tuple(b.shape)}.")
    if x.dtype != w.dtype:
        raise TypeError(f"{owner}: input dtype {x.dtype} differs from weight dtype {w.dtype}; cast one of them.")
    unbatched = x.ndim == nd + 1
    if nd == 1:
        n = 1 if unbatched else x.shape[0]
        x4 = reshape(x, n, x.shape[-2], 1, x.shape[-1])
        w4 = reshape(w, *w.shape[:2], 1, w.shape[2])
        y = _conv2d_op(x4, w4, b, (1, stride[0]), (0, 0) + pads[0], (1, dilation[0]), groups)
        return reshape(y, *((y.shape[1], y.shape[3]) if unbatched else (n, y.shape[1], y.shape[3])))
    if unbatched:
        x = reshape(x, 1, *x.shape)
    y = _conv2d_op(x, w, b, stride, pads[0] + pads[1], dilation, groups)
    return reshape(y, *y.shape[1:]) if unbatched else y


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation), PyTorch's ``F.conv2d``.

    ``y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x_pad[n, g(o)*C/G + c, i*sh + p*dh, j*sw + q*dw]``

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        weight: (O, C/groups, kh, kw).
        bias: (O,) or None.
        stride, dilation: int or (h, w) pair.
        padding: int, (h, w) pair (zeros on both sides), ``'valid'`` (none) or ``'same'``
            (output size = input size; stride 1 only; an odd total puts the extra row/column
            at the bottom/right, as PyTorch does).
        groups: split channels into this many independent convolutions (depthwise: groups = C).

    Shape:
        (N, C, H, W) -> (N, O, OH, OW), OH = floor((H + 2*ph - dh*(kh-1) - 1) / sh) + 1.

    Returns:
        Tensor. Its memory is channels-last (a transposed view), which the next layers keep.

    Raises:
        ValueError: naming the expected and the received shape (wrong channel count, an image
            smaller than the dilated kernel, wrong number of dims, bad arguments).

    Example:
        >>> import nnbasics as nb
        >>> conv2d(nb.ones(2, 3, 7, 5), nb.ones(4, 3, 3, 2), padding=1).shape
        (2, 4, 7, 6)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, "conv2d", 2)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation), PyTorch's ``F.conv1d``: a 2-D one of height 1.

    Args:
        input: (N, C, L) or unbatched (C, L).
        weight: (O, C/groups, k).
        bias: (O,) or None.
        stride, padding, dilation, groups: as :func:`conv2d` (ints; padding also 'same'/'valid').

    Shape:
        (N, C, L) -> (N, O, OL), OL = floor((L + 2*p - d*(k-1) - 1) / s) + 1.

    Example:
        >>> import nnbasics as nb
        >>> conv1d(nb.ones(2, 3, 9), nb.ones(4, 3, 2), stride=2).shape
        (2, 4, 4)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, "conv1d", 1)
