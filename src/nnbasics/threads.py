"""How many threads nnbasics runs on: the public settings of its kernels and of BLAS.

nnbasics' kernels (:mod:`nnbasics.kernels`) split big elementwise passes and blocked GEMM loops
across threads; BLAS threads every matrix product by itself. This module holds the settings
that code outside the kernels may change (the lab, benchmarks, users):

* :func:`num_threads` / :func:`set_num_threads`: the kernels' thread count. The default is the
  first of the environment variables ``NNBASICS_NUM_THREADS``, ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` that holds a positive integer (so
  ``OPENBLAS_NUM_THREADS=1`` keeps everything on one core, as it does the GEMMs), else the
  number of CPUs this process may run on. With one thread every pass is a plain call.
* :class:`single_thread_blas`: BLAS on the calling thread only, inside a block (OpenBLAS 0.3.27+).

Reference mode (:func:`nnbasics.reference_mode`) runs no kernel, so no thread of nnbasics' own.

Example:
    >>> from nnbasics import threads
    >>> threads.num_threads() >= 1
    True
    >>> with threads.single_thread_blas():
    ...     pass  # tiny matrix products here
"""

from __future__ import annotations

import os

__all__ = ["num_threads", "set_num_threads", "single_thread_blas"]

_ENV = ("NNBASICS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_threads = None
_blas_local = False  # not looked up yet


def _from_env():
    for name in _ENV:
        v = os.environ.get(name, "").strip()
        if v.isdigit() and int(v) > 0:
            return int(v)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def num_threads() -> int:
    """Threads the kernels split big passes over (see the module doc for where the number comes from)."""
    global _threads
    if _threads is None:
        _threads = _from_env()
    return _threads


def set_num_threads(n) -> None:
    """Use ``n`` threads for the kernels' own passes from now on (``None``: back to the default).

    Args:
        n: positive int, or None to read the environment again.

    Raises:
        ValueError: ``n`` is not a positive int.
    """
    global _threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_num_threads: expected a positive int (or None for the default); got {n!r}.")
    _threads = n


def _find_blas_local():
    """OpenBLAS's ``openblas_set_num_threads_local`` (0.3.27+: the BLAS thread count of the
    calling thread only), from the OpenBLAS that NumPy loaded; None where there is none."""
    import ctypes
    import glob

    import numpy

    paths = []
    try:
        with open("/proc/self/maps") as fh:  # the library actually loaded (Linux)
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line})
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(numpy.__file__))
    paths += glob.glob(os.path.join(root, "numpy.libs", "*openblas*")) + glob.glob(os.path.join(root, "numpy", ".dylibs", "*openblas*"))
    for path in paths:
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


def blas_setter():
    """OpenBLAS's ``openblas_set_num_threads_local`` (sets the calling thread's BLAS thread count,
    returns the one it replaces), looked up once; None where there is none."""
    global _blas_local
    if _blas_local is False:
        _blas_local = _find_blas_local()
    return _blas_local


class single_thread_blas:
    """Context manager: BLAS runs on the calling thread only while inside (OpenBLAS 0.3.27+).

    Tiny GEMMs (a narrow MLP's ``(64, 32) @ (32, 32)``) cost less than handing half of each to a
    second BLAS thread; on a busy 2-core machine the hand-off can stall for a millisecond. A
    20-layer width-32 MLP, 150 SGD steps on this machine: 1.29 s of CPU with BLAS's default
    threads, 0.25 s with one. Where the per-thread setting is not available (another BLAS, an
    older OpenBLAS) this does nothing. Re-entrant: each exit restores the count it found.

    Example:
        >>> with single_thread_blas():
        ...     pass  # tiny matrix products here
    """

    def __enter__(self):
        self._set = blas_setter()
        self._previous = self._set(1) if self._set is not None else None
        return self

    def __exit__(self, *exc):
        if self._set is not None:
            self._set(self._previous)
        return False
