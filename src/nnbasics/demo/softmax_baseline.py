"""The softmax-only baseline: next-character prediction without recurrence stalls.

The same task as :mod:`nnbasics.demo.charseq` -- predict each next character of a sentence
-- with a model that sees only the current character::

    logits_t = W onehot(x_t) + b            (a lookup table from one character to the next)

Whatever it learns, it must give the same answer every time a character recurs, so its
accuracy is bounded by the *context-free bound*: for each character, the share of its
occurrences followed by its most common successor. Its loss cannot go below the
conditional entropy H(next | current) of the text (in nats). The LSTM, which carries a
state through the sentence, reaches 100% on the same data: that gap is what recurrence buys.

Run it: ``python -m nnbasics.demo.softmax_baseline``.

Example:
    >>> r = run(rng=0)
    >>> r["baseline_accuracy"] <= r["context_free_bound"] < r["lstm_accuracy"] == 1.0
    True
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections import Counter, defaultdict

from .. import nn
from ..data.text import CharVocab
from .charseq import SequenceModel, check_demo_args, one_hot, train_sequence

__all__ = ["DEFAULT_TEXT", "conditional_entropy", "context_free_bound", "main", "run"]

DEFAULT_TEXT = "if you want to build a ship, don't drum up people together to collect wood"


def _successors(text):
    succ = defaultdict(Counter)
    for a, b in itertools.pairwise(text):
        succ[a][b] += 1
    return succ


def context_free_bound(text: str) -> float:
    """The best accuracy any model that sees only the current character can reach on ``text``."""
    succ = _successors(text)
    return sum(max(c.values()) for c in succ.values()) / (len(text) - 1)


def conditional_entropy(text: str) -> float:
    """H(next | current) in nats: the lowest mean cross-entropy a context-free model can reach."""
    succ = _successors(text)
    n = len(text) - 1
    h = 0.0
    for c in succ.values():
        tot = sum(c.values())
        h -= sum(k / n * math.log(k / tot) for k in c.values())
    return h


def run(text: str = DEFAULT_TEXT, *, steps: int = 150, hidden: int = 32, lr: float = 0.05, rng=0, out=None) -> dict:
    """Train the softmax-only model and an LSTM on the same sentence for ``steps`` Adam steps each.

    Returns:
        dict: ``baseline_accuracy``, ``lstm_accuracy``, ``context_free_bound``,
        ``baseline_loss`` / ``lstm_loss`` (final, nats/char), ``conditional_entropy`` (the
        baseline's loss floor), ``baseline_losses`` / ``lstm_losses`` (per step),
        ``baseline_predicted`` / ``lstm_predicted`` and ``target``.
    """
    if not isinstance(text, str) or len(text) < 2:
        raise ValueError(f"softmax_baseline: text must be a string of at least 2 characters. Got {text!r}.")
    check_demo_args(steps, hidden, lr)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    x, y = one_hot(ids[None, :-1], len(vocab)), ids[None, 1:]
    base = train_sequence(nn.Linear(len(vocab), len(vocab), rng=rng), x, y, steps=steps, lr=lr)
    lstm = train_sequence(SequenceModel(len(vocab), hidden, rng=rng), x, y, steps=steps, lr=lr)
    r = {
        "target": text[1:],
        "baseline_predicted": vocab.decode(base["predictions"][0]),
        "lstm_predicted": vocab.decode(lstm["predictions"][0]),
        "baseline_accuracy": base["accuracy"][-1],
        "lstm_accuracy": lstm["accuracy"][-1],
        "context_free_bound": context_free_bound(text),
        "baseline_loss": base["losses"][-1],
        "lstm_loss": lstm["losses"][-1],
        "conditional_entropy": conditional_entropy(text),
        "baseline_losses": base["losses"],
        "lstm_losses": lstm["losses"],
    }
    if out is not None:
        out(f"text: {text!r} ({len(vocab)} distinct characters)")
        out(f"{'step':>6} | {'softmax-only loss':>17} | {'LSTM loss':>9}")
        for s in range(0, steps + 1, max(1, steps // 10)):
            out(f"{s:>6} | {base['losses'][s]:17.4f} | {lstm['losses'][s]:9.4f}")
        out(f"softmax-only: accuracy {r['baseline_accuracy']:.3f} (bound {r['context_free_bound']:.3f}), "
            f"loss {r['baseline_loss']:.3f} (floor H(next|current) = {r['conditional_entropy']:.3f})")
        out(f"LSTM:         accuracy {r['lstm_accuracy']:.3f}, loss {r['lstm_loss']:.3f}")
        out(f"target:       {r['target']!r}")
        out(f"softmax-only: {r['baseline_predicted']!r}")
        out(f"LSTM:         {r['lstm_predicted']!r}")
    return r


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m nnbasics.demo.softmax_baseline",
                                description="softmax-only vs LSTM on next-character prediction")
    p.add_argument("--text", default=DEFAULT_TEXT)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    return run(a.text, steps=a.steps, hidden=a.hidden, lr=a.lr, rng=a.seed, out=print)


if __name__ == "__main__":
    main()
