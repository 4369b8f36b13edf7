"""``torch.Tensor`` of the compat namespace: the type of every nnbasics tensor, and torch's legacy constructor.

``isinstance(x, torch.Tensor)`` is true for every :class:`nnbasics.Tensor`; ``torch.Tensor(2, 3)``
builds a (2, 3) float tensor and ``torch.Tensor([1, 2])`` a float tensor of the data, as in torch
(``nnbasics.Tensor(data, requires_grad)`` has another signature, so the name cannot simply be the
class). Attribute access (``torch.Tensor.add``) reaches nnbasics.Tensor's methods. Subclassing
``torch.Tensor`` is not supported.

Example:
    >>> import nnbasics as nb
    >>> isinstance(nb.ones(2), Tensor), Tensor(2, 3).shape
    (True, (2, 3))
"""

from __future__ import annotations

from ...tensor import Tensor as _NbTensor
from ..unsupported import UnsupportedTorchAPI
from ._creation import Tensor_new


class _TensorMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _NbTensor)

    def __subclasscheck__(cls, sub):
        return isinstance(sub, type) and issubclass(sub, _NbTensor)

    def __call__(cls, *args, **kwargs):
        return Tensor_new(*args, **kwargs)

    def __getattr__(cls, name):
        try:
            return getattr(_NbTensor, name)
        except AttributeError:
            if name.startswith("__"):
                raise
            raise UnsupportedTorchAPI(f"torch.Tensor.{name}") from None

    def __repr__(cls):
        return "<class 'torch.Tensor'>"


class Tensor(metaclass=_TensorMeta):
    """torch.Tensor: see the module docstring."""

