"""The lab's data: ``LabData`` and the loaders behind ``ctx.images()`` / ``ctx.tabular()``.

Sizes (``n_train`` / ``n_test`` default to these; an experiment may ask for others):

======  ===========================================================  ============
mode    images                                                       tabular
======  ===========================================================  ============
quick   ``shapes``: generated, 8 classes, 16x16, 1,600 / 800         spiral 3x150 / 3x100
full    Fashion-MNIST, stratified 10,000 / 2,000 of 60,000 / 10,000   spiral 3x1000 / 3x500
        (else MNIST, else ``shapes`` 28x28 10,000 / 2,000)
======  ===========================================================  ============

Full runs look for Fashion-MNIST and MNIST without downloading, in ``--data-root``,
``$NNBASICS_DATA``, the user cache and ``/usr/share/datasets`` (see
:mod:`nnbasics.data.sources`); what was used, and why, is in ``LabData.why``. The subset
keeps full runs within their minutes-long budgets on 2 cores; ``n_train=0`` asks for all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import is_int

__all__ = ["LabData", "images", "tabular"]

QUICK_IMAGES = (1600, 800)
FULL_IMAGES = (10000, 2000)
QUICK_TABULAR = (450, 300)
FULL_TABULAR = (3000, 1500)


@dataclass
class LabData:
    """Train and test arrays, with what they are and why they were chosen.

    Attributes:
        X_train, y_train, X_test, y_test: float32 inputs, int64 labels.
        name: dataset name (``"shapes"``, ``"fashion-mnist"``, ``"spiral"``...).
        description: one line about the data.
        why: why this data (mode, what was found or missing, subset sizes).
        input_shape: one sample's shape, e.g. ``(1, 28, 28)``.
        num_classes: number of classes.
        class_names: a name per class (``"ring"``, ``"Trouser"``...), for figures and tables.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    description: str
    why: str
    input_shape: tuple
    num_classes: int
    class_names: tuple = ()

    def __post_init__(self):
        if not self.class_names:
            self.class_names = tuple(f"class {i}" for i in range(int(self.num_classes)))

    def note(self) -> str:
        """One paragraph for the report's Data section."""
        return (f"**{self.name}** — {self.description}; {len(self.X_train):,} training / {len(self.X_test):,} test "
                f"samples, input shape {tuple(self.input_shape)}, {self.num_classes} classes. {self.why}")

    def flat(self) -> LabData:
        """The same data with each input flattened to a vector (for MLPs)."""
        return LabData(self.X_train.reshape(len(self.X_train), -1), self.y_train,
                       self.X_test.reshape(len(self.X_test), -1), self.y_test, self.name, self.description,
                       self.why, (int(np.prod(self.input_shape)),), self.num_classes, self.class_names)

    def subset(self, n_train=None, n_test=None, rng=0) -> LabData:
        """A class-balanced slice (``stratified_subset``) of the train and/or test split."""
        from ..data import stratified_subset

        Xtr, ytr, Xte, yte = self.X_train, self.y_train, self.X_test, self.y_test
        if n_train is not None and n_train < len(ytr):
            idx = stratified_subset(ytr, n_train, rng=rng)
            Xtr, ytr = Xtr[idx], ytr[idx]
        if n_test is not None and n_test < len(yte):
            idx = stratified_subset(yte, n_test, rng=rng)
            Xte, yte = Xte[idx], yte[idx]
        return LabData(Xtr, ytr, Xte, yte, self.name, self.description, self.why, self.input_shape,
                       self.num_classes, self.class_names)


def _sizes(ctx, n_train, n_test, quick, full, fn):
    for what, v in (("n_train", n_train), ("n_test", n_test)):
        if v is not None and (not is_int(v) or v < 0):
            raise ValueError(f"{fn}: {what} must be None (the mode's default), 0 (all) or a positive int; got {v!r}.")
    default = quick if ctx.quick else full
    return (default[0] if n_train is None else int(n_train)), (default[1] if n_test is None else int(n_test))


def _shapes(ctx, n_train, n_test, size, why):
    from ..data.synthetic import SHAPE_CLASSES, shapes

    n_train = n_train or FULL_IMAGES[0]
    n_test = n_test or FULL_IMAGES[1]
    key = ("shapes", size, n_train, n_test)
    if key not in ctx._cache:
        Xtr, ytr = shapes(n_train, size=size, noise=0.1, rng=ctx.rng("data", "shapes", "train", size))
        Xte, yte = shapes(n_test, size=size, noise=0.1, rng=ctx.rng("data", "shapes", "test", size))
        perm = ctx.rng("data", "shapes", "order").permutation(n_train)  # the generator is class-major
        ctx._cache[key] = (Xtr[perm], ytr[perm], Xte, yte)
    Xtr, ytr, Xte, yte = ctx._cache[key]
    return LabData(Xtr, ytr, Xte, yte, "shapes",
                   f"generated images of 8 shape classes (bars, squares, plus, diagonal, ring, x) at random places "
                   f"and scales, {size}x{size} grey with noise", why, (1, size, size), 8, tuple(SHAPE_CLASSES))


def _load_file_dataset(ctx, name):
    """(X_train, y_train, X_test, y_test, where) or raise DatasetNotFoundError; never downloads."""
    key = ("file", name)
    if key not in ctx._cache:
        from ..data.catalog import load_dataset
        from ..data.sources import locate

        Xtr, ytr = load_dataset(name, "train", root=ctx.data_root, download=False)
        Xte, yte = load_dataset(name, "test", root=ctx.data_root, download=False)
        found = locate(name, "train", root=ctx.data_root, download=False)
        where = str(next(iter(found.values())).parent)
        ctx._cache[key] = (Xtr, ytr, Xte, yte, where)
    return ctx._cache[key]


def images(ctx, n_train=None, n_test=None) -> LabData:
    """Images for the current mode (module docstring); the reason is in ``why``.

    Args:
        ctx: the :class:`~nnbasics.lab.context.LabContext` (mode, seed, data_root).
        n_train, n_test: sizes (None: the mode's default; 0: all of a file dataset).

    Returns:
        LabData with X of shape ``(N, 1, H, W)``, float32 in [0, 1].
    """
    n_train, n_test = _sizes(ctx, n_train, n_test, QUICK_IMAGES, FULL_IMAGES, "LabContext.images")
    if ctx.quick:
        return _shapes(ctx, n_train or QUICK_IMAGES[0], n_test or QUICK_IMAGES[1], 16,
                       "Quick mode: images the package generates (no download, works offline), small enough that "
                       "the run takes seconds; the shapes appear anywhere in the frame, so translation matters as "
                       "in real images.")
    from ..data.errors import DatasetError
    from ..data.vision import MNIST, FashionMNIST

    missing = []
    for name, desc, names in (
            ("fashion-mnist", "Zalando's Fashion-MNIST clothing images, 28x28 grey, 10 classes", FashionMNIST.classes),
            ("mnist", "MNIST handwritten digits, 28x28 grey, 10 classes", MNIST.classes)):
        try:
            Xtr, ytr, Xte, yte, where = _load_file_dataset(ctx, name)
        except (DatasetError, OSError, ValueError) as e:
            missing.append(f"{name} ({type(e).__name__}: {str(e).splitlines()[0][:160]})")
            continue
        total_tr, total_te = len(ytr), len(yte)
        data = LabData(Xtr, ytr, Xte, yte, name, desc, "", (1, 28, 28), 10, tuple(names))
        data = data.subset(n_train or None, n_test or None, rng=ctx.seed_for("data", name, "subset"))
        sub = (f"a class-balanced subset of {len(data.y_train):,} / {len(data.y_test):,} of the "
               f"{total_tr:,} / {total_te:,} images, to stay within the full run's time budget on 2 cores"
               if len(data.y_train) < total_tr or len(data.y_test) < total_te else "all of it")
        first = "" if name == "fashion-mnist" else f"Fashion-MNIST was not found ({missing[0]}); "
        data.why = (f"Full mode: {first}{name} found in {where} (not downloaded); {sub}. Real images are what the "
                    "lecture's claims are about.")
        return data
    return _shapes(ctx, n_train, n_test, 28,
                   "Full mode, but neither Fashion-MNIST nor MNIST was found on this machine ("
                   + "; ".join(missing) + "), so the generated shapes at 28x28 stand in. Put the IDX files in "
                   "$NNBASICS_DATA/fashion-mnist or pass --data-root to use real images.")


def tabular(ctx, n_train=None, n_test=None) -> LabData:
    """CS231n's 3-arm spiral (2-D points): not linearly separable, learnable by a small MLP.

    Args:
        ctx: the LabContext.
        n_train, n_test: total sizes over the 3 classes (None: the mode's default).

    Returns:
        LabData with X of shape ``(N, 2)``.
    """
    n_train, n_test = _sizes(ctx, n_train, n_test, QUICK_TABULAR, FULL_TABULAR, "LabContext.tabular")
    from ..data.synthetic import spiral

    n_train = n_train or (QUICK_TABULAR if ctx.quick else FULL_TABULAR)[0]
    n_test = n_test or (QUICK_TABULAR if ctx.quick else FULL_TABULAR)[1]
    Xtr, ytr = spiral(n_per_class=max(1, n_train // 3), n_classes=3, noise=0.2, rng=ctx.rng("data", "spiral", "tr"))
    Xte, yte = spiral(n_per_class=max(1, n_test // 3), n_classes=3, noise=0.2, rng=ctx.rng("data", "spiral", "te"))
    perm = ctx.rng("data", "spiral", "order").permutation(len(ytr))
    return LabData(Xtr[perm], ytr[perm], Xte, yte, "spiral",
                   "CS231n's interleaved 3-arm spiral in 2-D, noise 0.2 (generated)",
                   f"{ctx.mode.capitalize()} mode: a generated 2-D problem that no linear model solves and a small "
                   "MLP does, and whose decision regions can be drawn.", (2,), 3, ("arm 1", "arm 2", "arm 3"))
