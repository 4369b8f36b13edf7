"""Pooling primitives: 2-D max and average pooling (PyTorch's semantics), scatter-free.

Both walk the ``kh * kw`` kernel offsets instead of the pixels: offset (p, q) of every
window at once is the strided slice ``x[:, :, p*dh :: sh, q*dw :: sw]`` (cut to OH x OW), so
forward is ``kh * kw`` elementwise maxima / sums over (N, C, OH, OW) arrays and backward is
``kh * kw`` strided slice-writes (slice-adds where windows overlap). No ``np.add.at``, no
argmax indices, no Python loop over pixels or images. The slices keep the input's memory
layout, so channels-last activations (what :mod:`nnbasics.ops.conv` returns) stay channels-last.

Output size (PyTorch): ``OH = floor_or_ceil((H + 2p - d*(k-1) - 1) / s) + 1``; with
``ceil_mode`` the last window must start inside the input or the left padding, else it is
dropped.
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import xp

__all__ = ["avg_pool2d", "max_pool2d", "pool_output_size"]


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


def _padded(x, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, fill):
    """x itself, or a copy with ``fill`` around it, large enough for every window."""
    n, c, h, w = x.shape
    hn = (oh - 1) * sh + dh * (kh - 1) + 1  # rows the windows reach, padding included
    wn = (ow - 1) * sw + dw * (kw - 1) + 1
    if ph == 0 and pw == 0 and hn <= h and wn <= w:
        return x
    hb, wb = max(hn, ph + h), max(wn, pw + w)
    buf = xp.empty((n, hb, wb, c), dtype=x.dtype).transpose(0, 3, 1, 2)  # channels-last, like conv outputs
    buf[...] = fill
    buf[:, :, ph:ph + h, pw:pw + w] = x
    return buf


def _offsets(kh, kw, sh, sw, dh, dw, oh, ow):
    """The (row, col) slices of every kernel offset, row-major (the order ties are broken in)."""
    he, we = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    return [(slice(i * dh, i * dh + he, sh), slice(j * dw, j * dw + we, sw)) for i in range(kh) for j in range(kw)]


class MaxPool2d(Function):
    """y[n, c, i, j] = max over the window of x (padding counts as -inf).

    The gradient goes to the first maximum of each window in row-major order, as PyTorch's
    CPU kernel sends it (ties, e.g. the zeros after a ReLU, give it to one element only).
    """

    def forward(self, x, *, kernel_size, stride, padding, dilation, ceil_mode):
        kh, kw = kernel_size
        sh, sw = stride
        ph, pw = padding
        dh, dw = dilation
        h, w = x.shape[2:]
        oh = pool_output_size(h, kh, sh, ph, dh, ceil_mode)
        ow = pool_output_size(w, kw, sw, pw, dw, ceil_mode)
        xb = _padded(x, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, -xp.inf)
        offs = _offsets(kh, kw, sh, sw, dh, dw, oh, ow)
        r0, c0 = offs[0]
        if len(offs) == 1:
            out = xb[:, :, r0, c0].copy()
        else:
            r1, c1 = offs[1]
            out = xp.maximum(xb[:, :, r0, c0], xb[:, :, r1, c1])
            for r, c in offs[2:]:
                xp.maximum(out, xb[:, :, r, c], out=out)
        if getattr(self, "needs_grad", None) is not None:
            self.saved = (xb, out, offs, x.shape, ph, pw, sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1)
        return out

    def backward(self, g):
        xb, out, offs, shape, ph, pw, disjoint = self.saved
        gb = xp.zeros_like(xb)
        taken = None
        last = len(offs) - 1
        for k, (r, c) in enumerate(offs):
            sel = xb[:, :, r, c] == out  # (N, C, OH, OW) bool
            if taken is None:
                taken = sel
            else:
                xp.greater(sel, taken, out=sel)  # sel and not taken: the first maximum wins
                if k < last:
                    xp.logical_or(taken, sel, out=taken)
            if disjoint:
                xp.multiply(g, sel, out=gb[:, :, r, c])
            else:
                gb[:, :, r, c] += g * sel
        h, w = shape[2:]
        if gb.shape[2:] != (h, w) or ph or pw:
            gb = gb[:, :, ph:ph + h, pw:pw + w]
        return (gb,)


def _avg_divisor(size, k, s, p, o, include_pad):
    """Per-window element counts along one axis (PyTorch's avg_pool2d rule)."""
    start = xp.arange(o) * s - p
    end = xp.minimum(start + k, size + p)
    full = end - start
    valid = xp.minimum(end, size) - xp.maximum(start, 0)
    return full if include_pad else valid


class AvgPool2d(Function):
    """y[n, c, i, j] = sum over the window of x / divisor (zero padding).

    divisor: the window's size clipped to the padded input when ``count_include_pad``, else the
    number of real input elements in it; ``divisor_override`` replaces both.
    dx: each window's g / divisor added back onto the window.
    """

    def forward(self, x, *, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        kh, kw = kernel_size
        sh, sw = stride
        ph, pw = padding
        h, w = x.shape[2:]
        oh = pool_output_size(h, kh, sh, ph, 1, ceil_mode)
        ow = pool_output_size(w, kw, sw, pw, 1, ceil_mode)
        xb = _padded(x, oh, ow, kh, kw, sh, sw, ph, pw, 1, 1, 0)
        offs = _offsets(kh, kw, sh, sw, 1, 1, oh, ow)
        if divisor_override:
            inv = xp.asarray(1.0 / divisor_override, dtype=x.dtype)
        else:
            dh_ = _avg_divisor(h, kh, sh, ph, oh, count_include_pad)
            dw_ = _avg_divisor(w, kw, sw, pw, ow, count_include_pad)
            inv = (1.0 / (dh_[:, None] * dw_[None, :])).astype(x.dtype)  # (OH, OW)
        r0, c0 = offs[0]
        out = xb[:, :, r0, c0] * inv if len(offs) == 1 else xb[:, :, r0, c0] + xb[:, :, offs[1][0], offs[1][1]]
        for r, c in offs[2:]:
            out += xb[:, :, r, c]
        if len(offs) > 1:
            out *= inv
        if getattr(self, "needs_grad", None) is not None:
            self.saved = (xb.shape, inv, offs, x.shape, ph, pw, sh >= kh and sw >= kw)
        return out

    def backward(self, g):
        bshape, inv, offs, shape, ph, pw, disjoint = self.saved
        gd = g * inv
        if bshape == shape:
            gb = xp.zeros(shape, dtype=g.dtype)
        else:
            gb = xp.zeros((bshape[0], bshape[2], bshape[3], bshape[1]), dtype=g.dtype).transpose(0, 3, 1, 2)
        for r, c in offs:
            if disjoint:
                gb[:, :, r, c] = gd
            else:
                gb[:, :, r, c] += gd
        h, w = shape[2:]
        if gb.shape[2:] != (h, w) or ph or pw:
            gb = gb[:, :, ph:ph + h, pw:pw + w]
        return (gb,)


def max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Max-pooling primitive on validated pairs (see ``nnbasics.functional.max_pool2d``)."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                           ceil_mode=bool(ceil_mode))


def avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """Average-pooling primitive on validated pairs (see ``nnbasics.functional.avg_pool2d``)."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                           count_include_pad=bool(count_include_pad), divisor_override=divisor_override)
