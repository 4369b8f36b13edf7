"""``torchvision.transforms.functional``: the transforms as functions."""

from __future__ import annotations

import numpy as np

from ...unsupported import module_getattr
from .._image import as_hwc_array, from_hwc_array
from .transforms import CenterCrop, Grayscale, Normalize, Pad, ToPILImage, ToTensor

__all__ = ["center_crop", "hflip", "normalize", "pad", "rgb_to_grayscale", "to_grayscale", "to_pil_image",
           "to_tensor", "vflip"]


def to_tensor(pic):
    return ToTensor()(pic)


def normalize(tensor, mean, std, inplace=False):
    return Normalize(mean, std)(tensor)


def to_pil_image(pic, mode=None):
    return ToPILImage(mode)(pic)


def hflip(img):
    a, kind = as_hwc_array(img)
    return from_hwc_array(np.flip(a, 1), kind, img)


def vflip(img):
    a, kind = as_hwc_array(img)
    return from_hwc_array(np.flip(a, 0), kind, img)


def center_crop(img, output_size):
    return CenterCrop(output_size)(img)


def pad(img, padding, fill=0, padding_mode="constant"):
    return Pad(padding, fill, padding_mode)(img)


def rgb_to_grayscale(img, num_output_channels=1):
    return Grayscale(num_output_channels)(img)


to_grayscale = rgb_to_grayscale

__getattr__ = module_getattr(__name__)
