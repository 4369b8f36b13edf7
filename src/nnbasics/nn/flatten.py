"""Flatten and Unflatten: reshape a range of dims, keeping the batch dim."""

from __future__ import annotations

import math
import numbers

from .._validate import is_int
from ..ops import flatten, reshape
from ..ops.util import as_operand
from .module import Module

__all__ = ["Flatten", "Unflatten"]


def _check_dim(dim, name, owner):
    if not is_int(dim):
        raise TypeError(f"{name} of {owner} must be an int. Got {dim!r}.")
    return int(dim)


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one.

    Args:
        start_dim: first dim to merge (default 1: keep the batch dim).
        end_dim: last dim to merge (default -1).

    Shape:
        (N, C, H, W) -> (N, C*H*W) with the defaults.

    Example:
        >>> import nnbasics as nb
        >>> Flatten()(nb.zeros(2, 3, 5)).shape
        (2, 15)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = _check_dim(start_dim, "start_dim", "Flatten")
        self.end_dim = _check_dim(end_dim, "end_dim", "Flatten")

    def forward(self, x):
        x = as_operand(x)
        s = self.start_dim + x.ndim if self.start_dim < 0 else self.start_dim
        e = self.end_dim + x.ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= s < max(x.ndim, 1) and 0 <= e < max(x.ndim, 1)) or s > e:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) expected an input with dims "
                f"{self.start_dim}..{self.end_dim} in order; got shape {tuple(x.shape)} ({x.ndim} dims)."
            )
        return flatten(x, s, e)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``; the inverse of :class:`Flatten`.

    Args:
        dim: the dim to split.
        unflattened_size: the new sizes (one may be -1); their product must equal the dim's size.

    Shape:
        (N, C*H*W) -> (N, C, H, W) for ``Unflatten(1, (C, H, W))``.
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = _check_dim(dim, "dim", "Unflatten")
        sizes = tuple(unflattened_size)
        if not sizes or any(not isinstance(s, numbers.Integral) or (s < 1 and s != -1) for s in sizes) \
                or sizes.count(-1) > 1:
            raise ValueError(
                f"unflattened_size of Unflatten must be positive ints (at most one -1). Got {unflattened_size!r}."
            )
        self.unflattened_size = tuple(int(s) for s in sizes)

    def forward(self, x):
        x = as_operand(x)
        d = self.dim + x.ndim if self.dim < 0 else self.dim
        known = math.prod(s for s in self.unflattened_size if s != -1)
        ok = 0 <= d < x.ndim and (
            x.shape[d] == known if -1 not in self.unflattened_size else known and x.shape[d] % known == 0
        )
        if not ok:
            raise ValueError(
                f"Unflatten(dim={self.dim}, unflattened_size={self.unflattened_size}) expected an input whose "
                f"dim {self.dim} has size {known}{' times an int' if -1 in self.unflattened_size else ''}; "
                f"got shape {tuple(x.shape)}."
            )
        return reshape(x, *x.shape[:d], *self.unflattened_size, *x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
