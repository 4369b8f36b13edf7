"""Text for character-level models: a vocabulary, loading, splitting and batching a stream.

A character language model reads one long stream of character ids. The pieces here turn
a text file into what truncated backpropagation through time consumes:

* :class:`CharVocab` maps characters to ids and back (JSON-able, so a checkpoint can keep it);
* :func:`load_text` reads a UTF-8 file with errors that say what is wrong;
* :func:`train_val_split` cuts the stream into a training head and a validation tail;
* :func:`batchify` folds a stream into ``batch`` parallel streams, shape ``(batch, T)``;
* :func:`bptt_chunks` walks those streams in windows of ``seq_len`` with next-character targets;
* :class:`CharSequenceDataset` gives independent ``(x, y)`` windows for shuffled mini-batches.

Example:
    >>> vocab = CharVocab.from_text("hello")
    >>> vocab.chars
    'ehlo'
    >>> vocab.decode(vocab.encode("hole"))
    'hole'
    >>> streams = batchify(vocab.encode("hello world, hello"), 2)  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np

from .._validate import check_positive_int, is_int, is_real
from .errors import DatasetError

__all__ = [
    "CharSequenceDataset",
    "CharVocab",
    "batchify",
    "bptt_chunks",
    "load_text",
    "train_val_split",
]


def _ids_1d(data, owner) -> np.ndarray:
    """A 1-D int64 array from a 1-D int array, list or Tensor."""
    arr = np.asarray(data)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{owner}: expected a 1-D stream of integer ids (use CharVocab.encode(text)). "
            f"Got an array of shape {arr.shape} and dtype {arr.dtype}."
        )
    return arr.astype(np.int64, copy=False)


class CharVocab:
    """A character vocabulary: id ``i`` is the ``i``-th character of :attr:`chars`.

    Args:
        chars: the characters (a string or an iterable of one-character strings), each
            once. Build one from a text with :meth:`from_text` (sorted, so the ids do not
            depend on the order the characters first appear in).

    Attributes:
        chars (str): the characters in id order.
        stoi (dict): character -> id.

    Example:
        >>> v = CharVocab.from_text("abracadabra")
        >>> len(v), v.encode("cab").tolist(), v.decode([4, 0])
        (5, [2, 0, 1], 'ra')
        >>> CharVocab.from_dict(v.to_dict()) == v
        True
    """

    def __init__(self, chars):
        if isinstance(chars, str):
            seq = list(chars)
        else:
            try:
                seq = list(chars)
            except TypeError:
                raise TypeError(f"CharVocab: chars must be a string or an iterable of characters. "
                                f"Got {type(chars).__name__}.") from None
        for c in seq:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"CharVocab: every entry must be one character. Got {c!r}.")
        if not seq:
            raise ValueError("CharVocab: the vocabulary is empty; give at least one character.")
        if len(set(seq)) != len(seq):
            dup = sorted({c for c in seq if seq.count(c) > 1})
            raise ValueError(f"CharVocab: characters must be unique. Repeated: {dup!r}.")
        self.chars = "".join(seq)
        self.stoi = {c: i for i, c in enumerate(seq)}
        self._itos = np.array(seq, dtype=object)

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The sorted set of characters in ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.from_text: expected a str. Got {type(text).__name__}.")
        if not text:
            raise ValueError("CharVocab.from_text: the text is empty; there are no characters to index.")
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch) -> bool:
        return ch in self.stoi

    def __eq__(self, other) -> bool:
        return isinstance(other, CharVocab) and other.chars == self.chars

    __hash__ = None

    def __repr__(self) -> str:
        shown = self.chars if len(self.chars) <= 40 else self.chars[:37] + "..."
        return f"CharVocab(size={len(self)}, chars={shown!r})"

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text``, shape ``(len(text),)``, int64.

        Raises:
            ValueError: a character is not in the vocabulary (the message lists them).
        """
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode: expected a str. Got {type(text).__name__}.")
        stoi = self.stoi
        try:
            return np.fromiter((stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError:
            unknown = sorted({c for c in text if c not in stoi})
            raise ValueError(
                f"CharVocab.encode: characters not in the vocabulary: {unknown!r}. "
                "Build the vocabulary from a text that contains them (CharVocab.from_text)."
            ) from None

    def decode(self, ids) -> str:
        """The string of a 1-D sequence of ids (list, ndarray or Tensor)."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(f"CharVocab.decode: expected a 1-D sequence of integer ids. "
                             f"Got shape {arr.shape}, dtype {arr.dtype}.")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = arr[(arr < 0) | (arr >= len(self))][0]
            raise ValueError(f"CharVocab.decode: id {int(bad)} is outside [0, {len(self)}).")
        return "".join(self._itos[arr.astype(np.int64)].tolist())

    def to_dict(self) -> dict:
        """A JSON-able description: ``{"type": "CharVocab", "chars": ...}``."""
        return {"type": "CharVocab", "chars": self.chars}

    @classmethod
    def from_dict(cls, d: dict) -> CharVocab:
        """Rebuild a vocabulary saved by :meth:`to_dict`."""
        if not isinstance(d, dict) or "chars" not in d:
            raise ValueError(f"CharVocab.from_dict: expected a dict with a 'chars' entry. Got {d!r:.80}.")
        return cls(d["chars"])


def load_text(path, encoding: str = "utf-8") -> str:
    """Read a whole text file.

    Args:
        path: a file path (str or ``os.PathLike``).
        encoding: the file's encoding (UTF-8 unless told).

    Returns:
        str: the contents (newlines as in the file).

    Raises:
        FileNotFoundError: no such file (the message names the path).
        IsADirectoryError: ``path`` is a directory.
        DatasetError (a ValueError): the bytes are not valid in ``encoding`` (the message gives the byte
            offset), or the file is empty.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_text: no such file: {path!r}. Check the path (relative paths start at "
                                f"{os.getcwd()!r}).")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load_text: {path!r} is a directory; give the path of a text file.")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise ValueError(f"load_text: unknown encoding {encoding!r:.40}; use e.g. 'utf-8' or 'latin-1'.") from None
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"load_text: {path!r} is not valid {encoding} text (bad byte {raw[e.start:e.start + 1]!r} at offset "
            f"{e.start}). Convert it to {encoding}, or pass the file's encoding, e.g. encoding='latin-1'."
        ) from None
    if not text:
        raise DatasetError(f"load_text: {path!r} is empty; a language model needs some text to learn from.")
    return text


def train_val_split(data, val_fraction: float = 0.1):
    """Split a stream into a training head and a validation tail (no shuffling: text is contiguous).

    Args:
        data: a str or a 1-D sequence of ids.
        val_fraction: the share of the stream at its end kept for validation, in [0, 1).
            With 0 the validation part is empty.

    Returns:
        (train, val): two slices of ``data`` of the same type.

    Example:
        >>> train_val_split("abcdefghij", 0.2)
        ('abcdefgh', 'ij')
    """
    if not is_real(val_fraction) or not 0 <= val_fraction < 1:
        raise ValueError(f"train_val_split: val_fraction must be in [0, 1), e.g. 0.1. Got {val_fraction!r}.")
    n = len(data)
    n_val = round(n * float(val_fraction))
    if val_fraction > 0 and (n_val < 2 or n - n_val < 2):
        raise ValueError(
            f"train_val_split: a stream of {n} items split with val_fraction={val_fraction} leaves "
            f"{n - n_val} for training and {n_val} for validation; each needs at least 2 (an input and its "
            "next-item target). Use more data or another val_fraction."
        )
    return data[: n - n_val], data[n - n_val:]


def batchify(data, batch_size: int) -> np.ndarray:
    """Fold a 1-D stream into ``batch_size`` parallel streams for truncated BPTT.

    Row ``b`` is the contiguous piece ``data[b*T:(b+1)*T]`` with ``T = len(data) // batch_size``;
    the ``len(data) % batch_size`` items at the end are dropped. Walking the columns in windows
    keeps every row a continuous text, so a hidden state carried from one window to the next
    has seen exactly the characters before.

    Args:
        data: a 1-D int sequence of ids (ndarray, list or Tensor).
        batch_size: number of parallel streams.

    Shape:
        data (L,) -> (batch_size, L // batch_size)

    Example:
        >>> batchify(np.arange(7), 2)
        array([[0, 1, 2],
               [3, 4, 5]])
    """
    ids = _ids_1d(data, "batchify")
    batch_size = check_positive_int(batch_size, "batchify: batch_size")
    t = len(ids) // batch_size
    if t < 2:
        raise ValueError(
            f"batchify: a stream of {len(ids)} ids gives {batch_size} streams of {t} steps; each stream needs "
            "at least 2 (an input and its target). Use a smaller batch_size or more data."
        )
    return ids[: t * batch_size].reshape(batch_size, t)


def bptt_chunks(streams, seq_len: int, start: int = 0):
    """Walk parallel streams in consecutive windows: yields ``(x, y)`` with ``y`` one step ahead.

    Args:
        streams: ``(batch, T)`` ids from :func:`batchify`.
        seq_len: window length; the last window may be shorter.
        start: first column (an offset, e.g. random per epoch, so windows do not always
            begin at the same characters).

    Yields:
        (x, y): int64 arrays of shape ``(batch, L)`` with ``L <= seq_len`` and
        ``y[:, t] = streams[:, i + t + 1]`` for ``x[:, t] = streams[:, i + t]``.

    Example:
        >>> [x.tolist() for x, _ in bptt_chunks(np.arange(8).reshape(1, 8), 3)]
        [[[0, 1, 2]], [[3, 4, 5]], [[6]]]
    """
    s = np.asarray(streams)
    if s.ndim != 2 or s.dtype.kind not in "iu":
        raise ValueError(f"bptt_chunks: expected (batch, T) integer streams from batchify. Got shape {s.shape}, "
                         f"dtype {s.dtype}.")
    seq_len = check_positive_int(seq_len, "bptt_chunks: seq_len")
    if not is_int(start) or not 0 <= start < s.shape[1] - 1:
        raise ValueError(f"bptt_chunks: start must be an int in [0, {s.shape[1] - 1}). Got {start!r}.")
    for i in range(int(start), s.shape[1] - 1, seq_len):
        n = min(seq_len, s.shape[1] - 1 - i)
        yield s[:, i:i + n], s[:, i + 1:i + 1 + n]


class CharSequenceDataset:
    """Independent windows of a text: item ``i`` is ``(x, y)`` = the ids of ``text[s:s+L]`` and ``text[s+1:s+L+1]``.

    Windows start every ``stride`` characters (``s = i * stride``). Use it with a shuffling
    :class:`~nnbasics.data.DataLoader` (or :meth:`arrays` with ``TensorDataset``) to train on
    windows in random order with a fresh state each time; use :func:`batchify` and
    :func:`bptt_chunks` to carry the state across windows instead.

    Args:
        text: a str (encoded with ``vocab``) or a 1-D sequence of ids.
        seq_len: window length L.
        vocab: the vocabulary; built from ``text`` when omitted (str text only).
        stride: distance between window starts (default ``seq_len``: non-overlapping).

    Shape:
        item: ``x`` (L,), ``y`` (L,) int64; ``ds[idx]`` with an index array gives (n, L) arrays.

    Example:
        >>> ds = CharSequenceDataset("hello world", seq_len=4)
        >>> len(ds), ds.vocab.decode(ds[0][0]), ds.vocab.decode(ds[0][1])
        (2, 'hell', 'ello')
    """

    def __init__(self, text, seq_len: int, vocab: CharVocab | None = None, stride: int | None = None):
        self.seq_len = check_positive_int(seq_len, "CharSequenceDataset: seq_len")
        self.stride = self.seq_len if stride is None else check_positive_int(stride, "CharSequenceDataset: stride")
        if isinstance(text, str):
            if vocab is None:
                vocab = CharVocab.from_text(text)
            ids = vocab.encode(text)
        else:
            ids = _ids_1d(text, "CharSequenceDataset")
            if vocab is not None and ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
                raise ValueError(f"CharSequenceDataset: ids must lie in [0, {len(vocab)}) for this vocabulary.")
        if vocab is not None and not isinstance(vocab, CharVocab):
            raise TypeError(f"CharSequenceDataset: vocab must be a CharVocab. Got {type(vocab).__name__}.")
        if len(ids) < self.seq_len + 1:
            raise ValueError(
                f"CharSequenceDataset: the text has {len(ids)} characters; one window of seq_len={self.seq_len} "
                f"needs {self.seq_len + 1}. Use a shorter seq_len or a longer text."
            )
        self.vocab = vocab
        self.ids = ids
        self._n = (len(ids) - self.seq_len - 1) // self.stride + 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        idx = np.asarray(index)
        if idx.dtype.kind not in "iu" and not isinstance(index, slice):
            raise TypeError(f"CharSequenceDataset: index with ints, slices or int arrays. Got {type(index).__name__}.")
        if isinstance(index, slice):
            idx = np.arange(self._n)[index]
        idx = idx.astype(np.int64)
        idx = np.where(idx < 0, idx + self._n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self._n):
            raise IndexError(f"CharSequenceDataset: index {index!r} out of range for {self._n} windows.")
        starts = idx[..., None] * self.stride + np.arange(self.seq_len)  # (..., L)
        return self.ids[starts], self.ids[starts + 1]

    def arrays(self):
        """All windows as ``(X, Y)``, each ``(len(self), seq_len)`` int64 (for ``TensorDataset``)."""
        return self[np.arange(self._n)]
