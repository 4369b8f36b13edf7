"""Recurrent building blocks as functions: embedding lookup, single RNN/LSTM/GRU cell steps,
and whole-sequence layers (the ops of :mod:`nnbasics.ops.recurrent`).

The ``*_cell`` functions run one time step through the layer op (a sequence of
length 1), so a cell and a layer share one implementation and one backward. The
``*_cell_composed`` twins write the same formulas with elementary ops: they are the
readable definition and the test oracle of the fused ops.
"""

from __future__ import annotations

from .._validate import is_int
from ..backend import xp
from ..ops.embedding import EmbeddingIndexError, EmbeddingLookup
from ..ops.recurrent import gru_layer, lstm_layer, rnn_layer
from ..ops.util import as_operand
from ..tensor import Tensor

__all__ = [
    "embedding",
    "gru_cell",
    "gru_cell_composed",
    "gru_layer",
    "lstm_cell",
    "lstm_cell_composed",
    "lstm_layer",
    "rnn_cell",
    "rnn_cell_composed",
    "rnn_layer",
]


def embedding(input, weight, padding_idx=None, *, owner="embedding") -> Tensor:
    """Look up rows of ``weight``: ``out[..., :] = weight[input[...], :]`` (PyTorch's ``F.embedding``).

    Args:
        input: integer indices (any shape), each in [0, num_embeddings).
        weight: (num_embeddings, embedding_dim) float Tensor.
        padding_idx: a row that receives no gradient (negative counts from the end), or None.
        owner: name used in error messages (the module's class name).

    Shape:
        input (*), weight (V, D) -> (*, D).

    Returns:
        Tensor: the picked rows; dW accumulates g over repeated indices (see
        :class:`~nnbasics.ops.embedding.EmbeddingLookup`).

    Raises:
        TypeError: indices that are not integers.
        EmbeddingIndexError (an IndexError and a ValueError): an index < 0 or >= num_embeddings.

    Example:
        >>> import nnbasics as nb
        >>> w = nb.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
        >>> embedding(nb.tensor([2, 0]), w).tolist()
        [[4.0, 5.0], [0.0, 1.0]]
    """
    w = as_operand(weight)
    if w.ndim != 2:
        raise ValueError(f"{owner}: expected weight of shape (num_embeddings, embedding_dim); got {tuple(w.shape)}.")
    V = w.shape[0]
    idx = input._array if isinstance(input, Tensor) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"{owner}: expected integer indices (int64), got dtype {idx.dtype}. Convert them with .long()."
        )
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= V:
            bad = lo if lo < 0 else hi
            raise EmbeddingIndexError(
                f"{owner}: index {bad} is out of range; expected indices in [0, {V}) "
                f"(num_embeddings = {V}). Negative indices are not allowed."
            )
    if padding_idx is not None:
        padding_idx = check_padding_idx(padding_idx, V, owner)
    return EmbeddingLookup.apply(w, indices=idx, padding_idx=padding_idx)


def check_padding_idx(padding_idx, num_embeddings, owner):
    """``padding_idx`` as a row index in [0, V); negative values count from the end, as in PyTorch."""
    ok = is_int(padding_idx)
    if not ok or not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"{owner}: padding_idx must be an int in [-{num_embeddings}, {num_embeddings}) "
            f"(num_embeddings = {num_embeddings}). Got {padding_idx!r}."
        )
    return int(padding_idx) % num_embeddings


# ------------------------------------------------------------------- fused cells (one step)
def _bias(b_ih, b_hh):
    return () if b_ih is None else (b_ih, b_hh)


def rnn_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity="tanh") -> Tensor:
    """One Elman step h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh) (fused; see :class:`RNNLayer`).

    Shape: input (N, I), hx (N, H), w_ih (H, I), w_hh (H, H), biases (H,) -> (N, H).
    """
    out = rnn_layer(as_operand(input).unsqueeze(0), hx, w_ih, w_hh, *_bias(b_ih, b_hh), nonlinearity=nonlinearity)
    return out[0]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (fused; see :class:`LSTMLayer`); ``hx`` = (h, c). Returns (h', c').

    Shape: input (N, I), h and c (N, H), w_ih (4H, I), w_hh (4H, H), biases (4H,) -> (N, H) each.
    """
    h, c = hx
    out = lstm_layer(as_operand(input).unsqueeze(0), h, c, w_ih, w_hh, *_bias(b_ih, b_hh))  # (2, N, H)
    return out[0], out[1]


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step (fused; see :class:`GRULayer`).

    Shape: input (N, I), hx (N, H), w_ih (3H, I), w_hh (3H, H), biases (3H,) -> (N, H).
    """
    return gru_layer(as_operand(input).unsqueeze(0), hx, w_ih, w_hh, *_bias(b_ih, b_hh))[0]


# ------------------------------------------------------------ composed twins (test oracles)
def _affine(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def rnn_cell_composed(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity="tanh") -> Tensor:
    """:func:`rnn_cell` written with elementary ops (slow; the readable definition)."""
    a = _affine(input, w_ih, b_ih) + _affine(hx, w_hh, b_hh)
    return a.relu() if nonlinearity == "relu" else a.tanh()


def lstm_cell_composed(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """:func:`lstm_cell` written with elementary ops: gates (i, f, g, o) as in PyTorch."""
    h, c = hx
    a = _affine(input, w_ih, b_ih) + _affine(h, w_hh, b_hh)  # (N, 4H)
    H = a.shape[-1] // 4
    i, f = a[:, :H].sigmoid(), a[:, H : 2 * H].sigmoid()
    g, o = a[:, 2 * H : 3 * H].tanh(), a[:, 3 * H :].sigmoid()
    c2 = f * c + i * g
    return o * c2.tanh(), c2


def gru_cell_composed(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """:func:`gru_cell` written with elementary ops: gates (r, z, n), n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""
    gi = _affine(input, w_ih, b_ih)  # (N, 3H)
    gh = _affine(hx, w_hh, b_hh)
    H = gi.shape[-1] // 3
    r = (gi[:, :H] + gh[:, :H]).sigmoid()
    z = (gi[:, H : 2 * H] + gh[:, H : 2 * H]).sigmoid()
    n = (gi[:, 2 * H :] + r * gh[:, 2 * H :]).tanh()
    return (1 - z) * n + z * hx


