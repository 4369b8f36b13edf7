"""The fast 2-D convolution: blocked im2col + GEMM, channels-last, threads, reused buffers.

**Convolution is a matrix product.** Cut every receptive field of the (zero-padded) input
out as one row — the *im2col* matrix, one row per output position, ``C * kh * kw`` columns —
and a convolution with ``O`` filters is one GEMM with the (O, C*kh*kw) weight matrix::

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, c, i*sh + p*dh, j*sw + q*dw]
    Y (M, O) = cols (M, K) @ W2^T (K, O),   M = N*OH*OW,  K = C*kh*kw

and its gradients are two more GEMMs::

    dW2 = dY^T @ cols        (O, K)     the weight gradient
    dcols = dY @ W2           (M, K)    then col2im: add every row back onto the window it
                                        came from -> dx (overlapping windows sum; computed
                                        without dcols, see below)
    db = dY summed over M     (O,)

The reference (:class:`nnbasics.ops.conv.Conv2d`) computes exactly that with one im2col
matrix, one batched matrix product and col2im. This kernel computes the same sums (in another
order) faster; how (chosen by measurement on a 2-core AMD EPYC with OpenBLAS; see
BENCHMARKS.md, "CNN training step"):

* The padded input is copied once into a channels-last (N, Hp, Wp, C) buffer; the windows are
  a strided view of it (``as_strided``, no copy), and the im2col rows are a contiguous copy
  of that view with K ordered (kh, kw, C), so the copy moves runs of ``kw * C`` contiguous floats.
  With one input channel the matrix is built transposed (K, M): its rows are runs of ``OW``.
* With C > 1 (one group) the im2col matrix is never stored whole: the images are walked in
  blocks of ~2 MiB of im2col rows, each block copied and multiplied while it is still in
  cache (forward ``Y_blk = cols_blk @ W2^T + b``; backward rebuilds the blocks from the saved
  padded input for ``dW2^T += cols_blk^T @ dY_blk``).
* The output of the GEMM is (N*OH*OW, O): channels-last. It is returned as a transposed *view*
  with the logical shape (N, O, OH, OW) — no copy. ReLU and pooling keep that memory layout,
  and the gradient arriving at the next backward is then channels-last as well, so
  ``dY`` (M, O) is again a free reshape.
* The input gradient never builds the (M, K) column gradient. With stride 1 it is itself a
  convolution — of dY, zero-padded by ``dilation * (k - 1) - padding``, with the kernel flipped
  in both axes and its in/out channels swapped — done as blocked im2col + GEMM straight into
  the unpadded gradient. Otherwise it is one GEMM per kernel offset,
  ``dY (rows, O) @ W[:, :, p, q] (O, C)``, added onto the shifted slice of the padded
  gradient image, in blocks of images so each product is added while still in cache — the
  per-kernel-position form of col2im. Both are scatter-free: no ``np.add.at``, no Python loop
  over pixels.
* On several threads (:mod:`nnbasics.kernels.parallel`) the blocked loops split the images into
  one chunk per thread, each running single-threaded GEMMs on its own blocks (better than
  two-threaded GEMMs on small blocks); the padding copy is split the same way.
* Every large array (padded input, im2col blocks, output, input gradient) comes from
  :mod:`nnbasics.kernels.workspace`, which reuses arrays nobody holds any more: freshly mapped
  memory page-faults on first touch, and that was a fifth of the lab CNN's training step.
* Backward skips what nobody needs (``needs_grad``): the first layer's input gradient, the
  saved input when the weight needs no gradient.

Groups split the channels into ``groups`` independent convolutions (one GEMM each; depthwise is
``groups == C``).
"""

from __future__ import annotations

from ..backend import xp
from ..dispatch import register
from ..ops import conv as ref
from ..ops.conv import conv_output_size
from . import fastblas, workspace
from .parallel import parallel_blas_for, parallel_for

_as_strided = xp.lib.stride_tricks.as_strided


# ----------------------------------------------------------------- array helpers
def pad_nhwc(x, pt, pb, pl, pr):
    """(N, C, H, W) array (any memory layout) -> zero-padded channels-last (N, Hp, Wp, C) copy."""
    n, c, h, w = x.shape
    out = workspace.empty((n, h + pt + pb, w + pl + pr, c), x.dtype)

    def part(lo, hi):  # images lo:hi (split across threads by parallel_for)
        o = out[lo:hi]
        if pt:
            o[:, :pt] = 0
        if pb:
            o[:, h + pt:] = 0
        if pl:
            o[:, pt:pt + h, :pl] = 0
        if pr:
            o[:, pt:pt + h, w + pl:] = 0
        o[:, pt:pt + h, pl:pl + w] = x[lo:hi].transpose(0, 2, 3, 1)

    parallel_for(n, part, elements=out.size)
    return out


def _windows_rows(xp_, kh, kw, sh, sw, dh, dw, oh, ow):
    """Strided view (N, OH, OW, kh, kw, C) of the receptive fields of a (N, Hp, Wp, C) array."""
    s0, s1, s2, s3 = xp_.strides
    n, c = xp_.shape[0], xp_.shape[3]
    return _as_strided(xp_, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


def _windows_kmajor(xp_, kh, kw, sh, sw, dh, dw, oh, ow):
    """Strided view (kh, kw, C, N, OH, OW) of the receptive fields of a (N, Hp, Wp, C) array."""
    s0, s1, s2, s3 = xp_.strides
    n, c = xp_.shape[0], xp_.shape[3]
    return _as_strided(xp_, (kh, kw, c, n, oh, ow), (s1 * dh, s2 * dw, s3, s0, s1 * sh, s2 * sw), writeable=False)


def _contiguous(view, shape):
    """A C-contiguous copy of ``view`` in a workspace array, reshaped to ``shape``."""
    out = workspace.empty(view.shape, view.dtype)
    xp.copyto(out, view)
    return out.reshape(shape)


#: Rows of dY per block of the input-gradient GEMMs: a block's (rows, C) product stays in
#: the core's L2 cache until it has been added onto the gradient image (measured, see
#: ``_input_grad``).
_GX_BLOCK_BYTES = 256 * 2**10


def _input_grad(g2, w_pos, shape_pad, kh, kw, sh, sw, dh, dw, oh, ow):
    """dx_pad (N, Hp, Wp, C) of a convolution: one GEMM per kernel offset, added in place.

    ``dx_pad[n, i*sh + p*dh, j*sw + q*dw, :] += dY[n, i, j, :] @ W[:, :, p, q]`` for every offset
    (p, q): the column gradient ``dY W2`` of im2col is never built, so col2im's strided adds
    of (M, kh*kw*C) become ``kh*kw`` contiguous (rows, C) products added onto slices, and
    the images are walked in blocks so that each product is still in cache when it is added
    (2x faster than GEMM + col2im for the lab CNN's second layer).

    Args:
        g2: dY as (N*OH*OW, O).
        w_pos: (kh, kw, O, C) weights, C-contiguous.
    """
    n, _, _, c = shape_pad
    out = workspace.empty(shape_pad, g2.dtype)
    out.fill(0)
    he, we = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    per_image = oh * ow
    nb = max(1, min(n, _GX_BLOCK_BYTES // max(1, per_image * c * g2.dtype.itemsize)))
    tmp_full = workspace.empty((nb * per_image, c), g2.dtype)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        gg = g2[n0 * per_image:n1 * per_image]
        tmp = tmp_full[:gg.shape[0]]
        blk = out[n0:n1]
        t4 = tmp.reshape(n1 - n0, oh, ow, c)
        for p in range(kh):
            for q in range(kw):
                fastblas.matmul(gg, w_pos[p, q], out=tmp)
                blk[:, p * dh:p * dh + he:sh, q * dw:q * dw + we:sw] += t4
    return out


#: Bytes of the im2col block of :func:`_input_grad_as_conv` (measured: 2-4 MiB blocks are
#: 7 % faster than one matrix for the whole batch, which is 50 % slower).
_GXC_BLOCK_BYTES = 3 * 2**20


def _input_grad_as_conv(g, w_flip, x_hw, kh, kw, dh, dw, pt, pb, pl, pr):
    """dx (N, H, W, C) of a stride-1 convolution, as a convolution of dY with the flipped kernel.

    ``dx[n, i, j, :] = sum_{p, q} dY_pad[n, i + p*dh, j + q*dw, :] @ W[:, :, kh-1-p, kw-1-q]``
    with dY zero-padded by ``dh*(kh-1) - pt`` on top (likewise the other sides): one im2col
    + GEMM (K = kh*kw*O) per block of images, written straight into the unpadded gradient:
    no zero-filled padded gradient, no slice-adds (lab CNN second layer: 13.9 -> 13.0 ms,
    1 thread; the GEMMs alone are 10.0 ms).

    Args:
        g: dY (N, O, OH, OW), any memory layout.
        w_flip: (kh*kw*O, C) flipped weights, rows ordered (p, q, o).
        x_hw: (H, W) of the input.
    """
    n = g.shape[0]
    h, w = x_hw
    c = w_flip.shape[1]
    gpad = pad_nhwc(g, dh * (kh - 1) - pt, dh * (kh - 1) - pb, dw * (kw - 1) - pl, dw * (kw - 1) - pr)
    k = w_flip.shape[0]
    per_image = h * w
    out = workspace.empty((n * per_image, c), g.dtype)

    def part(lo, hi):  # images lo:hi (split across threads by parallel_blas_for)
        nb = max(1, min(hi - lo, _GXC_BLOCK_BYTES // max(1, per_image * k * g.dtype.itemsize)))
        buf = workspace.empty((nb * per_image, k), g.dtype)
        for n0 in range(lo, hi, nb):
            n1 = min(hi, n0 + nb)
            view = _windows_rows(gpad[n0:n1], kh, kw, 1, 1, dh, dw, h, w)
            cols = buf[:(n1 - n0) * per_image]
            xp.copyto(cols.reshape(view.shape), view)
            fastblas.matmul(cols, w_flip, out=out[n0 * per_image:n1 * per_image])

    parallel_blas_for(n, part, elements=out.size, key=("conv input grad", gpad.shape[1:], w_flip.shape))
    return out.reshape(n, h, w, c)


def _as_conv_ok(stride, padding, dilation, groups, kernel):
    """Whether the input gradient can be :func:`_input_grad_as_conv` (stride 1, padding <= reach)."""
    (kh, kw), (dh, dw), (pt, pb, pl, pr) = kernel, dilation, padding
    return (groups == 1 and tuple(stride) == (1, 1) and max(pt, pb) <= dh * (kh - 1)
            and max(pl, pr) <= dw * (kw - 1))


#: Bytes of the im2col block of :func:`_forward_blocked` / :func:`_weight_grad_blocked`: the
#: block is still in cache when its GEMM reads it (measured on the lab CNN's second layer,
#: 1 thread: forward 16.0 -> 11.4 ms, weight gradient 14.6 -> 12.4 ms against whole-batch
#: matrices; blocks of 4 to 16 images are all within 5 %).
_ROWS_BLOCK_BYTES = 2 * 2**20


def _rows_block(n, per_image, k, itemsize):
    return max(1, min(n, _ROWS_BLOCK_BYTES // max(1, per_image * k * itemsize)))


def _forward_blocked(xpad, wk_t, b, y, win):
    """:func:`_forward_blocks` with the images split across threads (:func:`parallel_blas_for`)."""
    per_image = win[6] * win[7]

    def part(lo, hi):
        _forward_blocks(xpad[lo:hi], wk_t, b, y[lo * per_image:hi * per_image], win)

    parallel_blas_for(xpad.shape[0], part, elements=y.size, key=("conv forward", xpad.shape[1:], wk_t.shape))
    return y


def _forward_blocks(xpad, wk_t, b, y, win):
    """y (N*OH*OW, O) = im2col(xpad) @ W2^T (+ b), one block of images at a time.

    The (rows, K) im2col block is built in a reused buffer and multiplied while still in
    cache; the whole (M, K) matrix is never stored (backward rebuilds the blocks from
    ``xpad`` for the weight gradient, :func:`_weight_grad_blocked`).
    """
    kh, kw, _sh, _sw, _dh, _dw, oh, ow = win
    n, c = xpad.shape[0], xpad.shape[3]
    per_image = oh * ow
    k = kh * kw * c
    nb = _rows_block(n, per_image, k, xpad.dtype.itemsize)
    buf = workspace.empty((nb * per_image, k), xpad.dtype)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        view = _windows_rows(xpad[n0:n1], *win)
        cols = buf[:(n1 - n0) * per_image]
        xp.copyto(cols.reshape(view.shape), view)
        yb = y[n0 * per_image:n1 * per_image]
        fastblas.matmul(cols, wk_t, out=yb)
        if b is not None:
            yb += b
    return y


def _forward_one_channel(xpad, wk, b, y, win):
    """y (M, O) = [im2col(xpad) | 1] @ [W2 | b]^T for one input channel; returns the (K + 1, M) matrix.

    One channel: the (K, M) rows are runs of OW, far cheaper to copy than rows of kw; a row of
    ones carries the bias through the GEMM (and gives db in backward's GEMM).
    """
    kh, kw, _sh, _sw, _dh, _dw, oh, ow = win
    n, m, o = xpad.shape[0], y.shape[0], wk.shape[0]
    cols = workspace.empty((kh * kw + 1, m), xpad.dtype)
    wb = xp.concatenate([wk, b.reshape(o, 1)], axis=1).T
    win_k = _windows_kmajor(xpad, *win)
    per_image = oh * ow

    def part(lo, hi):  # images lo:hi (split across threads, one BLAS thread each)
        c_ = cols[:, lo * per_image:hi * per_image]
        xp.copyto(c_[:kh * kw].reshape(kh, kw, 1, hi - lo, oh, ow), win_k[:, :, :, lo:hi])
        c_[kh * kw] = 1
        fastblas.matmul(c_.T, wb, out=y[lo * per_image:hi * per_image])

    parallel_blas_for(n, part, elements=y.size, key=("conv forward, one channel", xpad.shape[1:], wk.shape))
    return cols


def _weight_grad_blocked(xpad, g2, win):
    """:func:`_weight_grad_blocks` with the images split across threads (partial sums added)."""
    per_image = win[6] * win[7]
    parts = {}

    def part(lo, hi):
        parts[lo] = _weight_grad_blocks(xpad[lo:hi], g2[lo * per_image:hi * per_image], win)

    parallel_blas_for(xpad.shape[0], part, elements=g2.size, key=("conv weight grad", xpad.shape[1:], g2.shape[1]))
    return sum_in_order(parts)


def _weight_grad_blocks(xpad, g2, win):
    """dW2 (K, O) = sum over blocks of im2col(xpad)_blk^T @ dY_blk, K ordered (kh, kw, C)."""
    kh, kw, _sh, _sw, _dh, _dw, oh, ow = win
    n, c = xpad.shape[0], xpad.shape[3]
    per_image = oh * ow
    k = kh * kw * c
    nb = _rows_block(n, per_image, k, xpad.dtype.itemsize)
    buf = workspace.empty((nb * per_image, k), xpad.dtype)
    gw = xp.zeros((k, g2.shape[1]), dtype=xp.result_type(xpad.dtype, g2.dtype))
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        view = _windows_rows(xpad[n0:n1], *win)
        cols = buf[:(n1 - n0) * per_image]
        xp.copyto(cols.reshape(view.shape), view)
        # (K, O): faster than dY^T @ cols; BLAS adds each block's product into gw itself
        fastblas.matmul(cols.T, g2[n0 * per_image:n1 * per_image], out=gw, accumulate=True)
    return gw


#: Columns per block of :func:`_matmul_split_k` (measured on the lab CNN's first layer,
#: (10, 100352) @ (100352, 32), 1 thread: 2.7 ms in one GEMM, 1.7 ms in blocks of 4-64 Ki).
_SPLIT_K = 2**14


def _matmul_split_k(a, b):
    """a (P, M) @ b (M, Q) for a long M and small P, Q: a sum of GEMMs over blocks of M
    (split across threads, partial sums added)."""
    parts = {}
    m = a.shape[1]
    blocks = max(1, m // _SPLIT_K)

    def part(lo, hi):  # blocks lo:hi of M; the last chunk also takes the ragged end
        k0, k1 = lo * _SPLIT_K, m if hi == blocks else hi * _SPLIT_K
        parts[lo] = _matmul_split_k_serial(a[:, k0:k1], b[k0:k1])

    parallel_blas_for(blocks, part, elements=a.size + b.size)
    return sum_in_order(parts)


def sum_in_order(parts):
    """Sum of the partial results ``{chunk start: array}`` in chunk order (deterministic)."""
    keys = sorted(parts)
    out = parts[keys[0]]
    for k in keys[1:]:
        out += parts[k]
    return out


def _matmul_split_k_serial(a, b):
    # xp.dot, not matmul: NumPy's matmul keeps the GIL for a single small 2-D product (its
    # gufunc loop releases it only for many outer iterations), so two threads running these
    # (10, 16 Ki) @ (16 Ki, 32) blocks took turns; dot releases it around the BLAS call (2
    # threads, this op: 2.2 ms -> 1.1 ms per step, the second chunk no longer waits for the first)
    # (fastblas.matmul releases the GIL too, and adds each block's product into out itself)
    m = a.shape[1]
    if m <= 2 * _SPLIT_K:
        return _dot(a, b)
    out = _dot(a[:, :_SPLIT_K], b[:_SPLIT_K])
    for k0 in range(_SPLIT_K, m, _SPLIT_K):
        if fastblas.available():
            fastblas.matmul(a[:, k0:k0 + _SPLIT_K], b[k0:k0 + _SPLIT_K], out, accumulate=True)
        else:
            out += xp.dot(a[:, k0:k0 + _SPLIT_K], b[k0:k0 + _SPLIT_K])
    return out


def bias_grad(g2):
    """db (O,): the output gradient g2 (M, O) summed over its rows, as a GEMV with a row of ones (9x
    faster than ``g2.sum(axis=0)`` here), on this thread's BLAS."""
    with fastblas.one_thread():
        return xp.ones(g2.shape[0], dtype=g2.dtype) @ g2


def _dot(a, b):
    return fastblas.matmul(a, b) if fastblas.available() else xp.dot(a, b)


# ------------------------------------------------------------------- the kernel
@register(ref.Conv2d)
class Conv2d(ref.Conv2d):
    """:class:`nnbasics.ops.conv.Conv2d` by blocked im2col + GEMM, returning a channels-last view.

    Shape: x (N, C, H, W), w (O, C/groups, kh, kw), b (O,) -> y (N, O, OH, OW) with
    OH = floor((H + pt + pb - dh*(kh-1) - 1) / sh) + 1 (likewise OW).
    Params: stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw), groups.
    Gradients: dx = col2im(dY W2) (as one GEMM per kernel offset), dW = dY^T cols, db = sum of dY
    over N, OH, OW (see the module doc).
    """

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups):
        n, _c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        sh, sw = stride
        pt, pb, pl, pr = padding
        dh, dw = dilation
        oh = conv_output_size(h, kh, sh, pt + pb, dh)
        ow = conv_output_size(wd, kw, sw, pl + pr, dw)
        m = n * oh * ow
        og = o // groups
        xpad = pad_nhwc(x, pt, pb, pl, pr)  # (N, Hp, Wp, C)
        needs = getattr(self, "needs_grad", None)
        keep_cols = needs is not None and needs[1]
        win = (kh, kw, sh, sw, dh, dw, oh, ow)
        y = workspace.empty((m, o), xp.result_type(x.dtype, w.dtype))  # (N*OH*OW, O): channels-last
        cols_all = []
        bias_done = False
        for gi in range(groups):
            xg = xpad if groups == 1 else xpad[..., gi * cg:(gi + 1) * cg]
            wk = w[gi * og:(gi + 1) * og].transpose(0, 2, 3, 1).reshape(og, kh * kw * cg)  # (Og, K) K=(kh,kw,C)
            yg = y if groups == 1 else workspace.empty((m, og), y.dtype)
            if cg == 1 and groups == 1 and b is not None:
                cols = _forward_one_channel(xg, wk, b, yg, win)
                bias_done = True
            elif cg == 1:
                cols = _contiguous(_windows_kmajor(xg, *win), (kh * kw, m))
                fastblas.matmul(cols.T, wk.T, out=yg)
            elif groups == 1:
                _forward_blocked(xg, wk.T, b, yg, win)
                bias_done = b is not None
                cols = None  # backward rebuilds the blocks from xpad
            else:
                cols = _contiguous(_windows_rows(xg, *win), (m, kh * kw * cg))
                fastblas.matmul(cols, wk.T, out=yg)
            if groups != 1:
                y[:, gi * og:(gi + 1) * og] = yg
            cols_all.append(cols if keep_cols else None)
        if b is not None and not bias_done:
            y += b
        if needs is not None:
            self.geom = (x.shape, xpad.shape, win, groups, cg, og, w.shape, (pt, pl))
            self.padding = (pt, pb, pl, pr)
            self.bias_row = bias_done and cg == 1  # cols has a row of ones: db comes out of the weight GEMM
            self.xpad = xpad if keep_cols and groups == 1 and cg != 1 else None
            self.cols = cols_all
            # (kh, kw, O, C/groups): one (O, C) matrix per kernel offset for the input gradient
            self.w_pos = self.w_flip = None
            if needs[0] and _as_conv_ok(stride, padding, dilation, groups, (kh, kw)):
                # (kh*kw*O, C): the kernel flipped in both axes, rows (p, q, o)
                self.w_flip = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(kh * kw * o, cg)
            elif needs[0]:
                self.w_pos = xp.ascontiguousarray(w.transpose(2, 3, 0, 1))
        return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)  # a view: (N, O, OH, OW), channels-last memory

    def backward(self, g):
        needs = self.needs_grad
        (n, _c, h, wd), shape_pad, win, groups, cg, og, wshape, (pt, pl) = self.geom
        kh, kw, _sh, _sw, dh, dw, oh, ow = win
        o = wshape[0]
        m = n * oh * ow
        g2 = g.transpose(0, 2, 3, 1).reshape(m, o)  # (M, O); free when g is channels-last
        gx = gw = gb = None
        if needs[1] and self.xpad is not None:
            gwk = _weight_grad_blocked(self.xpad, g2, win)  # (K, O)
            gw = xp.ascontiguousarray(gwk.T.reshape(o, kh, kw, cg).transpose(0, 3, 1, 2))
        elif needs[1]:
            gw = xp.empty(wshape, dtype=g.dtype)
            for gi, cols in enumerate(self.cols):
                gg = g2[:, gi * og:(gi + 1) * og]
                if cg == 1:  # cols is (K, M), or (K + 1, M) with the bias row
                    gwk = _matmul_split_k(cols, gg).T  # (Og, K) or (Og, K + 1)
                    if self.bias_row:
                        gb = gwk[:, -1].copy()
                        gwk = gwk[:, :-1]
                else:
                    gwk = fastblas.matmul(gg.T, cols)  # (Og, K)
                gw[gi * og:(gi + 1) * og] = gwk.reshape(og, kh, kw, cg).transpose(0, 3, 1, 2)
        if not self.retaining:  # the im2col matrices go back to the workspace before the next allocation
            self.cols = self.xpad = None
        if len(needs) == 3 and needs[2] and gb is None:
            gb = bias_grad(g2)
        if needs[0] and self.w_flip is not None:
            gx = _input_grad_as_conv(g, self.w_flip, (h, wd), kh, kw, dh, dw, *self.padding).transpose(0, 3, 1, 2)
        elif needs[0]:
            if groups == 1:
                gpad = _input_grad(g2, self.w_pos, shape_pad, *win)
            else:
                gpad = workspace.empty(shape_pad, g.dtype)
                shp = shape_pad[:3] + (cg,)
                for gi in range(groups):
                    gg = xp.ascontiguousarray(g2[:, gi * og:(gi + 1) * og])
                    wg = self.w_pos[:, :, gi * og:(gi + 1) * og]
                    gpad[..., gi * cg:(gi + 1) * cg] = _input_grad(gg, wg, shp, *win)
            gx = gpad[:, pt:pt + h, pl:pl + wd].transpose(0, 3, 1, 2)  # (N, C, H, W) view
        if len(needs) == 3:
            return gx, gw, gb
        return gx, gw
