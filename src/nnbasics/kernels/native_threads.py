"""Matrix-product pieces on native threads (Numba's OpenMP pool; with the optional compiled kernels).

:func:`nnbasics.kernels.parallel.run_pieces` hands pieces to Python threads: a hand-off costs two
wake-ups, the thread's and then the GIL's (~30-70 us on the 2-core VM of BENCHMARKS.md), so
products under ~0.3 ms gain nothing from a second thread, and the kernels keep them whole. Where
the compiled kernels are on (:mod:`nnbasics.compiled`), :func:`run` instead hands a list of BLAS
calls to one compiled loop whose iterations OpenMP's threads take (``prange``): no GIL, and the
threads wait for work spinning briefly before they sleep. The char-LSTM's step product
``(32, 256) @ (256, 1024)``: 159 us whole, 85 us in two column pieces on two threads (OpenBLAS's
own two threads: 100 us). So the kernels cut products into smaller pieces there
(:data:`PIECE_WORK`).

Each piece is the same single-threaded BLAS call as on Python's threads, so the values depend on
the pieces alone: the same for any thread count above one and either choice of the thread
chooser (:mod:`~nnbasics.kernels.adaptive`, which times native threads against running the
pieces one after another on the calling thread: under load, one thread often wins). On the
compiled float32 product a piece gives the whole product's bits, so there one thread runs each
product whole, in one call, and the pieces' calls are not even made (:func:`run`'s ``whole``).

Only with Numba's OpenMP layer (its portable ``workqueue`` layer took 210 us for the product
above: slower than one thread); elsewhere :func:`available` is False and the kernels keep the
Python threads. OpenMP's threads are not fork-safe: a process that forks after using them
should start its children with ``spawn`` (nnbasics' own process pools do).
"""

from __future__ import annotations

import os
import threading
import time
from itertools import pairwise

import numpy as np

from .. import compiled
from ..threads import num_threads
from . import adaptive, fastblas

__all__ = ["PIECE_WORK", "SPIN", "SPIN_ENV", "available", "exact_pieces", "prototypes", "run", "split"]

#: Multiply-adds per piece, at least, where pieces run on native threads (Python threads:
#: :data:`nnbasics.kernels.gemm.PIECE_WORK`, 8x more). Char-LSTM forward and backward on two
#: threads, quiet: 2**20 0.91x, 2**21 0.79-0.83x, 2**22 0.90x of the Python threads' time.
PIECE_WORK = 2**21

#: How long an idle OpenMP thread spins for work before it sleeps (GNU OpenMP's ``GOMP_SPINCOUNT``,
#: set where the user set none, before the pool starts; its default is 300,000). A thread that
#: spins between a step's products takes the core a competing process needs: under one busy
#: competitor the compiled MLP step on two threads took 1.23-1.71x its one-thread time with the
#: default, 1.07x with 100,000 (1.04-1.06x with 10,000-30,000); quiet, the char-LSTM's two-thread
#: step took 31.1 ms with the default, 30.8 with 100,000 and 35.1 with 30,000 (its pool sleeps
#: between products at 30,000 and waking it costs). bench/mlp_step.py, bench/lstm_step.py.
SPIN = 100000
SPIN_ENV = "GOMP_SPINCOUNT"

_lock = threading.Lock()
_state = None  # None: not tried; False: unavailable; else (loop, {dtype: (gemm, set_local)}, numba)


def _pieces(p, beta, shift_a, shift_c, gemm, set_local):
    """Each row of p, ``(ta, tb, m, n, k, A, lda, B, ldb, C, ldc)``, is one BLAS call
    ``C = A B + beta C`` (A and C moved by ``shift_a``, ``shift_c`` bytes), on OpenMP's threads,
    BLAS single-threaded inside each."""
    for i in _prange(p.shape[0]):
        previous = set_local(1)
        gemm(101, p[i, 0], p[i, 1], p[i, 2], p[i, 3], p[i, 4], 1.0, p[i, 5] + shift_a, p[i, 6], p[i, 7],
             p[i, 8], beta, p[i, 9] + shift_c, p[i, 10])
        set_local(previous)


_prange = range  # numba.prange once compiled


def prototypes(nb):
    """{dtype: (cblas gemm, per-thread setter)} as ctypes function pointers Numba can call
    (``nb``: the numba module). The gemm is :func:`nnbasics.kernels.fastblas.raw`'s; a compiled
    loop that calls it on one thread runs it inside :class:`~nnbasics.kernels.fastblas.one_thread`."""
    import ctypes

    i32, ptr = ctypes.c_int, ctypes.c_size_t  # addresses as integers (what the rows of p hold)
    setter = fastblas.thread_setter()
    if setter is None:  # the private copy: one thread already
        set_local = nb.cfunc("int32(int32)")(lambda n: 1).ctypes
    else:
        set_local = ctypes.CFUNCTYPE(i32, i32)(ctypes.cast(setter, ctypes.c_void_p).value)
    out = {}
    for dtype, real in ((np.dtype(np.float32), ctypes.c_float), (np.dtype(np.float64), ctypes.c_double)):
        raw = fastblas.raw(dtype)
        proto = ctypes.CFUNCTYPE(None, i32, i32, i32, i32, i32, i32, real, ptr, i32, ptr, i32, real, ptr, i32)
        out[dtype] = (proto(ctypes.cast(raw, ctypes.c_void_p).value), set_local)
    return out


def _load():
    """Compile the loop and check the threading layer (once); False where it cannot run here."""
    global _state, _prange
    if _state is not None:
        return _state
    with _lock:
        if _state is None:
            _state = False
            if not fastblas.available():
                return _state
            nb = compiled.numba()
            if nb.config.THREADING_LAYER == "default":
                nb.config.THREADING_LAYER = "omp"  # unless the user chose one (NUMBA_THREADING_LAYER)
            os.environ.setdefault(SPIN_ENV, str(SPIN))  # read when OpenMP's library loads: just below
            _prange = nb.prange
            loop = nb.njit(nogil=True, parallel=True, cache=True)(_pieces)
            protos = prototypes(nb)
            try:
                gemm, set_local = protos[np.dtype(np.float32)]
                loop(np.zeros((0, 11), np.int64), 0.0, 0, 0, gemm, set_local)  # compiles, starts the pool
                layer = nb.threading_layer()
            except Exception:  # noqa: BLE001 -- no OpenMP here (Numba raises ValueError): Python's threads then
                return _state
            if layer in ("omp", "tbb"):
                _state = (loop, protos, nb)
    return _state


def split(args, axis, bounds, itemsize):
    """The BLAS calls of one product's pieces: ``args`` the whole product's call
    (:func:`nnbasics.kernels.fastblas.call_args`), cut into rows (``axis`` "rows") or columns of
    ``C`` at ``bounds``; a list of rows for :func:`run`'s array."""
    ta, tb, m, n, k, a, lda, b, ldb, c, ldc = args
    if axis == "rows":  # rows lo:hi of A (a column block of A^T where it is held transposed) and of C
        step_a, step_c = (lda if ta == 111 else 1) * itemsize, ldc * itemsize
        return [(ta, tb, hi - lo, n, k, a + lo * step_a, lda, b, ldb, c + lo * step_c, ldc)
                for lo, hi in pairwise(bounds)]
    step_b = (1 if tb == 111 else ldb) * itemsize  # columns lo:hi of B (rows of B^T where it is held so) and C
    return [(ta, tb, m, hi - lo, k, a, lda, b + lo * step_b, ldb, c + lo * itemsize, ldc) for lo, hi in pairwise(bounds)]


def exact_pieces(dtype) -> bool:
    """True where a row or column piece of a product gives the whole product's bits on
    :func:`~nnbasics.kernels.fastblas.raw`'s kernel: the compiled float32 product (each element of
    ``C`` is added up over ``k`` in one order, whatever tile holds it: tested). BLAS promises no such
    thing (its kernels may treat a piece's edge differently), so there the pieces stay pieces."""
    return np.dtype(dtype) == np.float32 and fastblas.compiled_sgemm() is not None


def available(dtype) -> bool:
    """True where :func:`run` can take products of ``dtype``: the compiled kernels are on, the
    kernels call BLAS directly, and Numba runs OpenMP (or TBB) threads here."""
    return (compiled.is_compiled() and num_threads() > 1 and np.dtype(dtype) in (np.float32, np.float64)
            and bool(_load()))


def run(calls, dtype, key, *, beta=0.0, shift_a=0, shift_c=0, whole=None, count=None) -> None:
    """Run BLAS calls (rows of :func:`nnbasics.kernels.fastblas.call_args`: ``C = A B + beta C``,
    A and C moved by ``shift_a`` / ``shift_c`` bytes) on native threads or one after another on
    this thread, whichever the calls of ``key`` measured faster lately (:mod:`adaptive`).

    Args:
        calls: (P, 11) int64 array, one row per piece; pieces never write the same memory. Or a
            function making it, with ``count`` = P: called only where the pieces run.
        dtype: float32 or float64 (all pieces).
        key: hashable naming the call site and sizes, for the thread chooser.
        whole: the same products as fewer calls (a list of ``calls``' rows as tuples: one per
            product, before it was cut), or None. Where one thread runs them and a piece gives the whole product's
            bits (:func:`exact_pieces`), these run instead: one call per product, not one per piece
            (the char-LSTM's step product: 89 against 94 us in four pieces, 200 a step; under load
            the chooser keeps one thread, and the pieces were 2 % of the step). With a function
            for ``calls``, a call the chooser keeps on one thread then costs what it costs where
            nnbasics runs one thread (the compiled MLP step under load: 0.70 against 0.67 ms when
            its pieces were made for every call).
    """
    loop, protos, nb = _state if _state else _load()
    gemm, set_local = protos[np.dtype(dtype)]
    k = min(num_threads(), len(calls) if count is None else count, nb.config.NUMBA_NUM_THREADS)
    # by the mean: the pool's barrier waits for a descheduled thread now and then (see ThreadChoice)
    choice = adaptive.choice_for(("native", key), k, mean=True) if k > 1 else None
    m = choice.pick() if choice is not None else 1
    start = time.perf_counter()
    if m > 1:
        if nb.get_num_threads() != m:
            nb.set_num_threads(m)
        loop(calls() if callable(calls) else calls, beta, shift_a, shift_c, gemm, set_local)
    else:
        raw = fastblas.raw(dtype)
        rows = whole if whole is not None and exact_pieces(dtype) else (calls() if callable(calls) else calls).tolist()
        with fastblas.one_thread():
            for ta, tb, mm, n, kk, a, lda, b, ldb, c, ldc in rows:
                raw(101, ta, tb, mm, n, kk, 1.0, a + shift_a, lda, b, ldb, beta, c + shift_c, ldc)
    if choice is not None:
        choice.record(m, time.perf_counter() - start)
