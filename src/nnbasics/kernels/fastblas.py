"""Matrix products on the widest vector kernels the CPU has: a private copy of NumPy's own OpenBLAS.

NumPy ships OpenBLAS built for many CPUs at once (``DYNAMIC_ARCH``); at start-up it picks the
kernels of the CPU model it recognises. A CPU newer than the build knows gets an older family's
kernels: on this project's AMD EPYC (Zen, AVX-512) NumPy's OpenBLAS 0.3.31 runs its *Haswell*
(AVX2) kernels, and a float32 GEMM runs at ~55 % of the speed its *SkylakeX* (AVX-512) kernels
give on the same core (``(3200, 256) @ (256, 1024)``: 12.9 against 6.7 ms, one thread).

OpenBLAS takes its kernel family from ``OPENBLAS_CORETYPE`` when the library is loaded, once per
process; NumPy's copy is loaded before any of our code runs, and changing it would change the
user's own NumPy. So this module loads a **second, private instance of the same library file**
(read into an anonymous in-memory file, so the dynamic loader sees a new library rather than the
one NumPy loaded), with ``OPENBLAS_CORETYPE=SkylakeX`` and one thread, and calls its
``cblas_sgemm``/``cblas_dgemm`` through :mod:`ctypes` on NumPy arrays. NumPy itself is untouched.

It is used only where all of these hold (else :func:`matmul` is :func:`numpy.matmul`):

* the CPU reports the AVX-512 subsets SkylakeX kernels need (``avx512f``, ``avx512dq``,
  ``avx512cd``, ``avx512bw``, ``avx512vl`` in ``/proc/cpuinfo``: Linux lists them only when the
  OS saves the registers too), so the kernels cannot meet an illegal instruction;
* NumPy's OpenBLAS runs an AVX2-or-older family (on a CPU it already serves with AVX-512 there
  is nothing to gain);
* the private copy loads, says it runs SkylakeX, and passes a check against NumPy on products of
  several shapes and layouts (relative error below 1e-5 in float32);
* ``NNBASICS_FAST_BLAS`` is not ``0`` (read when the copy is first needed).

The products differ from NumPy's in the last bits (another kernel adds in another order), never
more than float rounding; they are deterministic for a given CPU. Reference mode runs no
kernel, so it never gets here. Loading costs ~20 ms once, on the first product that asks.

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

__all__ = ["ENV", "available", "describe", "matmul", "raw"]

#: Environment variable: ``0`` keeps every product on NumPy's own BLAS.
ENV = "NNBASICS_FAST_BLAS"
#: CPU flags the SkylakeX kernels use (OpenBLAS ``dynamic.c``: ``support_avx512``).
_NEEDS = frozenset({"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"})
#: Kernel families of NumPy's OpenBLAS that the private copy beats (AVX2 and older).
_OLDER = frozenset({"haswell", "zen", "sandybridge", "nehalem", "prescott", "core2", "penryn",
                    "dunnington", "atom", "bulldozer", "piledriver", "steamroller", "excavator",
                    "barcelona", "opteron", "katmai", "coppermine", "northwood", "banias"})

#: Smallest product (m * n * k multiply-adds) sent to the private copy by :func:`matmul`: below it
#: the ~5 us of checks and the foreign call cost more than the faster kernels save.
MIN_WORK = 2**15

_lock = threading.Lock()
_state = None  # None: not looked at yet; False: not used; else the loaded (sgemm, dgemm)
_why = "not looked at yet"


def available() -> bool:
    """True where :func:`matmul` runs on the private AVX-512 copy (loads it on the first call)."""
    return bool(_load())


def raw(dtype):
    """The private copy's ``cblas_sgemm`` (float32) or ``cblas_dgemm`` (float64); None where not available.

    For hot loops that compute their pointers once (each call through :func:`matmul` checks its
    arrays, ~5 us; this ~1.3 us). Called as ``gemm(101, ta, tb, m, n, k, alpha, A, lda, B, ldb,
    beta, C, ldc)``: row-major (101), ``ta``/``tb`` 111 (as stored) or 112 (transposed), ``A``,
    ``B``, ``C`` addresses (``x.ctypes.data``), ``C = alpha op(A) op(B) + beta C``. The caller
    answers for the shapes, strides and lifetimes: nothing is checked.
    """
    fns = _state if _state is not None else _load()
    if not fns:
        return None
    dtype = np.dtype(dtype)
    return fns[0] if dtype == np.float32 else fns[1] if dtype == np.float64 else None


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


def _bind(lib):
    """The copy's (sgemm, dgemm), its int width and name checked; raises where anything is off."""
    import ctypes

    corename = _symbol(lib, ["scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"])
    corename.restype = ctypes.c_char_p
    core = corename().decode()
    if core.lower() != "skylakex":
        raise OSError(f"the copy runs {core}, not SkylakeX")
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
    return core, tuple(fns)  # loaded with OPENBLAS_NUM_THREADS=1: no thread pool, every call on its caller's thread


def _self_check(fns):
    """The copy's products against NumPy's on a few shapes and layouts; raises on a mismatch."""
    rng = np.random.default_rng(0)
    for dt, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for m, k, n in ((1, 1, 1), (7, 33, 5), (64, 300, 129)):
            a = rng.standard_normal((m, k)).astype(dt)
            b = rng.standard_normal((k, n)).astype(dt)
            for aa, bb in ((a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b))):
                got = _gemm(fns, aa, bb, np.empty((m, n), dt))
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
        _state, _why = False, "NumPy's own BLAS"
        if os.environ.get(ENV, "").strip() == "0":
            _why = f"NumPy's own BLAS ({ENV}=0)"
            return _state
        missing = _NEEDS - _cpu_flags()
        if missing:
            _why = "NumPy's own BLAS (no AVX-512 here)"
            return _state
        path = _library()
        if path is None:
            _why = "NumPy's own BLAS (not OpenBLAS, or not found)"
            return _state
        try:
            import ctypes

            own = ctypes.CDLL(path)  # NumPy's, already loaded: which family does it run?
            name = _symbol(own, ["scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"])
            name.restype = ctypes.c_char_p
            numpy_core = name().decode()
            if numpy_core.lower() not in _OLDER:
                _why = f"NumPy's own BLAS (already {numpy_core} kernels)"
                return _state
            core, fns = _bind(_open_copy(path))
            _self_check(fns)
        except (OSError, AttributeError, ArithmeticError, ValueError) as e:
            _why = f"NumPy's own BLAS (the private copy failed: {e})"
            return _state
        _state, _why = fns, f"a private copy of NumPy's OpenBLAS with {core} kernels (NumPy's runs {numpy_core})"
        return _state


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
    """True if ``out (=|+=) a @ b`` can go to the private copy (see :func:`matmul`)."""
    return bool(fns and a.ndim == 2 and b.ndim == 2 and out.ndim == 2 and a.dtype == b.dtype == out.dtype
                and (a.dtype == np.float32 or a.dtype == np.float64)  # native byte order only
                and out.flags.writeable and a.shape[1] == b.shape[0]
                and out.shape == (a.shape[0], b.shape[1]) and a.shape[0] * a.shape[1] * b.shape[1] >= MIN_WORK
                and _operand(a) is not None and _operand(b) is not None and out.strides[1] == out.itemsize
                and out.strides[0] >= max(1, out.shape[1]) * out.itemsize and not out.strides[0] % out.itemsize
                and not (np.may_share_memory(out, a) or np.may_share_memory(out, b)))


def _gemm(fns, a, b, out, beta=0.0):
    m, k = a.shape
    n = b.shape[1]
    if m and n:
        ta, lda = _operand(a)
        tb, ldb = _operand(b)
        fn = fns[0] if out.dtype == np.float32 else fns[1]
        fn(101, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, beta, out.ctypes.data, out.strides[0] // out.itemsize)
    return out


def matmul(a, b, out=None, *, accumulate=False):
    """``numpy.matmul(a, b, out=out)`` (or ``out += a @ b``), on the private AVX-512 copy where it applies.

    It applies to 2-D float32 or float64 operands of one dtype (native byte order), each with one
    unit stride (C order, Fortran order, a transposed view, a block of rows or columns of one),
    ``out`` (if given) of that dtype with unit column stride, writeable, not overlapping them, and
    to products of at least :data:`MIN_WORK` multiply-adds; everything else goes to NumPy. BLAS runs on the calling
    thread only: callers split big products into pieces themselves
    (:func:`nnbasics.kernels.parallel.run_pieces`).

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
    if out is None and fns and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.shape[1:] == b.shape[:1]:
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    if out is None or not _fits(fns, a, b, out):
        return np.matmul(a, b, out=out)
    return _gemm(fns, a, b, out)
