"""The image types torchvision's transforms accept: PIL images, uint8 arrays (H, W[, C]) and tensors (C, H, W).

Pillow is optional: without it, datasets hand out uint8 arrays, which every transform here accepts.
"""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor, as_tensor

__all__ = ["as_hwc_array", "from_hwc_array", "is_pil", "pil_module", "to_pil"]


def pil_module():
    """``PIL.Image`` or None."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def is_pil(img) -> bool:
    Image = pil_module()
    return Image is not None and isinstance(img, Image.Image)


def as_hwc_array(img):
    """``(array (H, W, C), kind)`` for a PIL image, an (H, W[, C]) array or a (C, H, W) tensor."""
    if is_pil(img):
        a = np.asarray(img)
        return (a[:, :, None] if a.ndim == 2 else a), "pil"
    if isinstance(img, Tensor):
        a = np.asarray(img)
        if a.ndim == 2:
            a = a[None]
        return np.moveaxis(a, -3, -1), "tensor"
    a = np.asarray(img)
    if a.ndim == 2:
        return a[:, :, None], "array2d"
    if a.ndim == 3:
        return a, "array"
    raise TypeError(f"expected a PIL image, an (H, W[, C]) array or a (C, H, W) tensor; got shape {a.shape}.")


def from_hwc_array(a, kind, like=None):
    """Inverse of :func:`as_hwc_array`: back to the caller's image type."""
    if kind == "pil":
        return to_pil(a, getattr(like, "mode", None))
    if kind == "tensor":
        return as_tensor(np.ascontiguousarray(np.moveaxis(a, -1, -3)))
    if kind == "array2d":
        return np.ascontiguousarray(a[:, :, 0])
    return np.ascontiguousarray(a)


def to_pil(a, mode=None):
    Image = pil_module()
    if Image is None:
        raise ImportError("this transform needs Pillow (pip install pillow).")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    img = Image.fromarray(np.ascontiguousarray(a))
    return img.convert(mode) if mode and img.mode != mode else img
