"""The embedding gradient without a scatter: sorted runs summed by ``np.add.reduceat``.

The reference scatter-adds g into dW with ``np.add.at``, which is slow on NumPy < 2. Here the
M positions are sorted by index once (stably, so each row's terms are added in their original
order) and each run of equal indices is summed by one ``reduceat``: O(M log M + M D).
"""

from __future__ import annotations

from ..backend import xp
from ..dispatch import register
from ..ops import embedding as ref


@register(ref.EmbeddingLookup)
class EmbeddingLookup(ref.EmbeddingLookup):
    """:class:`nnbasics.ops.embedding.EmbeddingLookup` with a sort-and-reduceat backward."""

    def backward(self, g):
        V = self.num
        D = g.shape[-1]
        flat = self.indices.reshape(-1)
        g2 = g.reshape(-1, D)
        dw = xp.zeros((V, D), dtype=g.dtype)
        if flat.size:
            order = xp.argsort(flat, kind="stable")
            s = flat[order]
            starts = xp.flatnonzero(xp.concatenate(([True], s[1:] != s[:-1])))
            dw[s[starts]] = xp.add.reduceat(g2[order], starts, axis=0)
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0
        return (dw,)
