"""Fast pooling: kernel offsets instead of windows, a 2x2 tournament, the input's layout, threads.

Both kernels walk the ``kh * kw`` kernel offsets instead of the windows: offset (p, q) of every
window at once is the strided slice ``x[:, :, p*dh :: sh, q*dw :: sw]`` (cut to OH x OW), so
forward is ``kh * kw`` elementwise maxima / sums over (N, C, OH, OW) arrays and backward is
``kh * kw`` strided slice-writes (slice-adds where windows overlap). No window matrix, no
``np.add.at``, no argmax indices, no Python loop over pixels or images. The slices keep the
input's memory layout, so channels-last activations (what the convolution kernel returns)
stay channels-last. The common 2x2 / stride-2 max-pool is a three-match tournament whose
three boolean outcomes are all that backward needs (no equality search, no zero-filled
gradient); its arrays come from :mod:`nnbasics.kernels.workspace`, big batches are split
across threads (:mod:`nnbasics.kernels.parallel`), and a gradient arriving in another memory
layout than the input's (NCHW from a flatten + linear) is relaid out once first. Backward keeps
the input's layout, not the input (a ReLU's output can be freed after the pooling).

**ReLU -> 2x2 max-pool** (a CNN's every block): when the input is the output of the ReLU kernel
(:mod:`nnbasics.kernels.fusion`), the backward masks the small pooled gradient with ``y > 0``
(the ReLU's derivative at each window's maximum: ``relu(a) = y > 0`` exactly where ``a > 0``)
before scattering it, and the ReLU passes the result on without multiplying a full-size
gradient by its mask again (a second full-size gradient array less at the peak of the step).

The references (:mod:`nnbasics.ops.pool`) take the same maxima and sums over im2col windows.
"""

from __future__ import annotations

import weakref

from ..backend import xp
from ..dispatch import register
from ..ops import pool as ref
from ..ops.pool import avg_divisor, pool_output_size
from . import fusion, workspace
from .parallel import parallel_for


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


def channels_last(a) -> bool:
    """True for a (N, C, H, W) array whose channels are adjacent in memory (a convolution's output)."""
    return a.ndim == 4 and a.strides[1] < a.strides[3] and a.strides[1] == a.itemsize


def empty_as(shape, like, dtype=None):
    """A workspace array of ``shape`` laid out in memory as ``like`` (channels-last stays so);
    ``like`` is an array, or a bool saying whether it was channels-last (what backward keeps:
    not the input itself, which may then be freed)."""
    if not isinstance(like, bool):
        dtype = like.dtype if dtype is None else dtype
        like = channels_last(like)
    if like:
        n, c, h, w = shape
        return workspace.empty((n, h, w, c), dtype).transpose(0, 3, 1, 2)
    return workspace.empty(shape, dtype)


def _axis_order(a):
    """The axes of ``a`` from the largest stride to the smallest (its memory layout)."""
    return sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))


def _max2x2_forward(x, oh, ow):
    """2x2 windows, stride 2: the maximum and the three comparisons that locate the first one.

    A tournament in row-major order: ``a = max(x00, x01)``, ``b = max(x10, x11)``,
    ``y = max(a, b)``; ``right_a = x01 > x00``, ``right_b = x11 > x10``, ``top = a >= b``.
    Strict comparisons keep the earlier element on a tie, so the saved booleans point at the
    first maximum exactly as PyTorch's row-major scan does (ties are common: after a ReLU
    whole windows are 0).
    """
    he, we = 2 * oh, 2 * ow
    shape = (x.shape[0], x.shape[1], oh, ow)
    a, b = empty_as(shape, x), empty_as(shape, x)
    right_a, right_b, top = (empty_as(shape, x, xp.bool_) for _ in range(3))

    def part(lo, hi):  # images lo:hi (split across threads by parallel_for)
        xs = x[lo:hi]
        x00, x01 = xs[:, :, 0:he:2, 0:we:2], xs[:, :, 0:he:2, 1:we:2]
        x10, x11 = xs[:, :, 1:he:2, 0:we:2], xs[:, :, 1:he:2, 1:we:2]
        al, bl = a[lo:hi], b[lo:hi]
        xp.greater(x01, x00, out=right_a[lo:hi])
        xp.maximum(x00, x01, out=al)
        xp.greater(x11, x10, out=right_b[lo:hi])
        xp.maximum(x10, x11, out=bl)
        xp.greater_equal(al, bl, out=top[lo:hi])
        xp.maximum(al, bl, out=al)

    parallel_for(x.shape[0], part, elements=x.size)
    return a, (right_a, right_b, top)


def _max2x2_backward(g, masks, shape, like):
    """dx of :func:`_max2x2_forward`: g routed down the tournament, one product per element.

    ``like``: whether the input was channels-last (the gradient is laid out as it was)."""
    right_a, right_b, top = masks
    h, w = shape[2:]
    oh, ow = g.shape[2:]
    g_in = g
    if _axis_order(g) != _axis_order(top):
        # e.g. an NCHW gradient from a flatten + linear meeting channels-last masks: one
        # relayout copy (per chunk, so split across threads too), then every pass below is
        # over matching memory (4.5 -> 1.1 ms for the lab CNN's second pooling layer)
        g = empty_as(g.shape, like, g.dtype)
    gx = empty_as(shape, like, g.dtype)
    he, we = 2 * oh, 2 * ow
    half = empty_as(g.shape, like, g.dtype)
    inv = empty_as(g.shape, like, xp.bool_)  # the saved masks stay intact (retain_graph)

    def part(lo, hi):  # images lo:hi (split across threads by parallel_for)
        gxl, gl, hl, il = gx[lo:hi], g[lo:hi], half[lo:hi], inv[lo:hi]
        if g is not g_in:
            xp.copyto(gl, g_in[lo:hi])
        if (h, w) != (he, we):
            gxl.fill(0)  # the row / column no window reaches
        for row, m_row, right in ((0, top[lo:hi], right_a[lo:hi]), (1, None, right_b[lo:hi])):
            if m_row is None:
                m_row = xp.logical_not(top[lo:hi], out=il)
            xp.multiply(gl, m_row, out=hl)  # the windows whose maximum is in this row
            xp.multiply(hl, right, out=gxl[:, :, row:he:2, 1:we:2])
            xp.multiply(hl, xp.logical_not(right, out=il), out=gxl[:, :, row:he:2, 0:we:2])

    parallel_for(g.shape[0], part, elements=gx.size)
    return gx


@register(ref.MaxPool2d)
class MaxPool2d(ref.MaxPool2d):
    """:class:`nnbasics.ops.pool.MaxPool2d` by kernel offsets; 2x2 windows with stride 2 (the usual
    case) take a tournament that records the winner in three boolean arrays
    (:func:`_max2x2_forward`). The gradient goes to the first maximum of each window in
    row-major order, as the reference's."""

    def forward(self, x, *, kernel_size, stride, padding, dilation, ceil_mode):
        kh, kw = kernel_size
        sh, sw = stride
        ph, pw = padding
        dh, dw = dilation
        h, w = x.shape[2:]
        oh = pool_output_size(h, kh, sh, ph, dh, ceil_mode)
        ow = pool_output_size(w, kw, sw, pw, dw, ceil_mode)
        needs = self.needs_grad is not None
        if (kernel_size, stride, padding, dilation) == ((2, 2), (2, 2), (0, 0), (1, 1)) and 2 * oh <= h and 2 * ow <= w:
            out, masks = _max2x2_forward(x, oh, ow)
            if needs:
                self.saved2x2 = (masks, x.shape, channels_last(x))
                relu = fusion.producer(x)
                if getattr(relu, "fuses_into_max_pool", False) and relu.needs_grad is not None:
                    self.after_relu = (weakref.ref(relu), _positive(out))
            return out
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
        if needs:
            self.saved = (xb, out, offs, x.shape, ph, pw, sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1)
        return out

    def backward(self, g):
        if getattr(self, "saved2x2", None) is not None:
            relu = self._fused_relu()
            if relu is None:
                return (_max2x2_backward(g, *self.saved2x2),)
            gx = _max2x2_backward(_mul_mask(g, self.after_relu[1]), *self.saved2x2)
            relu.premasked = gx  # the ReLU passes this exact array on (a sum with other paths it masks)
            return (gx,)
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


    def _fused_relu(self):
        """The ReLU kernel whose output this pool took, when its gradient may be masked here: the
        input is that ReLU's output unchanged (its history and version as the ReLU left them) and
        nobody looks at its gradient (no hook, no retain_grad). Else None."""
        fused = getattr(self, "after_relu", None)
        if fused is None:
            return None
        relu, inp = fused[0](), self.inputs[0]
        if relu is None or relu.released or inp._ctx is not relu or self.versions[0] != 0 or inp._hooks \
                or inp._retains_grad:
            return None
        return relu


def _positive(y):
    """y > 0 as a bool array in y's layout (the ReLU's derivative at each window's maximum)."""
    pos = empty_as(y.shape, y, xp.bool_)
    parallel_for(y.shape[0], lambda lo, hi: xp.greater(y[lo:hi], 0, out=pos[lo:hi]), elements=y.size)
    return pos


def _mul_mask(g, mask):
    """g * mask (0 where the ReLU before the pool was 0), in the mask's layout, split across threads."""
    out = empty_as(g.shape, channels_last(mask), g.dtype)
    parallel_for(g.shape[0], lambda lo, hi: xp.multiply(g[lo:hi], mask[lo:hi], out=out[lo:hi]), elements=g.size)
    return out


@register(ref.AvgPool2d)
class AvgPool2d(ref.AvgPool2d):
    """:class:`nnbasics.ops.pool.AvgPool2d` by kernel offsets: ``kh * kw`` slice-adds each way."""

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
            dh_ = avg_divisor(h, kh, sh, ph, oh, count_include_pad)
            dw_ = avg_divisor(w, kw, sw, pw, ow, count_include_pad)
            inv = (1.0 / (dh_[:, None] * dw_[None, :])).astype(x.dtype)  # (OH, OW)
        r0, c0 = offs[0]
        out = xb[:, :, r0, c0] * inv if len(offs) == 1 else xb[:, :, r0, c0] + xb[:, :, offs[1][0], offs[1][1]]
        for r, c in offs[2:]:
            out += xb[:, :, r, c]
        if len(offs) > 1:
            out *= inv
        if self.needs_grad is not None:
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
