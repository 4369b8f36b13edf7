"""``torch.utils``: :mod:`.data` (datasets and loaders)."""

from ...unsupported import module_getattr
from . import data

__all__ = ["data"]

__getattr__ = module_getattr(__name__)
