""""hihello": an LSTM learns to map "hihell" to "ihello" (the first lab of the RNN lecture).

Five characters ``h i e l o``; the input is "hihell", the target the same word shifted by
one, "ihello". Two steps need context: ``h`` is followed by ``i`` the first time and by
``e`` the second; ``l`` by ``l`` and then by ``o``. A lookup table from the current
character cannot do it; an LSTM, which carries a state along the word, learns it within a
few dozen Adam steps::

    x_t = onehot("hihell"[t])                       (5,)
    h_t, c_t = LSTM(x_t, (h_{t-1}, c_{t-1}))        hidden 8
    logits_t = h_t W^T + b                           (5,) -> argmax should be "ihello"[t]

Run it: ``python -m nnbasics.demo.hihello``.

Example:
    >>> result = run(rng=0)
    >>> result["predicted"], result["first_exact_step"] <= 50
    ('ihello', True)
"""

from __future__ import annotations

import argparse

from ..data.text import CharVocab
from .charseq import SequenceModel, check_demo_args, one_hot, train_sequence

__all__ = ["main", "run"]

WORD = "hihello"


def run(*, steps: int = 50, hidden: int = 8, lr: float = 0.1, rng=0, out=None) -> dict:
    """Train on "hihell" -> "ihello" for ``steps`` Adam steps.

    Returns:
        dict: ``predicted`` (the argmax string after training), ``target`` ("ihello"),
        ``first_exact_step`` (first step count at which all 6 are right, or None),
        ``losses`` and ``accuracy`` per step.
    """
    check_demo_args(steps, hidden, lr)
    vocab = CharVocab("hielo")  # the lab's order of idx2char
    ids = vocab.encode(WORD)
    x, y = one_hot(ids[None, :-1], len(vocab)), ids[None, 1:]
    res = train_sequence(SequenceModel(len(vocab), hidden, rng=rng), x, y, steps=steps, lr=lr)
    predicted = vocab.decode(res["predictions"][0])
    if out is not None:
        for s in range(0, steps + 1, max(1, steps // 10)):
            out(f"step {s:>3}  loss {res['losses'][s]:.4f}  accuracy {res['accuracy'][s]:.3f}")
        out(f"input 'hihell' -> predicted {predicted!r} (target 'ihello'); "
            f"exact after {res['first_exact_step']} steps")
    return {"predicted": predicted, "target": WORD[1:], "first_exact_step": res["first_exact_step"],
            "losses": res["losses"], "accuracy": res["accuracy"]}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m nnbasics.demo.hihello", description="an LSTM learns hihell -> ihello")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--hidden", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    return run(steps=a.steps, hidden=a.hidden, lr=a.lr, rng=a.seed, out=print)


if __name__ == "__main__":
    main()
