"""Datasets: the protocol, array-backed TensorDataset, Subset and ConcatDataset.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` returning one
sample (a tuple of fields, e.g. ``(x, y)``). Datasets whose samples live in
arrays also define ``get_batch(indices)``, which returns every field for many
samples at once by fancy indexing; :class:`~nnbasics.data.DataLoader` uses it
to build a batch without a Python loop over samples.

Example:
    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((5, 3), np.float32), np.arange(5))
    >>> len(ds), int(ds[2][1])
    (5, 2)
    >>> [len(s) for s in (Subset(ds, [0, 4]), ds + ds)]
    [2, 10]
"""

from __future__ import annotations

import bisect

import numpy as np

from .._validate import is_int

__all__ = ["ConcatDataset", "Dataset", "Subset", "TensorDataset", "has_batch_access"]


def has_batch_access(dataset) -> bool:
    """True if ``dataset.get_batch(indices)`` can fetch a whole batch at once."""
    probe = getattr(dataset, "supports_batch_access", None)
    if probe is not None:
        return bool(probe() if callable(probe) else probe)
    return callable(getattr(dataset, "get_batch", None))


def check_index(i, n, owner):
    if not is_int(i):
        raise TypeError(f"{owner} indices must be ints. Got {type(i).__name__}.")
    i = int(i)
    if not -n <= i < n:
        raise IndexError(f"{owner} index {i} is out of range for a dataset of {n} samples.")
    return i + n if i < 0 else i


def as_index_array(indices, n, owner):
    """Validate an index sequence against a dataset of ``n`` samples; return int64 indices >= 0."""
    idx = np.asarray(indices)
    if idx.size == 0:
        return np.zeros(0, np.int64)
    if idx.dtype.kind not in "iu" or idx.ndim != 1:
        raise TypeError(
            f"{owner}: indices must be a 1-D sequence of ints. Got dtype {idx.dtype}, shape {idx.shape}."
        )
    idx = idx.astype(np.int64)
    if idx.min() < -n or idx.max() >= n:
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexError(f"{owner}: index {int(bad)} is out of range for a dataset of {n} samples.")
    return np.where(idx < 0, idx + n, idx)


class Dataset:
    """Base class for map-style datasets: ``len(ds)`` samples, ``ds[i]`` one sample.

    Subclasses implement ``__len__`` and ``__getitem__``; array-backed ones also
    ``get_batch(indices) -> tuple of arrays`` (first axis = batch). Any object
    with ``__len__``/``__getitem__`` works with the loader; inheriting from this
    class only adds ``ds1 + ds2`` (a :class:`ConcatDataset`).
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__.")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: ``ds[i] == (a[i], b[i], ...)``.

    Args:
        *arrays: ndarrays, Tensors or array-likes with the same first dimension.

    Attributes:
        tensors (tuple of ndarray): the arrays, stored without copying.

    Example:
        >>> ds = TensorDataset(np.ones((4, 2), np.float32), np.array([0, 1, 0, 1]))
        >>> [a.shape for a in ds.get_batch([3, 0])]
        [(2, 2), (2,)]
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, e.g. TensorDataset(X, y).")
        converted = []
        for k, a in enumerate(arrays):
            a = a._array if type(a).__name__ == "Tensor" else a
            a = np.asarray(a)
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {k} is a scalar; every array needs a first (sample) axis.")
            converted.append(a)
        n = converted[0].shape[0]
        lengths = [a.shape[0] for a in converted]
        if any(m != n for m in lengths):
            raise ValueError(f"TensorDataset: all arrays must have the same first dimension. Got lengths {lengths}.")
        self.tensors = tuple(converted)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        i = check_index(index, len(self), "TensorDataset")
        return tuple(a[i] for a in self.tensors)

    def get_batch(self, indices):
        """Every field for the samples at ``indices``, as arrays with a batch axis (copies)."""
        idx = as_index_array(indices, len(self), "TensorDataset.get_batch")
        return tuple(np.take(a, idx, axis=0) for a in self.tensors)

    def __repr__(self):
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.tensors)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (a view, no copy).

    Args:
        dataset: any dataset.
        indices: sequence of ints into ``dataset`` (duplicates allowed).

    Example:
        >>> ds = TensorDataset(np.arange(10))
        >>> int(Subset(ds, [9, 1])[0][0])
        9
    """

    def __init__(self, dataset, indices):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"Subset needs a dataset with __len__ and __getitem__. Got {type(dataset).__name__}.")
        self.dataset = dataset
        self.indices = as_index_array(indices, len(dataset), "Subset")

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index):
        i = check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    def supports_batch_access(self) -> bool:
        return has_batch_access(self.dataset)

    def get_batch(self, indices):
        """Delegate to the parent's ``get_batch`` with the indices mapped through this subset."""
        idx = as_index_array(indices, len(self), "Subset.get_batch")
        if not has_batch_access(self.dataset):
            raise TypeError(f"Subset.get_batch: the parent {type(self.dataset).__name__} has no get_batch.")
        return self.dataset.get_batch(self.indices[idx])

    @property
    def targets(self):
        """The parent's labels at this subset's indices (parent ``targets``, or a TensorDataset's last array)."""
        parent = getattr(self.dataset, "targets", None)
        if parent is None and hasattr(self.dataset, "tensors"):
            parent = self.dataset.tensors[-1]
        if parent is None:
            raise AttributeError(f"Subset.targets: the parent {type(self.dataset).__name__} has no targets.")
        return np.asarray(parent)[self.indices]

    def __repr__(self):
        return f"Subset({type(self.dataset).__name__}, {len(self)} of {len(self.dataset)} samples)"


class ConcatDataset(Dataset):
    """Several datasets one after the other.

    Args:
        datasets: a non-empty sequence of datasets (samples must have the same fields).
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset.")
        for d in self.datasets:
            if not hasattr(d, "__len__") or not hasattr(d, "__getitem__"):
                raise TypeError(f"ConcatDataset: {type(d).__name__} has no __len__/__getitem__.")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def _locate(self, i):
        k = bisect.bisect_right(self.cumulative_sizes, i)
        return k, i - (self.cumulative_sizes[k - 1] if k else 0)

    def __getitem__(self, index):
        k, j = self._locate(check_index(index, len(self), "ConcatDataset"))
        return self.datasets[k][j]

    def supports_batch_access(self) -> bool:
        return all(has_batch_access(d) for d in self.datasets)

    def get_batch(self, indices):
        """Fetch from each part with its ``get_batch`` and put the samples back in the asked order."""
        idx = as_index_array(indices, len(self), "ConcatDataset.get_batch")
        part = np.searchsorted(self.cumulative_sizes, idx, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]]).astype(np.int64)
        fields = None
        for k in np.unique(part):
            where = np.nonzero(part == k)[0]
            got = self.datasets[k].get_batch(idx[where] - starts[k])
            if fields is None:
                fields = [np.empty((len(idx),) + g.shape[1:], g.dtype) for g in got]
            for f, g in zip(fields, got):
                f[where] = g
        if fields is None:  # empty request
            return self.datasets[0].get_batch(np.zeros(0, np.int64))
        return tuple(fields)
