"""Parameter: a Tensor that a Module registers as trainable."""

from __future__ import annotations

from ..tensor import Tensor, _to_array

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` by default, registered by Modules on assignment.

    Args:
        data: array or Tensor (not copied; float32 by default for Python numbers).
        requires_grad: whether optimizers should train it.

    Example:
        >>> import numpy as np
        >>> p = Parameter(np.zeros((2, 3), dtype=np.float32))
        >>> p.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(_to_array(data), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
