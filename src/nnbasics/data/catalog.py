"""The catalog of known datasets: ``DATASETS``, ``load_dataset`` and ``available_datasets``.

``load_dataset(name, split)`` returns ``(X, y)`` arrays for every dataset, generated or
file-backed, so the command line and the lab need one code path. ``available_datasets()``
reports what is usable on this machine and where (the ``nnbasics datasets`` command).

Example:
    >>> X, y = load_dataset("moons", n=100, rng=0)
    >>> X.shape, y.shape
    ((100, 2), (100,))
    >>> sorted(DATASETS)[:3]
    ['addition', 'blobs', 'cifar10']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import is_int
from . import synthetic, vision
from .errors import DatasetNotFoundError
from .sources import locate

__all__ = ["DATASETS", "DatasetInfo", "available_datasets", "format_available", "load_dataset"]


@dataclass(frozen=True)
class DatasetInfo:
    """One catalog entry.

    Attributes:
        name: the name ``load_dataset`` and the CLI accept.
        kind: ``"generated"`` or ``"file"``.
        description: one line for listings.
        task: ``"classification"``, ``"regression"`` or ``"sequence"``.
        num_classes: classes for classification (None otherwise / when it depends on kwargs).
        input_shape: shape of one sample's input (None when it depends on kwargs).
        source: key in ``sources.SOURCES`` (file datasets).
        classes: the class names in label order (None where the labels are just numbers).
    """

    name: str
    kind: str
    description: str
    task: str = "classification"
    num_classes: int | None = None
    input_shape: tuple | None = None
    source: str | None = None
    classes: tuple | None = None


_GENERATORS = {
    "xor": synthetic.xor,
    "spiral": synthetic.spiral,
    "circles": synthetic.circles,
    "moons": synthetic.moons,
    "blobs": synthetic.blobs,
    "sine": synthetic.sine,
    "copy": synthetic.copy_task,
    "addition": synthetic.addition_task,
    "hihello": synthetic.hihello,
    "shapes": synthetic.shapes,
}

_VISION = {
    "mnist": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "kmnist": "KMNIST",
    "cifar10": "CIFAR10",
}

#: name -> DatasetInfo for every dataset ``load_dataset`` knows.
DATASETS = {
    "xor": DatasetInfo("xor", "generated", "points in [-1, 1]^2 labelled by the XOR of the coordinate signs",
                       num_classes=2, input_shape=(2,)),
    "spiral": DatasetInfo("spiral", "generated", "CS231n's interleaved spirals, one arm per class",
                          num_classes=3, input_shape=(2,)),
    "circles": DatasetInfo("circles", "generated", "two concentric noisy circles", num_classes=2, input_shape=(2,)),
    "moons": DatasetInfo("moons", "generated", "two interleaving half circles", num_classes=2, input_shape=(2,)),
    "blobs": DatasetInfo("blobs", "generated", "isotropic Gaussian blobs, one per class",
                         num_classes=3, input_shape=(2,)),
    "sine": DatasetInfo("sine", "generated", "sine-wave windows; predict the next value",
                        task="regression", input_shape=(20, 1)),
    "copy": DatasetInfo("copy", "generated", "copy task: reproduce a symbol sequence after a delimiter",
                        task="sequence", num_classes=10, input_shape=(21,)),
    "addition": DatasetInfo("addition", "generated", "Hochreiter's adding problem: sum the two marked values",
                            task="regression", input_shape=(50, 2)),
    "hihello": DatasetInfo("hihello", "generated", "the lecture's 'hihell' -> 'ihello' characters",
                           task="sequence", num_classes=5, input_shape=(6,)),
    "shapes": DatasetInfo("shapes", "generated", "8 shape classes (bars, squares, plus, ring, x...) at random "
                          "places and scales, 16x16 grey (size=)", num_classes=8, input_shape=(1, 16, 16),
                          classes=synthetic.SHAPE_CLASSES),
    "mnist": DatasetInfo("mnist", "file", "MNIST handwritten digits, 28x28 grey (60k train / 10k test)",
                         num_classes=10, input_shape=(1, 28, 28), source="mnist", classes=vision.MNIST.classes),
    "fashion-mnist": DatasetInfo("fashion-mnist", "file", "Zalando's Fashion-MNIST clothing, 28x28 grey (60k / 10k)",
                                 num_classes=10, input_shape=(1, 28, 28), source="fashion-mnist",
                                 classes=vision.FashionMNIST.classes),
    "kmnist": DatasetInfo("kmnist", "file", "Kuzushiji-MNIST cursive Japanese characters, 28x28 grey (60k / 10k)",
                          num_classes=10, input_shape=(1, 28, 28), source="kmnist", classes=vision.KMNIST.classes),
    "cifar10": DatasetInfo("cifar10", "file", "CIFAR-10 colour images, 32x32x3, 10 classes (50k / 10k)",
                           num_classes=10, input_shape=(3, 32, 32), source="cifar10", classes=vision.CIFAR10.classes),
}

_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10",
            "copy_task": "copy", "addition_task": "addition"}
_SPLITS = ("train", "test")


def _resolve_name(name):
    if not isinstance(name, str):
        raise TypeError(f"load_dataset: name must be a string. Got {type(name).__name__}.")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}. Choose one of: {', '.join(sorted(DATASETS))}.")
    return key


def _split_rng(rng, split):
    """Train and test of a generated dataset come from different streams of the same seed."""
    if is_int(rng):
        if rng < 0:
            raise ValueError(f"load_dataset: rng seed must be >= 0. Got {rng}.")
        return np.random.default_rng([int(rng), _SPLITS.index(split)])
    return rng  # a Generator (its stream advances) or None (fresh entropy)


def _blob_centers(rng, kw):
    """Blob centres are part of the task, not of a split: train and test must share them.

    They come from a third stream of an int seed (``default_rng([seed, 2])``); with a
    Generator or None, from the fixed task seed 0, so the two splits still agree.
    """
    centers = kw.get("centers", 3)
    if not is_int(centers):
        return centers  # explicit centres (or a bad value the generator will report)
    seed = int(rng) if is_int(rng) and rng >= 0 else 0
    lo, hi = kw.get("center_box", (-10.0, 10.0))
    d = kw.get("n_features", 2)
    if not is_int(d) or d < 1 or centers < 1:
        return centers  # let synthetic.blobs raise its own message
    return np.random.default_rng([seed, 2]).uniform(lo, hi, size=(int(centers), int(d)))


def _generate(key, split, n, rng, kwargs):
    fn = _GENERATORS[key]
    kw = dict(kwargs)
    if n is not None:
        if not is_int(n) or n < 1:
            raise ValueError(f"load_dataset({key!r}): n must be a positive int. Got {n!r}.")
        if key == "spiral":
            n_classes = kw.get("n_classes", 3)
            kw["n_per_class"] = max(1, int(n) // n_classes)
        elif key != "hihello":
            kw["n"] = int(n)
    if key == "blobs":
        kw["centers"] = _blob_centers(rng, kw)
    try:
        return fn(**kw, rng=_split_rng(rng, split))
    except TypeError as e:
        raise TypeError(f"load_dataset({key!r}): {e}. See help(nnbasics.data.synthetic.{fn.__name__}).") from e


def load_dataset(name, split="train", root=None, download=True, *, n=None, rng=None, **kwargs):
    """``(X, y)`` arrays of any known dataset, by name.

    Args:
        name: a key of :data:`DATASETS` (``"spiral"``, ``"fashion-mnist"``...).
        split: ``"train"`` or ``"test"``. Generated datasets draw the two splits from
            different streams of the seed (``default_rng([seed, 0])`` / ``([seed, 1])``).
        root, download: where to look first / whether to download (file datasets).
        n: number of samples (generated datasets; for ``spiral``, the total over all classes).
        rng: Generator, int seed or None (generated datasets).
        **kwargs: passed to the generator (``noise=0.3``, ``seq_len=30``...).

    Returns:
        (X, y): generated datasets as their generator returns them; image datasets as
        float32 ``(N, C, H, W)`` in [0, 1] and int64 labels.
    """
    key = _resolve_name(name)
    if split not in _SPLITS:
        raise ValueError(f"load_dataset: split must be 'train' or 'test'. Got {split!r}.")
    info = DATASETS[key]
    if info.kind == "generated":
        return _generate(key, split, n, rng, kwargs)
    if kwargs or n is not None:
        extra = sorted(kwargs) + (["n"] if n is not None else [])
        raise TypeError(f"load_dataset({key!r}): file datasets take no generator options; got {extra}. "
                        "Take a slice with nnbasics.data.stratified_subset instead.")
    from . import vision

    ds = getattr(vision, _VISION[key])(root=root, train=(split == "train"), download=download)
    return ds.arrays()


def available_datasets(root=None, system_dirs=None):
    """What can be used on this machine without a download, and where it is.

    Never touches the network.

    Args:
        root: an extra directory to search first (as the dataset classes' ``root``).
        system_dirs: replaces ``sources.SYSTEM_DATA_DIRS``.

    Returns:
        list of dicts, one per :data:`DATASETS` entry, in catalog order, with keys
        ``name``, ``kind``, ``description``, ``available`` (bool), ``location``
        (str: ``"generated"`` or the directory/archive found, None if missing) and
        ``splits`` ({"train": path or None, "test": path or None}; None for generated).
    """
    out = []
    for info in DATASETS.values():
        row = {"name": info.name, "kind": info.kind, "description": info.description}
        if info.kind == "generated":
            row.update(available=True, location="generated", splits=None)
        else:
            splits = {}
            for split in _SPLITS:
                try:
                    found = locate(info.source, split, root=root, download=False, system_dirs=system_dirs)
                    first = next(iter(found.values()))
                    splits[split] = str(first.parent if first.is_file() and info.source != "cifar10" else first)
                except DatasetNotFoundError:
                    splits[split] = None
            present = [p for p in splits.values() if p]
            row.update(available=all(splits.values()), location=present[0] if present else None, splits=splits)
        out.append(row)
    return out


def format_available(rows=None) -> str:
    """A plain-text table of :func:`available_datasets` (for ``nnbasics datasets``)."""
    rows = available_datasets() if rows is None else rows
    width = max(len(r["name"]) for r in rows)
    lines = []
    for r in rows:
        if r["kind"] == "generated":
            status = "generated"
        elif r["available"]:
            status = f"found: {r['location']}"
        elif r["location"]:
            missing = [s for s, p in r["splits"].items() if not p]
            status = f"partial ({', '.join(missing)} missing): {r['location']}"
        else:
            status = "not found (downloads on first use; see $NNBASICS_DATA)"
        lines.append(f"{r['name']:<{width}}  {r['description']}\n{'':<{width}}  -> {status}")
    return "\n".join(lines)
