"""Safetensors files, read and written with NumPy alone: arrays plus string metadata, validated, atomic.

The format (https://github.com/huggingface/safetensors) is an 8-byte little-endian header
length N, N bytes of JSON (``{"__metadata__": {str: str}, name: {"dtype", "shape",
"data_offsets"}, ...}``) and the raw little-endian, C-ordered array bytes. Reading it never
unpickles or evaluates anything, and needs no package beyond NumPy (the ``safetensors``
package is only a cross-check in the tests). What this module adds around the format:

* the header is checked completely before any array is decoded, so a truncated, corrupt or
  foreign file raises :class:`SafetensorsError` naming the file and the problem (never a
  bare ``struct``/JSON/NumPy traceback), and nothing is allocated beyond what the file's
  own bytes hold;
* files are written the way the reference implementation writes them: arrays ordered by
  dtype (widest first, the Rust ``Dtype`` order) then by name, the header as compact JSON
  with ``__metadata__`` first, padded with spaces to a multiple of 8 bytes. A file with at
  most one metadata entry is therefore byte-identical to ``safetensors.numpy.save``'s;
* writes are atomic (:func:`atomic_write_bytes`): temporary file in the same directory,
  flush, fsync, ``os.replace``, fsync of the directory. A crash or a full disk mid-write
  leaves the previous file intact and nothing under the final name but a complete file.

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

# safetensors dtype code -> NumPy dtype (little-endian), for the codes NumPy can hold.
_DTYPES = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2", "U32": "<u4", "I32": "<i4",
    "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8",
}
_DTYPE_SIZES = {code: np.dtype(dt).itemsize for code, dt in _DTYPES.items()}
_CODES = {np.dtype(dt): code for code, dt in _DTYPES.items()}  # little-endian NumPy dtype -> code
# The reference writer sorts arrays by its Rust `Dtype` enum, descending, then by name.
_RANK = {c: i for i, c in enumerate(["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
                                     "I64", "U64"])}
_MAX_HEADER = 100_000_000  # the format's own limit on the JSON header
_MAX_DIMS = 32  # NumPy 1.x's limit (2.x allows 64); safetensors itself sets none


def _is_size(v) -> bool:
    """A JSON integer >= 0 (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class SafetensorsError(ValueError):
    """A file or buffer is not a valid safetensors file (truncated, corrupt, foreign) or cannot be written."""


def _check_tensors(tensors, what: str) -> dict:
    """name -> C-contiguous little-endian array, or TypeError/ValueError naming the bad entry."""
    if not isinstance(tensors, dict):
        raise TypeError(f"{what} expects a dict of name -> numpy array. Got {type(tensors).__name__}.")
    out = {}
    for name, arr in tensors.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{what}: array names must be non-empty strings. Got {name!r}.")
        if name == "__metadata__":
            raise ValueError(f"{what}: '__metadata__' is reserved by the format; rename that array.")
        _check_utf8(name, what, "array name")
        if not isinstance(arr, np.ndarray):
            raise TypeError(
                f"{what}: value for {name!r} must be a numpy array. Got {type(arr).__name__}; "
                "pass tensor._array or np.asarray(value)."
            )
        dt = arr.dtype
        if dt.kind not in "biuf" or dt.fields is not None or dt.subdtype is not None or dt.newbyteorder("<") not in _CODES:
            raise TypeError(
                f"{what}: array {name!r} has dtype {arr.dtype}; safetensors holds bool, int, uint and "
                "float arrays of up to 64 bits."
            )
        arr = arr.astype(dt.newbyteorder("<"), copy=False)
        # NOTE: not np.ascontiguousarray, which turns a 0-d array into shape (1,).
        out[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
    return out


def _check_utf8(text: str, what: str, kind: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what}: {kind} {text!r:.80} is not valid Unicode (a lone surrogate); the format "
                         "stores UTF-8.") from None


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
        _check_utf8(k, what, "metadata key")
        _check_utf8(v, what, "metadata value")
    return dict(metadata)


def _serialize(tensors: dict, metadata: dict | None, what: str) -> list:
    """The file as a list of byte chunks: header length + header, then each array's bytes."""
    arrays = _check_tensors(tensors, what)
    metadata = _check_metadata(metadata, what)
    order = sorted(arrays, key=lambda k: (-_RANK[_CODES[arrays[k].dtype]], k.encode("utf-8")))
    header, pos = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": _CODES[a.dtype], "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        pos += a.nbytes
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the reference writer aligns the data to 8 bytes
    chunks = [struct.pack("<Q", len(text)) + text]
    # NOTE: a memoryview of a C-contiguous little-endian array is its bytes as stored; no copy.
    chunks.extend(memoryview(arrays[name]).cast("B") for name in order if arrays[name].nbytes)
    return chunks


def save_bytes(tensors: dict, metadata: dict | None = None) -> bytes:
    """Serialize ``tensors`` (name -> ndarray) and ``metadata`` (str -> str) to safetensors bytes.

    Args:
        tensors: arrays of dtype bool, (u)int8..64 or float16/32/64, any shape.
        metadata: string pairs stored in the header's ``__metadata__``.

    Returns:
        bytes: the file's contents (what ``safetensors.numpy.save`` returns for the same input
        when ``metadata`` has at most one entry; the reference orders several entries randomly).

    Raises:
        TypeError: a name is not a string, a value not an ndarray of a supported dtype,
            or metadata not str -> str.
    """
    return b"".join(_serialize(tensors, metadata, "save_bytes"))


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r:.100}")
        out[k] = v
    return out


def _parse_header(data, n: int, source: str) -> dict:
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"{source}: corrupt safetensors header (not UTF-8 JSON): {e}.") from None
    except RecursionError:  # '[[[[...' nested deeper than the JSON decoder's stack
        raise SafetensorsError(f"{source}: corrupt safetensors header: JSON nested too deeply.") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{source}: corrupt safetensors header: a JSON {type(header).__name__}, not an object.")
    return header


def _check_entry(source: str, name: str, e) -> tuple:
    """``(dtype code, shape, start, stop)`` of one header entry, checked against itself."""
    try:
        dtype, shape, offsets = e["dtype"], e["shape"], e["data_offsets"]
        ok = (isinstance(e, dict) and set(e) == {"dtype", "shape", "data_offsets"} and isinstance(dtype, str)
              and isinstance(shape, list) and all(_is_size(d) for d in shape) and isinstance(offsets, list)
              and len(offsets) == 2 and all(_is_size(o) for o in offsets))
    except (TypeError, KeyError, ValueError, IndexError):
        ok = False
    if not ok:
        raise SafetensorsError(
            f"{source}: corrupt safetensors header: bad entry for {name!r:.100}: {e!r:.200} (expected "
            '{"dtype": str, "shape": [ints >= 0], "data_offsets": [start, stop]}).'
        )
    start, stop = offsets
    if dtype not in _DTYPES:
        raise SafetensorsError(
            f"{source}: array {name!r:.100} has dtype {dtype!r:.40}, which NumPy cannot hold (supported: "
            f"{', '.join(_DTYPES)})."
        )
    expected = _DTYPE_SIZES[dtype] * math.prod(shape)  # Python ints: no overflow
    if len(shape) > _MAX_DIMS or _DTYPE_SIZES[dtype] * math.prod(d for d in shape if d) >= 2**63:
        # NOTE: an empty array ([0, 2**70]) takes no bytes, but NumPy cannot have that shape either
        raise SafetensorsError(
            f"{source}: array {name!r:.100} has shape {tuple(shape)!s:.100}, which NumPy cannot hold (at most "
            f"{_MAX_DIMS} dimensions, fewer than 2^63 bytes even when empty)."
        )
    if stop - start != expected:
        raise SafetensorsError(
            f"{source}: corrupt safetensors header: {name!r:.100} ({dtype}, shape {tuple(shape)!s:.100}) needs "
            f"{expected} bytes but its offsets [{start}, {stop}) span {stop - start}."
        )
    return dtype, shape, start, stop


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
            the file, header not JSON or with a duplicate key, an entry whose offsets do not
            match its shape and dtype, arrays that overlap or leave gaps, data truncated or
            followed by junk).
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
    header = _parse_header(data, n, source)
    metadata = header.pop("__metadata__", None)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{source}: corrupt safetensors header: __metadata__ must map strings to strings.")
    body = total - 8 - n
    spans = []
    for name, e in header.items():
        _, _, start, stop = _check_entry(source, name, e)
        spans.append((start, stop, name))
    spans.sort()
    pos = 0
    for start, stop, name in spans:
        if start != pos:
            raise SafetensorsError(f"{source}: corrupt safetensors header: arrays overlap or leave a gap at {name!r:.100}.")
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
    header, metadata = read_header(data, source)
    base = 8 + struct.unpack("<Q", bytes(data[:8]))[0]
    buf = memoryview(data)
    out = {}
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        e = header[name]
        start, stop = e["data_offsets"]
        dt = np.dtype(_DTYPES[e["dtype"]])
        flat = np.frombuffer(buf[base + start:base + stop], dtype=dt)  # read_header checked the sizes
        # A copy: writable, native byte order, and independent of the file's buffer.
        out[name] = flat.astype(dt.newbyteorder("="), copy=True).reshape(e["shape"])
    return out, metadata


def atomic_write_bytes(path, data) -> str:
    """Write ``data`` to ``path`` so that ``path`` is always either the old file or the complete new one.

    Writes a temporary file ``.NAME.PID.XXXX.tmp`` in the same directory, flushes and fsyncs it,
    renames it over ``path`` (``os.replace``, atomic on POSIX and Windows), then fsyncs the
    directory so the rename itself survives a power cut (best effort: some filesystems refuse
    it). On any failure before the rename (full disk, I/O error, read-only filesystem) the
    temporary file is removed and ``path`` is untouched. A process killed mid-write leaves its
    temporary file behind; the next write to ``path`` removes it (its process is gone).

    The new file gets the old file's permissions, or those the user's umask gives a new file
    (``0o666 & ~umask``), not ``mkstemp``'s private 0600. A symbolic link is followed (the file
    it points to is replaced, the link stays); a path that is not a regular file (``/dev/null``,
    a named pipe) is written into, never replaced.

    Args:
        path: the destination; its directory must exist.
        data: bytes-like, or a list of bytes-like chunks written in order.

    Returns:
        str: the path written.

    Raises:
        FileNotFoundError: the directory does not exist.
        OSError: the write failed (its errno kept: ENOSPC, EIO, EROFS, EFBIG...); the message
            says the previous file is unchanged.
    """
    path = os.fspath(path)
    chunks = data if isinstance(data, list) else [data]
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        return _write_special(path, chunks)  # NOTE: a rename would replace the device (as root: /dev/null)
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace the file the link points to, keep the link
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist; create it first.")
    name = os.path.basename(path)
    _remove_stale_temps(directory, name)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # POSIX
                os.fchmod(f.fileno(), _new_file_mode(path))
            for chunk in chunks:
                _write_all(f, chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(e, OSError) and e.errno is not None:
            raise OSError(e.errno, f"cannot write {path}: {e.strerror}; the previous file is unchanged",
                          path) from e
        raise
    _fsync_directory(directory)
    return path


def _write_special(path, chunks) -> str:
    """Write into a device or named pipe (no temporary file: it cannot be renamed over)."""
    try:
        with open(path, "wb") as f:
            for chunk in chunks:
                _write_all(f, chunk)
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path}: {e.strerror}", path) from e
    return path


def _new_file_mode(path) -> int:
    """The mode of the file being replaced, else what the umask gives a new file."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    try:  # Linux: read the umask without changing it (os.umask would, for every thread)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _remove_stale_temps(directory: str, name: str) -> None:
    """Delete ``.NAME.PID.*.tmp`` files left by writers that were killed (their PID is gone)."""
    if os.name != "posix":  # os.kill(pid, 0) probes a process only on POSIX
        return
    prefix = f".{name}."
    try:
        entries = [e for e in os.listdir(directory) if e.startswith(prefix) and e.endswith(".tmp")]
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that writer is alive: its file is in progress
        except ProcessLookupError:
            pass
        except (PermissionError, OSError):
            continue  # alive but not ours, or unknowable: leave it
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass


def _write_all(f, data) -> None:
    # One seam for tests that simulate a crash half way through a write.
    f.write(data)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable; best effort (the new file is already in place)."""
    if os.name != "posix":  # Windows cannot open a directory; os.replace is durable enough there
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
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

    Raises:
        TypeError: see :func:`save_bytes`; OSError: see :func:`atomic_write_bytes`.

    Example:
        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.safetensors")
        >>> save_file({"x": np.arange(3)}, p)
        >>> load_file(p)[0]["x"].tolist()
        [0, 1, 2]
    """
    atomic_write_bytes(path, _serialize(tensors, metadata, "save_file"))


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
