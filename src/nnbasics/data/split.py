"""Splitting datasets: random_split, stratified_subset, stratified_split.

Example:
    >>> import numpy as np
    >>> from nnbasics.data import TensorDataset
    >>> ds = TensorDataset(np.zeros((100, 2), np.float32), np.arange(100) % 10)
    >>> train, val = random_split(ds, [0.8, 0.2], rng=0)
    >>> len(train), len(val)
    (80, 20)
    >>> small = stratified_subset(ds, 30, rng=0)   # 3 of each of the 10 classes
    >>> np.bincount(small.targets).tolist()
    [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
"""

from __future__ import annotations

import numbers
from itertools import pairwise

import numpy as np

from .._validate import is_int, is_real
from ..rng import as_generator
from .dataset import Subset, has_batch_access

__all__ = ["dataset_labels", "random_split", "stratified_split", "stratified_subset"]


def _is_dataset(obj) -> bool:
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(obj, (np.ndarray, list, tuple))


def _resolve_lengths(lengths, n, fn):
    """Integer lengths summing to n, from ints or from fractions summing to 1 (remainder round-robin)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError(f"{fn}: lengths must be a non-empty sequence of ints or fractions.")
    if all(is_int(v) for v in lengths):
        if any(v < 0 for v in lengths) or sum(lengths) != n:
            raise ValueError(
                f"{fn}: integer lengths must be >= 0 and sum to the dataset size {n}. Got {lengths} "
                f"(sum {sum(lengths)}). Give fractions such as [0.8, 0.2] to split proportionally."
            )
        return [int(v) for v in lengths]
    if all(is_real(v) for v in lengths):
        fr = np.asarray(lengths, np.float64)
        if np.any(fr < 0) or np.any(fr > 1) or not np.isclose(fr.sum(), 1.0, atol=1e-6):
            raise ValueError(f"{fn}: fractions must be in [0, 1] and sum to 1. Got {lengths} (sum {fr.sum():g}).")
        out = [int(np.floor(n * f)) for f in fr]
        for k in range(n - sum(out)):  # PyTorch's rule: hand the remainder out round-robin
            out[k % len(out)] += 1
        return out
    raise TypeError(f"{fn}: lengths must be all ints or all floats. Got {lengths!r}.")


def random_split(dataset, lengths, rng=None, *, generator=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    Args:
        dataset: any dataset with ``__len__``/``__getitem__``.
        lengths: ints summing to ``len(dataset)``, or fractions summing to 1
            (each part gets ``floor(n * f)``; the remainder goes round-robin from the first part).
        rng: Generator, int seed or None (the default generator).
        generator: PyTorch's name for ``rng``.

    Returns:
        list of Subset, one per length; together they hold every sample once.
    """
    rng = rng if generator is None else generator
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):  # a list or range too, as torch
        raise TypeError(f"random_split needs a dataset (len and indexing). Got {type(dataset).__name__}.")
    n = len(dataset)
    sizes = _resolve_lengths(lengths, n, "random_split")
    perm = as_generator(rng).permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, perm[a:b]) for a, b in pairwise(bounds)]


def dataset_labels(dataset) -> np.ndarray:
    """The integer class label of every sample of ``dataset``, as an int64 array.

    Uses ``dataset.targets`` when present, the last array of a TensorDataset, the
    last field of a batch from ``get_batch``, or else the last field of each sample.
    """
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        labels = np.asarray(targets)
    elif hasattr(dataset, "tensors"):
        labels = np.asarray(dataset.tensors[-1])
    elif has_batch_access(dataset):
        labels = np.asarray(dataset.get_batch(np.arange(len(dataset)))[-1])
    else:
        labels = np.asarray([np.asarray(dataset[i][-1]) for i in range(len(dataset))])
    return _check_labels(labels, "dataset_labels")


def _check_labels(labels, fn):
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(
            f"{fn}: class labels must be a 1-D array of ints. Got dtype {labels.dtype}, shape {labels.shape}. "
            "Stratifying needs classification labels, not regression targets or one-hot rows."
        )
    return labels.astype(np.int64)


def _labels_of(data, fn):
    if _is_dataset(data):
        return data, dataset_labels(data)
    return None, _check_labels(data, fn)


def _wrap(dataset, idx):
    return Subset(dataset, idx) if dataset is not None else idx


def stratified_subset(data, n=None, *, per_class=None, fraction=None, rng=None):
    """A class-balanced random subset (e.g. the lab's 300- and 1,000-sample slices).

    Give exactly one of:
      * ``n``: total size, spread as evenly as possible over the classes
        (``n = 300`` on 10 classes: 30 each; a remainder goes one each to randomly chosen classes),
      * ``per_class``: that many samples of every class,
      * ``fraction``: that fraction of every class (rounded down, at least 1 per class).

    Args:
        data: a dataset (labels from ``targets``/the last field) or a 1-D int label array.
        rng: Generator, int seed or None.

    Returns:
        Subset of ``data`` (or, given labels, the sorted int64 indices). Indices are
        sorted, so the subset keeps the original order; shuffle in the loader.

    Raises:
        ValueError: if a class has fewer samples than requested.
    """
    dataset, labels = _labels_of(data, "stratified_subset")
    if sum(v is not None for v in (n, per_class, fraction)) != 1:
        raise ValueError("stratified_subset: give exactly one of n, per_class or fraction.")
    g = as_generator(rng)
    classes, counts = np.unique(labels, return_counts=True)
    k = len(classes)
    if k == 0:
        raise ValueError("stratified_subset: there are no samples to choose from.")
    if n is not None:
        if not is_int(n) or n < 1:
            raise ValueError(f"stratified_subset: n must be a positive int. Got {n!r}.")
        take = np.full(k, n // k, np.int64)
        take[g.choice(k, size=n % k, replace=False)] += 1
    elif per_class is not None:
        if not is_int(per_class) or per_class < 1:
            raise ValueError(f"stratified_subset: per_class must be a positive int. Got {per_class!r}.")
        take = np.full(k, int(per_class), np.int64)
    else:
        if not isinstance(fraction, numbers.Real) or not 0 < fraction <= 1:
            raise ValueError(f"stratified_subset: fraction must be in (0, 1]. Got {fraction!r}.")
        take = np.maximum(1, np.floor(counts * float(fraction)).astype(np.int64))
    short = [(int(c), int(t), int(m)) for c, t, m in zip(classes, take, counts) if t > m]
    if short:
        c, t, m = short[0]
        raise ValueError(
            f"stratified_subset: class {c} has only {m} samples but {t} were requested "
            f"({len(short)} class(es) too small). Ask for fewer samples per class."
        )
    chosen = [g.choice(np.nonzero(labels == c)[0], size=int(t), replace=False) for c, t in zip(classes, take)]
    return _wrap(dataset, np.sort(np.concatenate(chosen)).astype(np.int64))


def stratified_split(data, lengths, rng=None):
    """Split into parts that each keep the class proportions of the whole (train/val splits).

    Args:
        data: a dataset or a 1-D int label array.
        lengths: fractions summing to 1 (e.g. ``[0.8, 0.2]``), applied to every class
            separately (floor per class; each leftover goes to the part furthest below its
            overall size, so part sizes match ``random_split``'s), or ints summing to the
            dataset size (converted to fractions).
        rng: Generator, int seed or None.

    Returns:
        list of Subset (or sorted int64 index arrays, given labels), disjoint, covering every sample.
    """
    dataset, labels = _labels_of(data, "stratified_split")
    n = len(labels)
    sizes = _resolve_lengths(lengths, n, "stratified_split")
    fractions = [s / n for s in sizes] if n else sizes
    g = as_generator(rng)
    parts = [[] for _ in sizes]
    classes = np.unique(labels)
    members = [g.permutation(np.nonzero(labels == c)[0]) for c in classes]
    alloc = [[int(np.floor(len(m) * f)) for f in fractions] for m in members]
    totals = np.sum(alloc, axis=0) if alloc else np.zeros(len(sizes), np.int64)
    for m, per in zip(members, alloc):
        for _ in range(len(m) - sum(per)):  # each leftover goes to the part furthest below its size
            p = int(np.argmax(np.asarray(sizes) - totals))
            per[p] += 1
            totals[p] += 1
    for m, per in zip(members, alloc):
        bounds = np.cumsum([0] + per)
        for p, (a, b) in enumerate(pairwise(bounds)):
            parts[p].append(m[a:b])
    return [_wrap(dataset, np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64))
            for p in parts]
