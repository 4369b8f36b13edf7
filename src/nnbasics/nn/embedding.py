"""Embedding: a lookup table of learned vectors, one row per token id (PyTorch's ``nn.Embedding``)."""

from __future__ import annotations

from .._validate import check_positive_int, float_dtype
from ..autograd import no_grad
from ..backend import xp
from ..device import check_device
from ..functional.recurrent import check_padding_idx, embedding
from ..rng import as_generator
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """Map integer ids to learned vectors: ``out[..., :] = weight[input[...], :]``.

    Args:
        num_embeddings: size of the vocabulary V (ids are in [0, V)).
        embedding_dim: size D of each vector.
        padding_idx: an id whose row is initialised to zeros and never receives a gradient
            (e.g. the padding token of variable-length batches); negative counts from the end.
        rng: Generator, int seed or None, for :meth:`reset_parameters`.
        dtype: parameter dtype (float32 by default).

    Shape:
        input (*) of int64 -> output (*, embedding_dim).

    Attributes:
        weight (Parameter): (num_embeddings, embedding_dim), N(0, 1) as in PyTorch, row
            ``padding_idx`` zero.

    Raises:
        EmbeddingIndexError (IndexError and ValueError) from forward for an id outside [0, V).

    Example:
        >>> import nnbasics as nb
        >>> emb = Embedding(10, 3, padding_idx=0, rng=0)
        >>> emb(nb.tensor([[1, 2, 0]])).shape
        (1, 3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, *, rng=None, device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings of Embedding")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim of Embedding")
        self.padding_idx = None if padding_idx is None else check_padding_idx(padding_idx, self.num_embeddings, "Embedding")
        dtype = float_dtype(dtype, "dtype of Embedding")
        self._rng = as_generator(rng)
        self.weight = Parameter(xp.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """Redraw the weight from N(0, 1) (PyTorch's default) and zero the padding row."""
        gen = self._rng if rng is None else as_generator(rng)
        self.weight._array[...] = gen.standard_normal(self.weight.shape)
        if self.padding_idx is not None:
            self.weight._array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, *, dtype=None) -> Embedding:
        """An Embedding holding a copy of ``embeddings`` (V, D); frozen (no gradient) by default.

        Unlike a fresh Embedding, the ``padding_idx`` row is kept as given (PyTorch does the same).

        Example:
            >>> import numpy as np
            >>> Embedding.from_pretrained(np.eye(3, dtype=np.float32)).weight.requires_grad
            False
        """
        arr = xp.asarray(embeddings._array if isinstance(embeddings, Tensor) else embeddings)
        if arr.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: expected a 2-D (num_embeddings, embedding_dim) array; "
                f"got shape {arr.shape}."
            )
        if dtype is None and arr.dtype.kind == "f":
            dtype = arr.dtype
        m = cls(arr.shape[0], arr.shape[1], padding_idx, rng=0, dtype=dtype)
        with no_grad():
            m.weight._array[...] = arr
        m.weight.requires_grad = not freeze
        return m

    def forward(self, input):
        """Rows of ``weight`` for each id: (*) -> (*, embedding_dim)."""
        return embedding(input, self.weight, self.padding_idx, owner="Embedding")

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"
