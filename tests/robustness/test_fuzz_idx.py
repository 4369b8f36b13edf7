"""Fuzzing the IDX reader (nnbasics.data.idx.load_idx), raw and gzipped.

Property: any bytes give an array or a DatasetError naming the data; no hang (10 s alarm), no
allocation beyond what the bytes justify (tracemalloc peak <= 64x the input + 1 MiB; the
gzip bound is deflate's 1100x), no raw NumPy/struct/zlib exception. Results of the runs are in
test_fuzz_cli.py's module docstring (the table for every parser).
"""

import gzip
import struct

import numpy as np
import pytest
from fuzz_support import bounded_memory, fuzz_settings, mutated, no_hang
from hypothesis import given
from hypothesis import strategies as st

from nnbasics.data import DatasetError
from nnbasics.data.idx import load_idx, save_idx

_SEED = save_idx(None, np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
_SEED_F = save_idx(None, np.linspace(-1, 1, 10, dtype=np.float32).reshape(5, 2))
_SEED_GZ = save_idx(None, np.arange(60, dtype=np.int16).reshape(6, 10), compress=True)


def _check(blob, ratio=64):
    with no_hang(), bounded_memory(ratio * len(blob) + (1 << 20)):
        try:
            out = load_idx(blob)
        except DatasetError as e:
            assert "IDX data (in memory)" in str(e)
            return None
    assert isinstance(out, np.ndarray) and out.dtype.isnative
    return out


@fuzz_settings(200)
@given(st.one_of(mutated(_SEED), mutated(_SEED_F)))
def test_fuzz_idx_raw(blob):
    out = _check(blob)
    if out is not None:
        assert out.nbytes <= len(blob)


@fuzz_settings(100)
@given(st.one_of(mutated(_SEED_GZ), mutated(_SEED).map(lambda b: gzip.compress(b, mtime=0))))
def test_fuzz_idx_gzip(blob):
    _check(blob, ratio=1100 * 2)


def test_every_truncation_and_header_bit_flip():
    for cut in range(len(_SEED)):
        assert _check(_SEED[:cut]) is None
    for cut in range(len(_SEED_GZ)):
        assert _check(_SEED_GZ[:cut]) is None
    for pos in range(4 + 4 * 3):
        for bit in range(8):
            blob = bytearray(_SEED)
            blob[pos] ^= 1 << bit
            _check(bytes(blob))


def test_header_claiming_10_to_12_items_is_rejected_before_allocating():
    blob = bytes([0, 0, 0x0E, 2]) + struct.pack(">2I", 10**6, 10**6) + b"\0" * 64  # 8 TB of float64
    with bounded_memory(1 << 20), pytest.raises(DatasetError, match=r"shape \(1000000, 1000000\) of float64"):
        load_idx(blob)
    with bounded_memory(1 << 20), pytest.raises(DatasetError, match="truncated or corrupt"):
        load_idx(gzip.compress(blob, mtime=0))
