"""Convolution layers: Conv1d and Conv2d (PyTorch's arguments, weight layout and initialization).

The arithmetic is one primitive, :class:`nnbasics.ops.conv.Conv2d` (im2col + GEMM; its kernel
works channels-last); a Conv1d is a Conv2d of height 1. ``weight`` is (out_channels,
in_channels/groups, *kernel_size) and ``bias`` (out_channels,), so ``load_state_dict`` moves
weights to and from ``torch.nn.Conv1d/Conv2d`` unchanged.
"""

from __future__ import annotations

import math

from .._validate import check_positive_int, float_dtype, int_tuple
from ..backend import xp
from ..device import check_device
from ..functional.conv import check_conv_input, resolve_padding
from ..ops import reshape
from ..ops.conv import conv2d as _conv2d_op
from ..ops.util import as_operand
from ..rng import as_generator
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d"]


def check_conv_sizes(owner, nd, in_channels, out_channels, groups, kernel_size, stride, dilation) -> tuple:
    """``(in_channels, out_channels, groups, kernel_size, stride, dilation)`` of a convolution layer with ``nd``
    spatial dims, checked as PyTorch checks them (channels divisible by groups; tuples of ``nd`` ints)."""
    in_channels = check_positive_int(in_channels, f"in_channels of {owner}")
    out_channels = check_positive_int(out_channels, f"out_channels of {owner}")
    groups = check_positive_int(groups, f"groups of {owner}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{owner}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                         f"divisible by groups ({groups}).")
    return (in_channels, out_channels, groups, int_tuple(kernel_size, nd, f"{owner}: kernel_size", low=1),
            int_tuple(stride, nd, f"{owner}: stride", low=1), int_tuple(dilation, nd, f"{owner}: dilation", low=1))


class _ConvNd(Module):
    """Shared constructor, initialization and repr of Conv1d/Conv2d (``_nd`` spatial dims)."""

    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", *, rng=None, device=None, dtype=None):
        super().__init__()
        check_device(device)
        owner = type(self).__name__
        nd = self._nd
        (self.in_channels, self.out_channels, self.groups, self.kernel_size, self.stride,
         self.dilation) = check_conv_sizes(owner, nd, in_channels, out_channels, groups, kernel_size, stride, dilation)
        self.padding = padding if isinstance(padding, str) else int_tuple(padding, nd, f"{owner}: padding", low=0)
        self._pads = resolve_padding(padding, self.kernel_size, self.dilation, self.stride, owner)
        if padding_mode != "zeros":
            raise ValueError(f"{owner}: only padding_mode='zeros' is supported; got {padding_mode!r}.")
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype, f"dtype of {owner}")
        self._rng = as_generator(rng)
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty((self.out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """Redraw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default.

        fan_in = in_channels/groups * prod(kernel_size). This is ``kaiming_uniform_(weight, a=sqrt(5))``:
        gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in) = 1/sqrt(fan_in); the bias uses the same bound.

        Args:
            rng: Generator, int seed or None; by default the Generator given at construction.
        """
        gen = self._rng if rng is None else as_generator(rng)
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        self.weight._array[...] = gen.uniform(-bound, bound, size=self.weight.shape)
        if self.bias is not None:
            self.bias._array[...] = gen.uniform(-bound, bound, size=self.bias.shape)

    def _check(self, x):
        x = as_operand(x)
        check_conv_input(x, self.weight.shape, self.groups, self._pads, self.dilation, type(self).__name__, self._nd)
        return x

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer (cross-correlation), PyTorch's ``nn.Conv2d``.

    ``y[n, o] = b[o] + sum_c w[o, c] * x[n, c]`` (``*``: 2-D cross-correlation with stride,
    zero padding and dilation; with groups, output channel o sees its group's input channels only).

    Args:
        in_channels, out_channels: channel counts (both divisible by ``groups``).
        kernel_size: int or (kh, kw).
        stride: int or pair (default 1).
        padding: int, pair, ``'valid'`` (0) or ``'same'`` (stride 1; output size = input size,
            an odd total padding puts the extra row/column at the bottom/right, as PyTorch).
        dilation: int or pair (default 1).
        groups: independent channel groups (default 1; depthwise: groups = in_channels).
        bias: learn a bias per output channel (``bias`` is registered as None when False).
        padding_mode: only ``'zeros'``.
        rng: Generator, int seed or None for :meth:`reset_parameters`.
        dtype: parameter dtype (float32 by default).

    Shape:
        input (N, C_in, H, W) or unbatched (C_in, H, W) -> (N, C_out, OH, OW) with
        OH = floor((H + 2*ph - dh*(kh-1) - 1)/sh) + 1 (likewise OW).

    Attributes:
        weight (Parameter): (out_channels, in_channels/groups, kh, kw).
        bias (Parameter | None): (out_channels,).

    Example:
        >>> import nnbasics as nb
        >>> conv = Conv2d(1, 32, 3, padding=1, rng=0)
        >>> conv(nb.zeros(8, 1, 28, 28)).shape
        (8, 32, 28, 28)
    """

    _nd = 2

    def forward(self, x):
        """(N, C_in, H, W) -> (N, C_out, OH, OW); see the class docstring."""
        x = self._check(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = reshape(x, 1, *x.shape)
        (pt, pb), (pl, pr) = self._pads
        y = _conv2d_op(x, self.weight, self.bias, self.stride, (pt, pb, pl, pr), self.dilation, self.groups)
        return reshape(y, *y.shape[1:]) if unbatched else y


class Conv1d(_ConvNd):
    """1-D convolution layer (cross-correlation), PyTorch's ``nn.Conv1d``; same arguments as :class:`Conv2d`.

    Shape:
        input (N, C_in, L) or unbatched (C_in, L) -> (N, C_out, OL), OL = floor((L + 2p - d(k-1) - 1)/s) + 1.

    Attributes:
        weight (Parameter): (out_channels, in_channels/groups, k).
        bias (Parameter | None): (out_channels,).

    Example:
        >>> import nnbasics as nb
        >>> Conv1d(3, 4, 5, padding="same", rng=0)(nb.zeros(2, 3, 9)).shape
        (2, 4, 9)
    """

    _nd = 1

    def forward(self, x):
        """(N, C_in, L) -> (N, C_out, OL)."""
        x = self._check(x)
        unbatched = x.ndim == 2
        n = 1 if unbatched else x.shape[0]
        x4 = reshape(x, n, self.in_channels, 1, x.shape[-1])
        w4 = reshape(self.weight, *self.weight.shape[:2], 1, self.kernel_size[0])
        y = _conv2d_op(x4, w4, self.bias, (1, self.stride[0]), (0, 0) + self._pads[0], (1, self.dilation[0]),
                       self.groups)
        return reshape(y, *((y.shape[1], y.shape[3]) if unbatched else (n, y.shape[1], y.shape[3])))


