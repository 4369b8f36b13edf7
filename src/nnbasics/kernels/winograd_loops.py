"""The tile transforms of :mod:`nnbasics.kernels.conv_winograd` as compiled loops (Numba, optional).

One block of images at a time, with the channels innermost (channels-last arrays), each loop
visits every tile once; :func:`forward_block` and :func:`backward_block` also make the block's 16
matrix products, as direct single-threaded BLAS calls from the compiled code (no Python between
the transforms and the products). The formulas are conv_winograd's module doc's, written out
as the additions they are::

    B^T d B:    rows then columns of d (4x4):  (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    A^T M A:    (m0 + m1 + m2, m1 - m2 - m3), and the transposes of both for backward

These functions are plain Python until :func:`blocks` compiles them (once; Numba caches the
machine code across processes).
"""

from __future__ import annotations

import threading

from .. import compiled
from ..backend import xp
from . import native_threads


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


def forward_block(xp_, n0, n1, th, tw, u, b, y, v, m, gemm):
    """y of images n0:n1: transform the input tiles, 16 products with the filters, transform back."""
    _in_tiles(xp_, n0, n1, th, tw, v)
    t, c_, o_ = (n1 - n0) * th * tw, v.shape[2], m.shape[2]
    size = v.itemsize
    _products(gemm, 111, 111, t, o_, c_, v.ctypes.data, v.shape[1] * c_ * size, c_,
              u.ctypes.data, c_ * o_ * size, o_, 0.0, m.ctypes.data, m.shape[1] * o_ * size, o_)
    _out_tiles(m, n0, n1, th, tw, b, y)


def backward_block(xp_, g, n0, n1, th, tw, u, du, dxp, v, dm, dv, zero, gemm):
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


def blocks():
    """(forward block, backward block, {dtype: cblas gemm}) compiled (once; Numba caches the
    machine code across processes). The helpers are compiled first and put in this module's
    namespace, where the blocks find them when they compile."""
    global _compiled
    if _compiled is None:
        with _lock:
            if _compiled is None:
                jit = compiled.jit_helpers(globals(), ("_in_tiles", "_out_tiles", "_grad_tiles", "_add_input_tiles",
                                                       "_products"))
                gemms = {dtype: fns[0] for dtype, fns in native_threads.prototypes(compiled.numba()).items()}
                _compiled = (jit(forward_block), jit(backward_block), gemms)
    return _compiled
