"""The named tuples that PyTorch's ``max(dim)``, ``sort``, ``topk``... return (``torch.return_types``).

Each is a tuple ``(values, indices)`` (so ``_, pred = out.max(1)`` unpacks as in PyTorch) with
the fields ``.values`` and ``.indices``.

Example:
    >>> import nnbasics as nb
    >>> values, indices = nb.tensor([[1.0, 5.0], [7.0, 2.0]]).max(1)
    >>> indices.tolist()
    [1, 0]
"""

from __future__ import annotations

from collections import namedtuple

__all__ = ["kthvalue", "max", "median", "min", "mode", "sort", "topk"]


def _values_indices(name):
    cls = namedtuple(name, ["values", "indices"])
    cls.__module__ = __name__
    cls.__qualname__ = name
    cls.__doc__ = f"``{name}(values, indices)``: what PyTorch's ``{name}`` with a dim returns."
    cls.__repr__ = lambda self: f"nnbasics.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return cls


max = _values_indices("max")
min = _values_indices("min")
sort = _values_indices("sort")
topk = _values_indices("topk")
kthvalue = _values_indices("kthvalue")
median = _values_indices("median")
mode = _values_indices("mode")
