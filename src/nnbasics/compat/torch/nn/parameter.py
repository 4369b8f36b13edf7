"""``torch.nn.parameter``: :class:`Parameter` (nnbasics' own)."""

from ....nn.parameter import Parameter
from ...unsupported import module_getattr

__all__ = ["Parameter"]

__getattr__ = module_getattr(__name__)
