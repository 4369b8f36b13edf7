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

    dW[v] = sum of g over the positions whose index is v (repeated indices accumulate: a
    scatter-add); the row ``padding_idx`` gets no gradient.
    """

    def forward(self, weight, *, indices, padding_idx=None):
        self.indices, self.padding_idx, self.num = indices, padding_idx, weight.shape[0]
        return weight[indices]

    def backward(self, g):
        dw = xp.zeros((self.num, g.shape[-1]), dtype=g.dtype)
        xp.add.at(dw, self.indices.reshape(-1), g.reshape(-1, g.shape[-1]))
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0
        return (dw,)
