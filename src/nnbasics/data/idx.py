"""IDX files (MNIST, Fashion-MNIST, KMNIST): a safe reader and a writer.

Format (http://yann.lecun.com/exdb/mnist/): a 4-byte magic number ``00 00 TT NN``
(``TT`` the element type, ``NN`` the number of dimensions), then ``NN`` big-endian
uint32 sizes, then the elements in C order, big-endian. Files may be gzipped.

The reader checks the magic number, the type code and the number of dimensions,
and compares the size the header claims with the bytes actually present BEFORE
allocating anything, so a header claiming 10^12 items is rejected without a
MemoryError. Every problem raises :class:`~nnbasics.data.DatasetError` naming the
file and what is wrong.

Example:
    >>> import numpy as np
    >>> blob = save_idx(None, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> load_idx(blob).tolist()
    [[0, 1, 2], [3, 4, 5]]
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib

import numpy as np

from .errors import DatasetError, DatasetNotFoundError

__all__ = ["IDX_DTYPES", "load_idx", "save_idx"]

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# deflate cannot expand data by more than ~1032x; a gzip header claiming more is a lie
_MAX_DEFLATE_RATIO = 1100


def _describe(source):
    return f"IDX file {os.fspath(source)!r}" if isinstance(source, (str, os.PathLike)) else "IDX data (in memory)"


def _read_exact(stream, n, what, name):
    """Read exactly n bytes in chunks (memory grows only with the data actually present)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            raise DatasetError(f"{name} is truncated: expected {n} bytes of {what}, found only {len(buf)}.")
        buf += chunk
    return buf


def _parse(stream, name, total_limit):
    head = _read_exact(stream, 4, "magic number", name)
    if head[0] != 0 or head[1] != 0:
        raise DatasetError(
            f"{name} is not an IDX file: the magic number must start with two zero bytes, "
            f"got {bytes(head).hex()}. (Is it an HTML error page, or another format?)"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DatasetError(f"{name}: unknown IDX element type 0x{code:02X} (known: {known}).")
    if ndim == 0:
        raise DatasetError(f"{name}: the IDX header declares 0 dimensions; at least 1 is required.")
    dims = struct.unpack(f">{ndim}I", bytes(_read_exact(stream, 4 * ndim, "dimension sizes", name)))
    dtype = IDX_DTYPES[code]
    n_items = 1
    for d in dims:
        n_items *= d  # Python ints: no overflow
    n_bytes = n_items * dtype.itemsize
    payload_limit = total_limit - 4 - 4 * ndim
    if n_bytes > payload_limit:
        raise DatasetError(
            f"{name}: the header claims shape {tuple(dims)} of {dtype.newbyteorder('=').name} "
            f"({n_bytes:,} bytes) but the file can hold at most {max(payload_limit, 0):,} bytes of data; "
            "it is truncated or corrupt."
        )
    data = _read_exact(stream, n_bytes, f"data for shape {tuple(dims)}", name)
    extra = stream.read(1)
    if extra:
        raise DatasetError(
            f"{name}: unexpected bytes after the {n_bytes:,} bytes of data the header declares "
            f"(shape {tuple(dims)}); the file is corrupt or the header is wrong."
        )
    arr = np.frombuffer(data, dtype=dtype).reshape(dims)
    native = dtype.newbyteorder("=")
    return arr if dtype.itemsize == 1 else arr.astype(native)


def load_idx(source) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a native-endian ndarray.

    Args:
        source: a path (str or os.PathLike) or the file's bytes (bytes/bytearray/memoryview).
            Gzip is detected from the content, not the file name.

    Returns:
        ndarray with the file's shape and dtype (uint8 for MNIST images and labels).

    Raises:
        DatasetNotFoundError: the path does not exist.
        DatasetError: wrong magic number, unknown type, truncated or corrupt data,
            trailing garbage, a header that claims more data than the file holds, or
            a broken gzip stream. The message names the file and the problem.

    Example:
        >>> images = load_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
        >>> images.shape, images.dtype  # doctest: +SKIP
        ((10000, 28, 28), dtype('uint8'))
    """
    name = _describe(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise DatasetNotFoundError(f"{name} does not exist (or is not a regular file).")
        # IDX files are at most a few hundred MB; the size checks below bound everything read
        with open(path, "rb") as f:
            raw = f.read()
    else:
        raise TypeError(f"load_idx: source must be a path or bytes. Got {type(source).__name__}.")
    try:
        with io.BytesIO(raw) as f:
            if raw[:2] != _GZIP_MAGIC:
                return _parse(f, name, total_limit=len(raw))
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return _parse(g, name, total_limit=len(raw) * _MAX_DEFLATE_RATIO)
    except DatasetError:
        raise
    except (OSError, EOFError, zlib.error, struct.error, ValueError) as e:
        # gzip.BadGzipFile is an OSError; a stream cut mid-member raises EOFError
        raise DatasetError(f"{name} is corrupt: {type(e).__name__}: {e}") from e


def save_idx(path, array, compress=None):
    """Write ``array`` as an IDX file (gzipped if ``compress`` or the path ends in ``.gz``).

    Args:
        path: destination path, or None to return the bytes instead.
        array: ndarray of uint8, int8, int16, int32, float32 or float64.
        compress: gzip the output; default: True iff ``path`` ends with ``.gz``.

    Returns:
        the bytes written (also when ``path`` is given).
    """
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(
            f"save_idx: IDX cannot store dtype {a.dtype}; use uint8, int8, int16, int32, float32 or float64."
        )
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"save_idx: IDX stores 1 to 255 dimensions. Got {a.ndim}.")
    code = _CODES[native]
    blob = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    blob += np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path is not None and os.fspath(path).endswith(".gz")
    if compress:
        blob = gzip.compress(blob, mtime=0)
    if path is not None:
        with open(path, "wb") as f:
            f.write(blob)
    return blob
