"""Split big elementwise passes across threads (NumPy releases the GIL inside its loops).

BLAS calls (every GEMM) are already threaded by the BLAS library; NumPy's elementwise passes
(ReLU, max-pooling, copies) are not, so on two cores they would run on one while the other
waits. :func:`parallel_for` cuts such a pass into contiguous chunks along one axis and runs
them on a small persistent thread pool plus the calling thread; NumPy drops the GIL inside
each ufunc loop, so the chunks really do run at the same time.

The thread count is :func:`nnbasics.threads.num_threads` (the public setting, with
:func:`~nnbasics.threads.set_num_threads`). With one thread :func:`parallel_for` is a plain call.

Example:
    >>> import numpy as np
    >>> from nnbasics.kernels import parallel
    >>> a = np.arange(10.0); out = np.empty_like(a)
    >>> parallel.parallel_for(len(a), lambda lo, hi: np.multiply(a[lo:hi], 2, out=out[lo:hi]))
    >>> out[:3].tolist()
    [0.0, 2.0, 4.0]
"""

from __future__ import annotations

import threading
import time
from itertools import chain as _chain
from itertools import pairwise

from ..threads import blas_setter, num_threads
from . import adaptive

__all__ = ["MIN_ELEMENTS", "PIECES_PER_THREAD", "parallel_blas_for", "parallel_for", "run_pieces", "uniform_fill"]

#: Pieces per thread in :func:`parallel_for`: the threads take pieces in turn, so a thread
#: that starts late (a pool thread wakes up 0.05-0.2 ms after the call) or is slowed by another
#: process does less of the work instead of making the others wait for it. Lab CNN step on 2
#: threads: see BENCHMARKS.md.
PIECES_PER_THREAD = 4

#: Arrays with fewer elements than this are not worth splitting (a thread hand-off costs
#: ~20-50 microseconds; a 256 Ki-element float32 pass takes ~50-100).
MIN_ELEMENTS = 2**18

_executor = None
_lock = threading.Lock()


def _pool(workers):
    global _executor
    with _lock:
        if _executor is None or _executor._max_workers < workers:
            from concurrent.futures import ThreadPoolExecutor

            if _executor is not None:
                _executor.shutdown(wait=False)
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nnbasics")
        return _executor


def parallel_for(n: int, fn, elements: int | None = None, key=None) -> None:
    """Run ``fn(lo, hi)`` over contiguous chunks covering ``range(n)``, on up to :func:`num_threads` threads.

    The range is cut into up to ``num_threads() * PIECES_PER_THREAD`` pieces at fixed bounds
    (the same for every call with the same ``n`` and thread count, so results that add
    per-piece partial sums in piece order are deterministic); the threads take them in turn, or,
    where the calls of this call site and size have lately run faster so (a busy competitor
    on the machine), the calling thread runs them all (:mod:`nnbasics.kernels.adaptive`): the
    same pieces, so the same values.

    Args:
        n: length of the axis to split (e.g. the batch size).
        fn: callable ``fn(lo, hi)`` that processes items ``lo:hi``; chunks never overlap, so
            ``fn`` may write its slice of shared output arrays.
        elements: total elements the pass touches; below :data:`MIN_ELEMENTS` it is one call.
        key: hashable naming the work for the thread chooser, with ``n`` and ``elements`` (default:
            ``fn``'s code, or the code of the function it wraps, ``fn.__wrapped__``). Callers whose
            passes of one size cost differently from call to call (layers of other widths) say so.

    Exceptions raised by ``fn`` in any chunk propagate (the first one, after all chunks end).
    """
    k = min(num_threads(), n)
    if k <= 1 or (elements is not None and elements < MIN_ELEMENTS) or threading.current_thread().name.startswith(
            "nnbasics"):
        fn(0, n)
        return
    pieces = min(n, k * PIECES_PER_THREAD)
    bounds = [n * i // pieces for i in range(pieces + 1)]
    # the pieces are fixed by the thread setting; whether they run on all k threads or one after
    # another on this one, the chooser times (the same pieces either way: the same values)
    if key is None:  # the call site: a wrapper's (parallel_blas_for's chunk) is the function it wraps
        key = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    _run_chosen(bounds, fn, (key, n, elements), k)


def _run_chosen(bounds, fn, key, k):
    """The pieces on ``k`` threads or one after another on this one, whichever the calls of ``key``
    measured faster lately (:mod:`nnbasics.kernels.adaptive`); the calls are timed for it."""
    choice = adaptive.choice_for(key, k)
    m = choice.pick()
    start = time.perf_counter()
    if m <= 1:
        for lo, hi in pairwise(bounds):
            fn(lo, hi)
    else:
        _run(bounds, fn, m)
    choice.record(m, time.perf_counter() - start)


def _run(bounds, fn, k):
    """``fn(lo, hi)`` for every piece ``bounds[i]:bounds[i + 1]``, on ``k`` threads taking them in turn."""
    order = iter(range(1, len(bounds) - 1))  # shared: each thread takes the next piece (next() is atomic under the GIL)

    def take(first=None):  # every piece runs; a failing piece's error is raised once the thread runs out
        error = None
        for i in order if first is None else _chain((first,), order):
            try:
                fn(bounds[i], bounds[i + 1])
            except BaseException as e:  # noqa: BLE001
                error = error or e
        if error is not None:
            raise error

    futures = [_pool(k - 1).submit(take) for _ in range(1, k)]
    error = None
    try:
        take(0)  # the caller starts with the first piece, then takes its turns
    except BaseException as e:  # noqa: BLE001 - re-raised after the other chunks finish
        error = e
    for f in futures:
        try:
            f.result()
        except BaseException as e:  # noqa: BLE001
            error = error or e
    if error is not None:
        raise error


def run_pieces(bounds, fn, key=None) -> None:
    """``fn(lo, hi)`` for the fixed pieces ``bounds[i]:bounds[i + 1]``, BLAS single-threaded inside each.

    Unlike :func:`parallel_blas_for`, the pieces are the caller's and do not depend on the thread
    count, and BLAS runs on one thread inside every piece even where only one thread runs them
    all: each piece's arithmetic is then the same however many threads take the pieces, in
    whatever order, so the result is identical on 1, 2 or more threads. A piece run by a thread
    that the OS deschedules delays only that piece; the other threads go on with the rest. With a
    ``key``, the thread count is one or :func:`num_threads`, whichever the calls of that key have
    measured faster lately (:mod:`nnbasics.kernels.adaptive`): under load one thread often is.

    Args:
        bounds: increasing ints, ``bounds[0]`` to ``bounds[-1]``; each piece one call.
        fn: callable ``fn(lo, hi)``; pieces never overlap, so ``fn`` may write its slice of shared outputs.
        key: hashable naming the call site and size whose calls are timed to choose the thread
            count; None: always :func:`num_threads`.

    Needs OpenBLAS's per-thread setting (:func:`nnbasics.threads.blas_setter`); callers check it.
    """
    k = min(num_threads(), len(bounds) - 1)
    set_local = blas_setter()

    def piece(lo, hi):
        previous = set_local(1)
        try:
            fn(lo, hi)
        finally:
            set_local(previous)

    if k <= 1 or threading.current_thread().name.startswith("nnbasics"):
        for lo, hi in pairwise(bounds):
            piece(lo, hi)
        return
    if key is None:
        _run(list(bounds), piece, k)
        return
    _run_chosen(list(bounds), piece, key, k)


def parallel_blas_for(n: int, fn, elements: int | None = None, key=None) -> None:
    """:func:`parallel_for` for chunks that call BLAS: inside each chunk BLAS runs on that thread alone.

    Two threads each running single-threaded GEMMs on their own blocks of images beat one
    thread running two-threaded GEMMs on every block (the lab CNN's second convolution on 2
    cores: forward 16.9 -> 8.5 ms with the GEMMs left two-threaded, 6.1 ms single-threaded).
    Needs OpenBLAS's per-thread setting (``openblas_set_num_threads_local``, OpenBLAS 0.3.27+,
    as NumPy 2 ships); without it (another BLAS, older OpenBLAS) the chunks would fight over
    BLAS's own threads, so ``fn(0, n)`` runs as one call and BLAS threads it.
    """
    if min(num_threads(), n) <= 1:
        fn(0, n)
        return
    set_local = blas_setter()
    if set_local is None:
        fn(0, n)
        return

    def chunk(lo, hi):
        previous = set_local(1)
        try:
            fn(lo, hi)
        finally:
            set_local(previous)

    chunk.__wrapped__ = fn  # the thread chooser tells callers apart by it (every caller's chunk has one code)
    parallel_for(n, chunk, elements, key)


def uniform_fill(gen, out) -> None:
    """``gen.random(out.shape, dtype=out.dtype, out=out)``, split across threads: the same numbers.

    For NumPy's default bit generator (PCG64) a float32 U[0, 1) takes 32 bits of a 64-bit
    draw (low half first) and a float64 takes a whole draw, so the draws behind any stretch of
    ``out`` are known in advance: each thread fills its stretch from a copy of the generator
    moved ahead with ``PCG64.advance`` (a jump, not a walk), and ``gen`` ends in the state the
    one-thread fill leaves. Other bit generators, small arrays and one thread: one plain call.
    (A dropout mask on the lab CNN's (128, 64, 7, 7) activations: ~1 ms on one thread.)

    Args:
        gen: numpy.random.Generator.
        out: C-contiguous float32 or float64 array to fill.
    """
    import numpy as np

    n = out.size
    k = num_threads() if n >= MIN_ELEMENTS else 1
    bg = gen.bit_generator
    if (k <= 1 or type(bg) is not np.random.PCG64 or out.dtype not in (np.float32, np.float64)
            or not out.flags.c_contiguous or threading.current_thread().name.startswith("nnbasics")):
        gen.random(out.shape, dtype=out.dtype, out=out)
        return
    flat = out.reshape(-1)
    per_draw = 2 if out.dtype == np.float32 else 1  # values per 64-bit draw
    start = 0
    if per_draw == 2 and bg.state["has_uint32"]:
        flat[:1] = gen.random(1, dtype=np.float32)  # the buffered half-draw comes first
        start = 1
    draws = (n - start) // per_draw
    if draws < k:  # too few values for a stretch per thread
        gen.random(n - start, dtype=out.dtype, out=flat[start:])
        return
    base = bg.state
    # stretch bounds on whole draws (even offsets for float32), the last takes the rest
    bounds = [start + per_draw * (draws * i // k) for i in range(k)] + [n]
    gens = []
    for i in range(k):
        b = np.random.PCG64()
        b.state = base
        b.advance((bounds[i] - start) // per_draw)
        gens.append(np.random.Generator(b))

    def fill(lo, hi):
        for i in range(lo, hi):
            seg = flat[bounds[i]:bounds[i + 1]]
            gens[i].random(seg.shape, dtype=out.dtype, out=seg)

    parallel_for(k, fill)
    end = gens[-1].bit_generator.state  # where the one-thread fill would have left it, except that
    if per_draw == 1:  # advance() drops a buffered half-draw, which float64 draws leave in place
        end["has_uint32"], end["uinteger"] = base["has_uint32"], base["uinteger"]
    bg.state = end
