"""IDX reader on small files the tests write by hand: valid, truncated, corrupt, lying headers; fuzzed."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnbasics.data import DatasetError, DatasetNotFoundError, load_idx, save_idx


def idx_bytes(array, code):
    """Hand-written IDX encoder (independent of save_idx): magic, big-endian dims, big-endian data."""
    be = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    head = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.astype(be).tobytes()


@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                        (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
@pytest.mark.parametrize("gz", [False, True])
def test_reads_every_type_raw_and_gz(tmp_path, code, dtype, gz):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    blob = idx_bytes(a, code)
    path = tmp_path / ("f.idx.gz" if gz else "f.idx")
    path.write_bytes(gzip.compress(blob) if gz else blob)
    out = load_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, a)
    np.testing.assert_array_equal(load_idx(str(path)), a)
    np.testing.assert_array_equal(load_idx(path.read_bytes()), a)


def test_gzip_detected_by_content_not_name(tmp_path):
    a = np.arange(6, dtype=np.uint8).reshape(3, 2)
    p = tmp_path / "labels-no-extension"
    p.write_bytes(gzip.compress(idx_bytes(a, 0x08)))
    np.testing.assert_array_equal(load_idx(p), a)


def test_save_idx_roundtrip(tmp_path):
    for a in (np.arange(7, dtype=np.uint8), np.linspace(-1, 1, 12).reshape(2, 2, 3)):
        for name in ("x.idx", "x.idx.gz"):
            save_idx(tmp_path / name, a)
            np.testing.assert_array_equal(load_idx(tmp_path / name), a)
    assert save_idx(None, np.arange(3, dtype=np.uint8)) == idx_bytes(np.arange(3, dtype=np.uint8), 0x08)
    with pytest.raises(TypeError, match="cannot store dtype"):
        save_idx(None, np.arange(3, dtype=np.int64))


def _err(source, match):
    with pytest.raises(DatasetError, match=match) as info:
        load_idx(source)
    return str(info.value)


def test_truncated_data_names_file_and_sizes(tmp_path):
    blob = idx_bytes(np.zeros((4, 5), np.uint8), 0x08)
    p = tmp_path / "trunc-idx1-ubyte"
    p.write_bytes(blob[:-3])
    msg = _err(p, "the file can hold at most 17 bytes|truncated")
    assert "trunc-idx1-ubyte" in msg and "(4, 5)" in msg
    g = tmp_path / "trunc.gz"
    g.write_bytes(gzip.compress(blob[:-3]))
    assert "trunc.gz" in _err(g, "truncated")


def test_truncated_gzip_stream(tmp_path):
    p = tmp_path / "cut.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.arange(500, dtype=np.int32), 0x0C))[:-20])
    _err(p, "cut.gz")


def test_corrupted_gzip_crc(tmp_path):
    good = bytearray(gzip.compress(idx_bytes(np.arange(50, dtype=np.uint8), 0x08)))
    good[-6] ^= 0xFF  # inside the CRC32 trailer
    _err(bytes(good), "corrupt")


@pytest.mark.parametrize("head,match", [
    (b"\x01\x00\x08\x01", "not an IDX file"),
    (b"<htm", "not an IDX file"),
    (b"\x00\x00\x07\x01", "unknown IDX element type 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
])
def test_wrong_magic(head, match):
    _err(head + struct.pack(">I", 2) + b"\x00\x00", match)


def test_huge_claimed_size_rejected_before_allocating():
    # 10^12 items claimed by a 20-byte file: must fail fast on the header, not MemoryError
    head = b"\x00\x00\x08\x03" + struct.pack(">III", 10**4, 10**4, 10**4)
    msg = _err(head + b"\x00" * 4, "header claims shape")
    assert "1,000,000,000,000 bytes" in msg
    huge_gz = gzip.compress(b"\x00\x00\x0e\x02" + struct.pack(">II", 2**32 - 1, 2**32 - 1))
    _err(huge_gz, "header claims shape")


def test_trailing_garbage_and_header_only():
    blob = idx_bytes(np.zeros(4, np.uint8), 0x08)
    _err(blob + b"junk", "unexpected bytes after")
    _err(blob[:6], "truncated")
    _err(b"", "truncated")


def test_missing_file_and_bad_type(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_idx(tmp_path / "nope.gz")
    with pytest.raises(TypeError, match="path or bytes"):
        load_idx(123)


def test_empty_dimension_is_valid():
    out = load_idx(idx_bytes(np.zeros((0, 3), np.uint8), 0x08))
    assert out.shape == (0, 3)


_VALID = idx_bytes(np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4), 0x0B)
_VALID_GZ = gzip.compress(_VALID, mtime=0)


def _only_dataset_errors(blob):
    try:
        out = load_idx(blob)
    except DatasetError:
        return
    assert isinstance(out, np.ndarray)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_fuzz_random_bytes(blob):
    _only_dataset_errors(blob)
    _only_dataset_errors(b"\x00\x00" + blob)  # past the first magic check more often


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([_VALID, _VALID_GZ]),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
       st.integers(0, 10**6), st.booleans())
def test_fuzz_mutations_of_a_valid_file(base, edits, cut, truncate):
    blob = bytearray(base)
    for pos, val in edits:
        blob[pos % len(blob)] = val
    if truncate:
        blob = blob[: cut % (len(blob) + 1)]
    _only_dataset_errors(bytes(blob))
