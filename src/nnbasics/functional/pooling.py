"""Pooling (PyTorch's ``F.max_pool2d``, ``F.avg_pool2d``, ``F.adaptive_avg_pool2d``) and global average pooling.

Max and average pooling are primitives (:mod:`nnbasics.ops.pool`, by windows);
adaptive average pooling is composed: ``A_h @ x @ A_w^T`` with averaging matrices whose
row ``i`` averages PyTorch's window ``[floor(i*H/OH), ceil((i+1)*H/OH))`` — windows of
unequal size and overlapping when OH does not divide H — or plain average pooling when it does.
"""

from __future__ import annotations

import numbers

from .._validate import is_int, pair
from ..backend import xp
from ..ops import matmul, mean, reshape
from ..ops.pool import avg_pool2d as _avg_op
from ..ops.pool import max_pool2d as _max_op
from ..ops.pool import pool_output_size
from ..ops.util import as_operand
from ..tensor import Tensor, as_tensor

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "global_avg_pool2d", "max_pool2d"]


def pool_args(kernel_size, stride, padding, dilation, owner):
    """Validated (kernel, stride, padding, dilation) pairs; stride None means the kernel size."""
    k = pair(kernel_size, f"{owner}: kernel_size")
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    s = k if no_stride else pair(stride, f"{owner}: stride")
    p = pair(padding, f"{owner}: padding", low=0)
    d = pair(dilation, f"{owner}: dilation")
    for pi, ki, di in zip(p, k, d):
        if 2 * pi > di * (ki - 1) + 1:
            raise ValueError(f"{owner}: padding {padding!r} must be at most half of the (dilated) kernel size "
                             f"{d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1}.")
    return k, s, p, d


def check_pool_input(x, k, s, p, d, ceil_mode, owner):
    """(x as a 4-D Tensor, unbatched flag); ValueError naming ``owner`` when no window fits."""
    x = as_operand(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{owner} expected input (N, C, H, W) or unbatched (C, H, W); got shape {tuple(x.shape)}.")
    h, w = x.shape[-2:]
    oh = pool_output_size(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = pool_output_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        eh, ew = d[0] * (k[0] - 1) + 1 - 2 * p[0], d[1] * (k[1] - 1) + 1 - 2 * p[1]
        raise ValueError(f"{owner} expected input (N, C, H, W) with H, W >= {eh}, {ew} (the kernel after padding); "
                         f"got shape {tuple(x.shape)}.")
    if x.ndim == 3:
        return reshape(x, 1, *x.shape), True
    return x, False


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False) -> Tensor:
    """2-D max pooling, PyTorch's ``F.max_pool2d``.

    ``y[n, c, i, j] = max_{p, q} x_pad[n, c, i*sh + p*dh, j*sw + q*dw]`` (padding is -inf).
    The gradient flows to the first maximum of each window (row-major), as in PyTorch.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        kernel_size: int or (kh, kw).
        stride: int or pair; default ``kernel_size``.
        padding: int or pair, at most half the kernel.
        dilation: int or pair.
        ceil_mode: round the output size up (a last, partial window that starts inside the input).
        return_indices: not supported (raises ValueError).

    Shape:
        (N, C, H, W) -> (N, C, OH, OW), OH = floor_or_ceil((H + 2p - d(k-1) - 1)/s) + 1.

    Example:
        >>> import nnbasics as nb
        >>> max_pool2d(nb.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """
    if return_indices:
        raise ValueError("max_pool2d: return_indices=True is not supported; the gradient needs no indices here.")
    k, s, p, d = pool_args(kernel_size, stride, padding, dilation, "max_pool2d")
    x, unbatched = check_pool_input(input, k, s, p, d, ceil_mode, "max_pool2d")
    y = _max_op(x, k, s, p, d, ceil_mode)
    return reshape(y, *y.shape[1:]) if unbatched else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None) -> Tensor:
    """2-D average pooling, PyTorch's ``F.avg_pool2d``.

    ``y[n, c, i, j] = sum_{window} x_pad / divisor``: with ``count_include_pad`` the divisor is
    the window size clipped to the padded input, otherwise the number of real elements in it;
    ``divisor_override`` (a positive int) replaces it.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        kernel_size, stride (default ``kernel_size``), padding: int or pair.
        ceil_mode, count_include_pad, divisor_override: as in PyTorch.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW).

    Example:
        >>> import nnbasics as nb
        >>> avg_pool2d(nb.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0].tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """
    k, s, p, _ = pool_args(kernel_size, stride, padding, 1, "avg_pool2d")
    if divisor_override is not None and (isinstance(divisor_override, bool) or
                                         not isinstance(divisor_override, numbers.Integral) or divisor_override < 1):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int or None; got {divisor_override!r}.")
    x, unbatched = check_pool_input(input, k, s, p, (1, 1), ceil_mode, "avg_pool2d")
    y = _avg_op(x, k, s, p, ceil_mode, count_include_pad, divisor_override)
    return reshape(y, *y.shape[1:]) if unbatched else y


def _adaptive_matrix(size, out, dtype):
    """(out, size) matrix whose row i averages x[floor(i*size/out) : ceil((i+1)*size/out)]."""
    i = xp.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    cols = xp.arange(size)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed output size, PyTorch's ``F.adaptive_avg_pool2d``.

    Output row ``i`` averages input rows ``floor(i*H/OH)`` to ``ceil((i+1)*H/OH) - 1`` (likewise
    columns): windows may differ in size and overlap when OH does not divide H.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        output_size: int or (OH, OW); None in the pair keeps that input size.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW).

    Example:
        >>> import nnbasics as nb
        >>> adaptive_avg_pool2d(nb.ones(2, 3, 7, 5), (3, 2)).shape
        (2, 3, 3, 2)
    """
    x = as_operand(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d expected input (N, C, H, W) or (C, H, W); got shape {tuple(x.shape)}.")
    h, w = x.shape[-2:]
    if h < 1 or w < 1:
        raise ValueError(f"adaptive_avg_pool2d expected H, W >= 1; got shape {tuple(x.shape)}.")
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair; got {output_size!r}.")
    sizes = tuple(d if o is None else o for o, d in zip(sizes, (h, w)))
    if any(not is_int(o) or o < 1 for o in sizes):
        raise ValueError(f"adaptive_avg_pool2d: output_size must hold positive ints (or None); got {output_size!r}.")
    oh, ow = int(sizes[0]), int(sizes[1])
    if h % oh == 0 and w % ow == 0:  # equal windows: plain average pooling
        if (oh, ow) == (h, w):
            return x
        return avg_pool2d(x, (h // oh, w // ow))
    ah = as_tensor(_adaptive_matrix(h, oh, x.dtype))  # (OH, H)
    awt = as_tensor(_adaptive_matrix(w, ow, x.dtype).T)  # (W, OW)
    return matmul(ah, matmul(x, awt))  # (.., OH, H) @ (.., H, OW)


def global_avg_pool2d(input, keepdim=False) -> Tensor:
    """Mean over the spatial dims: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with ``keepdim``.

    Example:
        >>> import nnbasics as nb
        >>> global_avg_pool2d(nb.ones(2, 3, 7, 5)).shape
        (2, 3)
    """
    x = as_operand(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"global_avg_pool2d expected input (N, C, H, W) or (C, H, W); got shape {tuple(x.shape)}.")
    return mean(x, dim=(-2, -1), keepdim=keepdim)
