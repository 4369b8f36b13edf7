"""Parameter: a Tensor that a Module registers as trainable."""

from __future__ import annotations

from ..tensor import Tensor
from ..tensor_base import to_array

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` by default, registered by Modules on assignment.

    As ``torch.nn.Parameter``, it uses the given data's memory and dtype (no copy, no float32
    conversion of a float64 array, unlike ``Tensor(...)``).

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

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = to_array([], "float32")
        vc = data._vc if isinstance(data, Tensor) else [0]
        self._init(to_array(data), requires_grad, None, vc)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
