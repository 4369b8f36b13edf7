"""``torch.utils.data.DataLoader`` with torch's arguments and collation, on nnbasics tensors.

Semantics follow torch: ``shuffle=True`` draws a new order each epoch from the global generator
(or ``generator=``); ``sampler``/``batch_sampler``/``collate_fn``/``drop_last`` work as in torch;
:func:`default_collate` stacks tensors and arrays keeping their dtype, makes Python floats
float64 and ints int64 tensors, keeps strings as lists, and recurses into tuples (returned as
lists), lists, dicts and namedtuples. Datasets with ``get_batch`` (``TensorDataset``, the
torchvision datasets with batchable transforms) are fetched with one indexing call per batch.

``num_workers``, ``pin_memory``, ``persistent_workers``... are accepted and ignored: batches are
made in the main process, which gives the same batches (in torch, workers only change speed and
the per-worker random state).
"""

from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from .....data.dataset import has_batch_access
from .....tensor import Tensor, as_tensor
from ....unsupported import module_getattr
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def default_convert(data):
    """torch's conversion of one unbatched sample: arrays to tensors, recursively."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) if isinstance(data, dict) else \
            {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch):
    """Merge a list of samples into a batch, as torch's ``default_collate``."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {sorted(shapes)} in the batch; "
                               "pad the samples to one size or give the DataLoader a collate_fn.")
        return as_tensor(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                            f"found an array of {elem.dtype}")
        return as_tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return as_tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return as_tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return as_tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return as_tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(samples) for samples in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found "
                    f"{type(elem).__name__}")


def get_worker_info():
    """None: batches are made in the main process."""
    return


class DataLoader:
    """Iterate over ``dataset`` in batches (torch's constructor; see the module docstring)."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        self.dataset = dataset
        self.num_workers = num_workers
        self.generator = generator
        self._iterable = hasattr(dataset, "__iter__") and not hasattr(dataset, "__getitem__")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last, self.sampler, self.batch_sampler = batch_size, drop_last, sampler, \
            batch_sampler
        self.collate_fn = collate_fn
        self._auto_collate = collate_fn is None

    def __len__(self) -> int:
        if self._iterable:
            raise TypeError("the DataLoader of an IterableDataset has no len()")
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def _collate(self, samples):
        return (self.collate_fn or default_collate)(samples)

    def _fetch(self, indices):
        if self._auto_collate and has_batch_access(self.dataset):
            fields = self.dataset.get_batch(np.asarray(indices, dtype=np.int64))
            if isinstance(fields, tuple):
                return [as_tensor(np.ascontiguousarray(f)) for f in fields]
            return as_tensor(np.ascontiguousarray(fields))
        return self._collate([self.dataset[i] for i in indices])

    def __iter__(self):
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:  # batch_size=None: one sample at a time, converted not collated
            convert = self.collate_fn or default_convert
            return (convert(self.dataset[i]) for i in self.sampler)
        return (self._fetch(batch) for batch in self.batch_sampler)

    def _iter_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield (self.collate_fn or default_convert)(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield self._collate(batch)

    def __repr__(self):
        return f"<torch.utils.data.DataLoader of {type(self.dataset).__name__}, batch_size={self.batch_size}>"


_ = Sampler

__getattr__ = module_getattr(__name__)
