"""Matrix products called straight into BLAS, on the widest kernels the CPU and its settings allow.

The kernels call BLAS's ``cblas_sgemm``/``cblas_dgemm`` themselves (through :mod:`ctypes`)
rather than ``numpy.matmul``: a call adds into its output (``C += A B``, BLAS's ``beta = 1``: no
temporary and no extra pass), takes any one-unit-stride layout as it is, releases the GIL
around every product (NumPy's ``matmul`` keeps it for a single small 2-D product), and costs
~1.3 us (:func:`raw`, for hot loops) instead of NumPy's ~5-10 us for a batched product. Which
OpenBLAS is called:

* **NumPy's own**, the library NumPy loaded, with the kernels it chose (the usual case), always
  on the calling thread only (its per-thread setting, ``openblas_set_num_threads_local``): the
  kernels split big products into pieces themselves (:mod:`~nnbasics.kernels.gemm`), so the
  values never depend on BLAS's thread count and a descheduled BLAS thread never stalls a step.
* **A private copy of it with AVX-512 kernels**, where NumPy's OpenBLAS chose an older family
  by itself: NumPy's OpenBLAS (``DYNAMIC_ARCH``) picks its kernels by CPU model, and a CPU newer
  than the build knows gets an older family's (AVX2 kernels run a float32 GEMM at ~55 % of the
  speed of the AVX-512 ones on an AVX-512 core: ``(3200, 256) @ (256, 1024)``, 12.9 against 6.7
  ms). OpenBLAS takes its family once, when it loads, so this module then loads a **second
  instance of the same library file** (copied into an anonymous in-memory file, so the loader
  sees a new library), with ``OPENBLAS_CORETYPE=SkylakeX`` and one thread. Only where the CPU
  lists the AVX-512 subsets SkylakeX needs (``avx512f``, ``dq``, ``cd``, ``bw``, ``vl`` in
  ``/proc/cpuinfo``: Linux lists them only when the OS saves the registers), where
  **``OPENBLAS_CORETYPE`` is not set** (whoever set it chose the kernels: the choice is kept, and
  NumPy's own library is called) unless ``NNBASICS_FAST_BLAS=avx512`` asks for the copy anyway,
  and after the copy passed a check against NumPy.
* **not BLAS, for float32 with the compiled kernels on** (:mod:`nnbasics.compiled`) on a CPU with
  AVX-512: :func:`raw` and :func:`matmul` then run :mod:`~nnbasics.kernels.gemm_compiled`'s
  product (``cblas_sgemm``'s signature, ~2x NumPy's AVX2 kernels; products under 16 rows or 32
  columns stay on BLAS), so every kernel that calls them, the native threads' pieces included,
  takes it unchanged;
* neither where NumPy's BLAS is not OpenBLAS, or ``NNBASICS_FAST_BLAS=0``: :func:`matmul` is then
  :func:`numpy.matmul` and :func:`raw` is None (the kernels take their NumPy paths).

The private copy's products differ from NumPy's in the last bits (another kernel adds in another
order), as a product on another CPU does; nothing depends on timing. NumPy itself is never
changed; importing nnbasics loads nothing; reference mode runs no kernel, so never gets here.
:func:`describe` says which BLAS runs (the benchmarks print it).

Example:
    >>> import numpy as np
    >>> from nnbasics.kernels import fastblas
    >>> a = np.ones((2, 3), np.float32); b = np.ones((3, 4), np.float32)
    >>> fastblas.matmul(a, b).tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..threads import blas_setter, num_threads, single_thread_blas
from . import gemm_compiled

__all__ = ["ALONE", "COMPILED_MIN_WORK", "ENV", "alone", "available", "beats_numpy", "call_args", "compiled_sgemm",
           "describe", "matmul", "one_thread", "private", "raw", "thread_setter"]

#: Environment variable: ``0`` keeps every product on ``numpy.matmul``; ``avx512`` asks for the private
#: AVX-512 copy even where ``OPENBLAS_CORETYPE`` chose older kernels for NumPy (where the CPU has AVX-512).
ENV = "NNBASICS_FAST_BLAS"
#: CPU flags the SkylakeX kernels use (OpenBLAS ``dynamic.c``: ``support_avx512``).
_NEEDS = frozenset({"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"})
#: Kernel families of NumPy's OpenBLAS that the private copy beats (AVX2 and older).
_OLDER = frozenset({"haswell", "zen", "sandybridge", "nehalem", "prescott", "core2", "penryn",
                    "dunnington", "atom", "bulldozer", "piledriver", "steamroller", "excavator",
                    "barcelona", "opteron", "katmai", "coppermine", "northwood", "banias"})

#: Smallest product (m * n * k multiply-adds) :func:`matmul` calls BLAS for itself: below it the
#: ~5 us of checks and the foreign call cost more than they save.
MIN_WORK = 2**15
#: Products of at most this many multiply-adds OpenBLAS runs on the calling thread whatever its
#: thread count (interface/gemm.c: one thread while ``m * n * k <= SMP_THRESHOLD_MIN *
#: GEMM_MULTITHREAD_THRESHOLD``, 65536 * 4 in a default build; measured here: (64, 64) @ (64, 65)
#: woke no BLAS thread with OPENBLAS_NUM_THREADS=2, (128, 128) @ (128, 32) did). Such products
#: need no :class:`one_thread` around them (two foreign calls, ~10 % of a tiny MLP's step on two
#: threads). (A build with a smaller GEMM_MULTITHREAD_THRESHOLD may thread some of them: their
#: last bits could then differ between thread counts.)
ALONE = 65536 * 4

_lock = threading.Lock()
_alone = threading.local()  # depth of one_thread() blocks on this thread
_state = None  # None: not looked at yet; False: numpy.matmul; else (sgemm, dgemm, per-thread setter or None)
_why = "not looked at yet"


def available() -> bool:
    """True where the kernels call BLAS directly (NumPy's own OpenBLAS or the private AVX-512 copy;
    looked up on the first call)."""
    return bool(_load())


def raw(dtype):
    """The ``cblas_sgemm`` (float32) or ``cblas_dgemm`` (float64) the kernels call; None where there is none.

    For hot loops that compute their pointers once (each call through :func:`matmul` checks its
    arrays, ~5 us; this ~1.3 us). Called as ``gemm(101, ta, tb, m, n, k, alpha, A, lda, B, ldb,
    beta, C, ldc)``: row-major (101), ``ta``/``tb`` 111 (as stored) or 112 (transposed), ``A``,
    ``B``, ``C`` addresses (``x.ctypes.data``), ``C = alpha op(A) op(B) + beta C``. The caller
    answers for the shapes, strides and lifetimes (nothing is checked) and runs the loop inside
    :func:`one_thread` (NumPy's own OpenBLAS would otherwise split each product across its threads).
    """
    fns = _state if _state is not None else _load()
    if not fns:
        return None
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return compiled_sgemm() or fns[0]
    return fns[1] if dtype == np.float64 else None


def compiled_sgemm():
    """The compiled float32 product (:mod:`~nnbasics.kernels.gemm_compiled`, ``cblas_sgemm``'s
    signature) where it runs now: the compiled kernels on, a CPU with AVX-512, and direct products
    not switched off (``NNBASICS_FAST_BLAS=0``); else None."""
    fns = _state if _state is not None else _load()
    return gemm_compiled.cblas() if fns and gemm_compiled.available() else None


#: Multiply-adds a float32 product needs, at least, before the kernels' own product path (pieces,
#: chooser, the compiled product) beats ``numpy.matmul`` on one thread: the held-out 100-50-10 MLP
#: at batch 16 (products of 80 K multiply-adds) took 0.16 ms a step through it, 0.10 through NumPy.
COMPILED_MIN_WORK = 2**20


def beats_numpy(dtype, macs) -> bool:
    """True where :func:`matmul` runs a product of ``macs`` multiply-adds of ``dtype`` faster than
    ``numpy.matmul`` does on one thread: on the private AVX-512 copy, or (float32, at least
    :data:`COMPILED_MIN_WORK`) on the compiled product."""
    return private() or (np.dtype(dtype) == np.float32 and macs >= COMPILED_MIN_WORK
                         and compiled_sgemm() is not None)


class one_thread:
    """Context manager: the products of :func:`raw` and :func:`matmul` run on the calling thread only, inside.

    Needed where :func:`raw` is NumPy's own OpenBLAS (whose calls otherwise use its thread pool);
    the private copy has one thread anyway, and NumPy's own products inside (a GEMV) run on this
    thread too. For work no other thread of nnbasics' shares (a
    product too small to split): :func:`matmul` then calls ``numpy.matmul``, which holds the GIL
    through a single 2-D product but costs less than a direct call. Re-entrant: restores the count
    it found.
    """

    def __enter__(self):
        fns = _state if _state is not None else _load()
        self._set = fns[2] if fns and fns[2] is not None else blas_setter()
        self._previous = self._set(1) if self._set is not None else None
        _alone.depth = getattr(_alone, "depth", 0) + 1
        return self

    def __exit__(self, *exc):
        _alone.depth -= 1
        if self._set is not None:
            self._set(self._previous)
        return False


def private() -> bool:
    """True where the products run on the private AVX-512 copy (faster than NumPy's own kernels)."""
    fns = _state if _state is not None else _load()
    return bool(fns) and fns[2] is None


def describe() -> str:
    """One line: which kernels :func:`matmul` runs on, and why (for benchmarks and reports)."""
    _load()
    return _why


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _library():
    """The path of the OpenBLAS NumPy loaded, from /proc/self/maps (Linux); None if there is none."""
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line})
    except OSError:
        return None
    for path in paths:
        if os.path.isfile(path):
            return path
    return None


def _copy_into(path, fd):
    """The file at ``path`` into ``fd``, in the kernel where it can (no 25 MB Python bytes object: freeing
    one would raise malloc's mmap threshold for the rest of the process)."""
    with open(path, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        done = 0
        try:
            while done < size:
                sent = os.sendfile(fd, src.fileno(), done, size - done)
                if sent == 0:
                    break
                done += sent
        except (AttributeError, OSError):
            done = 0
        if done < size:  # no sendfile here: in 64 KiB pieces
            os.lseek(fd, 0, os.SEEK_SET)
            src.seek(0)
            while chunk := src.read(1 << 16):
                os.write(fd, chunk)


def _open_copy(path):
    """dlopen a private copy of the library at ``path``, with SkylakeX kernels and one thread."""
    import ctypes

    # no "openblas" in the name: code that looks for NumPy's library in /proc/self/maps goes by it
    tmp = None
    try:
        fd = os.memfd_create("nnbasics-fastblas")
    except (AttributeError, OSError):  # not Linux, or not allowed: a temporary file, removed once loaded
        import tempfile

        fd, tmp = tempfile.mkstemp(suffix=".so")
    try:
        _copy_into(path, fd)
        name = tmp or f"/proc/self/fd/{fd}"
        saved = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS")}
        os.environ["OPENBLAS_CORETYPE"], os.environ["OPENBLAS_NUM_THREADS"] = "SkylakeX", "1"
        try:
            return ctypes.CDLL(name, mode=os.RTLD_LOCAL)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        os.close(fd)
        if tmp is not None:
            os.unlink(tmp)


def _symbol(lib, names):
    for name in names:
        try:
            return getattr(lib, name)
        except AttributeError:
            continue
    raise AttributeError(names[0])


def _bind(lib, expect=None):
    """(kernel family, (sgemm, dgemm)) of an OpenBLAS, its int width read from its symbols; raises
    where anything is off (``expect``: the family it must run)."""
    import ctypes

    corename = _symbol(lib, ["scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"])
    core = _corename(lib)
    if expect is not None and core.lower() != expect:
        raise OSError(f"the copy runs {core}, not {expect}")
    ilp64 = "64" in corename.__name__
    idx = ctypes.c_longlong if ilp64 else ctypes.c_int
    suffix = "64_" if ilp64 else ""
    prefix = "scipy_" if corename.__name__.startswith("scipy_") else ""
    fns = []
    for letter, scalar in (("s", ctypes.c_float), ("d", ctypes.c_double)):
        fn = getattr(lib, f"{prefix}cblas_{letter}gemm{suffix}")
        p = ctypes.c_void_p
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, idx, idx, idx, scalar, p, idx, p, idx, scalar, p, idx]
        fn.restype = None
        fns.append(fn)
    return core, tuple(fns)


def _self_check(fns):
    """The copy's products against NumPy's on a few shapes and layouts; raises on a mismatch.

    NumPy's products here run on this thread alone: a threaded one would wake OpenBLAS's pool,
    whose threads then spin for ~0.1 s of CPU (a busy core on a 2-core machine, once per process)."""
    with single_thread_blas():
        _check_products(fns)


def _check_products(fns):
    rng = np.random.default_rng(0)
    for dt, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for m, k, n in ((1, 1, 1), (7, 33, 5), (64, 300, 129)):
            a = rng.standard_normal((m, k)).astype(dt)
            b = rng.standard_normal((k, n)).astype(dt)
            for aa, bb in ((a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b))):
                got = _gemm(fns if len(fns) == 3 else (*fns, None), aa, bb, np.empty((m, n), dt))
                want = np.matmul(aa, bb)
                if not np.abs(got - want).max() <= tol * max(1.0, np.abs(want).max()) * k:
                    raise ArithmeticError(f"the copy's {dt.__name__} product ({m}, {k}) @ ({k}, {n}) differs from NumPy's")


def _load():
    global _state, _why
    if _state is not None:
        return _state
    with _lock:
        if _state is not None:
            return _state
        _state, _why = False, "NumPy's own BLAS, through numpy.matmul"
        if os.environ.get(ENV, "").strip() == "0":
            _why += f" ({ENV}=0)"
            return _state
        path = _library()
        if path is None:
            _why += " (not OpenBLAS, or not found)"
            return _state
        import ctypes

        try:
            own = ctypes.CDLL(path)  # NumPy's, already loaded: which family does it run?
            numpy_core = _corename(own)
        except (OSError, AttributeError) as e:
            _why += f" (its OpenBLAS does not answer: {e})"
            return _state
        forced = os.environ.get("OPENBLAS_CORETYPE", "").strip()
        asked = os.environ.get(ENV, "").strip().lower() == "avx512"  # the user's explicit request
        reason = None
        if numpy_core.lower() not in _OLDER:
            reason = f"OPENBLAS_CORETYPE={forced} chooses them" if forced else "the widest this CPU has"
        elif forced and not asked:
            reason = f"OPENBLAS_CORETYPE={forced} chooses them; {ENV}=avx512 asks for AVX-512 ones"
        elif not _NEEDS <= _cpu_flags():
            reason = "no AVX-512 here"
        else:
            try:
                core, fns = _bind(_open_copy(path), expect="skylakex")
                _self_check(fns)
                _state = (*fns, None)
                _why = f"a private copy of NumPy's OpenBLAS with {core} kernels (NumPy's runs {numpy_core}" + (
                    f", as OPENBLAS_CORETYPE={forced} says; {ENV}=avx512 asked for these)" if forced else ")")
                return _state
            except (OSError, AttributeError, ArithmeticError, ValueError) as e:
                reason = f"the private AVX-512 copy failed: {e}"
        try:
            set_local = blas_setter()
            if set_local is None:
                raise AttributeError("no openblas_set_num_threads_local (OpenBLAS < 0.3.27)")
            _, fns = _bind(own)
            _self_check((*fns, set_local))
        except (OSError, AttributeError, ArithmeticError, ValueError) as e:
            _why += f" ({reason}; calling it directly failed: {e})"
            return _state
        _state = (*fns, set_local)
        _why = f"NumPy's own OpenBLAS, called directly, {numpy_core} kernels ({reason}), one thread per call"
        return _state


def _corename(lib):
    import ctypes

    name = _symbol(lib, ["scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"])
    name.restype = ctypes.c_char_p
    return name().decode()


def _operand(x):
    """(transpose flag, leading dimension) of a 2-D array for a row-major GEMM; None if its layout won't do."""
    s0, s1 = x.strides
    size = x.itemsize
    rows, cols = x.shape
    if s1 == size and (s0 >= max(1, cols) * size or rows <= 1) and s0 % size == 0:
        return 111, max(1, cols, s0 // size)  # CblasNoTrans, lda
    if s0 == size and (s1 >= max(1, rows) * size or cols <= 1) and s1 % size == 0:
        return 112, max(1, rows, s1 // size)  # CblasTrans over the transposed (row-major) matrix
    return None


def _fits(fns, a, b, out):
    """True if ``out (=|+=) a @ b`` can be one direct BLAS call (see :func:`matmul`)."""
    return bool(fns and a.ndim == 2 and b.ndim == 2 and out.ndim == 2 and a.dtype == b.dtype == out.dtype
                and (a.dtype == np.float32 or a.dtype == np.float64)  # native byte order only
                and out.flags.writeable and a.shape[1] == b.shape[0]
                and out.shape == (a.shape[0], b.shape[1]) and a.shape[0] * a.shape[1] * b.shape[1] >= MIN_WORK
                and _operand(a) is not None and _operand(b) is not None and out.strides[1] == out.itemsize
                and out.strides[0] >= max(1, out.shape[1]) * out.itemsize and not out.strides[0] % out.itemsize
                and not (np.may_share_memory(out, a) or np.may_share_memory(out, b)))


def call_args(a, b, out):
    """``(ta, tb, m, n, k, A, lda, B, ldb, C, ldc)``, the row-major BLAS call for ``out (=|+=) a @ b``
    (addresses as ints), where it can be one direct call (:func:`matmul`'s conditions) and is not
    empty; else None. For :mod:`~nnbasics.kernels.native_threads`, which runs such calls itself."""
    fns = _state if _state is not None else _load()
    if not _fits(fns, a, b, out) or not out.size:
        return None
    (ta, lda), (tb, ldb) = _operand(a), _operand(b)
    m, k = a.shape
    return (ta, tb, m, b.shape[1], k, a.ctypes.data, lda, b.ctypes.data, ldb, out.ctypes.data,
            out.strides[0] // out.itemsize)


def thread_setter():
    """The per-thread BLAS thread-count setter the products need (NumPy's own OpenBLAS), or None
    (the private copy, which has one thread, or no direct BLAS)."""
    fns = _state if _state is not None else _load()
    return fns[2] if fns else None


def _small(a, b):
    """A 2-D product BLAS runs on the calling thread anyway (:func:`alone`)."""
    return a.ndim == 2 and b.ndim == 2 and alone(a.shape[0] * a.shape[1] * b.shape[1])


def _gemm(fns, a, b, out, beta=0.0):
    m, k = a.shape
    n = b.shape[1]
    if m and n:
        ta, lda = _operand(a)
        tb, ldb = _operand(b)
        fn = (compiled_sgemm() or fns[0]) if out.dtype == np.float32 else fns[1]
        set_local = fns[2]  # NumPy's own OpenBLAS: on this thread only (the private copy has no threads)
        previous = set_local(1) if set_local is not None else None
        try:
            fn(101, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, beta, out.ctypes.data,
               out.strides[0] // out.itemsize)
        finally:
            if previous is not None:
                set_local(previous)
    return out


def _compiled_worth(a, b):
    """True where a float32 product goes to the compiled product rather than NumPy's BLAS: it runs
    here, and the product has whole tiles to fill (at least 16 rows and 32 columns; smaller ones
    are faster in BLAS, measured: (8, 128) @ (128, 512) 22 against 16 us)."""
    return (a.ndim == 2 and b.ndim == 2 and a.shape[0] >= 2 * gemm_compiled.MR and b.shape[1] >= gemm_compiled.NR
            and compiled_sgemm() is not None)


def alone(macs) -> bool:
    """True for a product of ``macs`` multiply-adds that BLAS runs on the calling thread anyway (:data:`ALONE`)."""
    return macs <= ALONE


def matmul(a, b, out=None, *, accumulate=False):
    """``numpy.matmul(a, b, out=out)`` (or ``out += a @ b``), one direct BLAS call on this thread where it applies.

    It applies to 2-D float32 or float64 operands of one dtype (native byte order), each with one
    unit stride (C order, Fortran order, a transposed view, a block of rows or columns of one),
    ``out`` (if given) of that dtype with unit column stride, writeable, not overlapping them, and
    to products of at least :data:`MIN_WORK` multiply-adds; everything else goes to NumPy. BLAS runs on the calling
    thread only: callers split big products into pieces themselves
    (:mod:`nnbasics.kernels.gemm`).

    Args:
        a: (m, k) array.
        b: (k, n) array.
        out: optional (m, n) array to write.
        accumulate: add the product to ``out`` (BLAS's beta = 1) instead of overwriting it.

    Returns:
        (m, n) array, ``out`` if given.
    """
    fns = _state if _state is not None else _load()
    if accumulate:
        if out is None:
            raise ValueError("matmul: accumulate=True needs out")
        if not _fits(fns, a, b, out):
            out += np.matmul(a, b)
            return out
        return _gemm(fns, a, b, out, 1.0)
    if fns and fns[2] is not None and (num_threads() <= 1 or getattr(_alone, "depth", 0) or _small(a, b)) and not (
            a.dtype == np.float32 and _compiled_worth(a, b)):
        # NumPy's own kernels, and no other thread of ours waits on the GIL: numpy.matmul is the
        # same BLAS call with less overhead (in one_thread() or too small to thread, on this
        # thread only, as a direct call)
        return np.matmul(a, b, out=out)
    if out is None and fns and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.shape[1:] == b.shape[:1]:
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    if out is None or not _fits(fns, a, b, out):
        return np.matmul(a, b, out=out)
    return _gemm(fns, a, b, out)
