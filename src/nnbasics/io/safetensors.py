"""Safetensors files: a dict of arrays plus string metadata, validated, written atomically.

The format (https://github.com/huggingface/safetensors) is an 8-byte little-endian header
length N, N bytes of JSON (``{name: {"dtype", "shape", "data_offsets"}, "__metadata__":
{str: str}}``) and the raw little-endian array bytes. Reading it never unpickles or
evaluates anything. Encoding and decoding of the arrays is done by the ``safetensors``
package (an optional dependency, imported inside the functions that need it); this module
adds what a training library needs around it:

* the header is checked before any array is decoded, so a truncated, corrupt or foreign
  file raises :class:`SafetensorsError` naming the file and the problem (never a bare
  ``struct``/JSON/NumPy traceback);
* writes are atomic (:func:`atomic_write_bytes`): temporary file in the same directory,
  flush, fsync, ``os.replace``, fsync of the directory. A crash mid-write leaves the
  previous file intact and nothing under the final name but a complete file.

Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_file({"weight": np.ones((2, 3), np.float32)}, path, metadata={"note": "hi"})
    >>> arrays, meta = load_file(path)
    >>> arrays["weight"].shape, meta
    ((2, 3), {'note': 'hi'})
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile

import numpy as np

__all__ = [
    "SafetensorsError",
    "atomic_write_bytes",
    "load_bytes",
    "load_file",
    "read_header",
    "save_bytes",
    "save_file",
]

# safetensors dtype code -> bytes per element (the codes NumPy can hold).
_DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2, "U32": 4, "I32": 4, "F32": 4,
    "U64": 8, "I64": 8, "F64": 8,
}
_NUMPY_KINDS = {"b", "i", "u", "f"}
_MAX_HEADER = 100_000_000  # the format's own limit on the JSON header


def _is_size(v) -> bool:
    """A JSON integer >= 0 (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class SafetensorsError(ValueError):
    """A file or buffer is not a valid safetensors file (truncated, corrupt, foreign) or cannot be written."""


def _require_safetensors(what: str):
    try:
        import safetensors.numpy as stn
    except ImportError:  # pragma: no cover - safetensors is installed in CI
        raise ImportError(
            f"{what} needs the 'safetensors' package, which is not installed. Install it with "
            "`pip install safetensors` (or `pip install nnbasics[train]`)."
        ) from None
    return stn


def _check_tensors(tensors, what: str) -> dict:
    if not isinstance(tensors, dict):
        raise TypeError(f"{what} expects a dict of name -> numpy array. Got {type(tensors).__name__}.")
    out = {}
    for name, arr in tensors.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{what}: array names must be non-empty strings. Got {name!r}.")
        if name == "__metadata__":
            raise ValueError(f"{what}: '__metadata__' is reserved by the format; rename that array.")
        if not isinstance(arr, np.ndarray):
            raise TypeError(
                f"{what}: value for {name!r} must be a numpy array. Got {type(arr).__name__}; "
                "pass tensor.data or np.asarray(value)."
            )
        if arr.dtype.kind not in _NUMPY_KINDS or arr.dtype.itemsize > 8:
            raise TypeError(
                f"{what}: array {name!r} has dtype {arr.dtype}; safetensors holds bool, int, uint and "
                "float arrays of up to 64 bits."
            )
        # safetensors stores little-endian C-ordered bytes.
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        # NOTE: not np.ascontiguousarray, which turns a 0-d array into shape (1,).
        out[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
    return out


def _check_metadata(metadata, what: str):
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise TypeError(f"{what}: metadata must be a dict of str -> str. Got {type(metadata).__name__}.")
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(
                f"{what}: metadata must map str -> str (the format's rule). Entry {k!r}: "
                f"{type(v).__name__}; encode other values with json.dumps."
            )
    return dict(metadata)


def save_bytes(tensors: dict, metadata: dict | None = None) -> bytes:
    """Serialize ``tensors`` (name -> ndarray) and ``metadata`` (str -> str) to safetensors bytes.

    Args:
        tensors: arrays of dtype bool, (u)int8..64 or float16/32/64, any shape.
        metadata: string pairs stored in the header's ``__metadata__``.

    Returns:
        bytes: the file's contents.

    Raises:
        TypeError: a name is not a string, a value not an ndarray of a supported dtype,
            or metadata not str -> str.
    """
    stn = _require_safetensors("save_bytes")
    tensors = _check_tensors(tensors, "save_bytes")
    metadata = _check_metadata(metadata, "save_bytes")
    return stn.save(tensors, metadata=metadata)


def read_header(data: bytes, source: str = "<bytes>") -> tuple:
    """Parse and check the header of safetensors ``data`` without decoding any array.

    Args:
        data: the whole file's bytes.
        source: the file name, used in error messages.

    Returns:
        ``(entries, metadata)``: ``entries`` maps names to ``{"dtype", "shape", "data_offsets"}``,
        ``metadata`` is the ``__metadata__`` dict (empty when absent).

    Raises:
        SafetensorsError: naming ``source`` and what is wrong (too short, header length beyond
            the file, header not JSON, an entry whose offsets do not match its shape and dtype,
            arrays that overlap or leave gaps, data truncated or followed by junk).
    """
    total = len(data)
    if total < 8:
        raise SafetensorsError(f"{source}: not a safetensors file: {total} bytes, shorter than the 8-byte header length.")
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    if n > _MAX_HEADER or n > total - 8:
        raise SafetensorsError(
            f"{source}: not a safetensors file, or truncated: the header length field says {n} bytes but the file "
            f"has {total - 8} bytes after it."
        )
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"{source}: corrupt safetensors header (not UTF-8 JSON): {e}.") from None
    except RecursionError:  # '[[[[...' nested deeper than the JSON decoder's stack
        raise SafetensorsError(f"{source}: corrupt safetensors header: JSON nested too deeply.") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{source}: corrupt safetensors header: a JSON {type(header).__name__}, not an object.")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{source}: corrupt safetensors header: __metadata__ must map strings to strings.")
    body = total - 8 - n
    spans = []
    for name, e in header.items():
        try:
            dtype, shape, (start, stop) = e["dtype"], e["shape"], e["data_offsets"]
            ok = (isinstance(dtype, str) and isinstance(shape, list) and all(_is_size(d) for d in shape)
                  and _is_size(start) and _is_size(stop))
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise SafetensorsError(
                f"{source}: corrupt safetensors header: bad entry for {name!r:.100}: {e!r:.200} (expected "
                '{"dtype": str, "shape": [ints >= 0], "data_offsets": [start, stop]}).'
            )
        if dtype not in _DTYPE_SIZES:
            raise SafetensorsError(
                f"{source}: array {name!r:.100} has dtype {dtype!r:.40}, which NumPy cannot hold (supported: "
                f"{', '.join(_DTYPE_SIZES)})."
            )
        expected = _DTYPE_SIZES[dtype] * math.prod(shape)  # Python ints: no overflow
        if stop - start != expected:
            raise SafetensorsError(
                f"{source}: corrupt safetensors header: {name!r:.100} ({dtype}, shape {tuple(shape)!s:.100}) needs {expected} "
                f"bytes but its offsets [{start}, {stop}) span {stop - start}."
            )
        spans.append((start, stop, name))
    spans.sort()
    pos = 0
    for start, stop, name in spans:
        if start != pos:
            raise SafetensorsError(f"{source}: corrupt safetensors header: arrays overlap or leave a gap at {name!r}.")
        pos = stop
    if pos > body:
        raise SafetensorsError(
            f"{source}: truncated safetensors file: the header declares {pos} bytes of array data but only {body} "
            "follow it. The file was cut short (interrupted copy or download); use an intact copy."
        )
    if pos < body:
        raise SafetensorsError(
            f"{source}: corrupt safetensors file: {body - pos} unexpected bytes after the declared array data."
        )
    return header, metadata


def load_bytes(data: bytes, source: str = "<bytes>") -> tuple:
    """Decode safetensors ``data`` into ``(arrays, metadata)``, checking the header first.

    Args:
        data: the file's bytes.
        source: the file name, for error messages.

    Returns:
        ``(dict name -> ndarray (writable, native byte order), dict str -> str)``; the arrays
        are in the order of the header's data offsets.

    Raises:
        SafetensorsError: see :func:`read_header`.
    """
    stn = _require_safetensors("load_bytes")
    header, metadata = read_header(data, source)
    try:
        arrays = stn.load(bytes(data))
    except Exception as e:  # noqa: BLE001 - the Rust decoder's own checks; read_header catches them first
        raise SafetensorsError(f"{source}: corrupt safetensors file: {e}.") from None
    order = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    out = {}
    for k in order:
        a = arrays[k]
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        out[k] = a if a.flags.writeable else a.copy()
    return out, metadata


def atomic_write_bytes(path, data: bytes) -> str:
    """Write ``data`` to ``path`` so that ``path`` is always either the old file or the complete new one.

    Writes a temporary file ``.NAME.XXXX.tmp`` in the same directory, flushes and fsyncs it,
    renames it over ``path`` (``os.replace``, atomic on POSIX and Windows), then fsyncs the
    directory so the rename itself survives a power cut. On an exception the temporary file
    is removed; after a hard crash (killed process) it may remain, and is safe to delete.

    Returns:
        str: the path written.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist; create it first.")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
    return path


def _write_all(f, data) -> None:
    # One seam for tests that simulate a crash half way through a write.
    f.write(data)


def _fsync_directory(directory: str) -> None:
    if os.name != "posix":  # Windows cannot open a directory; os.replace is durable enough there
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def save_file(tensors: dict, path, metadata: dict | None = None) -> None:
    """Save ``tensors`` and string ``metadata`` to the safetensors file ``path``, atomically.

    Args:
        tensors: name -> ndarray (bool, ints, floats up to 64 bits).
        path: destination (its directory must exist).
        metadata: optional str -> str pairs stored in the header.

    Example:
        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.safetensors")
        >>> save_file({"x": np.arange(3)}, p)
        >>> load_file(p)[0]["x"].tolist()
        [0, 1, 2]
    """
    atomic_write_bytes(path, save_bytes(tensors, metadata))


def load_file(path) -> tuple:
    """Load a safetensors file: ``(dict name -> ndarray, dict metadata)``; never runs code from it.

    Raises:
        FileNotFoundError: no such file.
        SafetensorsError: truncated, corrupt or not safetensors (the message names the file).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise SafetensorsError(f"{path}: is a directory, not a safetensors file.")
    with open(path, "rb") as f:
        data = f.read()
    return load_bytes(data, source=path)
