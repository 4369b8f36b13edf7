"""Transposed convolution layers: ConvTranspose1d and ConvTranspose2d (PyTorch's arguments and layout).

The arithmetic is :mod:`nnbasics.functional.conv_transpose` (col2im of one matrix product,
composed from primitives). ``weight`` is (in_channels, out_channels/groups, *kernel_size) --
in_channels first, as PyTorch stores it -- so state dicts move to and from
``torch.nn.ConvTranspose1d/2d`` unchanged.
"""

from __future__ import annotations

import math

from .._validate import float_dtype, int_tuple
from ..backend import xp
from ..device import check_device
from ..functional.conv_transpose import conv_transpose_nd, conv_transpose_output_size
from ..rng import as_generator
from .conv import check_conv_sizes
from .module import Module
from .parameter import Parameter

__all__ = ["ConvTranspose1d", "ConvTranspose2d"]


class _ConvTransposeNd(Module):
    """Shared constructor, initialization, forward and repr (``_nd`` spatial dims)."""

    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", *, rng=None, device=None, dtype=None):
        super().__init__()
        check_device(device)
        owner, nd = type(self).__name__, self._nd
        (self.in_channels, self.out_channels, self.groups, self.kernel_size, self.stride,
         self.dilation) = check_conv_sizes(owner, nd, in_channels, out_channels, groups, kernel_size, stride, dilation)
        self.padding = int_tuple(padding, nd, f"{owner}: padding", low=0)
        self.output_padding = int_tuple(output_padding, nd, f"{owner}: output_padding", low=0)
        if padding_mode != "zeros":
            raise ValueError(f"{owner}: only padding_mode='zeros' is supported; got {padding_mode!r}.")
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype, f"dtype of {owner}")
        self._rng = as_generator(rng)
        self.weight = Parameter(xp.empty((self.in_channels, self.out_channels // self.groups) + self.kernel_size,
                                         dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty((self.out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """Redraw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default.

        PyTorch computes fan_in from the weight's second dimension: fan_in = out_channels/groups *
        prod(kernel_size) (``kaiming_uniform_(weight, a=sqrt(5))``); the bias uses the same bound.

        Args:
            rng: Generator, int seed or None; by default the Generator given at construction.
        """
        gen = self._rng if rng is None else as_generator(rng)
        bound = 1.0 / math.sqrt(self.weight.shape[1] * math.prod(self.kernel_size))
        self.weight._array[...] = gen.uniform(-bound, bound, size=self.weight.shape)
        if self.bias is not None:
            self.bias._array[...] = gen.uniform(-bound, bound, size=self.bias.shape)

    def _output_padding(self, x, output_size):
        """``output_padding``, or the one that gives ``output_size`` (PyTorch's ``forward(x, output_size)``)."""
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-self._nd:]
        pads = []
        for i in range(self._nd):
            smallest = conv_transpose_output_size(x.shape[-self._nd + i], self.kernel_size[i], self.stride[i],
                                                  self.padding[i], 0, self.dilation[i])
            if not smallest <= size[i] < smallest + self.stride[i]:
                raise ValueError(f"{type(self).__name__}: requested an output size of {size}, but valid sizes "
                                 f"start at {smallest} and are below {smallest + self.stride[i]} in dim {i}.")
            pads.append(size[i] - smallest)
        return tuple(pads)

    def forward(self, x, output_size=None):
        """(N, C_in, *spatial) -> (N, C_out, *out_spatial); ``output_size`` picks the output_padding."""
        return conv_transpose_nd(x, self.weight, self.bias, self.stride, self.padding,
                               self._output_padding(x, output_size), self.groups, self.dilation,
                               type(self).__name__, self._nd)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for name, default in (("padding", 0), ("dilation", 1), ("output_padding", 0)):
            if getattr(self, name) != (default,) * self._nd:
                s += f", {name}={getattr(self, name)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer, PyTorch's ``nn.ConvTranspose2d`` (the upsampling of DCGAN
    generators and convolutional autoencoders).

    Each input pixel spreads a kernel-sized patch weighted by its value onto the output; overlaps
    add (see :mod:`nnbasics.functional.conv_transpose`).

    Args:
        in_channels, out_channels: channel counts (both divisible by ``groups``).
        kernel_size, stride, padding, output_padding, dilation: int or pair, PyTorch's meaning.
        groups: channel groups; bias: learn a bias per output channel; padding_mode: only 'zeros'.
        rng: Generator, int seed or None for :meth:`reset_parameters`; dtype: float32 by default.

    Shape:
        (N, C_in, H, W) -> (N, C_out, OH, OW), OH = (H-1)*sh - 2*ph + dh*(kh-1) + oph + 1.

    Attributes:
        weight (Parameter): (in_channels, out_channels/groups, kh, kw).
        bias (Parameter | None): (out_channels,).

    Example:
        >>> import nnbasics as nb
        >>> up = ConvTranspose2d(16, 8, kernel_size=4, stride=2, padding=1, rng=0)
        >>> up(nb.zeros(2, 16, 7, 7)).shape
        (2, 8, 14, 14)
    """

    _nd = 2


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer, PyTorch's ``nn.ConvTranspose1d`` (a 2-D one of height 1).

    Shape:
        (N, C_in, L) -> (N, C_out, (L-1)*s - 2*p + d*(k-1) + output_padding + 1);
        weight (in_channels, out_channels/groups, k).

    Example:
        >>> import nnbasics as nb
        >>> ConvTranspose1d(4, 2, 3, stride=2, rng=0)(nb.zeros(1, 4, 5)).shape
        (1, 2, 11)
    """

    _nd = 1
