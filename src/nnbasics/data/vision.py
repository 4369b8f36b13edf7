"""Image classification datasets: MNIST, Fashion-MNIST, KMNIST (IDX) and CIFAR-10.

Each class finds its files as described in :mod:`nnbasics.data.sources` (explicit
``root``, ``$NNBASICS_DATA``, the user cache, ``/usr/share/datasets``, then a verified
download), reads them with the safe parsers, and checks what it read (image sizes,
one label per image, labels within the classes).

Attributes of every dataset (PyTorch's names):
    data: uint8 images, ``(N, 28, 28)`` for the MNIST family, ``(N, 32, 32, 3)`` for CIFAR-10.
    targets: int64 labels ``(N,)``.
    classes: class names, ``classes[targets[i]]``.
    location: where the files were found.

Samples are ``(x, y)`` with ``x`` float32 ``(C, H, W)`` in [0, 1]; ``arrays()`` returns the
whole split that way, and ``get_batch`` lets :class:`~nnbasics.data.DataLoader` build
batches by fancy indexing.

Example:
    >>> train = FashionMNIST(train=True, download=False)  # doctest: +SKIP
    >>> x, y = train.arrays()  # doctest: +SKIP
    >>> x.shape, x.dtype, y.dtype  # doctest: +SKIP
    ((60000, 1, 28, 28), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import numpy as np

from .cifar import CIFAR10_CLASSES, load_cifar10
from .dataset import Dataset, as_index_array, check_index
from .errors import DatasetError
from .idx import load_idx
from .sources import locate

__all__ = ["CIFAR10", "KMNIST", "MNIST", "FashionMNIST", "VisionDataset"]


class VisionDataset(Dataset):
    """Common behaviour of the image datasets (uint8 ``data`` + int64 ``targets`` in memory)."""

    source_name = ""  # key in sources.SOURCES
    classes: tuple = ()

    def __init__(self, root=None, train=True, download=True, *, progress=None):
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: train must be True or False. Got {train!r}.")
        self.train = bool(train)
        self.split = "train" if train else "test"
        found = locate(self.source_name, self.split, root=root, download=download, progress=progress)
        self.data, self.targets, self.location = self._load(found)
        self._validate()

    def _load(self, found):
        raise NotImplementedError

    def _validate(self):
        name = f"{type(self).__name__} ({self.split}, {self.location})"
        if len(self.data) != len(self.targets):
            raise DatasetError(f"{name}: {len(self.data)} images but {len(self.targets)} labels.")
        if self.targets.size and (self.targets.min() < 0 or self.targets.max() >= len(self.classes)):
            raise DatasetError(
                f"{name}: labels must be in [0, {len(self.classes)}). "
                f"Got range [{self.targets.min()}, {self.targets.max()}]."
            )

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def _to_chw(self, images):
        """uint8 images of this dataset -> float32 (B, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def __getitem__(self, index):
        i = check_index(index, len(self), type(self).__name__)
        return self._to_chw(self.data[i:i + 1])[0], int(self.targets[i])

    def get_batch(self, indices):
        """``(x float32 (B, C, H, W) in [0, 1], y int64 (B,))`` for the samples at ``indices``."""
        idx = as_index_array(indices, len(self), f"{type(self).__name__}.get_batch")
        return self._to_chw(self.data[idx]), self.targets[idx]

    def arrays(self):
        """The whole split: ``(x float32 (N, C, H, W) in [0, 1], y int64 (N,))``."""
        return self._to_chw(self.data), self.targets.copy()

    def __repr__(self):
        return f"{type(self).__name__}(split={self.split!r}, samples={len(self)}, location={str(self.location)!r})"


class _IDXDataset(VisionDataset):
    def _load(self, found):
        images_name, labels_name = list(found)
        images, labels = load_idx(found[images_name]), load_idx(found[labels_name])
        where = found[images_name].parent
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DatasetError(
                f"{found[images_name]}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}."
            )
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise DatasetError(f"{found[labels_name]}: expected uint8 labels (N,), got {labels.dtype} {labels.shape}.")
        return images, labels.astype(np.int64), where

    def _to_chw(self, images):
        return (images.astype(np.float32) / np.float32(255.0))[:, None]


class MNIST(_IDXDataset):
    """LeCun, Cortes & Burges' handwritten digits: 60,000 train / 10,000 test 28x28 grey images.

    Args:
        root: a directory to look in first (and to download into).
        train: the training split (else the test split).
        download: fetch from the official mirror (ossci, as torchvision) if not found locally.
        progress: progress bar on/off (None: only on a terminal).
    """

    source_name = "mnist"
    classes = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine")


class FashionMNIST(_IDXDataset):
    """Zalando's Fashion-MNIST: a drop-in MNIST replacement with 10 clothing classes.

    Args: as :class:`MNIST` (downloads from the zalando S3 bucket; Debian's
    ``dataset-fashion-mnist`` package is found in ``/usr/share/datasets/fashion-mnist``).
    """

    source_name = "fashion-mnist"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class KMNIST(_IDXDataset):
    """Kuzushiji-MNIST (CODH): 10 classes of cursive Japanese (hiragana) characters.

    Args: as :class:`MNIST` (downloads from codh.rois.ac.jp).
    """

    source_name = "kmnist"
    classes = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


class CIFAR10(VisionDataset):
    """Krizhevsky's CIFAR-10: 50,000 train / 10,000 test 32x32 colour images, 10 classes.

    Read from the Python batch format without ``pickle.load`` (see :mod:`nnbasics.data.cifar`),
    either from the extracted ``cifar-10-batches-py`` directory or the ``.tar.gz`` archive.

    Args: as :class:`MNIST` (downloads ``cifar-10-python.tar.gz`` from cs.toronto.edu).

    ``data`` is ``(N, 32, 32, 3)`` (HWC, as torchvision); samples and ``arrays()`` are CHW.
    """

    source_name = "cifar10"
    classes = CIFAR10_CLASSES

    def _load(self, found):
        location = found["cifar-10-python.tar.gz"]
        data, labels = load_cifar10(location, train=self.train)
        return data, labels, location

    def _to_chw(self, images):
        return images.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
