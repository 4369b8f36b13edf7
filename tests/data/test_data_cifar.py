"""CIFAR-10 batches read by the restricted unpickler: valid files, archives, hostile and broken ones."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from nnbasics.data import CIFAR10, DatasetError, load_cifar10, load_cifar_batch, sources


def _batch(n, seed, label_offset=0):
    g = np.random.default_rng(seed)
    data = g.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [(i + label_offset) % 10 for i in range(n)]
    return data, labels


def _write_batches(folder, protocol=2, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for k, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data, labels = _batch(n, k, k)
        (folder / name).write_bytes(pickle.dumps({b"batch_label": name.encode(), b"data": data,
                                                  b"labels": labels, b"filenames": [b"x.png"] * n},
                                                 protocol=protocol))
        written[name] = (data, labels)
    return written


def _expected(written, names):
    x = np.concatenate([written[n][0] for n in names]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.concatenate([written[n][1] for n in names])


TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_batch_roundtrip_all_protocols(protocol):
    data, labels = _batch(4, 0)
    x, y = load_cifar_batch(pickle.dumps({b"data": data, b"labels": labels}, protocol=protocol))
    assert x.shape == (4, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x, data.reshape(4, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y, labels)
    # str keys (a latin-1 re-pickle) work too
    x2, _ = load_cifar_batch(pickle.dumps({"data": data, "labels": labels}, protocol=protocol))
    np.testing.assert_array_equal(x2, x)


def test_directory_and_archive(tmp_path):
    written = _write_batches(tmp_path / "cifar-10-batches-py")
    x, y = load_cifar10(tmp_path, train=True)  # finds the cifar-10-batches-py subdirectory
    ex, ey = _expected(written, TRAIN)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    xt, yt = load_cifar10(archive, train=False)
    ex, ey = _expected(written, ["test_batch"])
    np.testing.assert_array_equal(xt, ex)
    np.testing.assert_array_equal(yt, ey)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_hostile_pickle_never_runs_code(tmp_path):
    sentinel = str(tmp_path / "pwned")
    blob = pickle.dumps({b"data": _Evil(sentinel), b"labels": [0]}, protocol=2)
    assert pickle.loads(blob) is not None and os.path.isdir(sentinel)  # plain pickle WOULD run it
    os.rmdir(sentinel)
    with pytest.raises(DatasetError, match="refusing to load global"):
        load_cifar_batch(blob)
    assert not os.path.exists(sentinel)


@pytest.mark.parametrize("obj,match", [
    (np.array([None, 1], dtype=object), "refusing the dtype 'O8'"),
    (np.zeros((2, 3072), np.float32), "refusing the dtype 'f4'"),
    (np.zeros((2, 100), np.uint8), r"\(N, 3072\)"),
])
def test_bad_data_arrays(obj, match):
    with pytest.raises(DatasetError, match=match):
        load_cifar_batch(pickle.dumps({b"data": obj, b"labels": [0, 1]}, protocol=2))


def test_bad_labels_and_structure():
    data = np.zeros((2, 3072), np.uint8)
    with pytest.raises(DatasetError, match="2 images but 1 labels"):
        load_cifar_batch(pickle.dumps({b"data": data, b"labels": [0]}))
    with pytest.raises(DatasetError, match=r"labels must be in \[0, 10\)"):
        load_cifar_batch(pickle.dumps({b"data": data, b"labels": [0, 10]}))
    with pytest.raises(DatasetError, match="expected a dict"):
        load_cifar_batch(pickle.dumps([data]))


def test_truncated_and_garbage_batches(tmp_path):
    data, labels = _batch(3, 1)
    blob = pickle.dumps({b"data": data, b"labels": labels}, protocol=2)
    for bad in (blob[: len(blob) // 2], blob[:-1], b"\x80\x02garbage", b""):
        with pytest.raises(DatasetError, match="not a valid CIFAR batch"):
            load_cifar_batch(bad)
    p = tmp_path / "data_batch_1"
    p.write_bytes(blob[:100])
    with pytest.raises(DatasetError, match="data_batch_1"):
        load_cifar_batch(p)


def test_truncated_or_incomplete_archive(tmp_path):
    _write_batches(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated|lacks"):
        load_cifar10(cut, train=True)
    partial = tmp_path / "partial.tar.gz"
    with tarfile.open(partial, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        payload = (tmp_path / "src" / "cifar-10-batches-py" / "test_batch").read_bytes()
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(DatasetError, match="lacks cifar-10-batches-py/data_batch_1"):
        load_cifar10(partial, train=True)


def test_cifar10_dataset_class(tmp_path, monkeypatch):
    monkeypatch.delenv("NNBASICS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIRS", ())
    written = _write_batches(tmp_path / "data" / "cifar10" / "cifar-10-batches-py", n=4)
    ds = CIFAR10(root=tmp_path / "data", train=True, download=False)
    assert len(ds) == 20 and ds.data.shape == (20, 32, 32, 3) and ds.targets.dtype == np.int64
    x, y = ds.arrays()
    ex, ey = _expected(written, TRAIN)
    np.testing.assert_allclose(x, ex.transpose(0, 3, 1, 2) / 255.0, atol=1e-7)
    np.testing.assert_array_equal(y, ey)
    xb, yb = ds.get_batch([3, 0])
    np.testing.assert_array_equal(xb, x[[3, 0]])
    np.testing.assert_array_equal(yb, y[[3, 0]])
    x0, y0 = ds[5]
    assert x0.shape == (3, 32, 32) and y0 == ey[5] and ds.classes[0] == "airplane"
