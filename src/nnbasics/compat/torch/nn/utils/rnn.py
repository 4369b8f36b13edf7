"""``torch.nn.utils.rnn``: padding and packing variable-length batches.

``pad_sequence`` is nnbasics'. :class:`PackedSequence` holds torch's packed layout: ``data`` is the
valid steps of every sequence, time-major (all sequences' step 0, then the step 1 of those still
running...), ``batch_sizes[t]`` how many sequences run at step t. The compat RNN/LSTM/GRU accept
one (see :mod:`..packed_rnn`) and return the output packed the same way.

Example:
    >>> import nnbasics as nb
    >>> p = pack_sequence([nb.tensor([1, 2, 3]), nb.tensor([4, 5])])
    >>> p.data.tolist(), p.batch_sizes.tolist()
    ([1, 4, 2, 5, 3], [2, 2, 1])
    >>> padded, lengths = pad_packed_sequence(p, batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1, 2, 3], [4, 5, 0]], [3, 2])
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..... import ops as _ops
from .....nn.rnn_utils import pad_sequence as _nb_pad_sequence
from .....tensor import as_tensor
from ....unsupported import module_getattr

__all__ = ["PackedSequence", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence",
           "unpack_sequence", "unpad_sequence"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """torch's packed batch: ``data`` (sum(lengths), *), ``batch_sizes`` int64 (T,), and the sort permutation.

    ``sorted_indices[i]`` is the original position of the i-th longest sequence (None when the
    input was already sorted, as torch leaves it).
    """

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = as_tensor(np.argsort(np.asarray(sorted_indices)).astype(np.int64))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def lengths(self) -> np.ndarray:
        """Length of each sequence, in packed (sorted) order."""
        bs = np.asarray(self.batch_sizes)
        return np.array([(bs > i).sum() for i in range(int(bs[0]))], dtype=np.int64)

    def to(self, *args, **kwargs):
        return self

    def __repr__(self):
        return (f"PackedSequence(data={self.data!r}, batch_sizes={self.batch_sizes!r}, "
                f"sorted_indices={self.sorted_indices!r}, unsorted_indices={self.unsorted_indices!r})")


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length ``(L_i, *)`` tensors into ``(L_max, B, *)`` (or ``(B, L_max, *)``), padded."""
    if padding_side != "right":
        flipped = [s.flip(0) if hasattr(s, "flip") else as_tensor(np.asarray(s)[::-1].copy()) for s in sequences]
        out = _nb_pad_sequence(flipped, batch_first=True, padding_value=padding_value)
        out = as_tensor(np.ascontiguousarray(np.asarray(out)[:, ::-1]))
        return out if batch_first else out.transpose(0, 1)
    return _nb_pad_sequence(list(sequences), batch_first=batch_first, padding_value=padding_value)


def time_major_index(lengths):
    """For sorted ``lengths``: (rows, steps) of the packed order and the batch sizes."""
    lengths = np.asarray(lengths, dtype=np.int64)
    t_max = int(lengths[0]) if lengths.size else 0
    batch_sizes = np.array([(lengths > t).sum() for t in range(t_max)], dtype=np.int64)
    rows = np.concatenate([np.arange(b) for b in batch_sizes]) if t_max else np.zeros(0, np.int64)
    steps = np.concatenate([np.full(b, t) for t, b in enumerate(batch_sizes)]) if t_max else np.zeros(0, np.int64)
    return rows, steps, batch_sizes


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ``(T, B, *)`` (or ``(B, T, *)``) whose sequence i has ``lengths[i]`` valid steps."""
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        order = None
    else:
        order = np.argsort(-lengths, kind="stable")
    bt = input if batch_first else input.transpose(0, 1)  # (B, T, *)
    if order is not None:
        bt = bt[as_tensor(order)]
        lengths = lengths[order]
    rows, steps, batch_sizes = time_major_index(lengths)
    data = bt[as_tensor(rows), as_tensor(steps)]
    sorted_idx = None if order is None else as_tensor(order.astype(np.int64))
    return PackedSequence(data, as_tensor(batch_sizes), sorted_idx)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of ``(L_i, *)`` tensors (longest first unless ``enforce_sorted=False``)."""
    lengths = [len(s) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: ``(padded (T, B, *) or (B, T, *), lengths int64 (B,))`` in the original order."""
    data, batch_sizes = sequence.data, np.asarray(sequence.batch_sizes)
    lengths = sequence.lengths()
    t_max = int(batch_sizes.shape[0])
    if total_length is not None:
        if total_length < t_max:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence ({t_max}); "
                             f"got {total_length}.")
        t_max = int(total_length)
    rows, steps, _ = time_major_index(lengths)
    b = int(batch_sizes[0])
    trailing = tuple(data.shape[1:])
    flat_index = rows * t_max + steps  # position of each packed row in the (B * T) padded layout
    base = as_tensor(np.full((b * t_max,) + trailing, padding_value, dtype=np.asarray(data).dtype))
    padded = _scatter_rows(base, flat_index, data).reshape(b, t_max, *trailing)
    lengths_t = lengths
    if sequence.unsorted_indices is not None:
        back = as_tensor(np.asarray(sequence.unsorted_indices))
        padded = padded[back]
        lengths_t = lengths[np.asarray(sequence.unsorted_indices)]
    out = padded if batch_first else padded.transpose(0, 1)
    return out, as_tensor(lengths_t.astype(np.int64))


def _scatter_rows(base, index, rows):
    """``base`` with ``base[index[i]] = rows[i]``, differentiable in ``rows`` (index rows are distinct)."""
    n = base.shape[0]
    perm = np.full(n, -1, dtype=np.int64)
    perm[index] = np.arange(len(index))
    missing = np.flatnonzero(perm < 0)
    if missing.size:
        src = _ops.cat([rows, base[as_tensor(missing)]], 0)
        perm[missing] = len(index) + np.arange(missing.size)
    else:
        src = rows
    return src[as_tensor(perm)]


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    bt = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [bt[i, :int(n)] for i, n in enumerate(np.asarray(lengths))]


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__getattr__ = module_getattr(__name__)
