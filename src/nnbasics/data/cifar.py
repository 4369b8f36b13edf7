"""CIFAR-10 in its Python batch format, read WITHOUT ``pickle.load``.

The official ``cifar-10-python.tar.gz`` holds pickled dicts
(``{b'data': uint8 array (10000, 3072), b'labels': [int, ...], ...}``). A plain
``pickle.load`` of a downloaded file can run arbitrary code, so this module uses a
:class:`pickle.Unpickler` subclass whose ``find_class`` resolves only NumPy's
array reconstructors (``_reconstruct``; protocol 5's ``_frombuffer``),
``numpy.ndarray``, ``numpy.dtype`` and NumPy's scalar constructor, plus
``_codecs.encode`` to latin-1 (how Python 3 protocol-2 pickles spell bytes), each
through a wrapper that refuses object dtypes and ndarray subclasses. Every other
global (``os.system``, ``builtins.eval``...) raises :class:`~nnbasics.data.DatasetError`
before anything is called.

Decision: a restricted ``Unpickler`` (the approach of ``torch.load(weights_only=True)``)
rather than a hand-written opcode interpreter: the standard parser handles every
protocol, and the allowlist is where the safety lives. The whole file is read into
memory first (batches are ~30 MB), so a length field in a corrupt pickle cannot make
the reader allocate more than the file's size.

Example:
    >>> import numpy as np, pickle
    >>> blob = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 7]}, protocol=2)
    >>> x, y = load_cifar_batch(blob)
    >>> x.shape, y.tolist()
    ((2, 32, 32, 3), [3, 7])
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import zlib

import numpy as np

from .errors import DatasetError, DatasetNotFoundError

__all__ = ["CIFAR10_CLASSES", "CIFAR10_TEST_BATCHES", "CIFAR10_TRAIN_BATCHES", "load_cifar10", "load_cifar_batch"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCHES = ("test_batch",)
_ARCHIVE_DIR = "cifar-10-batches-py"
_MAX_MEMBER_BYTES = 256 << 20  # a real batch is ~31 MB


def _safe_dtype(*args):
    dt = np.dtype(*args)
    if dt.hasobject:
        raise pickle.UnpicklingError(f"refusing an object dtype ({dt}) in a data file")
    return dt


def _n_bytes(shape, dt, limit):
    """Bytes of an array of ``shape`` and ``dt``, refused when above ``limit`` (the file's size)."""
    if not isinstance(shape, tuple):
        shape = (shape,)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise pickle.UnpicklingError(f"malformed NumPy shape {shape!r:.80}")
    n = dt.itemsize
    for s in shape:
        n *= s  # Python ints: no overflow
    if n > limit:
        raise pickle.UnpicklingError(f"an array of shape {shape!r:.80} ({n:,} bytes) cannot come from a {limit:,}-byte file")
    return n


class _NdarrayToken:
    """What ``numpy.ndarray`` resolves to: accepted as ``_reconstruct``'s subtype, but not callable."""

    __slots__ = ()


_NDARRAY = _NdarrayToken()


def _safe_reconstruct(subtype, shape, dtype, limit=0):
    if subtype is not _NDARRAY:
        raise pickle.UnpicklingError(f"refusing to build an ndarray subclass {subtype!r:.80}")
    dt = _safe_dtype(dtype)
    _n_bytes(shape if isinstance(shape, tuple) else (shape,), dt, limit)
    return np.ndarray.__new__(np.ndarray, shape, dt)


def _safe_scalar(dtype, data=None):
    dt = _safe_dtype(dtype)
    if not isinstance(data, (bytes, bytearray)) or len(data) != dt.itemsize:
        raise pickle.UnpicklingError("malformed NumPy scalar")
    return np.frombuffer(bytes(data), dtype=dt, count=1)[0]


def _safe_frombuffer(buf, dtype, shape, order="C", limit=0):
    dt = _safe_dtype(dtype)
    buf = bytes(buf) if isinstance(buf, (bytes, bytearray, memoryview, pickle.PickleBuffer)) else None
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    n = _n_bytes(shape, dt, limit)
    if buf is None or order not in ("C", "F") or len(buf) != n:
        raise pickle.UnpicklingError("malformed NumPy buffer")
    return np.frombuffer(buf, dtype=dt).reshape(shape, order=order).copy()


def _safe_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode other than str -> latin-1 bytes")
    return obj.encode("latin-1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,  # NumPy 1.x pickles
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,  # NumPy 2.x pickles
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,  # protocol 5
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _safe_encode,
}
_SIZED = (_safe_reconstruct, _safe_frombuffer)


class _RestrictedUnpickler(pickle._Unpickler):
    """Resolves only the allowlisted NumPy reconstruction names; everything else is refused.

    The pure-Python unpickler, so that BUILD (``obj.__setstate__(state)``) can be checked too:
    it may only fill an ndarray (dtype without objects, size within the file) or a dtype (which
    must not end up holding objects: a dtype state can set the has-object flag, after which
    NumPy would read raw file bytes as object pointers). Each name resolves to a fresh
    wrapper, so a pickle cannot change the library's own functions.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: RUF012 - the pickle module's own per-class table

    def __init__(self, file, limit, **kwargs):
        super().__init__(file, **kwargs)
        self.limit = limit

    def find_class(self, module, name):
        try:
            target = _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module:.80}.{name:.80}: CIFAR batches contain only arrays, lists and bytes"
            ) from None
        if target is _NDARRAY:
            return _NDARRAY
        limit = self.limit

        def call(*args, **kwargs):
            return target(*args, limit=limit, **kwargs) if target in _SIZED else target(*args, **kwargs)

        return call

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing persistent ids")

    def load_build(self):
        state, inst = self.stack[-1], self.stack[-2]
        if type(inst) is np.ndarray:
            if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], np.dtype)):
                raise pickle.UnpicklingError("malformed ndarray state")
            _safe_dtype(state[2])
            _n_bytes(tuple(state[1]) if isinstance(state[1], (tuple, list)) else state[1], state[2], self.limit)
        elif type(inst) is not np.dtype and not isinstance(inst, np.dtype):
            raise pickle.UnpicklingError(f"refusing to set the state of a {type(inst).__name__:.80}")
        pickle._Unpickler.load_build(self)
        if isinstance(inst, np.dtype) and inst.hasobject:
            raise pickle.UnpicklingError("refusing a dtype state that makes it hold Python objects")

    dispatch[pickle.BUILD[0]] = load_build


def _restricted_loads(blob, name):
    try:
        return _RestrictedUnpickler(io.BytesIO(blob), len(blob), encoding="bytes").load()
    except RecursionError:
        raise DatasetError(f"{name} is not a valid CIFAR batch: nested too deeply.") from None
    except Exception as e:  # any parse failure of untrusted bytes becomes one clear error
        raise DatasetError(f"{name} is not a valid CIFAR batch: {type(e).__name__}: {str(e)[:200]}") from e


def _get(d, key):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    return None


def load_cifar_batch(source, name=None):
    """Parse one CIFAR-10 Python batch (``data_batch_1`` ... ``test_batch``) safely.

    Args:
        source: a path or the batch file's bytes.
        name: how to call the file in error messages (default: the path).

    Returns:
        (data, labels): uint8 ``(N, 32, 32, 3)`` (HWC, as torchvision's ``CIFAR10.data``)
        and int64 ``(N,)`` in [0, 10).

    Raises:
        DatasetError: not a pickle, a forbidden global, or a dict without ``data``/``labels``
            of the right shapes and ranges.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        blob = bytes(source)
        name = name or "CIFAR batch (in memory)"
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = name or f"CIFAR batch {path!r}"
        if not os.path.isfile(path):
            raise DatasetNotFoundError(f"{name} does not exist.")
        if os.path.getsize(path) > _MAX_MEMBER_BYTES:
            raise DatasetError(f"{name} is {os.path.getsize(path):,} bytes; a CIFAR batch is about 31 MB.")
        with open(path, "rb") as f:
            blob = f.read()
    else:
        raise TypeError(f"load_cifar_batch: source must be a path or bytes. Got {type(source).__name__}.")
    obj = _restricted_loads(blob, name)
    if not isinstance(obj, dict):
        raise DatasetError(f"{name}: expected a dict with 'data' and 'labels', got {type(obj).__name__}.")
    data, labels = _get(obj, "data"), _get(obj, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{name}: 'data' must be a uint8 array (N, 3072). Got {got}.")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as e:
        raise DatasetError(f"{name}: 'labels' must be a list of ints ({e}).") from e
    if labels.shape != (data.shape[0],):
        raise DatasetError(f"{name}: {data.shape[0]} images but labels of shape {labels.shape}.")
    if labels.size and (labels.min() < 0 or labels.max() >= 10):
        raise DatasetError(f"{name}: labels must be in [0, 10). Got range [{labels.min()}, {labels.max()}].")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 3072) CHW rows -> (N, 32, 32, 3)
    return np.ascontiguousarray(images), labels


def _read_archive_members(path, members):
    """Read the named files from a .tar.gz into memory (no extraction to disk, no path traversal)."""
    name = f"CIFAR-10 archive {os.fspath(path)!r}"
    wanted = {f"{_ARCHIVE_DIR}/{m}": m for m in members}
    found = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for info in tar:
                m = wanted.get(info.name.lstrip("./"))
                if m is None:
                    continue
                if not info.isfile() or info.size > _MAX_MEMBER_BYTES:
                    raise DatasetError(f"{name}: member {info.name!r} is not a regular file of sane size.")
                found[m] = tar.extractfile(info).read()
    except DatasetError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{name} is corrupt or truncated: {type(e).__name__}: {e}") from e
    missing = [m for m in members if m not in found]
    if missing:
        raise DatasetError(f"{name} lacks {', '.join(_ARCHIVE_DIR + '/' + m for m in missing)}.")
    return found


def load_cifar10(location, train=True):
    """Load the CIFAR-10 train (50,000) or test (10,000) split.

    Args:
        location: a directory holding the batch files (or a ``cifar-10-batches-py``
            subdirectory), or the ``cifar-10-python.tar.gz`` archive itself.
        train: the five training batches, or ``test_batch``.

    Returns:
        (data uint8 ``(N, 32, 32, 3)``, labels int64 ``(N,)``).
    """
    members = CIFAR10_TRAIN_BATCHES if train else CIFAR10_TEST_BATCHES
    location = os.fspath(location)
    if os.path.isfile(location):
        blobs = _read_archive_members(location, members)
        parts = [load_cifar_batch(blobs[m], name=f"{m} in {location!r}") for m in members]
    else:
        folder = location
        if not os.path.isfile(os.path.join(folder, members[0])) and os.path.isdir(os.path.join(folder, _ARCHIVE_DIR)):
            folder = os.path.join(folder, _ARCHIVE_DIR)
        parts = [load_cifar_batch(os.path.join(folder, m)) for m in members]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
