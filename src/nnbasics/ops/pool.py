"""Pooling primitives: 2-D max and average pooling (PyTorch's semantics), by windows.

The windows are im2col's columns (:mod:`nnbasics.ops.conv`): cut every (kh, kw) window of the
padded input out as a column, ``cols`` (N, C, kh*kw, OH, OW), and pooling is a reduction over
the window axis. Backward puts each window's gradient back with col2im, im2col's adjoint, so
that where windows overlap their shares add up:

* max: ``y = max(cols)``; the gradient goes to the first maximum of each window in row-major
  order (PyTorch's CPU kernel's choice: after a ReLU whole windows tie at 0, and one element
  gets it), ``dx = col2im(onehot(argmax) * dY)``;
* average: ``y = sum(cols) / divisor``, ``dx = col2im(dY / divisor)`` for every element of the
  window.

The kernels registered for them (:mod:`nnbasics.kernels.pool`) walk the kernel offsets
instead, in the input's memory layout, on several threads.

Output size (PyTorch): ``OH = floor_or_ceil((H + 2p - d*(k-1) - 1) / s) + 1``; with
``ceil_mode`` the last window must start inside the input or the left padding, else it is
dropped.
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from .conv import col2im_array, im2col_array

__all__ = ["avg_divisor", "avg_pool2d", "max_pool2d", "pool_output_size"]


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Number of pooling windows along one axis, as PyTorch counts them."""
    num = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-num // stride) + 1
        if (out - 1) * stride >= size + padding:  # the last window would start in the right padding
            out -= 1
        return out
    return num // stride + 1


def avg_divisor(size, k, s, p, o, include_pad):
    """Per-window element counts along one axis (PyTorch's avg_pool2d rule)."""
    start = xp.arange(o) * s - p
    end = xp.minimum(start + k, size + p)
    full = end - start
    valid = xp.minimum(end, size) - xp.maximum(start, 0)
    return full if include_pad else valid


def _out_size(x, kernel_size, stride, padding, dilation, ceil_mode):
    """(OH, OW) of a pooling of ``x`` (N, C, H, W)."""
    return tuple(pool_output_size(x.shape[2 + i], kernel_size[i], stride[i], padding[i], dilation[i], ceil_mode)
                 for i in (0, 1))


def _windows(x, kernel_size, stride, padding, dilation, out_size, fill):
    """The windows of ``x`` as im2col columns, (N, C, kh*kw, OH, OW), and the padded shape.

    The input is padded with ``fill`` by ``padding`` on the left and top, and on the right and
    bottom as far as the last window reaches (with ``ceil_mode`` it may reach past the padding).
    """
    (n, c, h, w), (kh, kw), (ph, pw) = x.shape, kernel_size, padding
    reach = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out_size, stride, dilation, kernel_size)]
    x_pad = xp.full((n, c, max(reach[0], ph + h), max(reach[1], pw + w)), fill, dtype=x.dtype)
    x_pad[:, :, ph:ph + h, pw:pw + w] = x
    cols = im2col_array(x_pad, kernel_size, stride, (0, 0), dilation)  # (N, C*kh*kw, OH*OW), rows (c, p, q)
    return cols.reshape(n, c, kh * kw, *out_size), x_pad.shape


def _unwindow(dcols, pad_shape, x_shape, kernel_size, stride, padding, dilation):
    """col2im: the window gradients (N, C, kh*kw, OH, OW) added back onto the input, padding cut off."""
    n, c, k = dcols.shape[:3]
    dx = col2im_array(dcols.reshape(n, c * k, -1), pad_shape[2:], kernel_size, stride, (0, 0), dilation)
    (ph, pw), (h, w) = padding, x_shape[2:]
    return dx[:, :, ph:ph + h, pw:pw + w]


class MaxPool2d(Function):
    """y[n, c, i, j] = the maximum of window (i, j) of x (padding counts as -inf).

    Shape: x (N, C, H, W) -> (N, C, OH, OW). With cols (N, C, kh*kw, OH, OW) the windows:
    ``y = max(cols)`` over the window axis; dx = col2im(dY at each window's first maximum in
    row-major order, 0 elsewhere), as PyTorch's CPU kernel sends it.
    """

    def forward(self, x, *, kernel_size, stride, padding, dilation, ceil_mode):
        out_size = _out_size(x, kernel_size, stride, padding, dilation, ceil_mode)
        cols, self.pad_shape = _windows(x, kernel_size, stride, padding, dilation, out_size, -xp.inf)
        self.first_max = cols.argmax(axis=2)  # (N, C, OH, OW): which element of each window
        self.geometry = (x.shape, kernel_size, stride, padding, dilation)
        return cols.max(axis=2)

    def backward(self, g):
        x_shape, kernel_size = self.geometry[:2]
        window = xp.arange(kernel_size[0] * kernel_size[1])[:, None, None]  # (kh*kw, 1, 1)
        dcols = (window == self.first_max[:, :, None]) * g[:, :, None]  # (N, C, kh*kw, OH, OW)
        return (_unwindow(dcols, self.pad_shape, x_shape, *self.geometry[1:]),)


class AvgPool2d(Function):
    """y[n, c, i, j] = the sum of window (i, j) of x / its divisor (zero padding).

    Shape: x (N, C, H, W) -> (N, C, OH, OW). divisor: the window's size clipped to the padded
    input when ``count_include_pad``, else the number of real input elements in it;
    ``divisor_override`` replaces both. dx = col2im(dY / divisor, spread over each window).
    """

    def forward(self, x, *, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        out_size = _out_size(x, kernel_size, stride, padding, (1, 1), ceil_mode)
        cols, self.pad_shape = _windows(x, kernel_size, stride, padding, (1, 1), out_size, 0)
        if divisor_override:
            inv = xp.asarray(1.0 / divisor_override, dtype=x.dtype)
        else:
            dh, dw = (avg_divisor(x.shape[2 + i], kernel_size[i], stride[i], padding[i], out_size[i],
                                  count_include_pad) for i in (0, 1))
            inv = (1.0 / (dh[:, None] * dw[None, :])).astype(x.dtype)  # (OH, OW)
        self.inv, self.geometry = inv, (x.shape, kernel_size, stride, padding, (1, 1))
        return cols.sum(axis=2) * inv

    def backward(self, g):
        per_window = (g * self.inv)[:, :, None]  # (N, C, 1, OH, OW)
        k = self.geometry[1][0] * self.geometry[1][1]
        dcols = xp.broadcast_to(per_window, per_window.shape[:2] + (k,) + per_window.shape[3:])
        return (_unwindow(dcols, self.pad_shape, *self.geometry),)


def max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Max-pooling primitive on validated pairs (see ``nnbasics.functional.max_pool2d``)."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                           ceil_mode=bool(ceil_mode))


def avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """Average-pooling primitive on validated pairs (see ``nnbasics.functional.avg_pool2d``)."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                           count_include_pad=bool(count_include_pad), divisor_override=divisor_override)
