"""Embedding lookup: rows of a weight matrix picked by integer indices."""

from __future__ import annotations

from ..autograd import Function
from ..backend import xp

__all__ = ["EmbeddingIndexError", "EmbeddingLookup"]


class EmbeddingIndexError(IndexError, ValueError):
    """An index outside [0, num_embeddings): an IndexError (as in PyTorch) and a ValueError."""


class EmbeddingLookup(Function):
    """z = W[indices] (rows of W).

    Shape: W (V, D), indices (*) of ints in [0, V) -> (*, D).

    dW[v] = sum of g over the positions whose index is v (repeated indices accumulate);
    the row ``padding_idx`` gets no gradient. The sum is scatter-free: the M positions are
    sorted by index once and each run of equal indices is summed by ``np.add.reduceat``
    (O(M log M + M D), no ``np.add.at``, which is slow on NumPy < 2).
    """

    def forward(self, weight, *, indices, padding_idx=None):
        self.indices, self.padding_idx, self.num = indices, padding_idx, weight.shape[0]
        return weight[indices]

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
