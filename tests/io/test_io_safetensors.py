"""nnbasics.io.safetensors: round trips, header validation, atomic writes under a crash."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nnbasics.io import SafetensorsError, load_bytes, load_file, save_bytes, save_file
from nnbasics.io import safetensors as st


def _arrays(rng):
    return {
        "f32": rng.normal(size=(3, 5)).astype(np.float32),
        "f64": rng.normal(size=(2, 7)),
        "f16": rng.normal(size=(4,)).astype(np.float16),
        "i64": rng.integers(-9, 9, size=(5, 2)),
        "i8": np.array([-128, 0, 127], np.int8),
        "u16": np.array([0, 65535], np.uint16),
        "bool": np.array([[True, False, True]]),
        "scalar": np.array(3.5, np.float32),
        "empty": np.zeros((0, 3), np.float32),
        "transposed": rng.normal(size=(3, 2)).T,             # not C-contiguous
        "big_endian": np.arange(5, dtype=">f4"),
    }


def test_round_trip_every_dtype_and_shape(tmp_path, rng):
    arrays = _arrays(rng)
    path = tmp_path / "a.safetensors"
    save_file(arrays, path, metadata={"note": "héllo", "json": '{"a": 1}'})
    loaded, meta = load_file(path)
    assert meta == {"note": "héllo", "json": '{"a": 1}'}
    assert set(loaded) == set(arrays)
    for k, a in arrays.items():
        b = loaded[k]
        assert b.shape == a.shape, k
        assert b.dtype == a.dtype.newbyteorder("="), k
        np.testing.assert_array_equal(b, a)
        assert b.flags.writeable
    assert not list(tmp_path.glob("*.tmp"))


def test_bytes_are_readable_by_the_safetensors_package(rng):
    import safetensors.numpy

    arrays = {"w": rng.normal(size=(2, 3)).astype(np.float32)}
    out = safetensors.numpy.load(save_bytes(arrays))
    np.testing.assert_array_equal(out["w"], arrays["w"])


@pytest.mark.parametrize("bad, match", [
    ({"x": [1, 2]}, "must be a numpy array"),
    ({"x": np.array(["a"])}, "dtype <U1"),
    ({"x": np.array([1 + 2j])}, "complex128"),
    ({"": np.zeros(1)}, "non-empty strings"),
    ({"__metadata__": np.zeros(1)}, "reserved"),
    ([np.zeros(1)], "expects a dict"),
])
def test_bad_arrays_raise(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        save_bytes(bad)


def test_bad_metadata_raises():
    with pytest.raises(TypeError, match="metadata must map str -> str.*json.dumps"):
        save_bytes({"x": np.zeros(1)}, metadata={"epoch": 3})


def test_every_truncation_raises_a_clear_error(rng):
    data = save_bytes(_arrays(rng), {"m": "v"})
    for cut in sorted({0, 1, 7, 8, 9, 20, len(data) // 2, len(data) - 1}):
        with pytest.raises(SafetensorsError, match="ckpt.safetensors: "):
            load_bytes(data[:cut], source="ckpt.safetensors")
    with pytest.raises(SafetensorsError, match="truncated safetensors file"):
        load_bytes(data[:-1])


def _blob(header: bytes, data: bytes = b"") -> bytes:
    return len(header).to_bytes(8, "little") + header + data


@pytest.mark.parametrize("blob, match", [
    (b"", "shorter than the 8-byte header"),
    (b"PK\x03\x04" + bytes(200), "header length field says"),
    (_blob(b"not json at all"), "not UTF-8 JSON"),
    (_blob(b"[]"), "not an object"),
    (_blob(b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', bytes(4)),
     r"needs 8 bytes but its offsets \[0, 4\) span 4"),
    (_blob(b'{"x":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}', bytes(8)), "NumPy cannot hold"),
    (_blob(b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],'
           b'"data_offsets":[0,4]}}', bytes(8)), "overlap or leave a gap"),
    (_blob(b'{"x":{"dtype":"F32","shape":"oops","data_offsets":[0,4]}}', bytes(4)), "bad entry for 'x'"),
])
def test_corrupt_headers(blob, match):
    with pytest.raises(SafetensorsError, match=match):
        load_bytes(blob, source="f")


def test_junk_after_data_is_reported():
    data = save_bytes({"x": np.zeros(2, np.float32)})
    with pytest.raises(SafetensorsError, match="3 unexpected bytes"):
        load_bytes(data + b"abc")


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(SafetensorsError, match="is a directory"):
        load_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "nope.safetensors")


def test_crash_halfway_through_a_write_keeps_the_old_file(tmp_path, rng, monkeypatch):
    path = tmp_path / "w.safetensors"
    old = {"w": np.ones((4, 4), np.float32)}
    save_file(old, path)

    def crash(f, data):
        f.write(data[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(st, "_write_all", crash)
    with pytest.raises(OSError, match="disk full"):
        save_file({"w": rng.normal(size=(64, 64)).astype(np.float32)}, path)
    np.testing.assert_array_equal(load_file(path)[0]["w"], old["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]  # temp file removed


def test_killed_process_leaves_previous_file_and_no_partial_final_file(tmp_path):
    """A process dying mid-write (no cleanup runs) must not damage the file under the final name."""
    path = tmp_path / "w.safetensors"
    save_file({"w": np.full((3,), 7.0, np.float32)}, path)
    script = textwrap.dedent(f"""
        import os, numpy as np
        from nnbasics.io import safetensors as st
        def die(f, data):
            f.write(data[: len(data) // 2]); f.flush()
            os._exit(17)  # a hard crash: no finally blocks, no cleanup
        st._write_all = die
        st.save_file({{"w": np.zeros((256, 256), np.float32)}}, {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 17, proc.stderr
    np.testing.assert_array_equal(load_file(path)[0]["w"], [7.0, 7.0, 7.0])
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "w.safetensors"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".w.safetensors.") and leftovers[0].endswith(".tmp")
    with pytest.raises(SafetensorsError):  # the leftover is the partial write, never under the final name
        load_file(tmp_path / leftovers[0])


def test_write_into_missing_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        save_file({"x": np.zeros(1)}, tmp_path / "no" / "x.safetensors")
    assert os.listdir(tmp_path) == []
