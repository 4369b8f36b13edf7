"""Keep a step's freed memory for the next step: glibc's heap thresholds raised once, as glibc itself raises them.

glibc's ``malloc`` gives big blocks back to the kernel: a block over its mmap threshold is its
own mapping (unmapped on ``free``), and once the free space at the top of the heap passes its
trim threshold (twice the other) the heap is shrunk. The next step's arrays then touch fresh
pages again: a page fault for every 4 KiB. glibc raises both thresholds by itself each time a
mapped block is freed (to the block's size, up to 32 MiB), but it starts at 128 KiB, and a
training loop can settle where each step still gives memory back. Measured (issue 19): the
compiled char-LSTM step on two threads with ``batch_first`` made 1,664 page faults a step
(6.5 MiB of fresh pages: the copies of its layouts, products' scratch), 0.2 once the thresholds
were 4 and 8 MiB; 33.2 against 30.2 ms a step, and with its products on the calling thread (a
loaded machine's choice) 49 against 43 ms.

:func:`settle` (once, when the compiled product loads: :mod:`nnbasics.kernels.gemm_compiled`)
mallocs and frees one block of :data:`PRIME` bytes: glibc maps it, and its ``free`` raises the
thresholds to 4 and 8 MiB, exactly as a program's own 4 MiB array would, and glibc goes on
adjusting them as it always does. Where they are higher already, nothing changes. Setting them
outright (``mallopt``) was measured too and rejected: it stops glibc's own adjustment, so blocks
between the setting and 32 MiB were mapped afresh every step (held-out LSTM E128 H512 B64: 85
against 78 ms a step at 4 MiB), and at 32 MiB big blocks left holes in the heap (the lab CNN's
peak at batch 1024: 516 against 452 MB).

Nothing is done where the C library is not glibc, where the user set any of glibc's ``MALLOC_*``
tunables or ``GLIBC_TUNABLES`` (their choice stands), or with ``NNBASICS_HEAP=0``.
"""

from __future__ import annotations

import ctypes
import os
import threading

__all__ = ["ENV", "PRIME", "settle"]

#: Bytes of the block whose ``free`` raises glibc's thresholds (to this, and twice this).
PRIME = 4 * 2**20
#: ``0`` in the environment: leave the C heap's settings as they are.
ENV = "NNBASICS_HEAP"
_USER_TUNABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
                  "GLIBC_TUNABLES")

_lock = threading.Lock()
_done = None  # None: not tried; else whether the thresholds were set


def _libc():
    """glibc's functions as ctypes ones, or None where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
    except (OSError, AttributeError):
        return None
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.restype, libc.free.argtypes = None, [ctypes.c_void_p]
    return libc


def settle(libc=None) -> bool:
    """Raise glibc's heap thresholds to :data:`PRIME` and twice it (where lower), once a process;
    True where done (now or before). ``libc``: the library to call (tests)."""
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
            block = libc.malloc(PRIME)  # mapped (over the threshold) unless the threshold is past it already
            if block:
                libc.free(block)  # unmapped, and the thresholds raised to its size: glibc's own rule
                _done = True
    return _done
