"""The playground's data: the 2-D sets, the user's CSV table and image subsets, split into train and test.

Everything is drawn from the setup's ``data_seed`` alone (``default_rng([data_seed, 0])``), so
changing the network or its seed never changes the data, and the same setup gives the same
points on any machine.

Noise per set (``noise`` in [0, 2], default 0.2):

==========  ===============================================================
xor         Gaussian jitter of std ``noise / 2`` on the points of [-1, 1]^2
spiral      the angle jitter of CS231n's spirals (std ``noise``)
circles     coordinate noise of std ``noise / 2``
moons       coordinate noise of std ``noise``
blobs       cluster std ``0.1 + noise / 2`` around centres in [-1, 1]^2
gaussian    two clusters at +-(0.5, 0.5), std ``0.15 + noise / 2`` (TF Playground's)
shapes      pixel noise of std ``noise / 2``
==========  ===============================================================

Image sets: ``shapes`` (16x16, eight classes, generated offline) and Fashion-MNIST/MNIST
(28x28) when :func:`nnbasics.data.locate` finds the files (``--data-root``, ``$NNBASICS_DATA``,
the cache, ``/usr/share/datasets``); the playground never downloads. ``n`` training images are
drawn class-balanced, and ``n * f / (1 - f)`` test images (f the test fraction, 50 to 2,000).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from ..data import stratified_split, stratified_subset, synthetic
from .config import IMAGE_DATASETS, TWO_D_DATASETS, ConfigError

__all__ = ["PlayData", "available_image_sets", "make_data"]

_FILE_SETS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}
_cache: dict = {}
_cache_lock = threading.Lock()


@dataclass
class PlayData:
    """One dataset, split.

    Attributes:
        name: the dataset setting (``spiral``, ``csv``, ``fashion-mnist``...).
        kind: ``"2d"`` (heatmaps), ``"table"`` (a CSV with other than 2 features) or ``"image"``.
        task: ``"classification"`` or ``"regression"``.
        X_train, y_train, X_test, y_test: float32 features ``(N, *input_shape)``; int64 class ids
            ``(N,)`` or float32 targets ``(N, 1)``.
        n_classes: number of classes (1 for regression).
        class_names, feature_names: for the page.
        domain: ``(x0, x1, y0, y1)``, the square shown by a 2-D heatmap, else None.
        standardize: ``{"mean": [...], "std": [...]}`` subtracted from / dividing the raw CSV
            features (train statistics), and ``"target"`` ``[mean, std]`` for a regression target; None
            when the data are used as generated.
        note: one line describing the data for the page.
        source: the uploaded file's name (CSV), else "".
    """

    name: str
    kind: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    class_names: list = field(default_factory=list)
    feature_names: list = field(default_factory=list)
    domain: tuple | None = None
    standardize: dict | None = None
    note: str = ""
    source: str = ""

    @property
    def input_shape(self) -> tuple:
        return tuple(self.X_train.shape[1:])


# ----------------------------------------------------------------------- 2-D
def _two_d(name, n, noise, classes, g):
    """(X, y) of a generated 2-D set: float32 (n, 2), int64 (n,)."""
    if name == "xor":
        X, y = synthetic.xor(n, rng=g)
        X = X + g.normal(0.0, noise / 2, X.shape).astype(np.float32)
    elif name == "spiral":
        X, y = synthetic.spiral(n_per_class=max(1, n // classes), n_classes=classes, noise=noise, rng=g)
    elif name == "circles":
        X, y = synthetic.circles(n, noise=noise / 2, rng=g)
    elif name == "moons":
        X, y = synthetic.moons(n, noise=noise, rng=g)
    elif name == "blobs":
        X, y = synthetic.blobs(n, centers=g.uniform(-1, 1, (classes, 2)), cluster_std=0.1 + noise / 2, rng=g)
    else:  # gaussian
        X, y = synthetic.blobs(n, centers=[[0.5, 0.5], [-0.5, -0.5]], cluster_std=0.15 + noise / 2, rng=g)
    return X.astype(np.float32), y


def _square(X):
    """A square around the points with a 10% margin: (x0, x1, y0, y1)."""
    lo, hi = X.min(0), X.max(0)
    c, r = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3) * 1.1
    return (float(c[0] - r), float(c[0] + r), float(c[1] - r), float(c[1] + r))


def _split(y, test_fraction, g, task):
    """(train indices, test indices), class-balanced for classification."""
    n = len(y)
    n_test = min(max(1, round(n * test_fraction)), n - 1)
    if task == "classification" and np.bincount(y).min() >= 2:
        tr, te = stratified_split(y, [n - n_test, n_test], rng=g)
        return tr, te
    perm = g.permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _two_d_data(cfg, g):
    name = cfg["dataset"]
    classes = cfg["classes"] if name in ("spiral", "blobs") else 2
    X, y = _two_d(name, cfg["n"], cfg["noise"], classes, g)
    tr, te = _split(y, cfg["test_fraction"], g, "classification")
    note = f"{name}: {len(tr)} train / {len(te)} test points, {classes} classes, noise {cfg['noise']:g}"
    return PlayData(name, "2d", "classification", X[tr], y[tr], X[te], y[te], classes,
                    class_names=[str(c) for c in range(classes)], feature_names=["x1", "x2"], domain=_square(X),
                    note=note)


# ----------------------------------------------------------------------- CSV
def _csv_data(cfg, table, g):
    if table is None:
        raise ConfigError("dataset 'csv' needs an uploaded file: choose a CSV file with the upload button.")
    X, y = table.X, table.y
    tr, te = _split(y if table.task == "classification" else np.zeros(len(y), np.int64), cfg["test_fraction"], g,
                    table.task)
    Xtr, Xte, ytr, yte = X[tr], X[te], y[tr], y[te]
    stand = None
    if cfg["standardize"]:
        mean, std = Xtr.mean(0), Xtr.std(0)
        std = np.where(std > 0, std, 1.0).astype(np.float32)
        Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
        stand = {"mean": mean.tolist(), "std": std.tolist()}
        if table.task == "regression":
            m, s = float(ytr.mean()), float(ytr.std()) or 1.0
            ytr, yte = (ytr - m) / s, (yte - m) / s
            stand["target"] = [m, s]
    kind = "2d" if X.shape[1] == 2 else "table"
    k = len(table.class_names) if table.task == "classification" else 1
    note = (f"{table.name}: {len(tr)} train / {len(te)} test rows, {X.shape[1]} features, "
            + (f"{k} classes" if k > 1 else f"regression on {table.label_name!r}")
            + (" (standardized)" if stand else ""))
    return PlayData("csv", kind, table.task, Xtr.astype(np.float32), ytr, Xte.astype(np.float32), yte, k,
                    class_names=list(table.class_names), feature_names=list(table.feature_names),
                    domain=_square(np.concatenate([Xtr, Xte])) if kind == "2d" else None, standardize=stand,
                    note=note, source=table.name)


# ----------------------------------------------------------------------- images
def available_image_sets() -> dict:
    """``{name: where}`` for the image sets usable now (``shapes`` is always there); never downloads."""
    from ..data import locate
    from ..data.errors import DatasetError

    out = {"shapes": "generated"}
    for name in _FILE_SETS:
        try:
            found = locate(name, "train", download=False)
            locate(name, "test", download=False)
        except (DatasetError, OSError, ValueError):
            continue
        out[name] = str(next(iter(found.values())).parent)
    return out


def _file_arrays(name, split):
    """The whole split of a file dataset, read once per process."""
    from ..data import vision
    from ..data.errors import DatasetError

    key = (name, split)
    with _cache_lock:
        if key not in _cache:
            try:
                ds = getattr(vision, _FILE_SETS[name])(train=(split == "train"), download=False)
            except (DatasetError, OSError) as e:
                raise ConfigError(f"{name} is not on this machine ({str(e).splitlines()[0]}). Install it "
                                  "(Debian: apt-get install dataset-fashion-mnist) or use 'shapes', which is "
                                  "generated.") from None
            X, y = ds.arrays()
            _cache[key] = (X, y, list(ds.classes))
        return _cache[key]


def _image_data(cfg, g):
    name, f = cfg["dataset"], cfg["test_fraction"]
    n_train = cfg["n"]
    n_test = int(min(2000, max(50, round(n_train * f / (1 - f)))))
    if name == "shapes":
        Xtr, ytr = synthetic.shapes(n_train, size=16, noise=cfg["noise"] / 2, rng=g)
        Xte, yte = synthetic.shapes(n_test, size=16, noise=cfg["noise"] / 2, rng=g)
        classes = list(synthetic.SHAPE_CLASSES)
        where = "generated"
    else:
        X, y, classes = _file_arrays(name, "train")
        Xt, yt, _ = _file_arrays(name, "test")
        try:
            tr = stratified_subset(y, min(n_train, len(y)), rng=g)
            te = stratified_subset(yt, min(n_test, len(yt)), rng=g)
        except ValueError as e:
            raise ConfigError(f"{name}: {e}") from None
        Xtr, ytr, Xte, yte = X[tr], y[tr], Xt[te], yt[te]
        where = "files"
    note = f"{name}: {len(ytr)} train / {len(yte)} test images ({where}), {len(classes)} classes"
    return PlayData(name, "image", "classification", Xtr, ytr, Xte, yte, len(classes), class_names=classes,
                    feature_names=[], note=note)


def make_data(cfg: dict, table=None) -> PlayData:
    """The data a (normalized) setup describes.

    Args:
        cfg: a setup from :func:`nnbasics.playground.config.normalize`.
        table: the uploaded :class:`~nnbasics.playground.csvdata.CsvTable` (dataset ``csv``).

    Raises:
        ConfigError: no upload for ``csv``, or image files missing.
    """
    g = np.random.default_rng([cfg["data_seed"], 0])
    name = cfg["dataset"]
    if name in TWO_D_DATASETS:
        return _two_d_data(cfg, g)
    if name in IMAGE_DATASETS:
        return _image_data(cfg, g)
    return _csv_data(cfg, table, g)
