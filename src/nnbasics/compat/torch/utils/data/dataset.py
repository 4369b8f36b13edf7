"""``torch.utils.data.dataset``: Dataset, TensorDataset, Subset, ConcatDataset, random_split.

:class:`Dataset`, :class:`Subset` and :class:`ConcatDataset` are nnbasics' (a script's
``class MyData(Dataset)`` works with both loaders). :class:`TensorDataset` follows torch: it
holds the tensors given and ``ds[i]`` is a tuple of *tensors* (nnbasics' own returns arrays);
it also has ``get_batch`` so :class:`~.dataloader.DataLoader` batches it in one indexing call.
:func:`random_split` draws from the global generator (or ``generator=``).
"""

from __future__ import annotations

import numbers

import numpy as np

from .....data.dataset import ConcatDataset, Dataset, Subset
from .....data.split import random_split as _nb_random_split
from .....tensor import Tensor, as_tensor
from ....unsupported import module_getattr
from ... import _random

__all__ = ["ConcatDataset", "Dataset", "IterableDataset", "StackDataset", "Subset", "TensorDataset", "random_split"]


class IterableDataset(Dataset):
    """``torch.utils.data.IterableDataset``: a stream of samples (``__iter__``), batched in order by the loader."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__.")

    def __len__(self):
        raise TypeError(f"{type(self).__name__} is an IterableDataset without __len__.")


class TensorDataset(Dataset):
    """Samples are the rows of the given tensors: ``ds[i] == (a[i], b[i], ...)``, tensors as in torch.

    Args:
        *tensors: Tensors (or arrays) with the same first dimension.

    Attributes:
        tensors (tuple of Tensor): as given (arrays are wrapped without copying).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor, e.g. TensorDataset(x, y).")
        ts = tuple(t if isinstance(t, Tensor) else as_tensor(np.asarray(t)) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in ts]
        if any(s != sizes[0] for s in sizes) or sizes[0] is None:
            raise AssertionError("Size mismatch between tensors")
        self.tensors = ts

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices):
        """The samples at ``indices`` as arrays with a batch axis (one fancy-indexing call per field)."""
        idx = np.asarray(indices, dtype=np.int64)
        return tuple(np.take(np.asarray(t), idx, axis=0) for t in self.tensors)

    def __repr__(self):
        return f"TensorDataset({', '.join(f'{t.dtype}{list(t.shape)}' for t in self.tensors)})"


class StackDataset(Dataset):
    """Samples of several equally long datasets side by side (a tuple or, with keywords, a dict)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: give datasets positionally or as keywords, not both.")
        self._args, self._kwargs = args, kwargs
        parts = list(args) or list(kwargs.values())
        n = {len(p) for p in parts}
        if len(n) != 1:
            raise ValueError("Size mismatch between datasets")
        self._n = n.pop()

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        if self._kwargs:
            return {k: d[i] for k, d in self._kwargs.items()}
        return tuple(d[i] for d in self._args)


def random_split(dataset, lengths, generator=None):
    """Random non-overlapping :class:`Subset` s of the given lengths (ints, or fractions summing to 1)."""
    lengths = [int(n) if isinstance(n, numbers.Integral) else float(n) for n in lengths]
    return _nb_random_split(dataset, lengths, rng=_random.resolve(generator))


__getattr__ = module_getattr(__name__)
