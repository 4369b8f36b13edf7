"""Recurrent models of the zoo: character language models, a many-to-one classifier, and sampling.

Registered names (``nnbasics.models.build_model(name, **kwargs)``):

* ``"char-lstm"``, ``"char-gru"``, ``"char-rnn"`` -- :class:`CharRNN`: Embedding -> LSTM/GRU/tanh RNN
  -> Linear over the vocabulary, batch first; ``model(x, state) -> (logits, state)``.
* ``"sequence-classifier"`` -- :class:`SequenceClassifier`: variable-length batches with lengths
  -> one class per sequence (many-to-one).

:func:`sample` generates text from a character model with temperature sampling.

Example:
    >>> import nnbasics as nb
    >>> from nnbasics.models import build_model
    >>> lm = build_model("char-lstm", vocab_size=5, embedding_dim=4, hidden_size=8, rng=0)
    >>> logits, (h, c) = lm(nb.tensor([[0, 1, 2]]))
    >>> logits.shape, h.shape
    ((1, 3, 5), (1, 1, 8))
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .._validate import check_positive_int, is_int, is_real
from ..autograd import no_grad
from ..nn.module import Module
from ..nn.rnn_utils import last_step, masked_mean
from ..rng import as_generator
from ..tensor import as_tensor
from .registry import register_model

__all__ = ["CharRNN", "SequenceClassifier", "char_gru", "char_lstm", "char_rnn", "sample", "sequence_classifier"]

_CELLS = ("lstm", "gru", "rnn")


def _dropout_p(p, owner):
    if not is_real(p) or not 0 <= p < 1:
        raise ValueError(f"{owner}: dropout must be in [0, 1). Got {p!r}.")
    return float(p)


def _recurrent_layer(cell, input_size, hidden_size, num_layers, dropout, rng, owner):
    """nn.LSTM / nn.GRU / nn.RNN (tanh), batch first."""
    if cell not in _CELLS:
        raise ValueError(f"{owner}: cell must be one of {_CELLS}. Got {cell!r}.")
    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
    return cls(input_size, hidden_size, num_layers=num_layers, batch_first=True,
               dropout=dropout if num_layers > 1 else 0.0, rng=rng)


class CharRNN(Module):
    """Character-level language model: Embedding -> recurrent layers -> Linear over the vocabulary.

    At each step the model reads one character id and outputs logits for the next one.
    With ``dropout > 0`` dropout is applied between recurrent layers (by the layer) and to
    the last layer's output before the decoder.

    Args:
        vocab_size: number of characters V.
        embedding_dim: size E of each character's embedding.
        hidden_size: hidden size H of each recurrent layer.
        num_layers: stacked recurrent layers.
        dropout: dropout probability in [0, 1).
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh).
        rng: Generator, int seed or None, for initialization and dropout.

    Shape:
        x ``(N, T)`` int ids, state as the recurrent layer takes it (``(h, c)`` with each
        ``(num_layers, N, H)`` for an LSTM, ``h`` for GRU/RNN, or None for zeros)
        -> logits ``(N, T, V)``, new state.

    Example:
        >>> import nnbasics as nb
        >>> m = CharRNN(vocab_size=6, embedding_dim=3, hidden_size=5, cell="gru", rng=0)
        >>> logits, h = m(nb.tensor([[1, 2], [3, 4]]))
        >>> logits.shape, h.shape
        ((2, 2, 6), (1, 2, 5))
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 dropout: float = 0.0, cell: str = "lstm", *, rng=None):
        super().__init__()
        owner = "CharRNN"
        self.vocab_size = check_positive_int(vocab_size, f"{owner}: vocab_size")
        self.embedding_dim = check_positive_int(embedding_dim, f"{owner}: embedding_dim")
        self.hidden_size = check_positive_int(hidden_size, f"{owner}: hidden_size")
        self.num_layers = check_positive_int(num_layers, f"{owner}: num_layers")
        self.dropout_p = _dropout_p(dropout, owner)
        self.cell = cell
        g = as_generator(rng)
        self.embedding = nn.Embedding(self.vocab_size, self.embedding_dim, rng=g)
        self.rnn = _recurrent_layer(cell, self.embedding_dim, self.hidden_size, self.num_layers, self.dropout_p,
                                    g, owner)
        self.drop = nn.Dropout(self.dropout_p, rng=g)
        self.decoder = nn.Linear(self.hidden_size, self.vocab_size, rng=g)

    def forward(self, x, state=None):
        x = as_tensor(x)
        if x.ndim != 2 or x.dtype.kind not in "iu":
            raise ValueError(f"CharRNN: expected (N, T) integer character ids. Got shape {tuple(x.shape)}, "
                             f"dtype {x.dtype}; encode text with CharVocab.encode and add a batch dim.")
        emb = self.embedding(x)  # (N, T, E)
        out, state = self.rnn(emb, state)  # (N, T, H)
        return self.decoder(self.drop(out)), state  # (N, T, V)

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}"


class SequenceClassifier(Module):
    """Many-to-one classifier for variable-length batches: recurrent layers, then one step's (or the mean) state.

    The batch is right-padded; ``lengths`` gives each sequence's valid steps. With
    ``pooling="last"`` the output at step ``lengths[b] - 1`` is classified, with ``"mean"``
    the mean over the valid steps. Padding never changes the result (the recurrence is
    unidirectional and padding comes after the valid steps).

    Args:
        num_classes: C.
        vocab_size: for integer token inputs (an Embedding is added); give this or ``input_size``.
        input_size: for float feature inputs ``(N, T, F)``.
        embedding_dim: E (token inputs only).
        hidden_size: H.
        num_layers: stacked recurrent layers.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        dropout: between recurrent layers and before the classifier, in [0, 1).
        pooling: ``"last"`` or ``"mean"``.
        padding_idx: token id used for padding (its embedding stays zero); token inputs only.
        rng: Generator, int seed or None.

    Shape:
        x ``(N, T)`` ids or ``(N, T, F)`` floats, lengths ``(N,)`` ints in [1, T] (None: all T)
        -> logits ``(N, C)``.

    Example:
        >>> import nnbasics as nb
        >>> m = SequenceClassifier(3, vocab_size=10, embedding_dim=4, hidden_size=5, rng=0)
        >>> m(nb.tensor([[1, 2, 0], [4, 0, 0]]), lengths=[2, 1]).shape
        (2, 3)
    """

    def __init__(self, num_classes: int, *, vocab_size: int | None = None, input_size: int | None = None,
                 embedding_dim: int = 32, hidden_size: int = 64, num_layers: int = 1, cell: str = "lstm",
                 dropout: float = 0.0, pooling: str = "last", padding_idx: int | None = 0, rng=None):
        super().__init__()
        owner = "SequenceClassifier"
        self.num_classes = check_positive_int(num_classes, f"{owner}: num_classes")
        if (vocab_size is None) == (input_size is None):
            raise ValueError(f"{owner}: give exactly one of vocab_size (token inputs) or input_size (float "
                             f"features). Got vocab_size={vocab_size!r}, input_size={input_size!r}.")
        if pooling not in ("last", "mean"):
            raise ValueError(f"{owner}: pooling must be 'last' or 'mean'. Got {pooling!r}.")
        self.pooling = pooling
        self.cell = cell
        p = _dropout_p(dropout, owner)
        g = as_generator(rng)
        if vocab_size is not None:
            vocab_size = check_positive_int(vocab_size, f"{owner}: vocab_size")
            self.embedding = nn.Embedding(vocab_size, check_positive_int(embedding_dim, f"{owner}: embedding_dim"),
                                          padding_idx=padding_idx, rng=g)
            feat = embedding_dim
            self.input_size = None
        else:
            self.add_module("embedding", None)
            feat = self.input_size = check_positive_int(input_size, f"{owner}: input_size")
        hidden_size = check_positive_int(hidden_size, f"{owner}: hidden_size")
        num_layers = check_positive_int(num_layers, f"{owner}: num_layers")
        self.rnn = _recurrent_layer(cell, feat, hidden_size, num_layers, p, g, owner)
        self.drop = nn.Dropout(p, rng=g)
        self.classifier = nn.Linear(hidden_size, self.num_classes, rng=g)

    def forward(self, x, lengths=None):
        x = as_tensor(x)
        if self.embedding is not None:
            if x.ndim != 2 or x.dtype.kind not in "iu":
                raise ValueError(f"SequenceClassifier: expected (N, T) integer token ids. Got shape "
                                 f"{tuple(x.shape)}, dtype {x.dtype}.")
            feats = self.embedding(x)  # (N, T, E)
        else:
            if x.ndim != 3 or x.shape[2] != self.input_size:
                raise ValueError(f"SequenceClassifier: expected float features (N, T, {self.input_size}). Got shape "
                                 f"{tuple(x.shape)}.")
            feats = x
        out, _ = self.rnn(feats)  # (N, T, H)
        if lengths is None:
            lengths = np.full(x.shape[0], x.shape[1], dtype=np.int64)
        pooled = last_step(out, lengths, batch_first=True) if self.pooling == "last" else masked_mean(
            out, lengths, batch_first=True)  # (N, H)
        return self.classifier(self.drop(pooled))  # (N, C)

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, pooling={self.pooling!r}"


# ------------------------------------------------------------------ registry
@register_model("char-lstm", description="character LM: Embedding -> LSTM -> Linear over the vocabulary")
def char_lstm(*, vocab_size, embedding_dim=64, hidden_size=256, num_layers=1, dropout=0.0, rng=None):
    """Character LM with LSTM layers (:class:`CharRNN`, ``cell="lstm"``)."""
    return CharRNN(vocab_size, embedding_dim, hidden_size, num_layers, dropout, cell="lstm", rng=rng)


@register_model("char-gru", description="character LM: Embedding -> GRU -> Linear over the vocabulary")
def char_gru(*, vocab_size, embedding_dim=64, hidden_size=256, num_layers=1, dropout=0.0, rng=None):
    """Character LM with GRU layers (:class:`CharRNN`, ``cell="gru"``)."""
    return CharRNN(vocab_size, embedding_dim, hidden_size, num_layers, dropout, cell="gru", rng=rng)


@register_model("char-rnn", description="character LM: Embedding -> tanh RNN -> Linear over the vocabulary")
def char_rnn(*, vocab_size, embedding_dim=64, hidden_size=256, num_layers=1, dropout=0.0, rng=None):
    """Character LM with vanilla tanh RNN layers (:class:`CharRNN`, ``cell="rnn"``)."""
    return CharRNN(vocab_size, embedding_dim, hidden_size, num_layers, dropout, cell="rnn", rng=rng)


@register_model("sequence-classifier", description="many-to-one RNN classifier for padded batches with lengths")
def sequence_classifier(*, num_classes, vocab_size=None, input_size=None, embedding_dim=32, hidden_size=64,
                        num_layers=1, cell="lstm", dropout=0.0, pooling="last", padding_idx=0, rng=None):
    """Many-to-one classifier (:class:`SequenceClassifier`)."""
    return SequenceClassifier(num_classes, vocab_size=vocab_size, input_size=input_size,
                              embedding_dim=embedding_dim, hidden_size=hidden_size, num_layers=num_layers,
                              cell=cell, dropout=dropout, pooling=pooling, padding_idx=padding_idx, rng=rng)


# ------------------------------------------------------------------ sampling
def _next_id(logits_row, temperature, rng, top_k):
    """Draw one id from logits (V,) at ``temperature`` (0: argmax)."""
    z = logits_row.astype(np.float64)
    if top_k is not None and top_k < z.size:
        cut = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= cut, z, -np.inf)
    if temperature == 0:
        return int(np.argmax(z))
    z = z / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    return int(rng.choice(z.size, p=p))


def sample(model, vocab, prime: str, length: int, temperature: float = 1.0, rng=None, top_k: int | None = None) -> str:
    """Generate text from a character model, one character at a time.

    The model reads ``prime`` (its state carried), then repeatedly draws the next character
    from ``softmax(logits / temperature)`` and feeds it back. Runs in eval mode without
    recording a graph; the model's train/eval mode is restored afterwards.

    Temperature: 1 samples the model's distribution; below 1 sharpens it (more likely,
    more repetitive text); above 1 flattens it. ``temperature=0`` is defined as greedy
    decoding (argmax at every step), the limit of temperature -> 0.

    Args:
        model: called as ``model(x (1, T) ids, state) -> (logits (1, T, V), state)``, e.g. :class:`CharRNN`.
        vocab: the :class:`~nnbasics.data.text.CharVocab` the model was trained with.
        prime: non-empty starting text (every character in the vocabulary).
        length: number of characters to generate (>= 0).
        temperature: >= 0 (0 = greedy).
        rng: Generator, int seed or None; the same seed gives the same text.
        top_k: if given, sample only among the ``top_k`` most likely characters.

    Returns:
        str: ``prime`` followed by ``length`` generated characters.

    Example:
        >>> import nnbasics as nb
        >>> from nnbasics.data.text import CharVocab
        >>> v = CharVocab("ab")
        >>> m = CharRNN(len(v), 3, 4, rng=0)
        >>> len(sample(m, v, "ab", 5, temperature=0.8, rng=0))
        7
    """
    if not isinstance(prime, str) or not prime:
        raise ValueError(f"sample: prime must be a non-empty string to start from. Got {prime!r}.")
    if not is_int(length) or length < 0:
        raise ValueError(f"sample: length must be an int >= 0. Got {length!r}.")
    if not is_real(temperature) or not temperature >= 0 \
            or not np.isfinite(temperature):
        raise ValueError(f"sample: temperature must be a finite number >= 0 (0 means greedy argmax, 1 the model's "
                         f"own distribution). Got {temperature!r}.")
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        raise ValueError(f"sample: top_k must be a positive int or None. Got {top_k!r}.")
    rng = as_generator(rng)
    ids = vocab.encode(prime)
    was_training = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            logits, state = model(as_tensor(ids[None, :]), None)
            for _ in range(length):
                nxt = _next_id(logits._array[0, -1], float(temperature), rng, top_k)
                out.append(nxt)
                logits, state = model(as_tensor(np.array([[nxt]], dtype=np.int64)), state)
    finally:
        model.train(was_training)
    return prime + vocab.decode(np.array(out, dtype=np.int64))
