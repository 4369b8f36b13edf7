"""Matrix-product gradients laid out for the memory that holds them.

The reference :class:`nnbasics.ops.linalg.MatMul` computes ``g b^T`` and ``a^T g`` as written.
This kernel computes the same products so that the results come out C-contiguous where the
operand was a transposed view (``x @ W.T``: W's gradient; a strided copy of it later costs
almost as much as the GEMM), and folds a batch of rows into one GEMM where a 2-D weight
meets a batched input (one GEMM instead of a batch of them and a sum). The fused linear op
runs its GEMMs in fixed pieces on several threads (:class:`Linear`).
"""

from __future__ import annotations

import contextlib
from itertools import pairwise

from ..backend import xp
from ..dispatch import register
from ..ops import linalg as ref
from ..ops.util import sum_to
from ..threads import blas_setter, num_threads
from . import fastblas, gemm, native_threads, parallel


@register(ref.MatMul)
class MatMul(ref.MatMul):
    """:class:`nnbasics.ops.linalg.MatMul` with layout-aware gradients (see the module doc); a 2-D
    float product on several threads runs its GEMMs in fixed row pieces, as :class:`Linear` does."""

    def forward(self, a, b):
        if not (_plain_2d(a, b) and (_several_threads() or fastblas.beats_numpy(a.dtype, a.size * b.shape[1]))):
            return super().forward(a, b)
        self.a, self.b = a, b
        z = xp.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        _in_pieces([_part(a, b, z)], ("matmul", a.shape, b.shape))
        return z

    def backward(self, g):
        a, b = self.a, self.b  # NOTE: both kept: the layout of each decides how the other's grad is computed
        if _plain_2d(a, b) and (_several_threads() or fastblas.beats_numpy(a.dtype, a.size * b.shape[1])):
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
#: Multiply-adds per column piece, at least, where a product's rows are too few to cut: as for
#: rows (:data:`nnbasics.kernels.gemm.PIECE_WORK`). Measured here on two threads, quiet: alone,
#: (128, 784) @ (784, 256) took 414 us whole and 320 us in two column pieces; but within the
#: MLP's step (batch 128), cutting it and its weight gradient in two made the step 1.07x slower
#: (a thread that slept between the products wakes ~0.1 ms late), so pieces stay as big as rows'.
#: On native threads (the compiled kernels) pieces are smaller: :data:`native_threads.PIECE_WORK`.
COL_WORK = gemm.PIECE_WORK


def _work(dtype):
    """Multiply-adds per piece, at least: smaller where the pieces run on native threads (a hand-off
    there costs microseconds, not tens of them: :mod:`~nnbasics.kernels.native_threads`)."""
    return native_threads.PIECE_WORK if native_threads.available(dtype) else COL_WORK


def _cut(m, n, k, work=COL_WORK):
    """The fixed pieces of an (m, k) @ (k, n) product on several threads: ``("rows", bounds)`` where
    its rows make two pieces or more (:func:`nnbasics.kernels.gemm.row_bounds`), else ``("cols",
    bounds)`` where its columns do (:func:`~nnbasics.kernels.gemm.column_bounds`), each piece at
    least ``work`` multiply-adds, else one piece of rows. The sizes alone decide."""
    rows = gemm.row_bounds(m, k * n, work)
    if len(rows) > 2:
        return "rows", rows
    cols = gemm.column_bounds(n, m * k, work)
    return ("cols", cols) if len(cols) > 2 else ("rows", rows)


def _splits(m, n, k, work=COL_WORK):
    """True if an (m, k) @ (k, n) product is cut into pieces on several threads (:func:`_cut`)."""
    if m * n * k < 2 * work:  # the common answer, quickly
        return False
    return len(_cut(m, n, k, work)[1]) > 2


def _part(a, b, out, bias=None):
    """``out = a @ b (+ bias)`` as one part of :func:`_in_pieces`: its fixed pieces (:func:`_cut`), the
    function computing piece ``lo:hi`` (rows of ``out``, or its columns), its multiply-adds, and
    ``(a, b, out, bias, axis)`` (for native threads)."""
    (m, k), n = a.shape, b.shape[1]
    axis, bounds = _cut(m, n, k, _work(a.dtype))
    if axis == "rows":
        def fn(lo, hi):
            fastblas.matmul(a[lo:hi], b, out=out[lo:hi])
            if bias is not None:
                out[lo:hi] += bias
    else:
        def fn(lo, hi):
            fastblas.matmul(a, b[:, lo:hi], out=out[:, lo:hi])
            if bias is not None:
                out[:, lo:hi] += bias[lo:hi]
    return bounds, fn, m * n * k, (a, b, out, bias, axis)


def _several_threads():
    return num_threads() > 1 and blas_setter() is not None


def _same_float(x, w, b=None):
    return x.ndim >= 2 and x.dtype.kind == "f" and w.dtype == x.dtype and (b is None or b.dtype == x.dtype)


@register(ref.Linear, when=_same_float)
class Linear(ref.Linear):
    """:class:`nnbasics.ops.linalg.Linear` whose GEMMs tolerate a descheduled thread.

    On one thread: the reference (unless :mod:`~nnbasics.kernels.fastblas` runs a private AVX-512
    BLAS). On several, every GEMM (``x W^T``, ``g W``, ``g^T x``) big enough is cut into fixed
    pieces of rows, or of columns where the rows are too few (:func:`_cut`; leading dims folded
    into rows, one GEMM instead of one per batch entry), each piece single-threaded BLAS, run on
    one thread or all, whichever :mod:`nnbasics.kernels.adaptive` measures faster on the running
    job. BLAS's own threads split every GEMM into halves fixed in advance, so with another busy
    process on the machine each GEMM waits for a descheduled thread; here a slow thread delays
    one piece, and under steady load the pieces run on one thread. The pieces depend on the sizes
    alone: on several threads, the same bits for any number of them and either choice (one thread
    computes each GEMM whole, whose last bits may differ: :mod:`~nnbasics.kernels.gemm`).
    """

    def forward(self, x, w, b=None):
        rows = x.size // max(1, x.shape[-1])
        fast = fastblas.beats_numpy(x.dtype, rows * w.size)
        if not (fast or _several_threads() and _splits(rows, *w.shape, _work(x.dtype))):
            return self._reference(rows * w.size, super().forward, x, w, b)
        needs = self.needs_grad
        if needs:  # as the reference: W for x's gradient, x for W's
            self.x, self.w = (x if needs[1] else None), (w if needs[0] else None)
        x2 = x.reshape(-1, x.shape[-1])  # (rows, in)
        y = xp.empty((x2.shape[0], w.shape[0]), dtype=x.dtype)  # (rows, out)
        _in_pieces([_part(x2, w.T, y, b)], ("linear", x2.shape, w.shape, b is not None))
        return y.reshape(*x.shape[:-1], w.shape[0])

    def backward(self, g):
        needs, x, w = self.needs_grad, self.x, self.w
        rows, n_out = g.size // max(1, g.shape[-1]), g.shape[-1]
        n_in = w.shape[1] if w is not None else x.shape[-1] if x is not None else 0  # (kept as needed)
        g2 = g.reshape(-1, n_out)  # (rows, out)
        xs, gs = _rows_as_stored(x, g) if needs[1] else (None, None)
        if not (fastblas.beats_numpy(g.dtype, rows * n_out * n_in) or _several_threads() and (
                needs[0] and _splits(rows, n_in, n_out, _work(g.dtype))
                or needs[1] and _splits(n_out, n_in, rows, _work(g.dtype)))):
            if xs is None:
                return self._reference(rows * n_out * n_in, super().backward, g)
            return self._reference(rows * n_out * n_in, self._backward_as_stored, g, g2, xs, gs)
        x2 = xs if xs is not None else x.reshape(-1, n_in) if needs[1] else None  # (rows, in)
        gt2 = gs if gs is not None else g2  # g's rows in x2's order
        gx = xp.empty((rows, n_in), dtype=g.dtype) if needs[0] else None
        gw = xp.empty((n_out, n_in), dtype=g.dtype) if needs[1] else None  # C-ordered
        parts = ([_part(g2, w, gx)] if needs[0] else []) + ([_part(gt2.T, x2, gw)] if needs[1] else [])
        if parts:  # one run for both products
            _in_pieces(parts, ("linear backward", g2.shape, x2 is not None and x2.shape, needs[0]))
        return _with_bias_grad(needs, gx.reshape(*g.shape[:-1], n_in) if needs[0] else None, gw, g2)

    def _backward_as_stored(self, g, g2, xs, gs):
        """The reference's gradients, W's from the rows as x lies in memory (:func:`_rows_as_stored`)."""
        needs = self.needs_grad
        gx = g @ self.w if needs[0] else None
        gw = gs.T @ xs  # sum_r g_r^T x_r: the same sum as the reference's, its terms in another order
        return _with_bias_grad(needs, gx, gw, g2)

    @staticmethod
    def _reference(macs, method, *args):
        """The reference's NumPy calls (the cheapest where no product is split): BLAS on this thread
        alone where nnbasics runs several (never BLAS's own split, which waits for a descheduled thread);
        ``macs``: multiply-adds of each of its products (none is threaded when they are few)."""
        if not _several_threads() or fastblas.alone(macs):
            return method(*args)
        with fastblas.one_thread():
            return method(*args)


def _with_bias_grad(needs, gx, gw, g2):
    """``(gx, gw)``, and the bias's gradient (g summed over its rows) where the op has a bias."""
    if len(needs) == 2:
        return gx, gw
    return gx, gw, (g2.sum(axis=0) if needs[2] else None)


def _rows_as_stored(x, g):
    """``x`` (*, in) and ``g`` (*, out) as row matrices (rows, in) and (rows, out) with their rows in
    the order x lies in memory, where x is a view whose leading axes are permuted (a batch_first
    RNN's output: (N, T, H) over (T, N, H) memory): W's gradient ``sum_r g_r^T x_r`` may take the
    rows in any order, so x is read as it is and g copied into its order, instead of copying x
    (the reference's ``x.reshape``; 1.2 ms of a char-LSTM's step with batch_first, where g has 65
    columns and x 256). (None, None) where x is C-contiguous or not such a view, or where copying
    g would cost more than copying x.
    """
    if x.ndim < 3 or x.flags.c_contiguous:
        return None, None
    order = (*sorted(range(x.ndim - 1), key=lambda i: -abs(x.strides[i])), x.ndim - 1)
    xt, gt = x.transpose(order), g.transpose(order)
    if not xt.flags.c_contiguous or not gt.flags.c_contiguous and g.shape[-1] > x.shape[-1]:
        return None, None
    return xt.reshape(-1, x.shape[-1]), gt.reshape(-1, g.shape[-1])


def _in_pieces(parts, key):
    """Each part ``(bounds, fn, macs, spec)`` of :func:`_part`: whole on one thread, or in its fixed
    pieces on several (all the parts' pieces in one run: on native threads where they can take them
    (:func:`_natively`), else :func:`nnbasics.kernels.parallel.run_pieces`; the same values for any
    number of threads and either thread choice); parts too small to split are one piece each."""
    if not _several_threads() or all(len(bounds) == 2 for bounds, *_ in parts):  # one call per product,
        # BLAS on this thread (never BLAS's own split), unless each is too small for it to split
        alone = all(fastblas.alone(macs) for _, _, macs, _ in parts)
        with contextlib.nullcontext() if alone else fastblas.one_thread():
            for bounds, fn, *_ in parts:
                fn(bounds[0], bounds[-1])
        return
    if _natively(parts, key):
        return
    pieces = [(fn, lo, hi) for bounds, fn, *_ in parts for lo, hi in pairwise(bounds)]
    parallel.run_pieces(range(len(pieces) + 1), lambda i, j: [f(lo, hi) for f, lo, hi in pieces[i:j]], key)


def _natively(parts, key) -> bool:
    """The parts' pieces as BLAS calls on native threads (:mod:`~nnbasics.kernels.native_threads`),
    then each bias added; False (nothing done) where they cannot all go there."""
    dtype = parts[0][3][0].dtype
    if not native_threads.available(dtype):
        return False
    whole = []
    for _, _, _, (a, b, out, _, _) in parts:
        args = fastblas.call_args(a, b, out) if a.dtype == dtype else None
        if args is None:
            return False
        whole.append(args)

    def calls():  # the pieces' BLAS calls: made only where they run
        return xp.array([c for args, (bounds, _, _, (a, _, _, _, axis)) in zip(whole, parts)
                         for c in native_threads.split(args, axis, bounds, a.itemsize)], dtype=xp.int64)

    native_threads.run(calls, dtype, key, whole=whole, count=sum(len(bounds) - 1 for bounds, *_ in parts))
    for _, _, _, (_, _, out, bias, _) in parts:
        if bias is not None:
            out += bias
    return True


def _plain_2d(a, b):
    return a.ndim == 2 and b.ndim == 2 and a.dtype.kind == "f" and b.dtype == a.dtype


def _backward_2d_in_pieces(a, b, g, needs):
    """MatMul's gradients of a 2-D product in fixed pieces (single-threaded BLAS in each), in the
    layouts :meth:`MatMul.backward` gives them: a gradient of a transposed view is computed transposed."""
    parts = []
    ga = gb = None
    if needs[0]:
        if a.flags.c_contiguous:
            ga = xp.empty(a.shape, dtype=a.dtype)  # g b^T
            parts.append(_part(g, b.T, ga))
        else:
            ga_t = xp.empty(a.shape[::-1], dtype=a.dtype)  # (b g^T) = ga^T
            parts.append(_part(b, g.T, ga_t))
            ga = ga_t.T
    if needs[1]:
        if b.flags.c_contiguous:
            gb = xp.empty(b.shape, dtype=b.dtype)  # a^T g
            parts.append(_part(a.T, g, gb))
        else:
            gb_t = xp.empty(b.shape[::-1], dtype=b.dtype)  # g^T a = gb^T
            parts.append(_part(g.T, a, gb_t))
            gb = gb_t.T
    if parts:
        _in_pieces(parts, ("matmul backward", a.shape, b.shape, tuple(needs), a.flags.c_contiguous, b.flags.c_contiguous))
    return ga, gb
