"""Shared pieces of the fuzz tests (tests/robustness/test_fuzz_*.py).

* ``fuzz_settings(n)``: a fixed, derandomized hypothesis profile of ``n`` examples (CI), or
  ``NNBASICS_FUZZ_EXAMPLES`` examples when that variable is set (the long opt-in run).
* ``mutated(seed)``: a strategy of damaged copies of a valid file: bit flips, truncation,
  integer fields set to extremes (0, -1, 2^31, 2^32 - 1, 2^63, 10^12), spliced random
  bytes, deleted ranges, or completely random bytes.
* ``no_hang(seconds)``: fails an example that runs longer (SIGALRM; a hang, not a slow test).
"""

import os
import signal
import struct
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st


def n_examples(default: int) -> int:
    return int(os.environ.get("NNBASICS_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int):
    return settings(max_examples=n_examples(default), derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink])


@contextmanager
def no_hang(seconds: int = 10):
    def on_alarm(signum, frame):
        raise TimeoutError(f"parser still running after {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


_EXTREMES = [0, 1, 0x7F, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 10**12, 2**63 - 1, 2**63, 2**64 - 1]


@st.composite
def mutated(draw, seed: bytes, max_ops: int = 4):
    """A damaged copy of ``seed`` (or random bytes one time in ten)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2 * len(seed) + 16))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "truncate", "extreme", "splice", "delete", "byte"]))
        n = len(data)
        pos = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and n:
            data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "extreme" and n:
            width, order = draw(st.sampled_from([(4, ">"), (4, "<"), (8, "<"), (8, ">")]))
            value = draw(st.sampled_from(_EXTREMES)) % (1 << (8 * width))
            data[pos:pos + width] = struct.pack(order + ("I" if width == 4 else "Q"), value)
        elif op == "splice":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
    return bytes(data)


@contextmanager
def bounded_memory(limit_bytes: int):
    """Fail when the block's peak Python/NumPy allocation (tracemalloc) exceeds ``limit_bytes``."""
    import tracemalloc

    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        if started:
            tracemalloc.stop()
    assert peak <= limit_bytes, f"peak allocation {peak:,} bytes > {limit_bytes:,} allowed for this input"
