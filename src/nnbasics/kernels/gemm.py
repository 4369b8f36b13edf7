"""Big matrix products in fixed row pieces, on the fastest kernels there are (:mod:`~nnbasics.kernels.fastblas`).

``out = a @ b`` (or ``out += a @ b``) for 2-D arrays, where ``out`` has many rows: on several
threads, the rows of ``out`` are cut into pieces that depend on the size only
(:func:`row_bounds`) and run with :func:`nnbasics.kernels.parallel.run_pieces` (single-threaded
BLAS in each piece, one thread or all, whichever the running job measures faster; with the
compiled kernels, on native threads, :mod:`~nnbasics.kernels.native_threads`, in its smaller
pieces); on one thread, one call. The pieces depend on the size alone, so on several threads the values are the
same for any number of them and either choice of the chooser (timing never changes a result).
They are not always the one call's values to the last bit: OpenBLAS computes the rows at the
edge of a block with other instructions than the rest (measured: rows 120-127 of a (256, 64) @
(64, 10) product computed as two 128-row pieces differ from the one call's by 1 ulp), so results
on one thread and on several can differ in their last bits, as PyTorch's do.

Example:
    >>> import numpy as np
    >>> from nnbasics.kernels import gemm
    >>> a = np.ones((300, 4), np.float32); b = np.ones((4, 2), np.float32)
    >>> gemm.product(a, b, np.empty((300, 2), np.float32))[299].tolist()
    [4.0, 4.0]
"""

from __future__ import annotations

import numpy as np

from ..threads import blas_setter, num_threads
from . import fastblas, native_threads, parallel

__all__ = ["MAX_PIECES", "MIN_COLS", "MIN_ROWS", "PIECE_WORK", "column_bounds", "product", "row_bounds"]

#: Rows per piece, at least: each piece packs the whole right-hand matrix again (its K x N block),
#: so thin pieces waste it (the MLP's (128, 784) @ (784, 256) on one thread: 252 us in one call,
#: 571 us in four pieces of 32 rows).
MIN_ROWS = 128
#: Multiply-adds per piece, at least: handing a piece to another thread costs ~50-100 us on the
#: 2-core VM of BENCHMARKS.md, a piece should take several times that (~2**24: ~0.2 ms).
PIECE_WORK = 2**24
#: Most pieces of one product.
MAX_PIECES = 8
#: Columns per piece, at least, where a product with few rows is cut by columns (a recurrent
#: step's (N, H) @ (H, 4H)): each piece packs only its own columns of the right-hand matrix.
MIN_COLS = 128


def row_bounds(m, per_row=0, piece_work=None):
    """Fixed pieces of m rows (``per_row`` multiply-adds each): up to MAX_PIECES, each of at least
    MIN_ROWS rows and ``piece_work`` (default PIECE_WORK) multiply-adds. The size alone decides,
    never the thread count or the timing; a product too small to split is one piece."""
    p = max(1, min(MAX_PIECES, m // MIN_ROWS, m * per_row // (PIECE_WORK if piece_work is None else piece_work)))
    return [m * i // p for i in range(p + 1)]


def column_bounds(n, per_col, piece_work=None):
    """Fixed pieces of n columns (``per_col`` multiply-adds each): up to MAX_PIECES, each of at least
    MIN_COLS columns and ``piece_work`` (default PIECE_WORK) multiply-adds. The size alone decides,
    never the timing."""
    p = max(1, min(MAX_PIECES, n // MIN_COLS, n * per_col // (PIECE_WORK if piece_work is None else piece_work)))
    return [n * i // p for i in range(p + 1)]


def product(a, b, out, *, accumulate=False, key=None):
    """``out = a @ b`` (``out += a @ b`` with ``accumulate``), in row pieces on several threads.

    Args:
        a: (m, k) array; b: (k, n) array; out: (m, n) array (see :func:`fastblas.matmul` for the
            layouts that go to the fast kernels; others go to NumPy, piece by piece).
        accumulate: add to ``out`` instead of overwriting it.
        key: names the call site for the thread chooser (:mod:`~nnbasics.kernels.adaptive`);
            the shapes are added to it.

    Returns:
        ``out``.
    """
    m = out.shape[0]
    native = native_threads.available(out.dtype)
    bounds = row_bounds(m, a.shape[1] * b.shape[1], native_threads.PIECE_WORK if native else None)
    if len(bounds) <= 2 or num_threads() <= 1 or blas_setter() is None:
        with fastblas.one_thread():  # one piece: BLAS on this thread (never BLAS's own split)
            return fastblas.matmul(a, b, out, accumulate=accumulate)
    args = fastblas.call_args(a, b, out) if native else None
    if args is not None:  # the pieces on native threads: no GIL in the hand-off
        native_threads.run(lambda: np.array(native_threads.split(args, "rows", bounds, out.itemsize), dtype=np.int64),
                           out.dtype, (key, a.shape, b.shape, accumulate), beta=1.0 if accumulate else 0.0,
                           whole=[args], count=len(bounds) - 1)
        return out
    parallel.run_pieces(bounds, lambda lo, hi: fastblas.matmul(a[lo:hi], b, out[lo:hi], accumulate=accumulate),
                        None if key is None else (key, a.shape, b.shape, accumulate))
    return out
