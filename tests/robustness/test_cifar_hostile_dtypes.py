"""CIFAR batches with hostile dtypes (issue 15 item 1): a dtype ``BUILD`` state put a field at a
1 GiB offset in a ``V8`` dtype, and ``np.asarray(labels, int64)`` read out of bounds (exit -11);
at a 1 MiB offset heap bytes appeared in the error text, at 4 KiB garbage labels loaded.

The batches are built here, each about 12.7 KB. Every load runs in a subprocess, so a crash
is a failed test and not a dead test run.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nnbasics.data import DatasetError
from nnbasics.data.cifar import load_cifar_batch

_N = 4  # images: 4 x 3072 bytes of data, so the batch is ~12.7 KB with its labels


class _Reduce:
    """Pickles as ``fn(*args)`` followed by ``BUILD state`` (what NumPy's own objects emit)."""

    def __init__(self, fn, args, state):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return self.fn, self.args, self.state


def _hostile_dtype(name="V8", state=None, offset=1 << 30):
    state = state or (3, "|", None, ("f0",), {"f0": (np.dtype("<i8"), offset)}, 8, 1, 0)
    return _Reduce(np.dtype, (name, False, True), state)


def _array(dtype_obj, n, itemsize, data=None):
    try:
        from numpy._core.multiarray import _reconstruct  # NumPy 2
    except ImportError:  # NumPy 1.26
        from numpy.core.multiarray import _reconstruct

    data = bytes(n * itemsize) if data is None else data
    return _Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (n,), dtype_obj, False, data))


def hostile_batch(offset=1 << 30, **kw) -> bytes:
    """A CIFAR batch whose labels array has a dtype with a field ``offset`` bytes past its data."""
    labels = _array(_hostile_dtype(offset=offset, **kw), _N, 8)
    blob = pickle.dumps({b"data": np.zeros((_N, 3072), np.uint8), b"labels": labels}, protocol=2)
    assert 12_000 < len(blob) < 13_500, len(blob)
    return blob


def _load_in_subprocess(blob, tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(blob)
    script = textwrap.dedent(f"""
        from nnbasics.data import DatasetError
        from nnbasics.data.cifar import load_cifar_batch
        try:
            x, y = load_cifar_batch({str(path)!r})
            print("LOADED", y.tolist())
        except DatasetError as e:
            print("REFUSED", e)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.mark.parametrize("offset", [1 << 30, 1 << 20, 1 << 12])
def test_a_dtype_field_far_past_the_data_is_refused_not_read(offset, tmp_path):
    proc = _load_in_subprocess(hostile_batch(offset), tmp_path)
    assert proc.returncode == 0, f"loader crashed (exit {proc.returncode}): {proc.stderr[-500:]}"
    assert proc.stdout.startswith("REFUSED"), proc.stdout
    assert "dtype" in proc.stdout
    assert len(proc.stdout) < 600  # one message, no heap bytes dumped into it


# Other dtype states a pickle can carry: none may reach NumPy's dtype.__setstate__.
_STATES = {
    "has-object flag": (3, "|", None, None, None, 8, 1, 63),
    "sub-array": (3, "|", ((np.dtype("<i8"), (1000, 1000))), None, None, 8, 1, 0),
    "negative offset": (3, "|", None, ("f0",), {"f0": (np.dtype("<i8"), -(1 << 20))}, 8, 1, 0),
    "big-endian swap of u1": (3, ">", None, None, None, -1, -1, 0),
    "elsize change": (3, "|", None, None, None, 4096, 1, 0),
}


@pytest.mark.parametrize("what", sorted(_STATES))
def test_no_dtype_state_is_applied(what, tmp_path):
    labels = _array(_hostile_dtype("u1", state=_STATES[what]), _N, 1, data=bytes(range(1, _N + 1)))
    blob = pickle.dumps({b"data": np.zeros((_N, 3072), np.uint8), b"labels": labels}, protocol=2)
    proc = _load_in_subprocess(blob, tmp_path)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.startswith("REFUSED") and "dtype" in proc.stdout, proc.stdout


@pytest.mark.parametrize("name", ["V8", "O", "f8", "M8[s]", "U4", "S8", "c16", "<i8,<i8", "(2,)i8"])
def test_only_plain_integer_dtypes_are_built(name):
    blob = pickle.dumps({b"data": np.zeros((_N, 3072), np.uint8),
                         b"labels": _array(_Reduce(np.dtype, (name, False, True), None), _N, 8)}, protocol=2)
    with pytest.raises(DatasetError, match="dtype"):
        load_cifar_batch(blob)


@pytest.mark.parametrize("labels", [np.array([1, 2, 3, 4], np.int64), np.array([1, 2, 3, 0], np.int32),
                                    np.array([0, 9, 5, 1], np.uint8), [1, 2, 3, 9], (4, 5, 6, 0)])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_batches_still_load(labels, protocol):
    blob = pickle.dumps({b"data": np.arange(_N * 3072, dtype=np.uint8).reshape(_N, 3072), b"labels": labels},
                        protocol=protocol)
    x, y = load_cifar_batch(blob)
    assert y.dtype == np.int64 and y.tolist() == [int(v) for v in labels]
    assert x.shape == (_N, 32, 32, 3)


def test_big_endian_arrays_are_refused_by_name():
    blob = pickle.dumps({b"data": np.zeros((_N, 3072), np.uint8), b"labels": np.arange(_N, dtype=">i4")}, protocol=2)
    with pytest.raises(DatasetError, match="byte order"):
        load_cifar_batch(blob)


def test_a_second_state_for_the_same_array_is_refused():
    """BUILD applied twice to one array (its memory could be swapped under an existing view)."""
    both = pickle.dumps((np.arange(_N), (1, (1,), np.dtype("i8"), False, bytes(8))), protocol=2)
    assert b"\x86" in both[-4:]  # ... TUPLE2 [BINPUT n] STOP
    blob = both[:both.rindex(b"\x86")] + b"b."  # TUPLE2 -> BUILD: the second state goes into the array
    with pytest.raises(DatasetError, match="second state"):
        load_cifar_batch(blob)


def _shared_nested_labels(depth=8, width=10):
    """A list nesting ``width ** depth`` ints in ``depth`` levels, each level ``width`` references to one list."""
    level = [0] * width
    for _ in range(depth - 1):
        level = [level] * width  # the pickle memo stores each level once
    return level


def test_memo_shared_nested_labels_allocate_nothing_big(tmp_path):
    """3.8 KB of pickle held 10^8 labels through the memo; NumPy expanded them into 800 MB."""
    from memory_limit import peak_growth, run_limited

    blob = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": _shared_nested_labels()}, protocol=2)
    assert len(blob) < 4_000
    path = tmp_path / "data_batch_1"
    path.write_bytes(blob)
    proc = run_limited(f"""
        from nnbasics.data import DatasetError
        from nnbasics.data.cifar import load_cifar_batch
        try:
            load_cifar_batch({str(path)!r})
        except DatasetError as e:
            print("REFUSED", e)
    """, extra_bytes=100 << 20)
    assert "REFUSED" in proc.stdout and "flat list of ints" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert peak_growth(proc) < 50 << 20
