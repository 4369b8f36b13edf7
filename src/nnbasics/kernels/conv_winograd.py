"""3x3 convolutions by Winograd's F(2x2, 3x3): 2.25x fewer multiply-adds than im2col.

A 3x3 / stride-1 convolution computes each 2x2 block of outputs (a *tile*) from a 4x4 block of
the padded input ``d`` (tiles step by 2, so neighbouring input blocks overlap by 2). Winograd's
minimal filtering algorithm (Lavin & Gray, 2016) writes that as::

    Y_tile = A^T [ (G W G^T) . (B^T d B) ] A          (.: elementwise, per channel pair)

         | 1  0 -1  0 |          | 1    0    0  |
    B^T = | 0  1  1  0 |     G =  | 1/2  1/2  1/2 |     A^T = | 1  1  1  0 |
         | 0 -1  1  0 |          | 1/2 -1/2  1/2 |           | 0  1 -1 -1 |
         | 0  1  0 -1 |          | 0    0    1  |

Summed over input channels, the elementwise product becomes **16 matrix products**, one per
position (a, b) of the 4x4 transformed tile, with K = C::

    U[ab] = (G W G^T)[a, b]   (C, O)     the transformed filters (once per call)
    V[ab] = (B^T d B)[a, b]   (T, C)     the transformed input tiles, T = N * ceil(OH/2) * ceil(OW/2)
    M[ab] = V[ab] @ U[ab]     (T, O)
    y     = A^T M A + b       per tile (the 2x2 outputs)

16 products of (T, C) @ (C, O) are 16 * T * C * O multiply-adds where im2col + GEMM needs
9 * 4 * T * C * O: 2.25x fewer. The transforms are additions only (G's halves are exact).
Backward is the same algebra transposed (the gradient of a product of linear maps)::

    dM[ab] = (A dY A^T)[a, b]             (T, O)   the output gradient's tiles, transformed
    dU[ab] = sum over tiles V[ab]^T dM[ab] (C, O)   -> dW = G^T dU G
    dV[ab] = dM[ab] @ U[ab]^T             (T, C)   -> dx: B dV B^T added onto each 4x4 input block

**In NumPy** (the default) every tile transform is one matrix product too: the 16 values of a
transformed tile are fixed sums of the tile's 16 inputs, ``vec(B^T d B) = (B^T (x) B^T) vec(d)``
(a Kronecker product), so a block of images is gathered into a (16, T*C) matrix (one strided copy
from the padded channels-last input, 4 values per output where im2col copies 9) and multiplied by
the (16, 16) matrix ``B^T (x) B^T``; likewise ``A^T (x) A^T`` (4, 16) for the output and the
transposes for backward, whose input gradient is 16 strided adds of the tiles' gradients onto the
padded gradient image. **Compiled** (:mod:`nnbasics.compiled` on), the transforms are loops over
tiles (:mod:`nnbasics.kernels.winograd_loops`) that also make the 16 products as direct BLAS calls.

The images are walked in blocks whose transformed tiles stay in cache (:data:`BLOCK_BYTES`), split
across threads as the im2col kernel splits its blocks. The values are the convolution's up to
rounding, in a different order of additions than im2col's: float32 results differ from the
reference op in the last bits (~1e-6 relative; tested against it for values and gradients).

The lab CNN's second convolution (32 -> 64 channels, 14x14, batch 128), one thread, im2col ->
NumPy Winograd -> compiled: forward 10.1 -> 6.7 -> 6.1 ms, backward (input and weight gradients)
23.4 -> 13.8 -> 13.0 ms (BENCHMARKS.md, issue 19 session 7). With few channels the products' K
is small and im2col wins: :func:`worth` holds the measured thresholds, and the kernel hands the
layers below them to the im2col kernel.
"""

from __future__ import annotations

import functools
import math

from .. import compiled
from ..backend import xp
from ..dispatch import register
from ..ops import conv as ref
from . import conv, fastblas, winograd_loops, workspace
from .parallel import parallel_blas_for

#: Input channels a layer needs for the compiled blocks where its input needs a gradient; where it
#: needs none (a first layer, inference), :data:`MIN_CHANNELS_FORWARD`. Fewer: the products' K is
#: too small to pay for the transforms, and the im2col kernel runs. Measured, one thread, 3x3 / pad
#: 1, forward + backward, im2col -> Winograd ms: C 4 -> 32 channels at 32x32, batch 64: 11.3 -> 9.3
#: with the input gradient, 5.9 -> 7.1 without; C 8: 13.1 -> 11.1, 7.6 -> 8.4; C 12 forward only:
#: 5.95 -> 5.21; C 16: 19.6 -> 13.8, 12.7 -> 10.7; the lab CNN's 32 -> 64 at 14x14: 32.3 -> 19.0.
MIN_CHANNELS = 4
MIN_CHANNELS_FORWARD = 12

#: The same for the NumPy blocks, whose transforms cost more (two small-K products, strided
#: copies and adds): input and output channels both. Measured as above: 16 -> 64 at 16x16, batch
#: 64: 11.2 -> 9.7 with the input gradient, 6.3 -> 6.6 without; 16 -> 32 at 32x32: 26.0 -> 26.5;
#: 32 -> 32 at 16x16: 10.9 -> 10.3, 7.0 -> 6.7; 32 -> 64 at 14x14, batch 128: 29.5 -> 23.2,
#: 18.1 -> 15.2; 64 -> 64 at 16x16, batch 32: 18.2 -> 13.8; 12 -> 32 at 32x32: 22.3 -> 22.8.
NUMPY_MIN_CHANNELS = (16, 32)  # (in, out) where the input needs a gradient
NUMPY_MIN_CHANNELS_FORWARD = (32, 32)


def worth(c, o, input_grad, native):
    """Whether Winograd beats im2col for a layer of ``c`` -> ``o`` channels (measured thresholds
    above), with the compiled blocks (``native``) or NumPy's."""
    if native:
        return c >= (MIN_CHANNELS if input_grad else MIN_CHANNELS_FORWARD)
    lo_c, lo_o = NUMPY_MIN_CHANNELS if input_grad else NUMPY_MIN_CHANNELS_FORWARD
    return c >= lo_c and o >= lo_o


#: Bytes of one block's transformed tiles (V and M, or dM and dV): blocks of 4-16 images of the
#: lab CNN's second layer were within 4 % of each other, the whole batch at once 1.2x (forward)
#: to 1.8x (backward) slower.
BLOCK_BYTES = 2 * 2**20

_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))

#: G, B^T and A^T of the module doc.
_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))
_BT = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
_AT = ((1, 1, 1, 0), (0, 1, -1, -1))


# ------------------------------------------------------------ the filter transforms
@functools.lru_cache(maxsize=4)
def _kron_g(dtype):
    """(16, 9) Kronecker product G (x) G: ``(G w G^T)[a, b] = sum_pq G[a, p] G[b, q] w[p, q]``,
    row 4a + b, column 3p + q (one matrix product for all filters: 17 us where 2,048 batched
    4x3 products took 285, the lab CNN's second layer)."""
    g = xp.asarray(_G, dtype=dtype)
    return xp.kron(g, g)


def filter_transform(w):
    """U (16, C, O), C-contiguous: ``U[4a + b, c, o] = (G w[o, c] G^T)[a, b]`` for w (O, C, 3, 3).

    On this thread's BLAS only (:class:`~nnbasics.kernels.fastblas.one_thread`), as every product
    of the kernels outside their pieces: a product big enough for BLAS's own threads (this one is
    from 32 -> 64 channels) wakes them, and they spin for a while after it on the core the
    kernels' own threads need (a 2-thread CNN step 20-26 ms, against 18-19 with BLAS on one thread)."""
    o, c = w.shape[:2]
    with fastblas.one_thread():
        u = _kron_g(w.dtype) @ w.reshape(o * c, 9).T
    return xp.ascontiguousarray(u.reshape(16, o, c).transpose(0, 2, 1))


def filter_grad(du):
    """dW (O, C, 3, 3) from dU (16, C, O): ``dW[o, c] = G^T dU[:, c, o] G`` (U's transform, transposed;
    on this thread's BLAS only, as :func:`filter_transform`)."""
    _, c, o = du.shape
    with fastblas.one_thread():
        dw = du.reshape(16, c * o).T @ _kron_g(du.dtype)
    return xp.ascontiguousarray(dw.reshape(c, o, 3, 3).transpose(1, 0, 2, 3))


def tiling(hw, padding):
    """(OH, OW, TH, TW, pads): the output size, its tiles (ceil(OH / 2), ceil(OW / 2)), and the
    (top, bottom, left, right) padding that gives the input the tiles' 2*TH + 2 rows and
    2*TW + 2 columns (``padding``'s, plus one more row / column of zeros where OH / OW is odd)."""
    (h, w), (pt, pb, pl, pr) = hw, padding
    oh, ow = h + pt + pb - 2, w + pl + pr - 2
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    return oh, ow, th, tw, (pt, 2 * th + 2 - h - pt, pl, 2 * tw + 2 - w - pl)


def _block_images(tiles_per_image, channels, itemsize):
    """Images per block: their 16 transformed tiles of ``channels`` (C + O) values fill :data:`BLOCK_BYTES`."""
    return max(1, BLOCK_BYTES // (16 * tiles_per_image * channels * itemsize))


# ------------------------------------------------------- the blocks, in NumPy
@functools.lru_cache(maxsize=4)
def _kron(dtype):
    """(B^T (x) B^T, its transpose, A^T (x) A^T, its transpose), C-contiguous, of ``dtype``: the tile
    transforms as matrices over a tile's row-major values (16x16, 16x16, 4x16, 16x4)."""
    bt, at = xp.asarray(_BT, dtype=dtype), xp.asarray(_AT, dtype=dtype)
    kb, ka = xp.kron(bt, bt), xp.kron(at, at)
    return kb, xp.ascontiguousarray(kb.T), ka, xp.ascontiguousarray(ka.T)


def _input_tiles(xpad, th, tw):
    """Strided view (4, 4, N, TH, TW, C) of the 4x4 input blocks: ``[r, s, n, i, j] = xpad[n, 2i + r, 2j + s]``."""
    n, c = xpad.shape[0], xpad.shape[3]
    s0, s1, s2, s3 = xpad.strides
    return xp.lib.stride_tricks.as_strided(xpad, (4, 4, n, th, tw, c), (s1, s2, s0, 2 * s1, 2 * s2, s3),
                                           writeable=False)


def _take(buf, *shape):
    """The first prod(shape) values of a flat buffer, as a C-contiguous array of ``shape``."""
    return buf[:math.prod(shape)].reshape(shape)


def _numpy_forward_block(xpad, n0, n1, th, tw, u, b, y, bufs):
    """y of images n0:n1: gather the input tiles, transform, 16 products, transform back, scatter."""
    kb, _, ka, _ = _kron(y.dtype)
    nb, t, (c, o) = n1 - n0, (n1 - n0) * th * tw, u.shape[1:]
    d = _take(bufs[0], 4, 4, nb, th, tw, c)
    xp.copyto(d, _input_tiles(xpad[n0:n1], th, tw))
    v = _take(bufs[1], 16, t, c)
    xp.matmul(kb, d.reshape(16, t * c), out=v.reshape(16, t * c))  # V = (B^T (x) B^T) D
    m = _take(bufs[2], 16, t, o)
    xp.matmul(v, u, out=m)  # the 16 products
    yt = _take(bufs[3], 2, 2, nb, th, tw, o)
    xp.matmul(ka, m.reshape(16, t * o), out=yt.reshape(4, t * o))  # (A^T (x) A^T) M
    if b is not None:
        yt += b
    _scatter_outputs(yt, y[n0:n1])


def _scatter_outputs(yt, y):
    """y[n, 2i + r, 2j + s] = yt[r, s, n, i, j] (rows and columns past y's edge dropped)."""
    for r in range(2):
        for s in range(2):
            dst = y[:, r::2, s::2]
            dst[...] = yt[r, s, :, :dst.shape[1], :dst.shape[2]]


def _gather_grad(g4, gt):
    """gt[r, s, n, i, j] = dY[n, 2i + r, 2j + s] (0 past dY's edge)."""
    for r in range(2):
        for s in range(2):
            src = g4[:, r::2, s::2]
            dst = gt[r, s]
            dst[:, :src.shape[1], :src.shape[2]] = src
            dst[:, src.shape[1]:] = 0
            dst[:, :, src.shape[2]:] = 0


def _numpy_backward_block(xpad, g4, n0, n1, th, tw, u, du, dxp, bufs):
    """Images n0:n1 of backward: ``du += V^T dM`` (where ``du`` has rows), and B dV B^T added onto
    ``dxp``'s 4x4 blocks (where it has images)."""
    kb, kbt, _, kat = _kron(g4.dtype)
    nb, t, (c, o) = n1 - n0, (n1 - n0) * th * tw, u.shape[1:]
    gt = _take(bufs[3], 2, 2, nb, th, tw, o)
    _gather_grad(g4[n0:n1], gt)
    dm = _take(bufs[2], 16, t, o)
    xp.matmul(kat, gt.reshape(4, t * o), out=dm.reshape(16, t * o))  # dM = (A (x) A) dY
    d = _take(bufs[0], 4, 4, nb, th, tw, c)
    if du.shape[1]:
        xp.copyto(d, _input_tiles(xpad[n0:n1], th, tw))
        v = _take(bufs[1], 16, t, c)
        xp.matmul(kb, d.reshape(16, t * c), out=v.reshape(16, t * c))
        du += xp.matmul(v.transpose(0, 2, 1), dm)
    if dxp.shape[0]:
        dv = _take(bufs[1], 16, t, c)
        xp.matmul(dm, u.transpose(0, 2, 1), out=dv)  # dV = dM U^T
        xp.matmul(kbt, dv.reshape(16, t * c), out=d.reshape(16, t * c))  # (B (x) B) dV
        blk = dxp[n0:n1]
        for r in range(4):
            for s in range(4):
                blk[:, r:r + 2 * th:2, s:s + 2 * tw:2] += d[r, s]


def _numpy_buffers(rows, c, o, dtype):
    """Flat workspace buffers of one part's blocks: tiles (16 x rows x C) twice, (16 x rows x O), (4 x rows x O)."""
    return [workspace.empty((16 * rows * c,), dtype), workspace.empty((16 * rows * c,), dtype),
            workspace.empty((16 * rows * o,), dtype), workspace.empty((4 * rows * o,), dtype)]


# -------------------------------------------------------------- forward, backward
def _compiled_here(dtype):
    """True where the compiled blocks run: the switch is on and the kernels call BLAS directly."""
    return compiled.is_compiled() and fastblas.raw(dtype) is not None


def forward(x, w, b, padding):
    """y (N, OH, OW, O) channels-last = conv2d(x, w, b) with ``padding`` (top, bottom, left, right),
    stride 1; also the padded input and U (what backward needs).

    Shapes: x (N, C, H, W) (any memory layout), w (O, C, 3, 3), b (O,) or None."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    oh, ow, th, tw, pads = tiling((h, wd), padding)
    xpad = conv.pad_nhwc(x, *pads)  # (N, 2*TH + 2, 2*TW + 2, C)
    u = filter_transform(w)
    y = workspace.empty((n, oh, ow, o), x.dtype)
    bias = None if b is None else xp.ascontiguousarray(b)
    per = _block_images(th * tw, c + o, x.dtype.itemsize)
    native = _compiled_here(x.dtype)
    if native:
        block, _, gemms = winograd_loops.blocks()
        gemm = gemms[x.dtype]
        bias = xp.zeros(o, x.dtype) if bias is None else bias

    def part(lo, hi):  # images lo:hi (split across threads by parallel_blas_for)
        rows = min(per, hi - lo) * th * tw
        if not native:
            bufs = _numpy_buffers(rows, c, o, x.dtype)
            for n0 in range(lo, hi, per):
                _numpy_forward_block(xpad, n0, min(hi, n0 + per), th, tw, u, bias, y, bufs)
            return
        v, m = workspace.empty((16, rows, c), x.dtype), workspace.empty((16, rows, o), x.dtype)
        with fastblas.one_thread():
            for n0 in range(lo, hi, per):
                block(xpad, n0, min(hi, n0 + per), th, tw, u, bias, y, v, m, gemm)

    parallel_blas_for(n, part, elements=y.size, key=("winograd forward", xpad.shape[1:], u.shape, native))
    return y, xpad, u


def backward(g, xpad, u, need_x, need_w, pad_shape):
    """(dxpad, dW): the padded input's gradient (N, Hp, Wp, C) channels-last (None unless
    ``need_x``) and the filters' (O, C, 3, 3) (None unless ``need_w``), from g (N, O, OH, OW)
    (any memory layout; channels-last is the fast one), :func:`forward`'s ``xpad`` (needed
    for dW only) and ``u``; ``pad_shape``: xpad's shape."""
    n = g.shape[0]
    _, c, o = u.shape
    g4 = g.transpose(0, 2, 3, 1)  # (N, OH, OW, O): a C-contiguous view where g is channels-last
    th, tw = (g.shape[2] + 1) // 2, (g.shape[3] + 1) // 2
    dt = g.dtype
    dxp = workspace.empty(pad_shape, dt) if need_x else xp.empty((0, 1, 1, 1), dt)
    xin = xpad if need_w else xp.empty((0, 1, 1, 1), dt)
    per = _block_images(th * tw, c + o, dt.itemsize)
    native = _compiled_here(dt)
    if native:
        _, block, gemms = winograd_loops.blocks()
        gemm = gemms[dt]
    parts = {}

    def part(lo, hi):  # images lo:hi (split across threads by parallel_blas_for); partial dU summed in order
        rows = min(per, hi - lo) * th * tw
        du = xp.zeros((16, c, o) if need_w else (16, 0, 0), dt)
        if need_x:
            dxp[lo:hi].fill(0)
        parts[lo] = du
        if not native:
            bufs = _numpy_buffers(rows, c, o, dt)
            for n0 in range(lo, hi, per):
                _numpy_backward_block(xin, g4, n0, min(hi, n0 + per), th, tw, u, du, dxp, bufs)
            return
        v = workspace.empty((16, rows if need_w else 0, c), dt)
        dv = workspace.empty((16, rows if need_x else 0, c), dt)
        dm = workspace.empty((16, rows, o), dt)
        with fastblas.one_thread():
            for n0 in range(lo, hi, per):
                block(xin, g4, n0, min(hi, n0 + per), th, tw, u, du, dxp, v, dm, dv, dt.type(0), gemm)

    parallel_blas_for(n, part, elements=dxp.size + g.size,
                      key=("winograd backward", pad_shape[1:], u.shape, need_x, need_w, native))
    return (dxp if need_x else None), (filter_grad(conv.sum_in_order(parts)) if need_w else None)


# ------------------------------------------------------------------- the kernel
def _takes(x, w, b=None, *, stride, padding, dilation, groups):
    """A float32/64 3x3 convolution with stride 1, no dilation, one group, at least
    :data:`MIN_CHANNELS` input channels and a non-empty output, every array of one dtype."""
    return (x.ndim == 4 and x.dtype in _DTYPES and w.dtype == x.dtype
            and (b is None or b.dtype == x.dtype) and w.shape[2:] == (3, 3) and groups == 1
            and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and x.shape[1] >= MIN_CHANNELS
            and x.shape[0] > 0 and w.shape[0] > 0
            and min(tiling(x.shape[2:], padding)[:2]) > 0)


@register(ref.Conv2d, when=_takes, first=True)
class Conv2d(conv.Conv2d):
    """:class:`nnbasics.ops.conv.Conv2d` for 3x3 / stride-1 layers by Winograd's F(2x2, 3x3)
    (module doc), returning a channels-last view as the NumPy kernel does.

    Shape: x (N, C, H, W), w (O, C, 3, 3), b (O,) -> y (N, O, H + pt + pb - 2, W + pl + pr - 2).
    """

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups):
        needs = getattr(self, "needs_grad", None)
        if not worth(x.shape[1], w.shape[0], needs is not None and needs[0], _compiled_here(x.dtype)):
            self.winograd = None  # few channels: im2col is faster
            return super().forward(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        y, xpad, u = forward(x, w, b, padding)
        if needs is not None:
            self.winograd = (x.shape[2:], tuple(padding), xpad if needs[1] else None, xpad.shape, u)
        return y.transpose(0, 3, 1, 2)  # a view: (N, O, OH, OW), channels-last memory

    def backward(self, g):
        if self.winograd is None:
            return super().backward(g)
        needs = self.needs_grad
        (h, wd), (pt, _pb, pl, _pr), xpad, pad_shape, u = self.winograd
        gx = gw = gb = None
        if needs[0] or needs[1]:
            dxp, gw = backward(g, xpad, u, needs[0], needs[1], pad_shape)
            if needs[0]:
                gx = dxp[:, pt:pt + h, pl:pl + wd].transpose(0, 3, 1, 2)  # (N, C, H, W) view
        if len(needs) == 3 and needs[2]:
            gb = conv.bias_grad(g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1]))  # free where g is channels-last
        return (gx, gw, gb) if len(needs) == 3 else (gx, gw)
