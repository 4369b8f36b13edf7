"""A ``torchvision``-compatible namespace: ``datasets`` (MNIST, FashionMNIST, KMNIST, CIFAR10, ImageFolder),
``transforms`` and ``utils`` (``make_grid``, ``save_image``), over :mod:`nnbasics.data`.

``nnbasics run`` resolves ``import torchvision`` here. The datasets read torchvision's on-disk
layout (``root/MNIST/raw/...``, ``root/FashionMNIST/raw/...``, ``root/cifar-10-batches-py``), so
files torchvision downloaded are reused, and otherwise nnbasics' lookup chain
(``$NNBASICS_DATA``, the user cache, ``/usr/share/datasets``, then the official download).
Samples are PIL images (when Pillow is installed, as torchvision) or uint8 arrays, passed
through ``transform``. ``models`` has the ResNet family without pretrained weights; ``io`` and
``ops`` are not provided.
"""

from ..unsupported import module_getattr
from . import datasets, models, transforms, utils

__version__ = "0.28.0+nnbasics"

__all__ = ["datasets", "models", "transforms", "utils"]


def get_image_backend() -> str:
    return "PIL"


def set_image_backend(backend) -> None:
    if backend != "PIL":
        raise ValueError(f"Invalid backend '{backend}'. Options are 'PIL' and 'accimage'")


__getattr__ = module_getattr(__name__)
