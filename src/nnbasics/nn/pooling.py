"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (PyTorch's arguments) and GlobalAvgPool2d.

No parameters; the arithmetic is in :mod:`nnbasics.ops.pool` (by windows) and
:func:`nnbasics.functional.adaptive_avg_pool2d`.
"""

from __future__ import annotations

import numbers

from ..functional.pooling import adaptive_avg_pool2d, check_pool_input, global_avg_pool2d, pool_args
from ..ops import reshape
from ..ops.pool import avg_pool2d as _avg_op
from ..ops.pool import max_pool2d as _max_op
from ..ops.util import as_operand
from .module import Module

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "GlobalAvgPool2d", "MaxPool2d"]


def _unbatch(y, unbatched):
    return reshape(y, *y.shape[1:]) if unbatched else y


class MaxPool2d(Module):
    """2-D max pooling, PyTorch's ``nn.MaxPool2d``.

    Args:
        kernel_size: int or (kh, kw).
        stride: int or pair; default ``kernel_size``.
        padding: int or pair (implicit -inf), at most half the kernel.
        dilation: int or pair.
        return_indices: not supported (ValueError).
        ceil_mode: round the output size up.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), OH = floor_or_ceil((H + 2p - d(k-1) - 1)/s) + 1.

    Example:
        >>> import nnbasics as nb
        >>> MaxPool2d(2)(nb.zeros(8, 32, 28, 28)).shape
        (8, 32, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if return_indices:
            raise ValueError("MaxPool2d: return_indices=True is not supported.")
        self.kernel_size, self.stride, self.padding, self.dilation = pool_args(
            kernel_size, stride, padding, dilation, "MaxPool2d")
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        x, unbatched = check_pool_input(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                        self.ceil_mode, "MaxPool2d")
        return _unbatch(_max_op(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode),
                        unbatched)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """2-D average pooling, PyTorch's ``nn.AvgPool2d``.

    Args:
        kernel_size: int or (kh, kw).
        stride: int or pair; default ``kernel_size``.
        padding: int or pair (implicit zeros), at most half the kernel.
        ceil_mode: round the output size up.
        count_include_pad: divide by the window size including padding (default True) or by the
            number of real input elements in the window.
        divisor_override: a positive int used as the divisor instead.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    Example:
        >>> import nnbasics as nb
        >>> AvgPool2d(3, stride=2, padding=1)(nb.zeros(2, 3, 7, 5)).shape
        (2, 3, 4, 3)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding, _ = pool_args(kernel_size, stride, padding, 1, "AvgPool2d")
        if divisor_override is not None and (isinstance(divisor_override, bool) or
                                             not isinstance(divisor_override, numbers.Integral) or divisor_override < 1):
            raise ValueError(f"AvgPool2d: divisor_override must be a positive int or None; got {divisor_override!r}.")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x):
        x, unbatched = check_pool_input(x, self.kernel_size, self.stride, self.padding, (1, 1), self.ceil_mode,
                                        "AvgPool2d")
        y = _avg_op(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                    self.divisor_override)
        return _unbatch(y, unbatched)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"ceil_mode={self.ceil_mode}, count_include_pad={self.count_include_pad}")


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, PyTorch's ``nn.AdaptiveAvgPool2d``.

    Args:
        output_size: int or (OH, OW); None in the pair keeps that input size.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); windows [floor(i*H/OH), ceil((i+1)*H/OH)).

    Example:
        >>> import nnbasics as nb
        >>> AdaptiveAvgPool2d((3, 2))(nb.zeros(2, 4, 7, 5)).shape
        (2, 4, 3, 2)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        x = as_operand(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"AdaptiveAvgPool2d expected input (N, C, H, W) or (C, H, W); got shape {tuple(x.shape)}.")
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size!r}"


class GlobalAvgPool2d(Module):
    """Mean over the spatial dims (global average pooling, Lin et al. 2013 "Network in Network").

    The same as ``AdaptiveAvgPool2d(1)`` followed by ``Flatten()`` when ``keepdim`` is False.

    Args:
        keepdim: keep H and W as size-1 dims.

    Shape:
        (N, C, H, W) -> (N, C), or (N, C, 1, 1) with ``keepdim``.

    Example:
        >>> import nnbasics as nb
        >>> GlobalAvgPool2d()(nb.zeros(2, 4, 7, 5)).shape
        (2, 4)
    """

    def __init__(self, keepdim: bool = False):
        super().__init__()
        self.keepdim = bool(keepdim)

    def forward(self, x):
        x = as_operand(x)
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool2d expected input (N, C, H, W); got shape {tuple(x.shape)}.")
        return global_avg_pool2d(x, self.keepdim)

    def extra_repr(self) -> str:
        return f"keepdim={self.keepdim}"
