"""DataLoader: batches of Tensors from a dataset, shuffled reproducibly from a seed.

Example:
    >>> import numpy as np
    >>> from nnbasics.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(np.arange(10, dtype=np.float64).reshape(5, 2), np.arange(5))
    >>> loader = DataLoader(ds, batch_size=2, shuffle=True, rng=0)
    >>> len(loader)
    3
    >>> [(x.dtype.name, y.dtype.name, len(y)) for x, y in loader]
    [('float32', 'int64', 2), ('float32', 'int64', 2), ('float32', 'int64', 1)]
"""

from __future__ import annotations

import numpy as np

from .._validate import is_int
from ..rng import as_generator
from ..tensor import as_tensor
from .dataset import has_batch_access

__all__ = ["DataLoader", "default_collate"]


def _normalize_field(a):
    """float -> float32, integer -> int64, bool kept; anything else is an error."""
    a = np.asarray(a)
    kind = a.dtype.kind
    if kind == "f":
        return a if a.dtype == np.float32 else a.astype(np.float32)
    if kind in "iu":
        return a if a.dtype == np.int64 else a.astype(np.int64)
    if kind == "b":
        return a
    raise TypeError(
        f"DataLoader: a batch field has dtype {a.dtype}; only numeric fields can become Tensors. "
        "Convert strings/objects to numbers in the dataset (e.g. a vocabulary lookup)."
    )


def default_collate(samples):
    """Stack a list of samples (tuples of fields, or single values) into a tuple of arrays.

    Args:
        samples: non-empty list; each sample is a tuple/list of fields or a single array/number.

    Returns:
        tuple of ndarray, one per field, each with a leading batch axis.
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        n_fields = len(first)
        for s in samples:
            if not isinstance(s, (tuple, list)) or len(s) != n_fields:
                raise ValueError(
                    f"DataLoader: samples have different structures: the first has {n_fields} fields, "
                    f"another is {type(s).__name__} of length {len(s) if hasattr(s, '__len__') else '?'}."
                )
        columns = list(zip(*samples))
    else:
        columns = [samples]
    out = []
    for k, col in enumerate(columns):
        arrays = [np.asarray(v._array if type(v).__name__ == "Tensor" else v) for v in col]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(
                f"DataLoader: field {k} has samples of different shapes {sorted(shapes)}; "
                "they cannot be stacked into one batch. Pad them in the dataset or use batch_size=1."
            )
        out.append(np.stack(arrays))
    return tuple(out)


class DataLoader:
    """Iterate over a dataset in batches of :class:`~nnbasics.Tensor`.

    Every sample appears exactly once per epoch (or not at all in the dropped
    last partial batch when ``drop_last=True``). With ``shuffle=True`` the order
    is a fresh permutation drawn from ``self.generator`` at the start of each
    epoch (when ``iter(loader)`` is called), so epochs differ from each other,
    the whole sequence of epochs is reproducible from the seed, and restoring
    ``loader.generator.bit_generator.state`` restores the next epoch's order
    (checkpoints rely on this).

    Array-backed datasets (those with ``get_batch``, e.g. TensorDataset, the
    vision datasets and Subsets of them) are batched by one fancy-indexing call
    per field; other datasets sample by sample and are stacked.

    Args:
        dataset: anything with ``__len__`` and ``__getitem__``.
        batch_size: samples per batch (positive int).
        shuffle: draw a new random order every epoch.
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        transform: optional ``transform(x_batch_ndarray, rng) -> ndarray`` applied to
            the first field (the inputs) of every batch, with ``rng = self.generator``.
        rng: Generator, int seed or None; resolved once by ``nnbasics.rng.as_generator``
            (None: the default generator that ``nnbasics.manual_seed`` seeds).
        generator: PyTorch's name for ``rng``.
        num_workers, pin_memory: PyTorch's loading switches: accepted; batches are always built in this
            process (NumPy indexing is fast enough that worker processes would only add start-up time).

    Yields:
        tuple of Tensor, one per dataset field. Floating fields are float32, integer
        fields int64 (bool stays bool). No Tensor requires grad.

    Shape:
        each field: ``(B, *field_shape)`` with ``B = batch_size`` except maybe the last batch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, transform=None, rng=None, *,
                 generator=None, num_workers=0, pin_memory=False):
        rng = rng if generator is None else generator
        shuffle = False if shuffle is None else shuffle  # PyTorch's default is None, meaning False
        if not is_int(num_workers) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int. Got {num_workers!r}.")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__. Got {type(dataset).__name__}. "
                "Wrap arrays with TensorDataset(X, y)."
            )
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int. Got {batch_size!r}.")
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty (0 samples); there is nothing to load.")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {name} must be True or False. Got {flag!r}.")
        if transform is not None and not callable(transform):
            raise TypeError(
                f"DataLoader: transform must be callable as transform(x_batch, rng). Got {type(transform).__name__}."
            )
        if drop_last and len(dataset) < batch_size:
            raise ValueError(
                f"DataLoader: drop_last=True with batch_size={batch_size} > {len(dataset)} samples "
                "would yield no batches. Lower batch_size or set drop_last=False."
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.generator = as_generator(rng)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def _fetch(self, idx):
        if has_batch_access(self.dataset):
            fields = self.dataset.get_batch(idx)
            if not isinstance(fields, tuple):
                fields = (fields,)
            return fields
        return default_collate([self.dataset[int(i)] for i in idx])

    def _make_batch(self, idx):
        fields = [_normalize_field(f) for f in self._fetch(idx)]
        if self.transform is not None:
            x = self.transform(fields[0], self.generator)
            x = np.asarray(x._array if type(x).__name__ == "Tensor" else x)
            if x.shape[:1] != fields[0].shape[:1]:
                raise ValueError(
                    f"DataLoader: transform changed the batch size from {fields[0].shape[0]} to "
                    f"{x.shape[0] if x.ndim else 'a scalar'}; transforms must keep the first axis."
                )
            fields[0] = _normalize_field(x)
        return tuple(as_tensor(f) for f in fields)

    def __iter__(self):
        # NOTE: the order is drawn here, not lazily at the first next(), so iter(loader)
        # fixes the epoch and the generator state just before it is the epoch's seed.
        order = self._order()
        return self._batches(order)

    def _batches(self, order):
        n, b = len(order), self.batch_size
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            yield self._make_batch(order[start:start + b])

    def __repr__(self):
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})"
        )
