"""Keep freed memory for the next step: the C heap's thresholds set where glibc's own rule ends up.

glibc's ``malloc`` gives big blocks back to the kernel: a block over ``M_MMAP_THRESHOLD`` is its
own mapping (unmapped on ``free``), and once the free space at the top of the heap passes
``M_TRIM_THRESHOLD`` the heap is shrunk. The next step's arrays then touch fresh pages again: a
page fault for every 4 KiB. glibc raises both thresholds by itself, each time a mapped block is
freed (to its size, and twice that), up to 32 and 64 MiB; a training loop whose biggest freed
block was a few MiB stays low and pays. Measured (issue 19): the compiled char-LSTM step on two
threads with ``batch_first`` made 1,664 page faults a step (6.5 MiB of fresh pages: the copies
of its layouts, the product's scratch), 0.2 with these thresholds at their ceilings, and ran
33.2 against 30.2 ms; under one busy competitor its one-thread choice took 1.14x the one-thread
run's time, because of these faults alone.

:func:`settle` sets the thresholds where glibc's rule ends up anyway (32 MiB, 64 MiB), once, when
the compiled kernels load (:mod:`nnbasics.kernels.gemm_compiled`): a block over 32 MiB is still
given back at once, and at most 64 MiB of freed heap is kept for reuse. Nothing is done where
the C library is not glibc, or where the user set any of glibc's ``MALLOC_*`` tunables in the
environment (their choice stands), or with ``NNBASICS_HEAP=0``.
"""

from __future__ import annotations

import ctypes
import os
import threading

__all__ = ["ENV", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "settle"]

#: Blocks over this many bytes are mappings of their own (glibc's ceiling for its dynamic threshold).
MMAP_THRESHOLD = 32 * 2**20
#: Free bytes at the heap's top kept before it is shrunk (glibc's ceiling: twice the above).
TRIM_THRESHOLD = 64 * 2**20
#: ``0`` in the environment: leave the C heap's settings as they are.
ENV = "NNBASICS_HEAP"
_USER_TUNABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
                  "GLIBC_TUNABLES")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)

_lock = threading.Lock()
_done = None  # None: not tried; else whether the thresholds were set


def _libc():
    """glibc's functions as ctypes ones, or None where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
        return libc
    except (OSError, AttributeError):
        return None


def settle(libc=None) -> bool:
    """Set glibc's heap thresholds (:data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD`), once a process;
    True where they were set (now or before). ``libc``: the library to call (tests)."""
    global _done
    if _done is not None:
        return _done
    with _lock:
        if _done is None:
            _done = False
            if os.environ.get(ENV, "").strip() == "0" or any(v in os.environ for v in _USER_TUNABLES):
                return _done
            libc = libc or _libc()
            if libc is None:
                return _done
            _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
