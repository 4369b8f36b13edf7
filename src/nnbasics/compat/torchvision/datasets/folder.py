"""``ImageFolder``/``DatasetFolder``: one sub-folder per class (``root/cat/1.png``), read with Pillow."""

from __future__ import annotations

import os

from ...unsupported import UnsupportedTorchAPI
from .._image import pil_module
from .vision import VisionDataset

__all__ = ["IMG_EXTENSIONS", "DatasetFolder", "ImageFolder", "default_loader", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path):
    Image = pil_module()
    if Image is None:
        raise UnsupportedTorchAPI("torchvision.datasets.ImageFolder without Pillow", "install Pillow "
                                  "(pip install pillow) to read image files", kind="call")
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


default_loader = pil_loader


class DatasetFolder(VisionDataset):
    """Samples ``(loader(path), class_index)`` for files under ``root/<class>/``, classes in sorted order."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None, is_valid_file=None,
                 allow_empty=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"Couldn't find any class folder in {self.root}.")
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {self.root}.")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        exts = tuple(e.lower() for e in (extensions or ()))

        def valid(p):
            return is_valid_file(p) if is_valid_file is not None else p.lower().endswith(exts)

        self.samples = []
        for c in self.classes:
            for dirpath, _, files in sorted(os.walk(os.path.join(self.root, c), followlinks=True)):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    if valid(path):
                        self.samples.append((path, self.class_to_idx[c]))
        if not self.samples and not allow_empty:
            raise FileNotFoundError(f"Found no valid file in the class folders of {self.root}. "
                                    f"Supported extensions are: {', '.join(exts)}")
        self.loader = loader
        self.extensions = extensions
        self.targets = [s[1] for s in self.samples]
        self.imgs = self.samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target


class ImageFolder(DatasetFolder):
    """Images under ``root/<class>/`` loaded as RGB PIL images."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform=transform,
                         target_transform=target_transform, is_valid_file=is_valid_file, allow_empty=allow_empty)
