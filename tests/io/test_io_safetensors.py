"""nnbasics.io.safetensors: round trips, header validation, atomic writes under a crash."""

import json
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


# ------------------------------------------------------------- the safetensors package as a cross-check
_NUMPY_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32, np.int32, np.float32,
                 np.uint64, np.int64, np.float64]


def _random_arrays(rng, n):
    out = {}
    for _ in range(n):
        name = "".join(rng.choice(list("abcé.0_/Z"), size=int(rng.integers(1, 6))))
        dt = np.dtype(_NUMPY_DTYPES[int(rng.integers(len(_NUMPY_DTYPES)))])
        shape = tuple(int(s) for s in rng.integers(0, 4, size=int(rng.integers(0, 4))))
        out[name] = np.asarray(rng.normal(size=shape) * 100).astype(dt)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_bytes_identical_to_the_safetensors_package(seed):
    """The reference writer's layout: dtype order, names, compact JSON, 8-byte padding, metadata first."""
    import safetensors.numpy

    rng = np.random.default_rng(seed)
    arrays = _random_arrays(rng, int(rng.integers(1, 8)))
    meta = None if seed % 3 == 0 else {"nnbasics": json.dumps({"a": [1, 2.5, None], "é": "x\n\"\\\x01"})}
    ours = save_bytes(arrays, meta)
    assert ours == safetensors.numpy.save(arrays, metadata=meta)
    theirs = safetensors.numpy.load(ours)
    assert set(theirs) == set(arrays)
    for k, a in arrays.items():
        np.testing.assert_array_equal(theirs[k], a)
        assert theirs[k].dtype == a.dtype


@pytest.mark.parametrize("seed", range(20))
def test_files_written_by_the_package_load_here(seed, tmp_path):
    import safetensors.numpy

    rng = np.random.default_rng(100 + seed)
    arrays = _random_arrays(rng, int(rng.integers(1, 8)))
    meta = {f"k{i}": f"v{i}" for i in range(int(rng.integers(0, 4)))}  # several keys: any order
    path = tmp_path / "theirs.safetensors"
    safetensors.numpy.save_file(arrays, str(path), metadata=meta or None)
    loaded, got_meta = load_file(path)
    assert got_meta == meta
    assert set(loaded) == set(arrays)
    for k, a in arrays.items():
        assert loaded[k].dtype == a.dtype and loaded[k].shape == a.shape
        np.testing.assert_array_equal(loaded[k], a)


def test_torch_files_both_ways(torch, tmp_path):
    from safetensors.torch import load_file as torch_load
    from safetensors.torch import save_file as torch_save

    tensors = {"w": torch.randn(3, 4), "i": torch.arange(5), "b": torch.tensor([True, False]),
               "h": torch.randn(2).half(), "d": torch.randn(2, dtype=torch.float64)}
    torch_save(tensors, str(tmp_path / "t.safetensors"), metadata={"format": "pt"})
    arrays, meta = load_file(tmp_path / "t.safetensors")
    assert meta == {"format": "pt"}
    for k, t in tensors.items():
        np.testing.assert_array_equal(arrays[k], t.numpy())
    save_file(arrays, tmp_path / "n.safetensors", metadata={"format": "pt"})
    assert (tmp_path / "n.safetensors").read_bytes() == (tmp_path / "t.safetensors").read_bytes()
    back = torch_load(str(tmp_path / "n.safetensors"))
    for k, t in tensors.items():
        assert torch.equal(back[k], t)


def test_a_bfloat16_file_is_refused_by_name(torch, tmp_path):
    from safetensors.torch import save_file as torch_save

    torch_save({"w": torch.randn(2).bfloat16()}, str(tmp_path / "bf.safetensors"))
    with pytest.raises(SafetensorsError, match="'w' has dtype 'BF16', which NumPy cannot hold"):
        load_file(tmp_path / "bf.safetensors")


def test_duplicate_header_keys_are_refused():
    entry = b'{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
    with pytest.raises(SafetensorsError, match="duplicate key 'x'"):
        load_bytes(_blob(b'{"x":' + entry + b',"x":' + entry + b"}", bytes(4)))


def test_unknown_keys_in_an_entry_are_refused():
    with pytest.raises(SafetensorsError, match="bad entry for 'x'"):
        load_bytes(_blob(b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}', bytes(4)))


def test_no_safetensors_package_needed(tmp_path):
    """Saving and loading files and checkpoints works where the safetensors package cannot be imported."""
    script = textwrap.dedent(f"""
        import sys
        sys.modules["safetensors"] = None  # any import of it raises ImportError
        import numpy as np
        import nnbasics.nn as nn
        from nnbasics.io import load_file, save_file
        from nnbasics.optim import Adam
        from nnbasics.training import load_checkpoint, save_checkpoint
        save_file({{"x": np.arange(3.0)}}, {str(tmp_path / "a.safetensors")!r}, metadata={{"m": "v"}})
        print(load_file({str(tmp_path / "a.safetensors")!r}))
        model = nn.Sequential(nn.Linear(3, 2, rng=0))
        save_checkpoint({str(tmp_path / "c.safetensors")!r}, model, Adam(model.parameters()), epoch=1)
        print(load_checkpoint({str(tmp_path / "c.safetensors")!r}, nn.Sequential(nn.Linear(3, 2, rng=1))).epoch)
        assert "safetensors" not in [m.split(".")[0] for m in sys.modules if sys.modules[m] is not None]
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "1"


def test_lone_surrogates_are_refused_when_writing():
    with pytest.raises(ValueError, match="not valid Unicode"):
        save_bytes({"x": np.zeros(1)}, metadata={"k": "\udc80"})
    with pytest.raises(ValueError, match="not valid Unicode"):
        save_bytes({"\udc80": np.zeros(1)})


@pytest.mark.parametrize("shape, nbytes", [([1] * 100, 4), ([1] * 33, 4), ([0, 2**62], 0), ([0, 2**70], 0),
                                           ([2**33, 0, 2**33], 0)])
def test_shapes_numpy_cannot_hold_are_refused_by_the_parser(shape, nbytes):
    """Zero-size arrays pass the byte count but not NumPy's own limits (a raw ValueError from reshape before)."""
    header = json.dumps({"x": {"dtype": "F32", "shape": shape, "data_offsets": [0, nbytes]}}).encode()
    with pytest.raises(SafetensorsError, match="which NumPy cannot hold"):
        load_bytes(_blob(header, bytes(nbytes)))


def test_the_largest_shapes_numpy_holds_still_load():
    header = json.dumps({"x": {"dtype": "F32", "shape": [1] * 32, "data_offsets": [0, 4]},
                         "e": {"dtype": "U8", "shape": [0, 2**40], "data_offsets": [4, 4]}}).encode()
    arrays, _ = load_bytes(_blob(header, bytes(4)))
    assert arrays["x"].ndim == 32 and arrays["e"].shape == (0, 2**40)
