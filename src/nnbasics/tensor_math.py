"""The Tensor methods of PyTorch's everyday math (``x.sin()``, ``x.cumsum(0)``, ``x.flip(0)``...).

:class:`TensorMath` is a base of :class:`nnbasics.Tensor`; each method is the function of the
same name in :mod:`nnbasics.ops.unary`, :mod:`nnbasics.ops.scan` or
:mod:`nnbasics.functional.tensor_math`, called on the tensor, as ``torch.f(x, ...) == x.f(...)``.
It also has the few attributes torch code reads about memory (``stride``, ``data_ptr``,
``get_device``...), answered for NumPy's arrays on the CPU.

Example:
    >>> import nnbasics as nb
    >>> x = nb.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.cumsum(1).tolist(), x.prod().item(), x.flip(1).tolist()
    ([[1.0, 3.0], [3.0, 7.0]], 24.0, [[2.0, 1.0], [4.0, 3.0]])
"""

from __future__ import annotations

__all__ = ["TensorMath"]

_UNARY = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "log1p", "expm1")
_SCAN = ("cumsum", "cumprod", "prod")
_COMPOSED = (
    "square", "reciprocal", "rsqrt", "exp2", "log2", "log10", "clamp_min", "clamp_max", "lerp", "logaddexp",
    "hypot", "frac", "deg2rad", "rad2deg", "xlogy", "norm", "dist", "diff", "count_nonzero", "dot", "mv", "outer",
    "bmm", "addmm", "trace", "tril", "triu", "diag", "flip", "roll", "narrow", "index_select", "masked_select",
    "take", "unbind", "movedim", "swapaxes", "tile", "repeat_interleave", "tensor_split", "unflatten", "unique",
    "bincount", "histc", "argwhere", "nan_to_num", "isclose", "logical_and", "logical_or", "logical_xor",
    "logical_not",
)


def _method(module_name, name):
    def method(self, *args, **kwargs):
        import importlib

        return getattr(importlib.import_module(module_name), name)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``{name}`` of this tensor: see :func:`{module_name}.{name}`."
    return method


class TensorMath:
    """Mixin of :class:`nnbasics.Tensor`: the math methods listed in the module docstring."""

    __slots__ = ()

    def ndimension(self) -> int:
        """Number of dimensions (torch's old name of ``dim()``)."""
        return self._array.ndim

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dim (NumPy's byte strides / item size)."""
        st = tuple(s // self._array.itemsize for s in self._array.strides)
        return st if dim is None else st[dim]

    def data_ptr(self) -> int:
        """Address of the first element (NumPy's ``__array_interface__['data']``)."""
        return int(self._array.__array_interface__["data"][0])

    def get_device(self) -> int:
        """-1: the CPU (torch's answer for CPU tensors)."""
        return -1

    def pin_memory(self):
        """The tensor itself: pinned memory is a CUDA transfer optimization (torch returns a copy)."""
        return self

    def share_memory_(self):
        """The tensor itself: NumPy arrays are shared by whoever holds them in this process."""
        return self

    def sgn(self):
        """The sign (-1, 0, 1), as ``sign`` for real tensors."""
        return self.sign()

    def __contains__(self, element):
        import numpy as np

        return bool((self._array == np.asarray(element)).any())


for _name in _UNARY:
    setattr(TensorMath, _name, _method("nnbasics.ops.unary", _name))
for _name in _SCAN:
    setattr(TensorMath, _name, _method("nnbasics.ops.scan", _name))
for _name in _COMPOSED:
    setattr(TensorMath, _name, _method("nnbasics.functional.tensor_math", _name))
del _name
