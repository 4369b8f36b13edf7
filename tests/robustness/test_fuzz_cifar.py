"""Fuzzing the CIFAR-10 batch reader (restricted unpickler) and the .tar.gz archive reader.

Property: any bytes give (images, labels) or a DatasetError naming the file; no hang, no
allocation beyond the file's size (tracemalloc), no code execution: payloads calling
``os.system`` / ``builtins.exec`` / ``eval`` write a canary file, which must never appear.
"""

import builtins
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from fuzz_support import bounded_memory, fuzz_settings, mutated, no_hang
from hypothesis import given
from hypothesis import strategies as st

from nnbasics.data import DatasetError
from nnbasics.data.cifar import load_cifar10, load_cifar_batch

_X = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
_BATCH = {b"batch_label": b"b", b"data": _X, b"labels": [3, 7], b"filenames": [b"a.png", b"b.png"]}
_SEEDS = [pickle.dumps(_BATCH, protocol=p) for p in (2, 4, 5)]
_CANARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "CIFAR_FUZZ_CANARY")


class _Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


_PAYLOADS = [
    pickle.dumps({b"data": _X, b"labels": [1, 2], b"x": _Evil(os.system, f"touch {_CANARY}")}, protocol=2),
    pickle.dumps({b"data": _X, b"labels": _Evil(builtins.exec, f"open({_CANARY!r}, 'w')")}, protocol=4),
    pickle.dumps(_Evil(builtins.eval, f"open({_CANARY!r}, 'w')"), protocol=0),
    pickle.dumps([[[_Evil(os.system, f"touch {_CANARY}")]]], protocol=5),
    # numpy.ndarray called directly with a 10^12-byte shape; _reconstruct with the same
    b"\x80\x02cnumpy\nndarray\n\x8a\x06\x00\x10\xa5\xd4\xe8\x00X\x02\x00\x00\x00u1\x86R.",
    (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85"
     b"X\x01\x00\x00\x00b\x87R."),
    # BUILD on an allowlisted function (would change the library's own wrapper's defaults)
    b"\x80\x02c_codecs\nencode\nN}X\x0c\x00\x00\x00__defaults__X\x05\x00\x00\x00latin\x85s\x86b.",
    # a dtype whose state sets the has-object flag (NumPy would read file bytes as pointers)
    b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00V8\x85R(K\x03X\x01\x00\x00\x00|NNNK\x08K\x01K?tb.",
    b"\x80\x02" + b"(" * 100_000 + b"l" * 100_000 + b".",  # deep nesting
]


def _check(blob):
    with no_hang(), bounded_memory(128 * len(blob) + (1 << 20)):  # Python objects: <= ~100x their opcodes
        try:
            x, y = load_cifar_batch(blob)
        except DatasetError as e:
            assert "CIFAR batch (in memory)" in str(e)
            return None
    assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3) and y.shape == (x.shape[0],)
    return x, y


@pytest.fixture(autouse=True)
def _no_canary():
    yield
    assert not os.path.exists(_CANARY), "a pickle payload ran code"


@fuzz_settings(250)
@given(st.one_of(*[mutated(s) for s in _SEEDS], st.sampled_from(_PAYLOADS).flatmap(mutated)))
def test_fuzz_cifar_batch(blob):
    _check(blob)


@pytest.mark.parametrize("i", range(len(_PAYLOADS)))
def test_hostile_pickles_are_refused(i):
    assert _check(_PAYLOADS[i]) is None


def test_seeds_load_and_every_truncation_fails_cleanly():
    for seed in _SEEDS:
        x, y = _check(seed)
        assert y.tolist() == [3, 7]
        np.testing.assert_array_equal(x.reshape(2, -1, 3).transpose(0, 2, 1).reshape(2, 3072), _X)
        for cut in range(0, len(seed), 7):
            _check(seed[:cut])


def _archive(batch_bytes):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(batch_bytes)
            tar.addfile(info, io.BytesIO(batch_bytes))
    return buf.getvalue()


_ARCHIVE = _archive(_SEEDS[0])


@fuzz_settings(60)
@given(mutated(_ARCHIVE))
def test_fuzz_cifar_archive(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("cifar") / "cifar-10-python.tar.gz"
    path.write_bytes(blob)
    with no_hang(), bounded_memory(64 * len(blob) + (1 << 21)):
        try:
            x, y = load_cifar10(path, train=False)
        except DatasetError as e:
            assert str(path) in str(e)
            return
    assert x.shape[1:] == (32, 32, 3) and len(x) == len(y)


def test_archive_seed_loads(tmp_path):
    (tmp_path / "c.tar.gz").write_bytes(_ARCHIVE)
    x, y = load_cifar10(tmp_path / "c.tar.gz")
    assert x.shape == (10, 32, 32, 3) and y.tolist() == [3, 7] * 5
