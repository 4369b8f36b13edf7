"""``torchvision.transforms``: the per-sample image transforms of beginner scripts.

Each works on a PIL image, a uint8 array (H, W[, C]) or a tensor (C, H, W), as torchvision's do,
and returns the same kind (``ToTensor`` turns an image into a float tensor in [0, 1]). The
random ones draw from the global generator (``torch.manual_seed``). ``ToTensor`` and
``Normalize`` (alone or in a ``Compose``) also run on a whole batch of arrays at once
(:func:`batch_apply`), which the datasets use to fill a DataLoader batch in one call.
"""

from ...unsupported import module_getattr
from . import functional
from .transforms import (
                         CenterCrop,
                         Compose,
                         ConvertImageDtype,
                         Grayscale,
                         Lambda,
                         Normalize,
                         Pad,
                         PILToTensor,
                         RandomApply,
                         RandomCrop,
                         RandomHorizontalFlip,
                         RandomVerticalFlip,
                         Resize,
                         ToPILImage,
                         ToTensor,
                         batch_apply,
                         is_batchable,
)

__all__ = ["CenterCrop", "Compose", "ConvertImageDtype", "Grayscale", "Lambda", "Normalize", "PILToTensor", "Pad",
           "RandomApply", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "ToPILImage",
           "ToTensor", "batch_apply", "functional", "is_batchable"]

__getattr__ = module_getattr(__name__)
