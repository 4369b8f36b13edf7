"""Keep a step's freed memory for the next step: two settings of glibc's heap, made once.

glibc's ``malloc`` gives big blocks back to the kernel: a block over ``M_MMAP_THRESHOLD`` is its
own mapping (unmapped on ``free``), and once the free space at the top of the heap passes
``M_TRIM_THRESHOLD`` the heap is shrunk. The next step's arrays then touch fresh pages again: a
page fault for every 4 KiB. glibc moves both thresholds by itself as mapped blocks are freed, but
a training loop can settle where each step still gives memory back. Measured (issue 19): the
compiled char-LSTM step on two threads with ``batch_first`` made 1,664 page faults a step
(6.5 MiB of fresh pages: the copies of its layouts, products' scratch), 0.2 with the settings
below, and ran 33.2 against 30.2 ms; its products on the calling thread (a loaded machine's
choice) took 49 ms a step against 43.

:func:`settle` sets, once, when the compiled product loads (:mod:`nnbasics.kernels.gemm_compiled`):

* ``M_MMAP_THRESHOLD`` = :data:`MMAP_THRESHOLD` (4 MiB): blocks up to it (a step's copies, the
  product's scratch, at most 4 MiB at a time) come from the heap; bigger ones stay mappings of
  their own, given back at once. (At 32 MiB, glibc's own ceiling, the lab CNN's peak at batch
  1024 grew from 452 to 516 MB: big blocks in the heap leave holes.)
* ``M_TRIM_THRESHOLD`` = :data:`TRIM_THRESHOLD` (64 MiB): up to that much free memory at the
  heap's top is kept for reuse (glibc's own ceiling for it).

Setting either stops glibc's own adjustment of both. Nothing is done where the C library is not
glibc, where the user set any of glibc's ``MALLOC_*`` tunables or ``GLIBC_TUNABLES`` (their
choice stands), or with ``NNBASICS_HEAP=0``.
"""

from __future__ import annotations

import ctypes
import os
import threading

__all__ = ["ENV", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "settle"]

#: Blocks over this many bytes are mappings of their own (given back to the kernel on ``free``).
MMAP_THRESHOLD = 4 * 2**20
#: Free bytes at the heap's top kept before it is shrunk (glibc's ceiling for its own threshold).
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
