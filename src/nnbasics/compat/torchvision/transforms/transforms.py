"""The transform classes of :mod:`torchvision.transforms` (see the package docstring)."""

from __future__ import annotations

import numbers

import numpy as np

from ....tensor import Tensor, as_tensor
from ...torch import _random
from ...torch._dtypes import resolve_dtype
from ...unsupported import UnsupportedTorchAPI
from .._image import as_hwc_array, from_hwc_array, is_pil, pil_module, to_pil

__all__ = ["CenterCrop", "Compose", "ConvertImageDtype", "Grayscale", "Lambda", "Normalize", "PILToTensor", "Pad",
           "RandomApply", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "ToPILImage",
           "ToTensor", "batch_apply", "is_batchable"]


def _size_hw(size, name):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{name}: size must be an int or (h, w); got {size!r}.")


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """PIL image or uint8 array (H, W[, C]) -> float32 tensor (C, H, W) in [0, 1] (other dtypes: not scaled)."""

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            raise TypeError("pic should be PIL Image or ndarray. Got <class 'torch.Tensor'>")
        a, _ = as_hwc_array(pic)
        chw = np.ascontiguousarray(np.moveaxis(a, -1, 0))
        if chw.dtype == np.uint8:
            return as_tensor(chw.astype(np.float32) / np.float32(255.0))
        return as_tensor(chw)

    @staticmethod
    def batch(x):
        """uint8 (B, H, W[, C]) -> float32 (B, C, H, W)."""
        if x.ndim == 3:
            x = x[:, None]
        else:
            x = np.moveaxis(x, -1, 1)
        return np.ascontiguousarray(x).astype(np.float32) / np.float32(255.0) if x.dtype == np.uint8 else x

    def __repr__(self):
        return "ToTensor()"


class PILToTensor:
    """PIL image -> uint8 tensor (C, H, W), not scaled."""

    def __call__(self, pic):
        a, _ = as_hwc_array(pic)
        return as_tensor(np.ascontiguousarray(np.moveaxis(a, -1, 0)))

    def __repr__(self):
        return "PILToTensor()"


class ConvertImageDtype:
    """Tensor image to ``dtype``, rescaling integers to [0, 1] floats."""

    def __init__(self, dtype):
        self.dtype = resolve_dtype(dtype, "ConvertImageDtype")

    def __call__(self, image):
        a = np.asarray(image)
        if a.dtype.kind in "iu" and self.dtype.kind == "f":
            return as_tensor(a.astype(self.dtype) / np.asarray(np.iinfo(a.dtype).max, self.dtype))
        return as_tensor(a.astype(self.dtype))


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a float tensor (C, H, W) or (B, C, H, W)."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def _stats(self, dtype, channels):
        mean = np.asarray(self.mean, dtype=dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=dtype).reshape(-1, 1, 1)
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to division by zero.")
        for v in (mean, std):
            if v.shape[0] not in (1, channels):
                raise RuntimeError(f"Normalize: {v.shape[0]} means/stds for an image of {channels} channels.")
        return mean, std

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Input tensor should be a torch tensor. Got {type(tensor)}.")
        a = np.asarray(tensor)
        if a.dtype.kind != "f":
            raise TypeError(f"Input tensor should be a float tensor. Got {a.dtype}.")
        mean, std = self._stats(a.dtype, a.shape[-3])
        return as_tensor((a - mean) / std)

    def batch(self, x):
        mean, std = self._stats(x.dtype, x.shape[-3])
        return (x - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Apply a function to the image."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"


class _RandomFlip:
    axis = 1

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if _random.generator().random() >= self.p:
            return img
        a, kind = as_hwc_array(img)
        return from_hwc_array(np.flip(a, self.axis), kind, img)

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right with probability ``p``."""

    axis = 1


class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom with probability ``p``."""

    axis = 0


def _pad_hwc(a, pad, fill, mode):
    left, top, right, bottom = pad
    widths = ((top, bottom), (left, right), (0, 0))
    if mode == "constant":
        return np.pad(a, widths, mode="constant", constant_values=fill)
    np_mode = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}.get(mode)
    if np_mode is None:
        raise ValueError(f"padding_mode must be constant, edge, reflect or symmetric; got {mode!r}.")
    return np.pad(a, widths, mode=np_mode)


def _padding4(padding):
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    p = [int(v) for v in padding]
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    if len(p) == 4:
        return tuple(p)
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(p)} element tuple")


class Pad:
    """Pad the borders (``padding``: int, (left/right, top/bottom) or (left, top, right, bottom))."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = _padding4(padding), fill, padding_mode

    def __call__(self, img):
        a, kind = as_hwc_array(img)
        return from_hwc_array(_pad_hwc(a, self.padding, self.fill, self.padding_mode), kind, img)


class RandomCrop:
    """A random ``size`` crop, after optional ``padding``."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size_hw(size, "RandomCrop")
        self.padding = None if padding is None else _padding4(padding)
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def __call__(self, img):
        a, kind = as_hwc_array(img)
        if self.padding is not None:
            a = _pad_hwc(a, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        if self.pad_if_needed and (a.shape[0] < th or a.shape[1] < tw):
            dh, dw = max(th - a.shape[0], 0), max(tw - a.shape[1], 0)
            a = _pad_hwc(a, (dw, dh, dw, dh), self.fill, self.padding_mode)
        h, w = a.shape[:2]
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        g = _random.generator()
        i = int(g.integers(0, h - th + 1))
        j = int(g.integers(0, w - tw + 1))
        return from_hwc_array(a[i:i + th, j:j + tw], kind, img)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class CenterCrop:
    """The central ``size`` crop (padded with zeros when the image is smaller)."""

    def __init__(self, size):
        self.size = _size_hw(size, "CenterCrop")

    def __call__(self, img):
        a, kind = as_hwc_array(img)
        th, tw = self.size
        h, w = a.shape[:2]
        if h < th or w < tw:
            dh, dw = max(th - h, 0), max(tw - w, 0)
            a = _pad_hwc(a, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2), 0, "constant")
            h, w = a.shape[:2]
        i, j = round((h - th) / 2.0), round((w - tw) / 2.0)
        return from_hwc_array(a[i:i + th, j:j + tw], kind, img)

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


class Resize:
    """Resize to ``size`` ((h, w), or an int for the shorter side) with Pillow (bilinear by default)."""

    def __init__(self, size, interpolation=None, max_size=None, antialias=True):
        self.size, self.interpolation = size, interpolation

    def _target(self, h, w):
        if isinstance(self.size, numbers.Integral) or (isinstance(self.size, (list, tuple)) and len(self.size) == 1):
            s = int(self.size if isinstance(self.size, numbers.Integral) else self.size[0])
            return (s, int(s * w / h)) if h <= w else (int(s * h / w), s)
        return int(self.size[0]), int(self.size[1])

    def __call__(self, img):
        Image = pil_module()
        if Image is None:
            raise UnsupportedTorchAPI("torchvision.transforms.Resize without Pillow", "install Pillow "
                                      "(pip install pillow) or resize the data beforehand", kind="call")
        a, kind = as_hwc_array(img)
        th, tw = self._target(*a.shape[:2])
        if kind == "tensor" and a.dtype.kind == "f":
            chans = [np.asarray(Image.fromarray(a[:, :, c].astype(np.float32), mode="F").resize((tw, th),
                                                                                               Image.BILINEAR))
                     for c in range(a.shape[2])]
            return from_hwc_array(np.stack(chans, -1).astype(a.dtype), kind, img)
        pil = img if is_pil(img) else to_pil(a)
        resample = _resample(self.interpolation, Image)
        out = pil.resize((tw, th), resample)
        return out if kind == "pil" else from_hwc_array(as_hwc_array(out)[0], kind, img)

    def __repr__(self):
        return f"Resize(size={self.size})"


def _resample(interpolation, Image):
    name = getattr(interpolation, "name", interpolation)
    table = {None: Image.BILINEAR, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST, "bicubic": Image.BICUBIC,
             "BILINEAR": Image.BILINEAR, "NEAREST": Image.NEAREST, "BICUBIC": Image.BICUBIC}
    return table.get(name, Image.BILINEAR) if not isinstance(name, int) else name


class Grayscale:
    """RGB -> grey with ITU-R 601-2 luma (``L = R * 299/1000 + G * 587/1000 + B * 114/1000``)."""

    def __init__(self, num_output_channels=1):
        self.num_output_channels = int(num_output_channels)

    def __call__(self, img):
        a, kind = as_hwc_array(img)
        if a.shape[2] == 3:
            grey = a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
            grey = np.round(grey).astype(a.dtype) if a.dtype == np.uint8 else grey.astype(a.dtype)
            a = grey[:, :, None]
        a = np.repeat(a, self.num_output_channels, axis=2)
        if kind == "pil":
            return to_pil(a, "L" if self.num_output_channels == 1 else "RGB")
        return from_hwc_array(a, kind, img)


class ToPILImage:
    """A (C, H, W) tensor (floats in [0, 1] are scaled to 0..255) or an (H, W[, C]) array -> PIL image."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        a, _ = as_hwc_array(pic)
        if a.dtype.kind == "f":
            a = (a * 255).clip(0, 255).astype(np.uint8)
        return to_pil(a, self.mode)


class RandomApply:
    """Apply the list of ``transforms`` with probability ``p``."""

    def __init__(self, transforms, p=0.5):
        self.transforms, self.p = list(transforms), p

    def __call__(self, img):
        if _random.generator().random() >= self.p:
            return img
        for t in self.transforms:
            img = t(img)
        return img


_BATCHABLE = (ToTensor, Normalize)


def _steps(transform):
    if transform is None:
        return []
    if isinstance(transform, Compose):
        return [s for t in transform.transforms for s in _steps(t)]
    return [transform]


def is_batchable(transform) -> bool:
    """True when ``transform`` is ToTensor followed by Normalize steps only (exact on a batch of arrays)."""
    steps = _steps(transform)
    return bool(steps) and type(steps[0]) is ToTensor and all(type(s) is Normalize for s in steps[1:])


def batch_apply(transform, images):
    """Apply a batchable ``transform`` to uint8 images (B, H, W[, C]) -> float32 (B, C, H, W)."""
    x = images
    for step in _steps(transform):
        x = step.batch(x)
    return x
