"""Truncated backpropagation through time (TBPTT) as a strategy of ``fit``, and a character-level LM trainer.

A long stream is folded into ``batch`` parallel streams (:func:`~nnbasics.data.text.batchify`)
and walked in windows of ``seq_len`` steps. The recurrent state is carried from one window
to the next (so the model conditions on everything it has read), but the graph is cut
between windows (:func:`~nnbasics.nn.rnn_utils.detach_state`), so each backward pass runs
through at most ``seq_len`` steps and memory stays bounded::

    state = None
    for x, y in bptt_chunks(streams, seq_len):
        logits, state = model(x, state)      # forward from the carried state
        loss = cross_entropy(logits, y)      # mean nats per character of this window
        loss.backward(); clip; step          # gradients reach back seq_len steps only
        state = detach_state(state)          # keep the values, drop the graph

That loop is :func:`~nnbasics.training.fit`'s, given :class:`TruncatedBPTT` as its data (the
windows of an epoch, in order) and ``windows.carry(model)`` as its model (the state carried and
cut): there is one training loop in the library. :func:`train_char_lm` trains a character
language model that way, evaluating, saving and stopping through fit's callbacks.

Losses are in nats per character; perplexity is ``exp(loss)`` (the vocabulary size for a
uniform guess). ``bits per character = loss / ln 2``.

Example:
    >>> run = train_char_lm("hello world. " * 40, model={"model": "char-lstm", "hidden_size": 16,
    ...                     "embedding_dim": 8}, seq_len=8, batch_size=4, steps=20, rng=0)
    >>> run.history["val_loss"][-1] < run.history["val_loss"][0]
    True
"""

from __future__ import annotations

import numpy as np

from .._validate import check_int
from ..autograd import no_grad
from ..data.text import bptt_chunks
from ..functional import cross_entropy
from ..nn.module import Module
from ..nn.rnn_utils import detach_state
from ..optim.clip import clip_grad_norm_
from ..rng import as_generator
from ..tensor import Tensor, as_tensor

__all__ = ["CarryState", "CharLMRun", "TruncatedBPTT", "evaluate_stream", "load_char_lm", "sequence_loss",
           "tbptt_step", "train_char_lm"]


def sequence_loss(logits, targets):
    """Mean cross-entropy of ``(N, T, V)`` logits against ``(N, T)`` integer targets (array or Tensor)."""
    v = logits.shape[-1]
    y = targets._array if isinstance(targets, Tensor) else targets
    return cross_entropy(logits.reshape(-1, v), as_tensor(np.ascontiguousarray(y).reshape(-1)))


class TruncatedBPTT:
    """Truncated BPTT as ``fit``'s data: the windows of parallel streams in order, the state carried across them.

    Iterating gives one epoch: the ``(x, y)`` windows of :func:`~nnbasics.data.text.bptt_chunks`
    from an offset (drawn below ``seq_len`` from ``rng`` when ``random_offset``, so windows do not
    always cut the text at the same characters; else 0), with the carried state reset first.
    :meth:`carry` wraps the model for ``fit``: each window starts from the state the previous one
    left, and that state is kept detached, so gradients reach back ``seq_len`` steps only.

    Args:
        streams: ``(batch, T)`` int ids from :func:`~nnbasics.data.text.batchify`, ``T >= 2``.
        seq_len: window length (int >= 1).
        random_offset: draw each epoch's offset from ``rng``.
        rng: Generator, int seed or None (the offsets); kept as ``generator``, which ``fit``'s
            checkpoints save as the loader's stream.

    Attributes:
        state: the state carried into the next window (None at the start of an epoch).
        start (int | None), done (int): this epoch's offset and the windows it has given so far.

    Example:
        >>> from nnbasics.data.text import CharVocab, batchify
        >>> from nnbasics.models import build_model
        >>> from nnbasics.optim import Adam
        >>> from nnbasics.training import fit
        >>> vocab = CharVocab.from_text("abcab" * 30)
        >>> net = build_model({"model": "char-gru", "vocab_size": len(vocab), "hidden_size": 8}, rng=0)
        >>> windows = TruncatedBPTT(batchify(vocab.encode("abcab" * 30), 3), seq_len=10, rng=0)
        >>> h = fit(windows.carry(net), windows, loss=sequence_loss, metrics=(), epochs=2,
        ...         optimizer=Adam(net.parameters(), lr=0.01), grad_clip_norm=5.0, progress=False)
        >>> len(h["loss"])
        2
    """

    def __init__(self, streams, seq_len: int, *, random_offset: bool = False, rng=None):
        s = np.asarray(streams)
        if s.ndim != 2 or s.dtype.kind not in "iu" or s.shape[1] < 2:
            raise ValueError(f"TruncatedBPTT: streams must be (batch, T) integer ids with T >= 2 (from batchify). "
                             f"Got shape {s.shape}, dtype {s.dtype}.")
        self.streams, self.seq_len = s, check_int(seq_len, "seq_len of TruncatedBPTT", low=1)
        self.random_offset = bool(random_offset)
        self.generator = as_generator(rng)
        self.state, self.start, self.done = None, None, 0
        self._continue = False

    def _offset(self) -> int:
        top = min(self.seq_len, self.streams.shape[1] - 1)
        return int(self.generator.integers(0, top)) if self.random_offset and top > 1 else 0

    def __iter__(self):
        if self._continue:  # an interrupted epoch goes on: same offset, the windows done skipped
            self._continue, skip = False, self.done
        else:
            self.start, skip, self.state = self._offset(), 0, None
        for i, window in enumerate(bptt_chunks(self.streams, self.seq_len, start=self.start)):
            if i >= skip:
                self.done = i + 1
                yield window

    @property
    def continuing(self) -> bool:
        """True when the next epoch goes on with an interrupted one (see :meth:`continue_epoch`)."""
        return self._continue

    def windows(self, start: int = 0) -> int:
        """The number of windows of an epoch that starts at ``start``."""
        return len(range(start, self.streams.shape[1] - 1, self.seq_len))

    def continue_epoch(self, start: int, done: int, state) -> bool:
        """Make the next epoch go on from an interrupted one: its offset, the windows done, the carried state.

        Returns False (and the next epoch starts afresh) when that epoch had no windows left.
        """
        self.start, self.done, self.state = start, done, state
        self._continue = done < self.windows(start)
        return self._continue

    def carry(self, model) -> CarryState:
        """``model(x, state) -> (output, state)`` wrapped for ``fit``: see :class:`CarryState`."""
        return CarryState(model, self)


class CarryState(Module):
    """A recurrent model ``model(x, state) -> (output, state)`` as ``fit`` calls it: ``forward(x) -> output``.

    Each call starts from ``windows.state`` and leaves the new state there, detached from the
    graph (:func:`~nnbasics.nn.rnn_utils.detach_state`): truncated BPTT. Its parameters are the
    model's (``carry.model``); save and load ``carry.model``.

    Args:
        model: the recurrent model, e.g. :class:`~nnbasics.models.rnn.CharRNN`.
        windows: the :class:`TruncatedBPTT` holding the carried state.

    Shape:
        x ``(N, T)`` -> the model's output, e.g. logits ``(N, T, V)``.
    """

    def __init__(self, model, windows: TruncatedBPTT):
        super().__init__()
        self.model = model
        self.windows = windows

    def forward(self, x):
        out, state = self.model(x, self.windows.state)
        self.windows.state = detach_state(state)
        return out


def tbptt_step(model, x, y, state, optimizer, *, clip: float | None = None, loss_fn=None):
    """One truncated-BPTT update on a window, written out: forward from ``state``, backward, clip, step, cut.

    ``fit`` with :class:`TruncatedBPTT` runs these same steps; this is the step by hand.

    Args:
        model: ``model(x, state) -> (output, new_state)``, e.g. :class:`~nnbasics.models.rnn.CharRNN`.
        x: the window's inputs, e.g. ``(N, T)`` ids (array or Tensor).
        y: the targets, e.g. ``(N, T)`` next ids.
        state: the state carried from the previous window (None at the start of a stream).
        optimizer: an ``nnbasics.optim`` optimizer over the model's parameters.
        clip: clip the global gradient 2-norm to this value (None: no clipping).
        loss_fn: ``loss_fn(output, y) -> scalar Tensor`` (default: :func:`sequence_loss`).

    Returns:
        (loss, state, grad_norm): the loss value (float), the new state detached from the
        graph, and the gradient norm before clipping (float; NaN when ``clip`` is None).
    """
    loss_fn = sequence_loss if loss_fn is None else loss_fn
    out, state = model(x if isinstance(x, Tensor) else as_tensor(np.asarray(x)), state)
    loss = loss_fn(out, y)
    optimizer.zero_grad()
    loss.backward()
    norm = float("nan")
    if clip is not None:
        norm = float(clip_grad_norm_(model.parameters(), clip).item())
    optimizer.step()
    return float(loss.item()), detach_state(state), norm


def evaluate_stream(model, streams, seq_len: int, loss_fn=None) -> float:
    """Mean loss per predicted step over ``(batch, T)`` streams, state carried, no graph, eval mode.

    Every window's loss is weighted by its number of steps, so the result is the mean
    nats per character of the whole stream (``T - 1`` predictions per row). The model's
    train/eval mode is restored.
    """
    loss_fn = sequence_loss if loss_fn is None else loss_fn
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with no_grad():
            for x, y in bptt_chunks(streams, seq_len):
                out, state = model(as_tensor(x), state)
                total += float(loss_fn(out, y).item()) * y.size
                count += y.size
    finally:
        model.train(was_training)
    return total / count


# The character LM trainer builds on the strategy above; it began in this module and is importable from it.
from .char_lm import CharLMRun, load_char_lm, train_char_lm
