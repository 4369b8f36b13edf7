"""torchvision's MNIST-family and CIFAR-10 datasets over :mod:`nnbasics.data.vision`.

The files are found by :func:`nnbasics.data.sources.locate`: ``root`` in torchvision's layout
(``root/MNIST/raw/train-images-idx3-ubyte[.gz]``, ``root/FashionMNIST/raw/...``,
``root/cifar-10-batches-py``) or nnbasics' (``root/mnist``...), then ``$NNBASICS_DATA``, the user
cache and ``/usr/share/datasets``; with ``download=True``, the official files are fetched
(checked by SHA-256) when none is found. Nothing is substituted: ``MNIST(...)`` on a machine with
only Fashion-MNIST raises the not-found message that lists where it looked.

Attributes follow torchvision: ``data`` (uint8 tensor (N, 28, 28) for the MNIST family, uint8
array (N, 32, 32, 3) for CIFAR-10), ``targets`` (int64 tensor, a list of ints for CIFAR-10),
``classes``, ``class_to_idx``, ``train``, ``root``, ``transform``, ``target_transform``, and the
deprecated ``train_data``/``test_data``/``train_labels``/``test_labels``.

``ds[i]`` is ``(image, target)`` with the image a PIL image (an (H, W[, C]) uint8 array without
Pillow) passed through ``transform``. When ``transform`` is ToTensor (+ Normalize) and there is
no ``target_transform``, ``get_batch`` builds a whole DataLoader batch in one vectorized call,
equal to stacking the per-sample results.
"""

from __future__ import annotations

import os

import numpy as np

from ....data import vision as _nbvision
from ....data.dataset import Dataset
from ....tensor import as_tensor
from .. import transforms as _transforms
from .._image import pil_module

__all__ = ["CIFAR10", "KMNIST", "MNIST", "FashionMNIST", "VisionDataset"]


class VisionDataset(Dataset):
    """Base class: ``root``, ``transform``, ``target_transform``, ``transforms``."""

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.transform, self.target_transform, self.transforms = transform, target_transform, transforms

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        if self.transform is not None:
            lines.append(f"    StandardTransform\nTransform: {self.transform!r}")
        return "\n".join(lines)


class _Loaded(VisionDataset):
    _nb_class = None

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = bool(train)
        nb = self._nb_class(root=self.root, train=self.train, download=bool(download), progress=False)
        self.location = nb.location
        self.classes = list(nb.classes)
        self._images = nb.data  # uint8 ndarray
        self._labels = nb.targets.astype(np.int64)

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return int(self._images.shape[0])

    def _image(self, a):
        Image = pil_module()
        return Image.fromarray(a) if Image is not None else a

    def __getitem__(self, index):
        img, target = self._images[index], int(self._labels[index])
        img = self._image(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def supports_batch_access(self) -> bool:
        return self.target_transform is None and _transforms.is_batchable(self.transform)

    def get_batch(self, indices):
        """``(images float32 (B, C, H, W), targets int64 (B,))`` after ToTensor (+ Normalize)."""
        idx = np.asarray(indices, dtype=np.int64)
        return _transforms.batch_apply(self.transform, self._images[idx]), self._labels[idx]


class _MNISTFamily(_Loaded):
    @property
    def data(self):
        return as_tensor(self._images)

    @property
    def targets(self):
        return as_tensor(self._labels)

    # torchvision's deprecated names (they warn there and return the same tensors)
    train_data = test_data = data
    train_labels = test_labels = targets

    @property
    def raw_folder(self):
        return os.path.join(self.root or "", type(self).__name__, "raw")


class MNIST(_MNISTFamily):
    """MNIST digits (see the module docstring). Args as torchvision: ``root, train, transform, target_transform, download``."""

    _nb_class = _nbvision.MNIST


class FashionMNIST(_MNISTFamily):
    """Zalando's Fashion-MNIST (see the module docstring)."""

    _nb_class = _nbvision.FashionMNIST


class KMNIST(_MNISTFamily):
    """Kuzushiji-MNIST (see the module docstring)."""

    _nb_class = _nbvision.KMNIST


class CIFAR10(_Loaded):
    """CIFAR-10: ``data`` uint8 (N, 32, 32, 3) ndarray, ``targets`` a list of ints, as torchvision."""

    _nb_class = _nbvision.CIFAR10
    base_folder = "cifar-10-batches-py"

    @property
    def data(self):
        return self._images

    @property
    def targets(self):
        return self._labels.tolist()
