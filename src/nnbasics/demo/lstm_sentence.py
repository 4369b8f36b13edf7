"""A 2-layer LSTM learns a long sentence from short windows (the lecture lab's "ship" sentence).

The sentence is cut into overlapping windows of ``window`` characters (stride 1); each
window's target is the same window shifted by one character. The model sees only
``window`` characters at a time, starting from a zero state, so it must infer where it is
in the sentence from the window itself::

    x_i = sentence[i : i + window]      y_i = sentence[i + 1 : i + window + 1]     i = 0 .. L - window - 1
    2-layer LSTM (one-hot in, hidden H) -> Linear -> logits at every step

After training, the sentence is rebuilt from the predictions: all of window 0's, then the
last prediction of every following window. The lab's result: the whole sentence back.

Run it: ``python -m nnbasics.demo.lstm_sentence``.

Example:
    >>> r = run(rng=0)
    >>> r["accuracy"] > 0.95
    True
"""

from __future__ import annotations

import argparse

import numpy as np

from .._validate import is_int
from ..data.text import CharVocab
from .charseq import SequenceModel, check_demo_args, one_hot, train_sequence

__all__ = ["SENTENCE", "main", "run", "windows"]

SENTENCE = ("if you want to build a ship, don't drum up people together to collect wood and don't assign "
            "them tasks and work, but rather teach them to long for the endless immensity of the sea.")


def windows(ids, window: int):
    """``(x, y)`` of shape ``(L - window, window)``: every stride-1 window and its one-step shift."""
    ids = np.asarray(ids)
    n = len(ids) - window
    idx = np.arange(n)[:, None] + np.arange(window)  # (n, window)
    return ids[idx], ids[idx + 1]


def rebuild(pred) -> np.ndarray:
    """The sentence (from its second character) from per-window predictions ``(n, window)``."""
    return np.concatenate([pred[0], pred[1:, -1]])


def run(text: str = SENTENCE, *, window: int = 10, steps: int = 100, hidden: int = 32, num_layers: int = 2,
        lr: float = 0.05, rng=0, out=None) -> dict:
    """Train a ``num_layers``-layer LSTM on all windows of ``text`` (full batch, Adam).

    Returns:
        dict: ``target`` (text[1:]), ``predicted`` (rebuilt from the windows), ``accuracy``
        (share of characters of the rebuilt sentence that are right), ``window_accuracy``
        (over all window positions), ``losses``, ``num_windows``.
    """
    check_demo_args(steps, hidden, lr)
    if not is_int(window) or window < 1:
        raise ValueError(f"lstm_sentence: window must be a positive int. Got {window!r}.")
    if not isinstance(text, str) or len(text) < window + 2:
        raise ValueError(f"lstm_sentence: text must have at least window + 2 = {window + 2} characters.")
    vocab = CharVocab.from_text(text)
    xi, yi = windows(vocab.encode(text), window)
    model = SequenceModel(len(vocab), hidden, num_layers=num_layers, rng=rng)
    res = train_sequence(model, one_hot(xi, len(vocab)), yi, steps=steps, lr=lr)
    pred = rebuild(res["predictions"])
    target = vocab.encode(text[1:])
    r = {"target": text[1:], "predicted": vocab.decode(pred), "accuracy": float((pred == target).mean()),
         "window_accuracy": res["accuracy"][-1], "losses": res["losses"], "num_windows": len(xi)}
    if out is not None:
        out(f"{len(xi)} windows of {window} characters, {len(vocab)} distinct characters, "
            f"{num_layers}-layer LSTM of {hidden}")
        for s in range(0, steps + 1, max(1, steps // 10)):
            out(f"step {s:>4}  loss {res['losses'][s]:.4f}  window accuracy {res['accuracy'][s]:.3f}")
        out(f"rebuilt sentence (accuracy {r['accuracy']:.3f}):")
        out(r["predicted"])
    return r


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m nnbasics.demo.lstm_sentence",
                                description="a 2-layer LSTM learns a long sentence from windows")
    p.add_argument("--text", default=SENTENCE)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    return run(a.text, window=a.window, steps=a.steps, hidden=a.hidden, num_layers=a.layers, lr=a.lr, rng=a.seed,
               out=print)


if __name__ == "__main__":
    main()
