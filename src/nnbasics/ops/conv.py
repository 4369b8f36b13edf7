"""Convolution primitives: 2-D convolution (1-D is a 2-D one of height 1) and im2col / col2im.

**Convolution is a matrix product.** Cut every receptive field of the (zero-padded) input
out as one column — the *im2col* matrix, one column per output position, ``C * kh * kw``
rows — and a convolution with ``O`` filters is one matrix product with the (O, C*kh*kw)
weight matrix::

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, c, i*sh + p*dh, j*sw + q*dw]
    Y (O, L) = W2 (O, K) @ cols (K, L)    per image,  L = OH*OW,  K = C*kh*kw

and its gradients are two more products and col2im, im2col's adjoint::

    dW2   = sum over images of dY @ cols^T    (O, K)
    dcols = W2^T @ dY                         (K, L)   then col2im: add every column back onto
                                                       the window it came from -> dx
    db    = dY summed over images and positions (O,)

:class:`Conv2d` is exactly that (the reference). The kernel registered for it
(:mod:`nnbasics.kernels.conv`) computes the same sums faster: in blocks that stay in cache,
channels-last, on several threads, without storing the whole im2col matrix.
"""

from __future__ import annotations

from .._validate import pair
from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor
from .util import as_operand

__all__ = ["col2im", "col2im_array", "conv2d", "conv_output_size", "im2col", "im2col_array"]

_as_strided = xp.lib.stride_tricks.as_strided


def conv_output_size(size: int, kernel: int, stride: int = 1, pad_total: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis.

    ``floor((size + pad_total - dilation * (kernel - 1) - 1) / stride) + 1`` where ``pad_total``
    is the padding added on both sides together.
    """
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


# ------------------------------------------------------------- im2col / col2im
def im2col_array(x, kernel_size, stride, padding, dilation):
    """Every (kh, kw) window of ``x`` as one column: (N, C, H, W) -> (N, C*kh*kw, OH*OW).

    Row ``c*kh*kw + p*kw + q`` of column ``i*OW + j`` holds ``x_pad[n, c, i*sh + p*dh, j*sw + q*dw]``
    (torch's ``unfold`` order). The windows are a strided view of the padded input, copied once.
    """
    n, c, h, w = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    oh = conv_output_size(h, kh, sh, 2 * ph, dh)
    ow = conv_output_size(w, kw, sw, 2 * pw, dw)
    if ph or pw:
        xp_ = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        xp_[:, :, ph:ph + h, pw:pw + w] = x
    else:
        xp_ = x
    s0, s1, s2, s3 = xp_.strides
    win = _as_strided(xp_, (n, c, kh, kw, oh, ow), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw), writeable=False)
    return xp.ascontiguousarray(win).reshape(n, c * kh * kw, oh * ow)


def col2im_array(cols, output_size, kernel_size, stride, padding, dilation):
    """The adjoint of :func:`im2col_array`: (N, C*kh*kw, L) -> (N, C, H, W), each column added
    back onto the window it came from, overlaps summed (torch's ``fold``); one strided
    slice-add per kernel offset (p, q)."""
    h, w = output_size
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    oh = conv_output_size(h, kh, sh, 2 * ph, dh)
    ow = conv_output_size(w, kw, sw, 2 * pw, dw)
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    c6 = cols.reshape(n, c, kh, kw, oh, ow)
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    he, we = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + he:sh, j * dw:j * dw + we:sw] += c6[:, :, i, j]
    return out[:, :, ph:ph + h, pw:pw + w]


# ------------------------------------------------------------------- the primitive
class Conv2d(Function):
    """y = conv2d(x, w) + b (cross-correlation, as in PyTorch), as im2col and one matrix product.

    Shape: x (N, C, H, W), w (O, C/G, kh, kw), b (O,) -> y (N, O, OH, OW) with G = groups and
    OH = floor((H + pt + pb - dh*(kh-1) - 1) / sh) + 1 (likewise OW).
    Params: stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw), groups.

    With L = OH*OW windows and K = C/G*kh*kw values per window and group g::

        cols = im2col(x_pad)            (N, G, K, L)
        Y    = W_g @ cols + b           (N, G, O/G, L)     W_g (O/G, K)
        dW_g = sum_n dY @ cols^T        (O/G, K)
        dx   = col2im(W_g^T @ dY)       (N, C, H, W)       overlapping windows add up
        db   = sum of dY over N, OH, OW (O,)
    """

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups):
        pt, pb, pl, pr = padding
        x_pad = xp.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))  # zeros; more on one side for 'same'
        cols = im2col_array(x_pad, w.shape[2:], stride, (0, 0), dilation)  # (N, C*kh*kw, L)
        n, _, length = cols.shape
        self.cols = cols.reshape(n, groups, -1, length)  # (N, G, K, L)
        self.w2 = w.reshape(groups, -1, self.cols.shape[2])  # (G, O/G, K): rows (c, p, q) as in cols
        self.shapes, self.geometry = (x.shape, x_pad.shape, w.shape), (stride, padding, dilation)
        y = self.w2 @ self.cols  # (N, G, O/G, L)
        if b is not None:
            y += b.reshape(groups, -1, 1)
        oh, ow = (conv_output_size(x_pad.shape[2 + i], w.shape[2 + i], stride[i], 0, dilation[i]) for i in (0, 1))
        return y.reshape(n, w.shape[0], oh, ow)

    def backward(self, g):
        (x_shape, pad_shape, w_shape), (stride, padding, dilation) = self.shapes, self.geometry
        n, groups, _, length = self.cols.shape
        dy = g.reshape(n, groups, -1, length)  # (N, G, O/G, L)
        gx = gw = None
        if self.needs_grad[0]:
            dcols = self.w2.swapaxes(1, 2) @ dy  # (N, G, K, L)
            dx_pad = col2im_array(dcols.reshape(n, -1, length), pad_shape[2:], w_shape[2:], stride, (0, 0), dilation)
            pt, pl = padding[0], padding[2]
            gx = dx_pad[:, :, pt:pt + x_shape[2], pl:pl + x_shape[3]]
        if self.needs_grad[1]:
            gw = (dy @ self.cols.swapaxes(2, 3)).sum(axis=0).reshape(w_shape)  # sum over images of dY cols^T
        if len(self.needs_grad) == 2:
            return gx, gw
        return gx, gw, (g.sum(axis=(0, 2, 3)) if self.needs_grad[2] else None)


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1) -> Tensor:
    """The convolution primitive on already-validated arguments (see ``nnbasics.functional.conv2d``).

    Args:
        x: (N, C, H, W) Tensor.
        weight: (O, C/groups, kh, kw) Tensor.
        bias: (O,) Tensor or None.
        stride: (sh, sw); padding: (top, bottom, left, right); dilation: (dh, dw); groups: int.

    Returns:
        Tensor (N, O, OH, OW).
    """
    params = {"stride": tuple(stride), "padding": tuple(padding), "dilation": tuple(dilation), "groups": int(groups)}
    if bias is None:
        return Conv2d.apply(x, weight, **params)
    return Conv2d.apply(x, weight, bias, **params)


# ------------------------------------------------------- im2col / col2im as ops (public)
class Im2col(Function):
    """cols = im2col(x): every receptive field as one column.  Its gradient is col2im of g."""

    def forward(self, x, *, kernel_size, stride, padding, dilation):
        self.args = (x.shape[2:], kernel_size, stride, padding, dilation)
        return im2col_array(x, kernel_size, stride, padding, dilation)

    def backward(self, g):
        return (col2im_array(g, *self.args),)


class Col2im(Function):
    """x = col2im(cols): columns added back onto their windows.  Its gradient is im2col of g."""

    def forward(self, cols, *, output_size, kernel_size, stride, padding, dilation):
        self.args = (kernel_size, stride, padding, dilation)
        return col2im_array(cols, output_size, kernel_size, stride, padding, dilation)

    def backward(self, g):
        return (im2col_array(g, *self.args),)


def im2col(x, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Unfold the sliding windows of an image batch into columns (PyTorch's ``F.unfold``).

    The teaching device of "convolution is a matrix product": with ``cols = im2col(x, k)``
    a convolution is ``weight.reshape(O, -1) @ cols`` (see :mod:`nnbasics.ops.conv`).
    Built with stride tricks (a strided window view copied once into a contiguous array;
    no Python loop over pixels or images). Differentiable: its gradient is :func:`col2im`.

    Args:
        x: (N, C, H, W) Tensor or array.
        kernel_size: int or (kh, kw).
        dilation, padding, stride: int or pair, as in ``torch.nn.functional.unfold``
            (padding is zero padding on both sides).

    Shape:
        (N, C, H, W) -> (N, C*kh*kw, L), L = OH*OW; row ``c*kh*kw + p*kw + q`` holds
        ``x_pad[n, c, i*sh + p*dh, j*sw + q*dw]`` in column ``i*OW + j``.

    Returns:
        Tensor of x's dtype.

    Example:
        >>> import nnbasics as nb
        >>> im2col(nb.arange(16.0).reshape(1, 1, 4, 4), 3).shape
        (1, 9, 4)
    """
    x = as_operand(x)
    if x.ndim != 4:
        raise ValueError(f"im2col: expected input (N, C, H, W); got shape {tuple(x.shape)}.")
    k = pair(kernel_size, "im2col: kernel_size")
    d = pair(dilation, "im2col: dilation")
    p = pair(padding, "im2col: padding", low=0)
    s = pair(stride, "im2col: stride")
    h, w = x.shape[2:]
    if h + 2 * p[0] < d[0] * (k[0] - 1) + 1 or w + 2 * p[1] < d[1] * (k[1] - 1) + 1:
        raise ValueError(
            f"im2col: expected an image at least as large as the dilated kernel "
            f"({d[0] * (k[0] - 1) + 1}, {d[1] * (k[1] - 1) + 1}) after padding {p}; got shape {tuple(x.shape)}."
        )
    return Im2col.apply(x, kernel_size=k, stride=s, padding=p, dilation=d)


def col2im(cols, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Fold columns back into an image batch, adding overlaps (PyTorch's ``F.fold``).

    The adjoint of :func:`im2col`: ``col2im(im2col(x))`` multiplies each pixel by the number
    of windows that cover it. Scatter-free: ``kh * kw`` strided slice-adds.

    Args:
        cols: (N, C*kh*kw, L) Tensor or array.
        output_size: (H, W) of the image.
        kernel_size, dilation, padding, stride: as for :func:`im2col`.

    Shape:
        (N, C*kh*kw, L) -> (N, C, H, W).

    Example:
        >>> import nnbasics as nb
        >>> x = nb.ones(1, 1, 3, 4)
        >>> col2im(im2col(x, 2), (3, 4), 2)[0, 0].tolist()  # windows covering each pixel
        [[1.0, 2.0, 2.0, 1.0], [2.0, 4.0, 4.0, 2.0], [1.0, 2.0, 2.0, 1.0]]
    """
    cols = as_operand(cols)
    k = pair(kernel_size, "col2im: kernel_size")
    d = pair(dilation, "col2im: dilation")
    p = pair(padding, "col2im: padding", low=0)
    s = pair(stride, "col2im: stride")
    size = pair(output_size, "col2im: output_size")
    if cols.ndim != 3 or cols.shape[1] % (k[0] * k[1]):
        raise ValueError(
            f"col2im: expected cols (N, C*{k[0]}*{k[1]}, L) for kernel {k}; got shape {tuple(cols.shape)}."
        )
    oh = conv_output_size(size[0], k[0], s[0], 2 * p[0], d[0])
    ow = conv_output_size(size[1], k[1], s[1], 2 * p[1], d[1])
    if oh < 1 or ow < 1 or cols.shape[2] != oh * ow:
        raise ValueError(
            f"col2im: expected {max(oh, 0) * max(ow, 0)} columns (L = {oh} x {ow} windows for output_size {size}, "
            f"kernel {k}, stride {s}, padding {p}, dilation {d}); got shape {tuple(cols.shape)}."
        )
    return Col2im.apply(cols, output_size=size, kernel_size=k, stride=s, padding=p, dilation=d)
