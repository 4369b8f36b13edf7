"""A character sequence reproduced exactly by an LSTM (the lecture lab "if you want you").

The network reads the sentence one character at a time (one-hot vectors) and at every
step predicts the next character::

    x = "if you want yo"      (the sentence without its last character)
    y = "f you want you"      (the sentence shifted by one)

    h_t, c_t = LSTM(onehot(x_t), (h_{t-1}, c_{t-1}))     hidden H
    logits_t = h_t W^T + b                                 (V,), V = number of distinct characters

trained with full-sequence cross-entropy and Adam. A character such as ``' '`` or ``'o'``
is followed by different characters at different places ("o" -> "u" twice, but " " -> "y",
"w", "y"), so getting every step right needs the context that the recurrent state carries;
:mod:`nnbasics.demo.softmax_baseline` shows the same task without recurrence.

Run it: ``python -m nnbasics.demo.charseq --text "if you want you" --steps 100``.

Example:
    >>> result = run(rng=0)
    >>> result["predicted"] == result["target"]
    True
"""

from __future__ import annotations

import argparse
import numbers

import numpy as np

from .. import nn
from .._validate import is_int
from ..autograd import no_grad
from ..data.text import CharVocab
from ..functional import cross_entropy
from ..optim import Adam
from ..rng import as_generator
from ..tensor import as_tensor

__all__ = ["DEFAULT_TEXT", "SequenceModel", "main", "one_hot", "run", "train_sequence"]

DEFAULT_TEXT = "if you want you"


def one_hot(ids, num_classes: int) -> np.ndarray:
    """float32 one-hot vectors: ``(*ids.shape, num_classes)``."""
    ids = np.asarray(ids, dtype=np.int64)
    return np.eye(num_classes, dtype=np.float32)[ids]


class SequenceModel(nn.Module):
    """One-hot characters -> LSTM (``num_layers`` deep) -> Linear logits over the vocabulary, batch first.

    Shape:
        x ``(N, T, V)`` float -> logits ``(N, T, V)``.
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1, *, rng=None):
        super().__init__()
        g = as_generator(rng)
        self.rnn = nn.LSTM(vocab_size, hidden_size, num_layers=num_layers, batch_first=True, rng=g)
        self.fc = nn.Linear(hidden_size, vocab_size, rng=g)

    def forward(self, x):
        out, _ = self.rnn(x)  # (N, T, H)
        return self.fc(out)  # (N, T, V)


def train_sequence(model, x, y, *, steps: int, lr: float, stop_when_exact: bool = False):
    """Full-batch Adam on ``(N, T, V)`` one-hot inputs ``x`` and ``(N, T)`` targets ``y``.

    Returns:
        dict: ``losses`` (before each step, and after the last), ``accuracy`` (per step, the
        share of positions predicted right), ``first_exact_step`` (the first step count after
        which every position is right, or None), ``predictions`` ``(N, T)`` ids after training.
    """
    xt, yt = as_tensor(x), as_tensor(y.reshape(-1))
    opt = Adam(model.parameters(), lr=lr)
    losses, accuracy, first_exact = [], [], None
    for step in range(steps + 1):
        logits = model(xt)  # (N, T, V)
        loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), yt)
        pred = logits._array.argmax(-1)
        acc = float((pred == y).mean())
        losses.append(float(loss.item()))
        accuracy.append(acc)
        if acc == 1.0 and first_exact is None:
            first_exact = step
            if stop_when_exact:
                break
        if step == steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    with no_grad():
        pred = model(xt)._array.argmax(-1)
    return {"losses": losses, "accuracy": accuracy, "first_exact_step": first_exact, "predictions": pred}


def check_demo_args(steps, hidden, lr):
    if not is_int(steps) or steps < 1:
        raise ValueError(f"steps must be a positive int. Got {steps!r}.")
    if not is_int(hidden) or hidden < 1:
        raise ValueError(f"hidden must be a positive int. Got {hidden!r}.")
    if not (isinstance(lr, numbers.Real) and lr > 0):
        raise ValueError(f"lr must be > 0. Got {lr!r}.")


def run(text: str = DEFAULT_TEXT, *, steps: int = 100, hidden: int = 16, lr: float = 0.05, rng=0, out=None) -> dict:
    """Train an LSTM to reproduce ``text`` (predict each next character) and report.

    Args:
        text: at least 2 characters.
        steps: Adam steps on the whole sequence.
        hidden: LSTM hidden size.
        lr: Adam learning rate.
        rng: Generator, int seed or None (initialization).
        out: a print function for progress (None: silent).

    Returns:
        dict: ``target`` (text[1:]), ``predicted`` (the model's next-character string),
        ``accuracy``, ``first_exact_step``, ``losses``, ``vocab`` (the characters).
    """
    if not isinstance(text, str) or len(text) < 2:
        raise ValueError(f"charseq: text must be a string of at least 2 characters. Got {text!r}.")
    check_demo_args(steps, hidden, lr)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    x, y = one_hot(ids[None, :-1], len(vocab)), ids[None, 1:]
    model = SequenceModel(len(vocab), hidden, rng=rng)
    res = train_sequence(model, x, y, steps=steps, lr=lr)
    predicted = vocab.decode(res["predictions"][0])
    if out is not None:
        for s in range(0, steps + 1, max(1, steps // 10)):
            out(f"step {s:>4}  loss {res['losses'][s]:.4f}  accuracy {res['accuracy'][s]:.3f}")
        out(f"target:    {text[1:]!r}")
        out(f"predicted: {predicted!r}")
        out(f"exact after {res['first_exact_step']} steps" if res["first_exact_step"] is not None
            else "not exact yet: try more --steps")
    return {"target": text[1:], "predicted": predicted, "accuracy": res["accuracy"][-1],
            "first_exact_step": res["first_exact_step"], "losses": res["losses"], "vocab": vocab.chars}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m nnbasics.demo.charseq", description=__doc__.split("\n")[0])
    p.add_argument("--text", default=DEFAULT_TEXT)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    return run(a.text, steps=a.steps, hidden=a.hidden, lr=a.lr, rng=a.seed, out=print)


if __name__ == "__main__":
    main()
