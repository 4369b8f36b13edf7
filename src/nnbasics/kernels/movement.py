"""Indexing's gradient in a reused array.

``x[index]``'s gradient is a zero array of x's shape with g written at ``index``; for the
slices of a recurrent layer's (T + 1, N, H) output that is megabytes per step. This kernel takes
the zeroed array from :mod:`nnbasics.kernels.workspace` (no page faults on fresh memory).
"""

from __future__ import annotations

from ..dispatch import register
from ..ops import movement as ref
from . import workspace


@register(ref.GetItem)
class GetItem(ref.GetItem):
    """:class:`nnbasics.ops.movement.GetItem` with its gradient in a workspace array."""

    def backward(self, g):
        return (ref.scatter_index(workspace.zeros(self.shape, g.dtype), self.index, g),)
