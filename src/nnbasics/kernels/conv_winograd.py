"""3x3 convolutions by Winograd's F(2x2, 3x3), compiled (Numba, optional): 2.25x fewer multiply-adds.

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
9 * 4 * T * C * O: 2.25x fewer. The transforms are additions only (G's halves are exact), done
by compiled loops over tiles with the channels innermost (a channels-last input: the
convolution kernel's padded copy). Backward is the same algebra transposed (the gradient of
a product of linear maps)::

    dM[ab] = (A dY A^T)[a, b]             (T, O)   the output gradient's tiles, transformed
    dU[ab] = sum over tiles V[ab]^T dM[ab] (C, O)   -> dW = G^T dU G
    dV[ab] = dM[ab] @ U[ab]^T             (T, C)   -> dx: B dV B^T added onto each 4x4 input block

The images are walked in blocks whose transformed tiles stay in cache (:data:`BLOCK_BYTES`);
each block's 16 products are direct single-threaded BLAS calls made from the compiled loop
(:func:`nnbasics.kernels.native_threads.prototypes`), and blocks of images are split across
threads as the NumPy kernel splits its im2col blocks. The values are the convolution's up to
rounding, in a different order of additions than im2col's: float32 results differ from the
reference op in the last bits (~1e-6 relative; tested against it for values and gradients).

The lab CNN's second convolution (32 -> 64 channels, 14x14, batch 128), one thread: forward
10.4 -> 6.6 ms, backward (input and weight gradients) ~20 -> 11.5 ms (BENCHMARKS.md, issue 19
session 7). With few input channels the products' K is small and im2col wins: the kernel takes
layers with :data:`MIN_CHANNELS` input channels or more where the input needs a gradient, and
:data:`MIN_CHANNELS_FORWARD` where it does not (it hands the others to the im2col kernel).
"""

from __future__ import annotations

import threading

from .. import compiled
from ..backend import xp
from ..dispatch import register
from ..ops import conv as ref
from . import conv, fastblas, native_threads, workspace
from .parallel import parallel_blas_for

#: Input channels a layer needs for this kernel where its input needs a gradient; where it needs
#: none (a first layer, inference), :data:`MIN_CHANNELS_FORWARD`. Fewer: the products' K is too
#: small to pay for the transforms, and the im2col kernel runs. Measured, one thread, 3x3 / pad 1,
#: forward + backward, im2col -> Winograd ms: C 4 -> 32 channels at 32x32, batch 64: 11.3 -> 9.3
#: with the input gradient, 5.9 -> 7.1 without; C 8: 13.1 -> 11.1, 7.6 -> 8.4; C 12 forward only:
#: 5.95 -> 5.21; C 16: 19.6 -> 13.8, 12.7 -> 10.7; the lab CNN's 32 -> 64 at 14x14: 32.3 -> 19.0.
MIN_CHANNELS = 4
MIN_CHANNELS_FORWARD = 12

#: Bytes of one block's transformed tiles (V and M, or dM and dV): blocks of 4-16 images of the
#: lab CNN's second layer were within 4 % of each other, the whole batch at once 1.2x (forward)
#: to 1.8x (backward) slower.
BLOCK_BYTES = 2 * 2**20

_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))

#: G of the module doc: the filter transform U = G W G^T.
_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


# ------------------------------------------------------------- the compiled loops
def _in_tiles(xp_, n0, n1, th, tw, v):
    """v[4a + b, t, :] = (B^T d B)[a, b] for every tile t of images n0:n1 (t counts from 0).

    ``xp_`` (N, 2*th + 2, 2*tw + 2, C) padded channels-last input; tile (i, j) reads its rows
    2i .. 2i+3 and columns 2j .. 2j+3. ``v`` (16, >= T, C)."""
    c_ = xp_.shape[3]
    r = xp.empty((4, 4, c_), xp_.dtype)  # one tile's rows transformed
    t = 0
    for n in range(n0, n1):
        for i in range(th):
            for j in range(tw):
                for q in range(4):
                    for c in range(c_):
                        d0, d1 = xp_[n, 2 * i, 2 * j + q, c], xp_[n, 2 * i + 1, 2 * j + q, c]
                        d2, d3 = xp_[n, 2 * i + 2, 2 * j + q, c], xp_[n, 2 * i + 3, 2 * j + q, c]
                        r[0, q, c] = d0 - d2  # B^T d: the rows
                        r[1, q, c] = d1 + d2
                        r[2, q, c] = d2 - d1
                        r[3, q, c] = d1 - d3
                for a in range(4):
                    for c in range(c_):  # (B^T d) B: the columns
                        e0, e1, e2, e3 = r[a, 0, c], r[a, 1, c], r[a, 2, c], r[a, 3, c]
                        v[4 * a, t, c] = e0 - e2
                        v[4 * a + 1, t, c] = e1 + e2
                        v[4 * a + 2, t, c] = e2 - e1
                        v[4 * a + 3, t, c] = e1 - e3
                t += 1


def _out_tiles(m, n0, n1, th, tw, b, y):
    """y[n, 2i:2i+2, 2j:2j+2, :] = A^T M_tile A + b for every tile of images n0:n1 (rows and
    columns past ``y``'s edge are dropped). ``m`` (16, >= T, O), ``y`` (N, OH, OW, O), ``b`` (O,)."""
    oh, ow, o_ = y.shape[1], y.shape[2], y.shape[3]
    s = xp.empty((2, 4, o_), m.dtype)  # A^T M: the tile's two output rows
    t = 0
    for n in range(n0, n1):
        for i in range(th):
            for j in range(tw):
                for q in range(4):
                    for o in range(o_):
                        m0, m1, m2, m3 = m[q, t, o], m[4 + q, t, o], m[8 + q, t, o], m[12 + q, t, o]
                        s[0, q, o] = m0 + m1 + m2
                        s[1, q, o] = m1 - m2 - m3
                for r in range(2):
                    if 2 * i + r < oh:
                        for o in range(o_):
                            e0, e1, e2, e3 = s[r, 0, o], s[r, 1, o], s[r, 2, o], s[r, 3, o]
                            y[n, 2 * i + r, 2 * j, o] = e0 + e1 + e2 + b[o]
                            if 2 * j + 1 < ow:
                                y[n, 2 * i + r, 2 * j + 1, o] = e1 - e2 - e3 + b[o]
                t += 1


def _grad_tiles(g, n0, n1, th, tw, dm, zero):
    """dm[4a + b, t, :] = (A dY_tile A^T)[a, b] for every tile of images n0:n1 (outputs past
    the edge count as ``zero``, 0 of the arrays' dtype). ``g`` (N, OH, OW, O), any strides;
    ``dm`` (16, >= T, O)."""
    oh, ow, o_ = g.shape[1], g.shape[2], g.shape[3]
    u = xp.empty((4, 2, o_), dm.dtype)  # A dY, per tile column
    t = 0
    for n in range(n0, n1):
        for i in range(th):
            for j in range(tw):
                for s in range(2):
                    col = 2 * j + s
                    for o in range(o_):
                        y0 = g[n, 2 * i, col, o] if col < ow else zero
                        y1 = g[n, 2 * i + 1, col, o] if col < ow and 2 * i + 1 < oh else zero
                        u[0, s, o] = y0
                        u[1, s, o] = y0 + y1
                        u[2, s, o] = y0 - y1
                        u[3, s, o] = -y1
                for a in range(4):
                    for o in range(o_):
                        e0, e1 = u[a, 0, o], u[a, 1, o]
                        dm[4 * a, t, o] = e0
                        dm[4 * a + 1, t, o] = e0 + e1
                        dm[4 * a + 2, t, o] = e0 - e1
                        dm[4 * a + 3, t, o] = -e1
                t += 1


def _add_input_tiles(dv, n0, n1, th, tw, dxp):
    """dxp[n, 2i:2i+4, 2j:2j+4, :] += B dV_tile B^T for every tile of images n0:n1 (the adjoint
    of :func:`_in_tiles`). ``dv`` (16, >= T, C), ``dxp`` (N, 2*th + 2, 2*tw + 2, C)."""
    c_ = dv.shape[2]
    r = xp.empty((4, 4, c_), dv.dtype)  # B dV, per tile row
    t = 0
    for n in range(n0, n1):
        for i in range(th):
            for j in range(tw):
                for a in range(4):
                    for c in range(c_):
                        v0, v1, v2, v3 = dv[4 * a, t, c], dv[4 * a + 1, t, c], dv[4 * a + 2, t, c], dv[4 * a + 3, t, c]
                        r[a, 0, c] = v0
                        r[a, 1, c] = v1 - v2 + v3
                        r[a, 2, c] = v1 + v2 - v0
                        r[a, 3, c] = -v3
                for q in range(4):
                    for c in range(c_):
                        v0, v1, v2, v3 = r[0, q, c], r[1, q, c], r[2, q, c], r[3, q, c]
                        dxp[n, 2 * i, 2 * j + q, c] += v0
                        dxp[n, 2 * i + 1, 2 * j + q, c] += v1 - v2 + v3
                        dxp[n, 2 * i + 2, 2 * j + q, c] += v1 + v2 - v0
                        dxp[n, 2 * i + 3, 2 * j + q, c] -= v3
                t += 1


def _products(gemm, ta, tb, m, n, k, a, a_step, lda, b, b_step, ldb, beta, c, c_step, ldc):
    """The 16 products ``C[ab] = op(A[ab]) op(B[ab]) + beta C[ab]`` (addresses step by the given bytes)."""
    for ab in range(16):
        gemm(101, ta, tb, m, n, k, 1.0, a + ab * a_step, lda, b + ab * b_step, ldb, beta, c + ab * c_step, ldc)


def _forward_block(xp_, n0, n1, th, tw, u, b, y, v, m, gemm):
    """y of images n0:n1: transform the input tiles, 16 products with the filters, transform back."""
    _in_tiles(xp_, n0, n1, th, tw, v)
    t, c_, o_ = (n1 - n0) * th * tw, v.shape[2], m.shape[2]
    size = v.itemsize
    _products(gemm, 111, 111, t, o_, c_, v.ctypes.data, v.shape[1] * c_ * size, c_,
              u.ctypes.data, c_ * o_ * size, o_, 0.0, m.ctypes.data, m.shape[1] * o_ * size, o_)
    _out_tiles(m, n0, n1, th, tw, b, y)


def _backward_block(xp_, g, n0, n1, th, tw, u, du, dxp, v, dm, dv, zero, gemm):
    """Images n0:n1 of backward: ``du += V^T dM`` (where ``du`` has rows) and ``dxp``'s tiles
    from ``dV = dM U^T`` (where ``dxp`` has images), per position ab."""
    _grad_tiles(g, n0, n1, th, tw, dm, zero)
    t, c_, o_ = (n1 - n0) * th * tw, u.shape[1], u.shape[2]
    size = dm.itemsize
    dm_step = dm.shape[1] * o_ * size
    if du.shape[1]:
        _in_tiles(xp_, n0, n1, th, tw, v)
        _products(gemm, 112, 111, c_, o_, t, v.ctypes.data, v.shape[1] * c_ * size, c_,
                  dm.ctypes.data, dm_step, o_, 1.0, du.ctypes.data, c_ * o_ * size, o_)
    if dxp.shape[0]:
        _products(gemm, 111, 112, t, c_, o_, dm.ctypes.data, dm_step, o_,
                  u.ctypes.data, c_ * o_ * size, o_, 0.0, dv.ctypes.data, dv.shape[1] * c_ * size, c_)
        _add_input_tiles(dv, n0, n1, th, tw, dxp)


_compiled = None
_lock = threading.Lock()


def _kernels():
    """(forward block, backward block, {dtype: cblas gemm}) compiled (once; Numba caches the
    machine code across processes). The helpers are compiled first and put in this module's
    namespace, where the blocks find them when they compile."""
    global _compiled
    if _compiled is None:
        with _lock:
            if _compiled is None:
                nb = compiled.numba()
                jit = nb.njit(nogil=True, cache=True)
                for name in ("_in_tiles", "_out_tiles", "_grad_tiles", "_add_input_tiles", "_products"):
                    globals()[name] = jit(globals()[name])
                gemms = {dtype: fns[0] for dtype, fns in native_threads.prototypes(nb).items()}
                _compiled = (jit(_forward_block), jit(_backward_block), gemms)
    return _compiled


# ------------------------------------------------------------ the filter transforms
def _kron_g(dtype):
    """(16, 9) Kronecker product G (x) G: ``(G w G^T)[a, b] = sum_pq G[a, p] G[b, q] w[p, q]``,
    row 4a + b, column 3p + q (one matrix product for all filters: 17 us where 2,048 batched
    4x3 products took 285, the lab CNN's second layer)."""
    g = xp.asarray(_G, dtype=dtype)
    return xp.kron(g, g)


def filter_transform(w):
    """U (16, C, O), C-contiguous: ``U[4a + b, c, o] = (G w[o, c] G^T)[a, b]`` for w (O, C, 3, 3)."""
    o, c = w.shape[:2]
    return xp.ascontiguousarray((_kron_g(w.dtype) @ w.reshape(o * c, 9).T).reshape(16, o, c).transpose(0, 2, 1))


def filter_grad(du):
    """dW (O, C, 3, 3) from dU (16, C, O): ``dW[o, c] = G^T dU[:, c, o] G`` (U's transform, transposed)."""
    _, c, o = du.shape
    return xp.ascontiguousarray((du.reshape(16, c * o).T @ _kron_g(du.dtype)).reshape(c, o, 3, 3).transpose(1, 0, 2, 3))


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


# -------------------------------------------------------------- forward, backward
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
    bias = xp.zeros(o, x.dtype) if b is None else xp.ascontiguousarray(b)
    block, _, gemms = _kernels()
    gemm = gemms[x.dtype]
    per = _block_images(th * tw, c + o, x.dtype.itemsize)

    def part(lo, hi):  # images lo:hi (split across threads by parallel_blas_for)
        rows = min(per, hi - lo) * th * tw
        v, m = workspace.empty((16, rows, c), x.dtype), workspace.empty((16, rows, o), x.dtype)
        with fastblas.one_thread():
            for n0 in range(lo, hi, per):
                block(xpad, n0, min(hi, n0 + per), th, tw, u, bias, y, v, m, gemm)

    parallel_blas_for(n, part, elements=y.size, key=("winograd forward", xpad.shape[1:], u.shape))
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
    _, block, gemms = _kernels()
    gemm, zero = gemms[dt], dt.type(0)
    per = _block_images(th * tw, c + o, dt.itemsize)
    parts = {}

    def part(lo, hi):  # images lo:hi (split across threads by parallel_blas_for); partial dU summed in order
        rows = min(per, hi - lo) * th * tw
        du = xp.zeros((16, c, o) if need_w else (16, 0, 0), dt)
        v = workspace.empty((16, rows if need_w else 0, c), dt)
        dv = workspace.empty((16, rows if need_x else 0, c), dt)
        dm = workspace.empty((16, rows, o), dt)
        if need_x:
            dxp[lo:hi].fill(0)
        with fastblas.one_thread():
            for n0 in range(lo, hi, per):
                block(xin, g4, n0, min(hi, n0 + per), th, tw, u, du, dxp, v, dm, dv, zero, gemm)
        parts[lo] = du

    parallel_blas_for(n, part, elements=dxp.size + g.size, key=("winograd backward", pad_shape[1:], u.shape, need_x, need_w))
    return (dxp if need_x else None), (filter_grad(conv.sum_in_order(parts)) if need_w else None)


# ------------------------------------------------------------------- the kernel
def _takes(x, w, b=None, *, stride, padding, dilation, groups):
    """The compiled kernels are on, and this is a float32/64 3x3 convolution with stride 1, no
    dilation, one group, at least :data:`MIN_CHANNELS` input channels and a non-empty output,
    every array of one dtype, and the kernels call BLAS directly."""
    return (compiled.is_compiled() and x.ndim == 4 and x.dtype in _DTYPES and w.dtype == x.dtype
            and (b is None or b.dtype == x.dtype) and w.shape[2:] == (3, 3) and groups == 1
            and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and x.shape[1] >= MIN_CHANNELS
            and x.shape[0] > 0 and w.shape[0] > 0
            and min(tiling(x.shape[2:], padding)[:2]) > 0 and fastblas.raw(x.dtype) is not None)


@register(ref.Conv2d, when=_takes, first=True)
class Conv2d(conv.Conv2d):
    """:class:`nnbasics.ops.conv.Conv2d` for 3x3 / stride-1 layers by Winograd's F(2x2, 3x3)
    (module doc), returning a channels-last view as the NumPy kernel does.

    Shape: x (N, C, H, W), w (O, C, 3, 3), b (O,) -> y (N, O, H + pt + pb - 2, W + pl + pr - 2).
    """

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups):
        needs = getattr(self, "needs_grad", None)
        if x.shape[1] < MIN_CHANNELS_FORWARD and not (needs is not None and needs[0]):
            self.winograd = None  # few channels and no input gradient: im2col is faster
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
            with fastblas.one_thread():  # a GEMV: as the NumPy kernel's bias gradient
                gb = xp.ones(g.shape[0] * g.shape[2] * g.shape[3], dtype=g.dtype) @ g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])
        return (gx, gw, gb) if len(needs) == 3 else (gx, gw)
