"""``torchvision.datasets``: MNIST, FashionMNIST, KMNIST, CIFAR10 and ImageFolder (see :mod:`.vision`)."""

from ...unsupported import module_getattr
from .folder import DatasetFolder, ImageFolder
from .vision import CIFAR10, KMNIST, MNIST, FashionMNIST, VisionDataset

__all__ = ["CIFAR10", "KMNIST", "MNIST", "DatasetFolder", "FashionMNIST", "ImageFolder", "VisionDataset"]

__getattr__ = module_getattr(__name__, {
    "CIFAR100": "nnbasics reads CIFAR-10 only; use torchvision.datasets.CIFAR10",
    "EMNIST": "nnbasics reads MNIST, Fashion-MNIST, KMNIST and CIFAR-10",
    "QMNIST": "nnbasics reads MNIST, Fashion-MNIST, KMNIST and CIFAR-10",
    "SVHN": "nnbasics reads MNIST, Fashion-MNIST, KMNIST and CIFAR-10",
    "STL10": "nnbasics reads MNIST, Fashion-MNIST, KMNIST and CIFAR-10",
    "ImageNet": "nnbasics reads MNIST, Fashion-MNIST, KMNIST and CIFAR-10; ImageFolder reads a folder per class",
})
