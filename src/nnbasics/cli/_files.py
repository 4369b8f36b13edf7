"""Files a command writes besides a run folder (``--json``, ``predict --output``): checked first, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from ._options import UsageError

__all__ = ["check_output_file", "load_model", "write_output_file"]


def check_output_file(path, flag: str) -> Path:
    """Refuse, before any work, a file that cannot be written: a missing folder, a folder, a read-only place."""
    from ._rundir import probe_writable

    path = Path(os.path.expanduser(str(path)))
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name, e.g. {path / 'out.json'}.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise UsageError(f"{flag} {path}: the folder {parent} does not exist; create it first or choose another "
                         "file.")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: {parent} is a file, not a folder; choose another file.")
    probe_writable(parent, path, flag)
    return path


def write_output_file(path, data: bytes, flag: str) -> None:
    """Write ``data`` to ``path`` atomically (the old file, or the complete new one); an OSError is one message."""
    from ..io.safetensors import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot write it ({e.strerror or e}); nothing was written. Free space or "
                         "choose another file.") from None


def load_model(checkpoint):
    """The model stored in ``checkpoint`` (rebuilt from its spec), or a UsageError saying why not."""
    from ..training import load_checkpoint

    try:
        return load_checkpoint(checkpoint).model
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise UsageError(str(e)) from None
