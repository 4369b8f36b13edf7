"""A run folder saved as one transaction: checkpoints, history, config and plots always agree.

A training run writes several files into its folder after every epoch (``last.safetensors``,
``best.safetensors``, ``history.json``, ``config.json``, plots). Renaming each file into place
atomically is not enough: a crash between two renames leaves a new checkpoint beside an old
``config.json``, and a reader scores a circles model on moons. :class:`RunFolder` makes the
folder one unit with a redo log, as databases do:

1. every new part is written under a temporary name ``.NAME.gG.pending`` (G: the new
   generation) and fsynced; nothing the readers use is touched yet;
2. ``manifest.json`` -- the generation, and the SHA-256 and size of every part -- is replaced
   atomically (temporary file, fsync, rename, fsync of the folder): **the commit point**;
3. each pending file is renamed over its final name; parts the new generation drops are removed.

A process killed before step 2 leaves the previous generation exactly as it was (the stray
pending files are ignored by readers and removed by the next writer). Killed during step 3, the
manifest names the new generation and each part is either already in place or still pending
with the recorded hash: readers take whichever copy matches (:meth:`RunFolder.read_bytes`), and
the next writer finishes the renames (:meth:`RunFolder.recover`). So at every instant the folder
loads as the previous generation or the new one, never a mixture; a part changed by hand no
longer matches its hash and the folder is refused with a message saying what to do.

Files are created with mode 0666 less the umask, as ``open`` does (not 0600). Writers hold an
exclusive ``flock`` on ``.nnbasics.lock`` in the folder (:meth:`RunFolder.lock`), so two trainings
cannot interleave their generations. Every filesystem call goes through the ``os`` module at call
time, so a fault-injection harness that patches ``os`` functions reaches each write, fsync and
rename of a commit.

Example:
    >>> import tempfile, pathlib
    >>> folder = RunFolder(pathlib.Path(tempfile.mkdtemp()) / "run")
    >>> _ = folder.commit({"a.txt": b"one", "b.txt": b"two"}, info={"epoch": 1})
    >>> _ = folder.commit({"a.txt": b"ONE"}, info={"epoch": 2})
    >>> folder.read_bytes("a.txt"), folder.read_bytes("b.txt"), folder.manifest()["info"]
    (b'ONE', b'two', {'epoch': 2})
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
from pathlib import Path

__all__ = ["MANIFEST", "RunFolder", "RunFolderError"]

MANIFEST = "manifest.json"
FORMAT = "nnbasics.run"
VERSION = 1
LOCK = ".nnbasics.lock"
_MAX_MANIFEST_BYTES = 1 << 20  # a manifest lists a handful of files: 1 MiB is far more than enough
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")
_PENDING = re.compile(r"\.(?P<name>.+)\.g(?P<gen>\d+)\.pending")


class RunFolderError(ValueError):
    """The folder is not a complete, self-consistent run; the message says what is wrong and what to do."""


def _sha256(data) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_new(path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with ``data``, mode 0666 less the umask, and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path) -> None:
    """Make the entries of directory ``path`` durable (best effort where directories cannot be fsynced)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _unlink(path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def check_part_name(name) -> str:
    """A part's name must be a plain file name: no folders, no leading dot, at most 100 characters."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (MANIFEST, LOCK):
        raise RunFolderError(f"a run folder part must be a plain file name (letters, digits, '_', '-', '.'); got "
                             f"{name!r:.60}.")
    return name


class RunFolder:
    """The run folder at ``path`` (it need not exist yet).

    Args:
        path: the folder.
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    # ------------------------------------------------------------ reading
    def manifest(self) -> dict | None:
        """The committed manifest (checked), or None when the folder has none (not written by a RunFolder).

        Raises:
            RunFolderError: ``manifest.json`` is unreadable, too large, not JSON or not a manifest.
        """
        path = self.path / MANIFEST
        try:
            with open(path, "rb") as f:
                raw = f.read(_MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise RunFolderError(f"{path}: cannot read it ({e.strerror or e}).") from None
        if len(raw) > _MAX_MANIFEST_BYTES:
            raise RunFolderError(f"{path}: larger than 1 MiB, so not a run manifest; the folder is damaged.")
        try:
            m = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise RunFolderError(f"{path}: not valid JSON ({type(e).__name__}); the folder is damaged.") from None
        return self._checked(m, path)

    @staticmethod
    def _checked(m, path) -> dict:
        bad = f"{path}: not a run manifest"
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise RunFolderError(f"{bad} (no 'format': {FORMAT!r}); the folder is damaged or not a run.")
        if m.get("version") != VERSION:
            raise RunFolderError(f"{path}: run manifest version {m.get('version')!r:.20}; this nnbasics reads "
                                 f"version {VERSION}. Use the nnbasics that wrote it.")
        gen, parts = m.get("generation"), m.get("parts")
        if isinstance(gen, bool) or not isinstance(gen, int) or gen < 1 or not isinstance(parts, dict):
            raise RunFolderError(f"{bad} (bad 'generation' or 'parts'); the folder is damaged.")
        for name, e in parts.items():
            try:
                check_part_name(name)
            except RunFolderError as err:
                raise RunFolderError(f"{bad}: {err} The folder is damaged.") from None
            ok = (isinstance(e, dict) and isinstance(e.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", e["sha256"])
                  and isinstance(e.get("size"), int) and not isinstance(e["size"], bool) and e["size"] >= 0)
            if not ok:
                raise RunFolderError(f"{bad} (the entry of {name!r} needs a sha256 and a size); the folder is damaged.")
        if not isinstance(m.get("info", {}), dict):
            raise RunFolderError(f"{bad} ('info' is not an object); the folder is damaged.")
        return m

    def _pending(self, name, gen) -> Path:
        return self.path / f".{name}.g{gen}.pending"

    def _read_verified(self, name, entry, gen):
        """``(path, bytes)`` of the final or pending copy of ``name`` that matches ``entry``; else None."""
        for candidate in (self.path / name, self._pending(name, gen)):
            try:
                if os.path.getsize(candidate) != entry["size"]:
                    continue
                with open(candidate, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if _sha256(data) == entry["sha256"]:
                return candidate, data
        return None

    def _find(self, name, manifest):
        for _ in range(3):  # a writer may rename a pending file between our listing and our open
            m = manifest or self.manifest()
            if m is None:
                raise RunFolderError(f"{self.path} has no {MANIFEST}: no run was completed there.")
            entry = m["parts"].get(name)
            if entry is None:
                raise RunFolderError(f"{self.path}: the run has no {name} (its parts: {', '.join(m['parts'])}).")
            found = self._read_verified(name, entry, m["generation"])
            if found is not None:
                return found
            manifest = None
        raise RunFolderError(
            f"{self.path}: {name} does not match the run's {MANIFEST} (missing, or changed or damaged after the run "
            "saved it), so the folder's parts may disagree and it is not used. Restore the file, or use a "
            "checkpoint of the folder directly (give the .safetensors file), or retrain.")

    def read_bytes(self, name, manifest=None) -> bytes:
        """The committed content of part ``name``, checked against its SHA-256.

        Raises:
            RunFolderError: no manifest, no such part, or no copy of it matches the manifest.
        """
        return self._find(name, manifest)[1]

    def part_path(self, name, manifest=None) -> Path:
        """The path of a copy of part ``name`` that matches the manifest (its final or its pending file).

        Raises:
            RunFolderError: as :meth:`read_bytes`.
        """
        return self._find(name, manifest)[0]

    def verify(self) -> dict:
        """Check every part against the manifest; return the manifest.

        Raises:
            RunFolderError: as :meth:`read_bytes`, for the first part that does not match.
        """
        m = self.manifest()
        if m is None:
            raise RunFolderError(f"{self.path} has no {MANIFEST}: no run was completed there.")
        for name in m["parts"]:
            self.read_bytes(name, m)
        return m

    def has_pending(self) -> bool:
        """Whether the folder holds temporary files of an interrupted or unfinished commit."""
        try:
            return any(_PENDING.fullmatch(n) for n in os.listdir(self.path))
        except OSError:
            return False

    # ------------------------------------------------------------ writing
    @contextlib.contextmanager
    def lock(self):
        """Hold the folder's writer lock (creating the folder); RunFolderError if another process holds it."""
        os.makedirs(self.path, exist_ok=True)
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - Windows: no advisory lock
                fcntl = None
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as e:
                    if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise RunFolderError(f"{self.path} is being written by another nnbasics process; wait for "
                                             "it to finish, or choose another folder.") from None
                    raise
            yield self
        finally:
            os.close(fd)

    def recover(self) -> dict | None:
        """Finish a commit that was interrupted after its commit point; remove stray temporary files.

        Returns the manifest (None if there is none). Writers call it before writing.
        """
        m = self.manifest()
        if m is not None:
            moved = False
            for name, entry in m["parts"].items():
                final, pending = self.path / name, self._pending(name, m["generation"])
                if not os.path.exists(pending):
                    continue
                if not self._matches(final, entry) and self._matches(pending, entry):
                    os.replace(pending, final)  # roll the committed generation forward
                    moved = True
            if moved:
                _fsync_dir(self.path)
        for n in os.listdir(self.path):  # uncommitted attempts, and copies already in place
            if _PENDING.fullmatch(n):
                _unlink(self.path / n)
        return m

    @staticmethod
    def _matches(path, entry) -> bool:
        try:
            if os.path.getsize(path) != entry["size"]:
                return False
            with open(path, "rb") as f:
                return _sha256(f.read()) == entry["sha256"]
        except OSError:
            return False

    def commit(self, parts: dict, *, info=None, remove=()) -> dict:
        """Replace parts of the run as one transaction; return the new manifest.

        Args:
            parts: ``{name: bytes}``, the new content of each part given; parts not given keep
                their committed content.
            info: a JSON object stored in the manifest (the epoch, the command...).
            remove: names of parts the new generation no longer has: their files are deleted after
                the commit point (also files of those names the manifest did not list, such as an
                earlier run's written before manifests existed).

        Raises:
            OSError: a write, fsync or rename before the commit point failed (ENOSPC, EIO,
                EROFS, EFBIG...): the temporary files are removed and the folder is exactly as
                before. After the commit point an error is not raised: the folder already holds
                the new generation, and the next writer finishes the renames.
        """
        for name in parts:
            check_part_name(name)
        os.makedirs(self.path, exist_ok=True)
        old = self.recover()
        gen = 1 if old is None else old["generation"] + 1
        entries = {} if old is None else {n: e for n, e in old["parts"].items() if n not in remove}
        written = []
        try:
            for name, data in parts.items():
                data = bytes(data)
                entry = {"sha256": _sha256(data), "size": len(data)}
                if entries.get(name) == entry:
                    continue  # unchanged: keep the committed file
                pending = self._pending(name, gen)
                _unlink(pending)
                written.append(pending)
                _write_new(pending, data)
                entries[name] = entry
            manifest = {"format": FORMAT, "version": VERSION, "generation": gen, "parts": entries,
                        "info": dict(info or {})}
            text = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
            _fsync_dir(self.path)  # the pending files exist before the manifest names them
            tmp = self.path / f".{MANIFEST}.g{gen}.pending"
            written.append(tmp)
            _unlink(tmp)
            _write_new(tmp, text)
            os.replace(tmp, self.path / MANIFEST)  # the commit point
        except BaseException:
            for p in written:
                with contextlib.suppress(OSError):
                    os.unlink(p)
            raise
        self._finish(manifest, remove)
        return manifest

    def _finish(self, manifest, remove) -> None:
        """Step 3: the pending files over their final names, dropped parts removed (errors left to recover)."""
        try:
            _fsync_dir(self.path)
            gen = manifest["generation"]
            for name in manifest["parts"]:
                pending = self._pending(name, gen)
                if os.path.exists(pending):
                    os.replace(pending, self.path / name)
            for name in remove:
                if name not in manifest["parts"]:
                    _unlink(self.path / check_part_name(name))
            _fsync_dir(self.path)
        except OSError:
            pass  # committed: readers take the pending copies, the next writer renames them
