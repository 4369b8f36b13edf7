"""Publish a folder atomically: readers see the old one or the new one, never none or half of one.

A report folder ``runs/lab/hinton`` is a relative **symlink** to a complete, immutable version
in a hidden sibling store::

    runs/lab/hinton            -> .hinton.versions/v-01796451200000000000-3f2a9c1e
    runs/lab/.hinton.versions/ v-<ns>-3f2a9c1e/ (the current report), versions replaced less
                               than GRACE_S ago, and lock (the writers' flock, left in place)

:func:`publish` builds the new version under a ``tmp-`` name (every file written and
fsynced), renames it to its final ``v-`` name, points a new symlink at it and renames that
symlink over ``target`` -- one ``rename(2)``, atomic on POSIX. A reader opening
``target/report.html`` at any moment gets a complete report, old or new; a writer killed at
any point leaves the old report at ``target`` (and, at worst, a stray ``tmp-``/``link-``
entry that the next writer removes). Concurrent writers are serialized by an exclusive
``flock`` on the lock file (released by the kernel if the holder dies); the last one to take
the lock wins. A replaced version is kept for :data:`GRACE_S` seconds, for readers that
resolved the link just before the swap and are still reading; the next writer after that
deletes it.

Every filesystem call goes through the ``os`` module at call time (``os.open``, ``os.write``,
``os.fsync``, ``os.mkdir``, ``os.symlink``, ``os.replace``...), so a fault-injection harness that
patches them reaches every write, rename and fsync of a publish.

Limits: the first publish over a *real* directory (a report written before this layout, or
an empty folder the user made) moves that directory into the store and then renames the
symlink in: two renames, so only that one migration has a moment with nothing at ``target``.
Without symlink support (Windows without the privilege) the same two-rename replacement is
used every time.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> publish(root / "out", lambda d: write_file(d / "a.txt", b"hello"))  # doctest: +ELLIPSIS
    PosixPath('.../out')
    >>> (root / "out" / "a.txt").read_bytes()
    b'hello'
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import time
import uuid
from pathlib import Path

__all__ = ["OutputError", "check_writable", "is_published", "publish", "write_file"]


class OutputError(ValueError):
    """The output location cannot take a report (not a folder, not writable, holds other files)."""


def write_file(path, data: bytes) -> None:
    """Write ``data`` to a NEW file ``path`` and fsync it (mode 0666 less the umask).

    Raises:
        FileExistsError: ``path`` exists (versions are built in fresh folders).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path) -> None:
    """fsync a directory so that a rename or a new entry in it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some filesystems refuse fsync on directories
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(lock_path):
    """An exclusive lock on ``lock_path`` (created if missing), held for the ``with`` block."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.05)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


#: The writers' lock file inside a version store.
LOCK_NAME = "lock"
#: Seconds a replaced version stays readable (for readers that opened it just before the swap).
GRACE_S = 60.0


def _names(target: Path):
    store = target.parent / f".{target.name}.versions"
    return store, store / LOCK_NAME, f".{target.name}.link-"


def is_published(target) -> bool:
    """Whether ``target`` is a symlink into its own version store (a folder :func:`publish` wrote)."""
    target = Path(os.path.abspath(target))
    if not target.is_symlink():
        return False
    link = os.readlink(target)
    store, _, _ = _names(target)
    return Path(link).parent.name == store.name and not os.path.isabs(link)


def check_writable(target, accept=None) -> Path:
    """Refuse, before any work, an output location that a later :func:`publish` could not use.

    Args:
        target: the folder to be published.
        accept: optional ``accept(existing_dir) -> str | None``: for an existing real folder,
            a reason to refuse it (None: it may be replaced).

    Returns:
        the absolute target path.

    Raises:
        OutputError: ``target`` is a file; a parent is a file; the nearest existing parent
            is not writable; or ``accept`` refused the existing folder. One sentence saying
            what to do.
    """
    target = Path(os.path.abspath(os.path.expanduser(str(target))))
    if (target.exists() or target.is_symlink()) and not is_published(target):
        if not target.is_dir():
            raise OutputError(f"{target} exists and is not a folder; choose another output folder.")
        if accept is not None:
            why = accept(target)
            if why:
                raise OutputError(why)
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {target}: {parent} is a file, not a folder; choose another output folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: {parent} is not writable by this user (or is on a read-only "
                          "filesystem); choose another output folder.")
    try:  # os.access can be wrong (ACLs, root on a read-only mount): try it for real
        probe = parent / f".nnbasics-probe-{uuid.uuid4().hex[:8]}"
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as e:
        raise OutputError(f"cannot write {target}: creating a folder in {parent} failed ({e.strerror or e}); "
                          "choose another output folder.") from None
    return target


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _version_ns(name: str) -> int:
    return int(name.split("-")[1])


def _clean(store: Path, parent: Path, link_prefix: str, current) -> None:
    """Under the lock: remove a killed writer's temporaries, and versions replaced over GRACE_S ago.

    Versions are named ``v-<ns>-<tag>`` by the time they were published; a version stopped
    being current when the next one (by that time) was published.
    """
    versions, now = [], time.time_ns()
    if store.is_dir():
        for entry in store.iterdir():
            if entry.name.startswith("v-"):
                versions.append(entry.name)
            elif entry.name != LOCK_NAME:  # tmp-/old-: no writer holds them while we hold the lock
                _remove(entry)
    versions.sort(key=_version_ns)
    for name, successor in itertools.pairwise(versions):
        if name != current and now - _version_ns(successor) > GRACE_S * 1e9:
            _remove(store / name)
    for entry in parent.iterdir():
        if entry.name.startswith(link_prefix):
            _remove(entry)


def _current_version(target: Path, store: Path):
    if target.is_symlink() and is_published(target):
        return Path(os.readlink(target)).name
    return None


def publish(target, fill, *, accept=None) -> Path:
    """Build a folder with ``fill(folder)`` and make it appear at ``target`` in one atomic rename.

    Args:
        target: where the folder must appear (its parents are created).
        fill: ``fill(folder: Path)`` writes the content into an empty new folder (use
            :func:`write_file` so every file is fsynced).
        accept: see :func:`check_writable` (an existing real folder that may not be replaced).

    Returns:
        the absolute ``target`` path (a symlink to the new version).

    Raises:
        OutputError: the location cannot be used (nothing was changed).
        whatever ``fill`` or the filesystem raised: the previous folder is left at ``target``
        and the temporary version is removed.
    """
    target = check_writable(target, accept)
    store, lock, link_prefix = _names(target)
    os.makedirs(store, exist_ok=True)
    with _locked(lock):
        check_writable(target, accept)  # again, under the lock: another writer may have changed it
        _clean(store, target.parent, link_prefix, _current_version(target, store))  # a killed writer's leftovers
        tag = uuid.uuid4().hex[:10]
        tmp = store / f"tmp-{tag}"
        version = ""
        os.mkdir(tmp)
        try:
            fill(tmp)
            _fsync_dir(tmp)
            version = f"v-{time.time_ns():020d}-{tag}"
            os.replace(tmp, store / version)
            _fsync_dir(store)
            _swap_in(target, store, version, link_prefix + tag)
        except BaseException:
            _remove(tmp)
            if version and _current_version(target, store) != version:
                _remove(store / version)
            raise
        with contextlib.suppress(OSError):  # the new folder is in place: making the rename durable and the
            _fsync_dir(target.parent)       # housekeeping are best effort, a failure there is not the write's
            _clean(store, target.parent, link_prefix, version)
    return target


def _swap_in(target: Path, store: Path, version: str, link_name: str) -> None:
    """Point ``target`` at ``store/version``: one rename of a symlink (two when migrating a real folder)."""
    rel = os.path.join(store.name, version)
    link = target.parent / link_name
    try:
        os.symlink(rel, link, target_is_directory=True)
    except (OSError, NotImplementedError):  # no symlinks here: move the old folder aside, the new one in
        _replace_real_folder(target, store / version, store)
        return
    aside = None
    try:
        if target.exists() and not target.is_symlink():  # a real folder: migrate it into the store first
            aside = store / f"old-{uuid.uuid4().hex[:10]}"
            os.replace(target, aside)
        os.replace(link, target)
    except BaseException:
        _remove(link)
        if aside is not None and aside.exists() and not (target.exists() or target.is_symlink()):
            os.replace(aside, target)  # put the old folder back
        raise


def _replace_real_folder(target: Path, new: Path, store: Path) -> None:
    aside = store / f"old-{uuid.uuid4().hex[:10]}"
    if target.exists() or target.is_symlink():
        os.replace(target, aside)
    try:
        os.replace(new, target)
    except BaseException:
        if aside.exists() and not target.exists():
            os.replace(aside, target)
        raise
