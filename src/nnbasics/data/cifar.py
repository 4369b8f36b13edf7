"""CIFAR-10 in its Python batch format, read WITHOUT ``pickle.load``.

The official ``cifar-10-python.tar.gz`` holds pickled dicts
(``{b'data': uint8 array (10000, 3072), b'labels': [int, ...], ...}``). A plain
``pickle.load`` of a downloaded file can run arbitrary code, so this module uses a
:class:`pickle.Unpickler` subclass whose ``find_class`` resolves only NumPy's
array reconstructors (``_reconstruct``; protocol 5's ``_frombuffer``),
``numpy.ndarray``, ``numpy.dtype`` and NumPy's scalar constructor, plus
``_codecs.encode`` to latin-1 (how Python 3 protocol-2 pickles spell bytes), each
through a wrapper. Every other global (``os.system``, ``builtins.eval``...) raises
:class:`~nnbasics.data.DatasetError` before anything is called.

Only plain integer dtypes are built, by name (``u1``, ``i8``...); a dtype's pickled state
(``BUILD``) is accepted only when it is the no-op NumPy writes for such a dtype, and is never
applied: a state can give a dtype fields at any offset, and NumPy then reads outside the
array (PyTorch's ``weights_only`` unpickler refuses BUILD on dtypes too). An array's state
must be a plain dtype and exactly the bytes its shape needs. The labels must be a flat
list of ints (or a 1-D integer array) of one per image, checked before NumPy converts them.

Decision: a restricted ``Unpickler`` (the approach of ``torch.load(weights_only=True)``)
rather than a hand-written opcode interpreter: the standard parser handles every
protocol, and the allowlist is where the safety lives. The whole file is read into
memory first (batches are ~30 MB), so a length field in a corrupt pickle cannot make
the reader allocate more than the file's size, and every array is bounded by it.

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


# The only dtypes a CIFAR batch holds, by the names NumPy pickles them under: uint8 images, integer
# labels ("b" is the int8 placeholder of ``_reconstruct``). Built by name; no dtype state is ever applied.
_DTYPE_NAMES = frozenset(["b", "B", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"])


def _plain(dt) -> bool:
    """A plain native integer dtype: no fields, sub-arrays, objects or odd sizes."""
    return (isinstance(dt, np.dtype) and dt.kind in "iu" and dt.fields is None and dt.subdtype is None
            and not dt.hasobject and dt.isnative and dt.itemsize in (1, 2, 4, 8) and dt == np.dtype(dt.str))


def _safe_dtype(name, align=False, copy=False):
    """``numpy.dtype(name, align, copy)`` for the plain integer names a CIFAR batch uses, and nothing else."""
    if isinstance(name, np.dtype) and _plain(name):
        return name
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    if not isinstance(name, str) or name not in _DTYPE_NAMES or not isinstance(align, bool) or not isinstance(copy, bool):
        raise pickle.UnpicklingError(
            f"refusing the dtype {name!r:.40}: a CIFAR batch holds only uint8 images and integer labels"
        )
    return np.dtype(name)


def _n_bytes(shape, dt, limit):
    """Bytes of an array of ``shape`` and ``dt``, refused when above ``limit`` (the file's size)."""
    if not isinstance(shape, tuple):
        shape = (shape,)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape) or len(shape) > 32:
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


def _check_dtype_state(inst, state) -> None:
    """Accept only the state NumPy writes for a plain dtype (a no-op); never call ``dtype.__setstate__``.

    A dtype state can add fields at any offset, sub-arrays, a new item size or the has-object
    flag; NumPy then reads outside the array (a segfault, or heap bytes in the labels). PyTorch's
    ``weights_only`` unpickler refuses BUILD on dtypes for the same reason.
    """
    order = "|" if inst.itemsize == 1 else ("<" if inst.byteorder in "<=" and np.little_endian else ">")
    expected = (order, None, None, None, -1, -1, 0)
    if not (isinstance(state, tuple) and len(state) == 8 and state[0] in (3, 4) and state[1:] == expected):
        raise pickle.UnpicklingError(
            f"refusing a dtype state {state!r:.120} that would change {inst} (fields, offsets, sub-arrays, size, "
            "flags or byte order): a CIFAR batch holds plain arrays"
        )


def _check_array_state(inst, state, limit) -> None:
    """``ndarray.__setstate__`` arguments: (1, shape, plain dtype, is_fortran, bytes of exactly that size)."""
    if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[1], tuple)
            and isinstance(state[3], bool) and isinstance(state[4], bytes)):
        raise pickle.UnpicklingError("malformed ndarray state")
    if not _plain(state[2]):
        raise pickle.UnpicklingError(f"refusing an array of dtype {state[2]!r:.80}: a CIFAR batch holds plain integers")
    if _n_bytes(state[1], state[2], limit) != len(state[4]):
        raise pickle.UnpicklingError("malformed ndarray state: its bytes do not match its shape and dtype")


class _RestrictedUnpickler(pickle._Unpickler):
    """Resolves only the allowlisted NumPy reconstruction names; everything else is refused.

    The pure-Python unpickler, so that BUILD (``obj.__setstate__(state)``) can be checked too: it
    may fill a fresh ndarray once (plain integer dtype, bytes matching its shape, size within the
    file); on a dtype it is accepted only as the no-op state NumPy writes for a plain dtype and
    is never applied. Each name resolves to a fresh wrapper, so a pickle cannot change the
    library's own functions.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: RUF012 - the pickle module's own per-class table

    def __init__(self, file, limit, **kwargs):
        super().__init__(file, **kwargs)
        self.limit = limit
        self.built = []  # arrays already filled by BUILD (kept alive so their ids stay unique)

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
            if any(a is inst for a in self.built):
                raise pickle.UnpicklingError("refusing a second state for the same array")
            _check_array_state(inst, state, self.limit)
            self.built.append(inst)
            pickle._Unpickler.load_build(self)
        elif isinstance(inst, np.dtype):
            _check_dtype_state(inst, state)
            self.stack.pop()  # the state, accepted and not applied
        else:
            raise pickle.UnpicklingError(f"refusing to set the state of a {type(inst).__name__:.80}")

    dispatch[pickle.BUILD[0]] = load_build


def _restricted_loads(blob, name):
    try:
        return _RestrictedUnpickler(io.BytesIO(blob), len(blob), encoding="bytes").load()
    except RecursionError:
        raise DatasetError(f"{name} is not a valid CIFAR batch: nested too deeply.") from None
    except Exception as e:  # any parse failure of untrusted bytes becomes one clear error
        raise DatasetError(f"{name} is not a valid CIFAR batch: {type(e).__name__}: {str(e)[:200]}") from e


def _labels(labels, n, name):
    """``labels`` as int64 ``(n,)``: a flat list/tuple of ``n`` integers or a 1-D integer array.

    Checked element by element before NumPy sees it: a nested list (or a list of ``n``
    references to one huge list, which a pickle memo makes cheap) would otherwise expand
    into an allocation the file's size does not justify.
    """
    if isinstance(labels, np.ndarray):
        if not _plain(labels.dtype) or labels.ndim != 1:
            raise DatasetError(f"{name}: 'labels' must be integers of shape ({n},). Got {labels.dtype} {labels.shape}.")
    elif isinstance(labels, (list, tuple)):
        bad = next((v for v in labels if isinstance(v, bool) or not isinstance(v, (int, np.integer))), None)
        if bad is not None:
            raise DatasetError(f"{name}: 'labels' must be a flat list of ints. Found a {type(bad).__name__}.")
    else:
        raise DatasetError(f"{name}: 'labels' must be a list of ints. Got {type(labels).__name__}.")
    if len(labels) != n:
        raise DatasetError(f"{name}: {n} images but {len(labels)} labels.")
    try:
        return np.array(labels, dtype=np.int64)
    except OverflowError as e:
        raise DatasetError(f"{name}: 'labels' must be in [0, 10) ({e}).") from None


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
    labels = _labels(labels, data.shape[0], name)
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
