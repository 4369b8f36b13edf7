"""Where dataset files come from: search order, safe downloads, checksums.

Files are looked for, in order:

1. the explicit ``root`` the caller passed (the directory itself, then ``root/<name>``),
2. ``$NNBASICS_DATA/<name>``,
3. the user cache, ``$XDG_CACHE_HOME/nnbasics/<name>`` (default ``~/.cache/nnbasics/<name>``),
4. system directories, ``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist``
   package installs Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``),
5. a download from the dataset's official source into ``root/<name>`` (when ``root``
   was given) or the user cache.

``<name>`` is the dataset's directory name or one of its aliases (e.g. torchvision's
``FashionMNIST/raw`` layout). Downloads show a progress bar (tqdm, only when stderr
is a terminal), are verified against the published SHA-256, and are moved into place
atomically: the data go to a temporary file in the destination directory, which is
verified, fsynced and renamed, so a failed, interrupted or wrong-checksum download
never leaves a file under the final name.

``SYSTEM_DATA_DIRS`` and each source's ``mirrors`` are module-level data that tests
(and unusual installations) may replace; :func:`locate` also takes them as arguments.

Checksums: SHA-256 of the official files as listed by TensorFlow Datasets'
``url_checksums`` (mnist, fashion_mnist, kmnist) and torchvision's CIFAR-10 prototype
(cifar-10-python.tar.gz), cross-checked against a second independent list each. MD5s
(torchvision's) are kept for reference and are used only if a file had no SHA-256.
NOTE: Debian's dataset-fashion-mnist re-compressed the .gz files (26,421,856 bytes
instead of 26,421,880), so local files are not checksummed -- the IDX reader checks
their structure instead; only downloads are verified.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ChecksumError, DatasetError, DatasetNotFoundError

__all__ = [
    "SOURCES",
    "SYSTEM_DATA_DIRS",
    "DataSource",
    "RemoteFile",
    "cache_dir",
    "download_file",
    "file_sha256",
    "locate",
    "search_locations",
]

#: System-wide dataset directories searched after the user cache (replaceable for tests).
SYSTEM_DATA_DIRS = ("/usr/share/datasets",)

_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its name on the mirrors, SHA-256, size in bytes, and MD5 for reference."""

    filename: str
    sha256: str | None
    size: int | None = None
    md5: str | None = None


@dataclass
class DataSource:
    """Everything needed to find or fetch one dataset's files.

    Attributes:
        name: directory name (``fashion-mnist``).
        aliases: other directory names to accept (``FashionMNIST/raw``...).
        mirrors: base URLs tried in order; a file's URL is ``mirror + filename``.
        splits: split name -> the local file names that make up the split.
        remote: split name -> the RemoteFile(s) to download for it.
        alternatives: local file name -> other acceptable names (e.g. the uncompressed file).
        hint: extra advice for the not-found message (an apt package...).
    """

    name: str
    mirrors: tuple
    splits: dict
    remote: dict
    aliases: tuple = ()
    alternatives: dict = field(default_factory=dict)
    hint: str = ""

    def dir_names(self):
        return (self.name,) + tuple(self.aliases)

    def match(self, directory, split):
        """The paths of ``split``'s files in ``directory`` ({name: Path}), or None if any is missing."""
        directory = Path(directory)
        found = {}
        for fname in self.splits[split]:
            for candidate in (fname,) + tuple(self.alternatives.get(fname, ())):
                p = directory / candidate
                if p.is_file():
                    found[fname] = p
                    break
            else:
                return None
        return found


def _idx_source(name, mirrors, sha, sizes, md5, aliases=(), hint=""):
    files = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    remote = {s: tuple(RemoteFile(f, sha[f], sizes[f], md5[f]) for f in fs) for s, fs in files.items()}
    alternatives = {f: (f[:-3], f[:-3].replace("-idx", ".idx")) for fs in files.values() for f in fs}
    return DataSource(name, tuple(mirrors), files, remote, tuple(aliases), alternatives, hint)


_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _table(*values):
    return dict(zip(_MNIST_FILES, values))


class _CifarSource(DataSource):
    """CIFAR-10 is found as the archive, or as the extracted batch files (maybe in cifar-10-batches-py/)."""

    def match(self, directory, split):
        from .cifar import CIFAR10_TEST_BATCHES, CIFAR10_TRAIN_BATCHES

        directory = Path(directory)
        members = CIFAR10_TRAIN_BATCHES if split == "train" else CIFAR10_TEST_BATCHES
        for folder in (directory, directory / "cifar-10-batches-py"):
            if all((folder / m).is_file() for m in members):
                return {"cifar-10-python.tar.gz": folder}
        archive = directory / "cifar-10-python.tar.gz"
        return {"cifar-10-python.tar.gz": archive} if archive.is_file() else None


_CIFAR_ARCHIVE = RemoteFile(
    "cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    170498071, "c58f30108f718f92721af3b95e74349a",
)

#: name -> DataSource for every file-backed dataset.
SOURCES = {
    "mnist": _idx_source(
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        _table("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
               "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
               "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
               "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        _table(9912422, 28881, 1648877, 4542),
        _table("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
               "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
        aliases=("MNIST", "MNIST/raw"),
    ),
    "fashion-mnist": _idx_source(
        "fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        _table("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
               "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
               "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
               "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        _table(26421880, 29515, 4422102, 5148),
        _table("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
               "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
        aliases=("fashion_mnist", "FashionMNIST", "FashionMNIST/raw"),
        hint="On Debian/Ubuntu: sudo apt install dataset-fashion-mnist (files land in "
             "/usr/share/datasets/fashion-mnist).",
    ),
    "kmnist": _idx_source(
        "kmnist",
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        _table("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
               "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
               "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
               "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
        _table(18165135, 29497, 3041136, 5120),
        _table("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
               "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"),
        aliases=("KMNIST", "KMNIST/raw"),
    ),
    "cifar10": _CifarSource(
        "cifar10",
        ("https://www.cs.toronto.edu/~kriz/",),
        splits={"train": ("cifar-10-python.tar.gz",), "test": ("cifar-10-python.tar.gz",)},
        remote={"train": (_CIFAR_ARCHIVE,), "test": (_CIFAR_ARCHIVE,)},
        aliases=("cifar-10", "CIFAR10"),
    ),
}


def cache_dir() -> Path:
    """The user cache directory: ``$XDG_CACHE_HOME/nnbasics`` or ``~/.cache/nnbasics``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nnbasics"


def _get_source(name):
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown file dataset {name!r}; known: {', '.join(sorted(SOURCES))}.") from None


def search_locations(name, root=None, system_dirs=None):
    """Every directory searched for dataset ``name``, in order, as ``(label, Path)`` pairs."""
    src = _get_source(name)
    places = []
    if root is not None:
        root = Path(os.fspath(root)).expanduser()
        places.append(("root", root))
        places += [("root", root / d) for d in src.dir_names()]
    env = os.environ.get("NNBASICS_DATA")
    if env:
        places += [("$NNBASICS_DATA", Path(env).expanduser() / d) for d in src.dir_names()]
    places += [("user cache", cache_dir() / d) for d in src.dir_names()]
    for sysdir in SYSTEM_DATA_DIRS if system_dirs is None else system_dirs:
        places += [("system", Path(sysdir) / d) for d in src.dir_names()]
    return places


def file_sha256(path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _progress_bar(total, desc, progress):
    if progress is False or (progress is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def download_file(url, dest, sha256=None, md5=None, size=None, progress=None, timeout=60):
    """Download ``url`` to ``dest`` atomically, verifying its size and checksum.

    The bytes go to a temporary file next to ``dest``; only after the length and the
    SHA-256 (or, without one, the MD5) match is it fsynced and renamed to ``dest``. On
    any failure -- network error, truncation, wrong checksum, Ctrl-C -- the temporary
    file is removed and ``dest`` is untouched.

    Args:
        url: http(s):// or file:// URL.
        dest: final path (its directory is created).
        sha256, md5: expected hex digests (SHA-256 preferred; MD5 only as a fallback).
        size: expected size in bytes, if known.
        progress: True/False to force the tqdm bar on/off; None: on iff stderr is a terminal.
        timeout: socket timeout in seconds.

    Returns:
        Path of the downloaded file.

    Raises:
        ChecksumError: the digest does not match (the file is not kept).
        DatasetError: network failure or truncated transfer (wrapping the cause).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    algo, expected = ("sha256", sha256) if sha256 else ("md5", md5) if md5 else (None, None)
    h = hashlib.new(algo) if algo else None
    bar = None
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                resp = urllib.request.urlopen(url, timeout=timeout)  # official URLs, or tests' file://
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise DatasetError(f"download of {url} failed: {e}") from e
            with resp:
                header_len = resp.headers.get("Content-Length") if resp.headers else None
                announced = int(header_len) if header_len and header_len.isdigit() else None
                total = size or announced
                bar = _progress_bar(total, dest.name, progress)
                received = 0
                try:
                    for chunk in iter(lambda: resp.read(_CHUNK), b""):
                        out.write(chunk)
                        received += len(chunk)
                        if h is not None:
                            h.update(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                        if size is not None and received > size:
                            raise DatasetError(f"download of {url}: more than the expected {size:,} bytes arrived.")
                except DatasetError:
                    raise
                except Exception as e:  # socket errors, http.client.IncompleteRead (an HTTPException)...
                    raise DatasetError(f"download of {url} broke off after {received:,} bytes: {e}") from e
            for what, want in (("announced", announced), ("expected", size)):
                if want is not None and received != want:
                    raise DatasetError(
                        f"download of {url} is truncated: {received:,} bytes received, {want:,} {what}."
                    )
            if h is not None and h.hexdigest() != expected.lower():
                raise ChecksumError(
                    f"download of {url} has the wrong {algo.upper()}: got {h.hexdigest()}, expected {expected}. "
                    "The file was not kept; the mirror may be serving a different or damaged file."
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        return dest
    finally:
        if bar is not None:
            bar.close()
        if os.path.exists(tmp):
            os.unlink(tmp)


def _download_split(src, split, target, mirrors, progress):
    """Fetch the split's missing files into ``target``; return the errors met (one line each)."""
    errors = []
    for rf in src.remote[split]:
        dest = target / rf.filename
        if dest.is_file():
            continue
        ok = False
        for mirror in mirrors:
            url = mirror + rf.filename
            try:
                download_file(url, dest, sha256=rf.sha256, md5=None if rf.sha256 else rf.md5, size=rf.size,
                              progress=progress)
                ok = True
                break
            except DatasetError as e:
                errors.append(str(e))
            except OSError as e:  # cannot create the target directory, disk full...
                errors.append(f"cannot write {dest}: {e}")
                break
        if not ok:
            break  # every mirror failed for this file: no point trying the next one (offline, blocked)
    return errors


def locate(name, split="train", root=None, download=True, *, system_dirs=None, mirrors=None, progress=None):
    """Find (or download) the files of one split of a file-backed dataset.

    Args:
        name: a key of :data:`SOURCES` (``mnist``, ``fashion-mnist``, ``kmnist``, ``cifar10``).
        split: ``"train"`` or ``"test"``.
        root: a directory to look in first (and to download into, if given).
        download: try the official mirrors when nothing is found locally. With False the
            network is never touched.
        system_dirs: replaces :data:`SYSTEM_DATA_DIRS`.
        mirrors: replaces the source's mirror list (base URLs ending in ``/``).
        progress: progress bar on/off (None: only on a terminal).

    Returns:
        dict: logical file name -> Path actually found.

    Raises:
        DatasetNotFoundError: nothing found and the download failed or was not allowed; the
            message lists every place searched, every URL tried and how to get the files.
    """
    src = _get_source(name)
    if split not in src.splits:
        raise ValueError(f"{name}: split must be one of {sorted(src.splits)}. Got {split!r}.")
    places = search_locations(name, root, system_dirs)
    for _, directory in places:
        found = src.match(directory, split)
        if found is not None:
            return found
    mirror_list = tuple(src.mirrors if mirrors is None else mirrors)
    target = (Path(os.fspath(root)).expanduser() / src.name) if root is not None else cache_dir() / src.name
    errors = []
    if download:
        created = not target.exists()
        errors = _download_split(src, split, target, mirror_list, progress)
        found = src.match(target, split)
        if found is not None:
            return found
        if created:  # leave no empty directory behind after a failed attempt
            try:
                target.rmdir()
            except OSError:
                pass
    raise DatasetNotFoundError(_not_found_message(src, split, places, mirror_list, download, errors))


def _not_found_message(src, split, places, mirrors, download, errors):
    need = ", ".join(src.splits[split])
    lines = [f"{src.name} ({split} split) not found. Needed: {need}.", "Looked in:"]
    seen = set()
    for label, p in places:
        if p not in seen:
            seen.add(p)
            lines.append(f"  - {p}  ({label})")
    if download:
        lines.append("Download failed:" if errors else "Download did not produce the files.")
        lines += [f"  - {e}" for e in errors]
    else:
        lines.append("Downloading was not allowed (download=False).")
    urls = [m + rf.filename for rf in src.remote[split] for m in mirrors[:1]]
    lines.append("To get the files:")
    if src.hint:
        lines.append(f"  - {src.hint}")
    lines.append("  - download " + ", ".join(urls))
    lines.append(f"    and put them in $NNBASICS_DATA/{src.name}/ (set NNBASICS_DATA) or {cache_dir() / src.name}/,")
    lines.append("    or pass root=<directory holding them>; or allow download=True on a machine with network access.")
    return "\n".join(lines)
