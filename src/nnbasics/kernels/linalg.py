"""Matrix-product gradients laid out for the memory that holds them.

The reference :class:`nnbasics.ops.linalg.MatMul` computes ``g b^T`` and ``a^T g`` as written.
This kernel computes the same products so that the results come out C-contiguous where the
operand was a transposed view (``x @ W.T``: W's gradient; a strided copy of it later costs
almost as much as the GEMM), and folds a batch of rows into one GEMM where a 2-D weight
meets a batched input (one GEMM instead of a batch of them and a sum). The fused linear op
runs its GEMMs in fixed pieces on several threads (:class:`Linear`).
"""

from __future__ import annotations

from itertools import pairwise

from ..backend import xp
from ..dispatch import register
from ..ops import linalg as ref
from ..ops.util import sum_to
from ..threads import blas_setter, num_threads
from . import fastblas, gemm, parallel


@register(ref.MatMul)
class MatMul(ref.MatMul):
    """:class:`nnbasics.ops.linalg.MatMul` with layout-aware gradients (see the module doc); a 2-D
    float product on several threads runs its GEMMs in fixed row pieces, as :class:`Linear` does."""

    def forward(self, a, b):
        if not (_plain_2d(a, b) and (_several_threads() or fastblas.private())):
            return super().forward(a, b)
        self.a, self.b = a, b
        z = xp.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        _in_pieces([0, len(z)], [b.size], lambda lo, hi: fastblas.matmul(a[lo:hi], b, out=z[lo:hi]),
                   ("matmul", a.shape, b.shape))
        return z

    def backward(self, g):
        a, b = self.a, self.b  # NOTE: both kept: the layout of each decides how the other's grad is computed
        if _plain_2d(a, b) and (_several_threads() or fastblas.private()):
            return _backward_2d_in_pieces(a, b, g, self.needs_grad)
        a2 = a[None, :] if a.ndim == 1 else a  # (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k, 1)
        if b.ndim == 1:  # first: for 1-D @ 1-D, g is 0-d
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if self.needs_grad[0]:
            if a.ndim == 2 and b.ndim == 2 and not a.flags.c_contiguous:
                ga = (b @ g.T).T  # a is a transposed view: its grad gets the same layout (see gb)
            else:
                ga = g @ b2.swapaxes(-1, -2)
            ga = sum_to(ga, a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # (..., m, k) batch folded into rows: one GEMM instead of a batch and a sum
                k, n = a2.shape[-1], g.shape[-1]
                gb = a2.reshape(-1, k).T @ g.reshape(-1, n)
            elif a.ndim == 2 and b.ndim == 2 and not b.flags.c_contiguous:
                # NOTE: b is a transposed view (x @ W.T): computing its grad transposed gives W's
                # grad C-contiguous; a strided copy of it later costs almost as much as the GEMM.
                gb = (g.T @ a).T
            else:
                gb = a2.swapaxes(-1, -2) @ g
                gb = sum_to(gb, b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


# ------------------------------------------------------------------------------ Linear
def _bounds(n, per_row):
    """Fixed pieces of n rows of ``per_row`` multiply-adds each (:func:`nnbasics.kernels.gemm.row_bounds`)."""
    return gemm.row_bounds(n, per_row)


def _several_threads():
    return num_threads() > 1 and blas_setter() is not None


def _same_float(x, w, b=None):
    return x.ndim >= 2 and x.dtype.kind == "f" and w.dtype == x.dtype and (b is None or b.dtype == x.dtype)


@register(ref.Linear, when=_same_float)
class Linear(ref.Linear):
    """:class:`nnbasics.ops.linalg.Linear` whose GEMMs tolerate a descheduled thread.

    On one thread: the reference (unless :mod:`~nnbasics.kernels.fastblas` runs a private AVX-512
    BLAS). On several, every GEMM (``x W^T``, ``g W``, ``g^T x``) big enough is cut into fixed
    pieces of rows (:func:`_bounds`; leading dims folded into rows, one GEMM instead of one per
    batch entry), each piece single-threaded BLAS, run on one thread or all, whichever
    :mod:`nnbasics.kernels.adaptive` measures faster on the running job. BLAS's own threads split
    every GEMM into halves fixed in advance, so with another busy process on the machine each GEMM
    waits for a descheduled thread; here a slow thread delays one piece, and under steady load
    the pieces run on one thread. The pieces depend on the sizes alone: on several threads, the
    same bits for any number of them and either choice (one thread computes each GEMM whole, whose
    last bits may differ: :mod:`~nnbasics.kernels.gemm`).
    """

    def forward(self, x, w, b=None):
        rows = x.size // max(1, x.shape[-1])
        if not (fastblas.private() or _several_threads() and _splits(rows, w.size)):
            return self._reference(rows * w.size, super().forward, x, w, b)
        needs = self.needs_grad
        if needs:  # as the reference: W for x's gradient, x for W's
            self.x, self.w = (x if needs[1] else None), (w if needs[0] else None)
        x2 = x.reshape(-1, x.shape[-1])  # (rows, in)
        y = xp.empty((x2.shape[0], w.shape[0]), dtype=x.dtype)  # (rows, out)

        def rows(lo, hi):
            fastblas.matmul(x2[lo:hi], w.T, out=y[lo:hi])
            if b is not None:
                y[lo:hi] += b

        _in_pieces([0, len(y)], [w.size], rows, ("linear", x2.shape, w.shape, b is not None))
        return y.reshape(*x.shape[:-1], w.shape[0])

    def backward(self, g):
        needs, x, w = self.needs_grad, self.x, self.w
        rows = g.size // max(1, g.shape[-1])
        n_in = w.shape[1] if w is not None else x.shape[-1] if x is not None else 0  # (kept as needed)
        if not (fastblas.private() or _several_threads() and (
                needs[0] and _splits(rows, w.size) or needs[1] and _splits(g.shape[-1], rows * x.shape[-1]))):
            return self._reference(rows * g.shape[-1] * n_in, super().backward, g)
        g2 = g.reshape(-1, g.shape[-1])  # (rows, out)
        x2 = x.reshape(-1, x.shape[-1]) if needs[1] else None  # (rows, in)
        gx = xp.empty((g2.shape[0], w.shape[1]), dtype=g.dtype) if needs[0] else None
        gw = xp.empty((g2.shape[1], x2.shape[1]), dtype=g.dtype) if needs[1] else None  # (out, in), C-ordered
        # one run for both products: pieces of gx's rows, then of gw's rows, after them
        split = len(gx) if needs[0] else 0
        jobs = ([0, split] if needs[0] else [0]) + ([split + len(gw)] if needs[1] else [])
        work = ([w.size] if needs[0] else []) + ([g2.shape[0] * x2.shape[1]] if needs[1] else [])  # per row

        def piece(lo, hi):
            if lo < split:
                fastblas.matmul(g2[lo:hi], w, out=gx[lo:hi])
            else:
                fastblas.matmul(g2[:, lo - split:hi - split].T, x2, out=gw[lo - split:hi - split])

        if len(jobs) > 1:
            _in_pieces(jobs, work, piece, ("linear backward", g2.shape, x2 is not None and x2.shape, split))
        gx = gx.reshape(*g.shape[:-1], gx.shape[1]) if needs[0] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if needs[2] else None)


    @staticmethod
    def _reference(macs, method, *args):
        """The reference's NumPy calls (the cheapest where no product is split): BLAS on this thread
        alone where nnbasics runs several (never BLAS's own split, which waits for a descheduled thread);
        ``macs``: multiply-adds of each of its products (none is threaded when they are few)."""
        if not _several_threads() or fastblas.alone(macs):
            return method(*args)
        with fastblas.one_thread():
            return method(*args)


def _splits(rows, per_row):
    """True if a product of ``rows`` rows, ``per_row`` multiply-adds each, is cut into pieces."""
    if rows < 2 * gemm.MIN_ROWS or rows * per_row < 2 * gemm.PIECE_WORK:  # the common answer, quickly
        return False
    return len(_bounds(rows, per_row)) > 2


def _in_pieces(jobs, work, fn, key):
    """``fn(lo, hi)`` over ``range(jobs[0], jobs[-1])``, each job ``jobs[i]:jobs[i + 1]`` (a product's
    rows, ``work[i]`` multiply-adds per row) whole on one thread, or cut into fixed row pieces
    (:func:`_bounds`) on several (:func:`nnbasics.kernels.parallel.run_pieces`: the same values for
    any number of them and either thread choice); products too small to split are one piece each."""
    bounds = [jobs[0]]
    for (lo, hi), per_row in zip(pairwise(jobs), work):
        bounds += [lo + i for i in _bounds(hi - lo, per_row)[1:]]
    if not _several_threads() or len(bounds) == len(jobs):  # nothing split: one call per product,
        if all(fastblas.alone((hi - lo) * per_row) for (lo, hi), per_row in zip(pairwise(jobs), work)):
            for lo, hi in pairwise(jobs):  # each on this thread anyway
                fn(lo, hi)
            return
        with fastblas.one_thread():  # BLAS on this thread (never BLAS's own split)
            for lo, hi in pairwise(jobs):
                fn(lo, hi)
        return
    parallel.run_pieces(bounds, fn, key)


def _plain_2d(a, b):
    return a.ndim == 2 and b.ndim == 2 and a.dtype.kind == "f" and b.dtype == a.dtype


def _backward_2d_in_pieces(a, b, g, needs):
    """MatMul's gradients of a 2-D product in fixed row pieces (single-threaded BLAS in each), in the
    layouts :meth:`MatMul.backward` gives them: a gradient of a transposed view is computed transposed."""
    jobs = []  # (out rows, multiply-adds per row, fn(lo, hi) writing out[lo:hi])
    ga = gb = None
    if needs[0]:
        if a.flags.c_contiguous:
            ga = xp.empty(a.shape, dtype=a.dtype)  # g b^T, by rows of g
            jobs.append((ga.shape[0], b.size, lambda lo, hi: fastblas.matmul(g[lo:hi], b.T, out=ga[lo:hi])))
        else:
            ga_t = xp.empty(a.shape[::-1], dtype=a.dtype)  # (b g^T) = ga^T, by rows of b
            jobs.append((ga_t.shape[0], g.size, lambda lo, hi: fastblas.matmul(b[lo:hi], g.T, out=ga_t[lo:hi])))
            ga = ga_t.T
    if needs[1]:
        if b.flags.c_contiguous:
            gb = xp.empty(b.shape, dtype=b.dtype)  # a^T g, by rows of a^T
            jobs.append((gb.shape[0], g.size, lambda lo, hi: fastblas.matmul(a[:, lo:hi].T, g, out=gb[lo:hi])))
        else:
            gb_t = xp.empty(b.shape[::-1], dtype=b.dtype)  # g^T a = gb^T, by rows of g^T
            jobs.append((gb_t.shape[0], a.size, lambda lo, hi: fastblas.matmul(g[:, lo:hi].T, a, out=gb_t[lo:hi])))
            gb = gb_t.T
    starts = [0]
    for rows, _, _ in jobs:  # one run for all: each job's rows after the previous job's
        starts.append(starts[-1] + rows)

    def piece(lo, hi):
        j = max(i for i, s in enumerate(starts[:-1]) if s <= lo)
        jobs[j][2](lo - starts[j], hi - starts[j])

    if jobs:
        _in_pieces(starts, [work for _, work, _ in jobs], piece,
                   ("matmul backward", a.shape, b.shape, tuple(needs), a.flags.c_contiguous, b.flags.c_contiguous))
    return ga, gb
