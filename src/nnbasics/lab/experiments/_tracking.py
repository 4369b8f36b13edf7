"""Train a classifier and record train *and* test loss/accuracy in eval mode after every epoch.

Shared by the overfitting experiments (``dropout``, ``ensemble``, ``data``). ``fit`` logs the
training metrics with dropout ON (the masks are part of the training loss), which is not the
number that measures memorization: a net that has memorized its training set still shows a
dropout-noisy training loss. The train/test gap is therefore measured here with both sets
evaluated in eval mode (dropout off), as Srivastava et al. 2014 report it.

Example:
    >>> import numpy as np
    >>> from nnbasics.models.mlp import mlp
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32); y = (X[:, 0] > 0).astype(np.int64)
    >>> curves = train_tracked(mlp(in_features=3, hidden=[8], out_features=2, rng=0), (X, y), (X, y),
    ...                        epochs=2, rng=0)
    >>> sorted(curves), len(curves["test_acc"])
    (['epoch', 'test_acc', 'test_loss', 'train_acc', 'train_loss'], 2)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["accuracy_gap", "spearman", "train_tracked", "updates_to_epochs"]


def _eval_callback(train, test, curves, every, epochs):
    from ...training import Callback, evaluate

    class _Track(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % every and epoch + 1 != epochs:
                return
            tr = evaluate(self.context.model, train, batch_size=1024)
            te = evaluate(self.context.model, test, batch_size=1024)
            curves["epoch"].append(epoch + 1)
            curves["train_loss"].append(tr["loss"])
            curves["train_acc"].append(tr["accuracy"])
            curves["test_loss"].append(te["loss"])
            curves["test_acc"].append(te["accuracy"])

    return _Track()


def train_tracked(model, train, test, *, epochs, lr=1e-3, batch_size=32, weight_decay=0.0, rng=None,
                  every=1) -> dict:
    """Train ``model`` with Adam and cross-entropy; evaluate both sets in eval mode every ``every`` epochs.

    Args:
        model: a classifier Module returning logits (N, C).
        train, test: ``(X, y)`` array pairs.
        epochs: number of passes over ``train``.
        lr, weight_decay: Adam's settings.
        batch_size: mini-batch size.
        rng: Generator, int seed or None: the shuffling order.
        every: evaluate every this many epochs (and always after the last).

    Returns:
        dict of lists, one entry per evaluation: ``epoch`` (1-based), ``train_loss``,
        ``train_acc``, ``test_loss``, ``test_acc`` (floats).
    """
    from ...optim import Adam
    from ...training import fit

    curves = {"epoch": [], "train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    opt = Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    fit(model, train, epochs=epochs, optimizer=opt, batch_size=batch_size, rng=rng, progress=False,
        callbacks=[_eval_callback(train, test, curves, max(1, int(every)), epochs)])
    return curves


def accuracy_gap(curves: dict, index: int = -1) -> float:
    """Train accuracy minus test accuracy at evaluation ``index`` (default: after the last epoch)."""
    return float(curves["train_acc"][index] - curves["test_acc"][index])


def updates_to_epochs(n: int, batch_size: int, updates: int) -> int:
    """Epochs needed for at least ``updates`` optimizer steps on ``n`` samples (at least 1)."""
    per_epoch = max(1, math.ceil(n / batch_size))
    return max(1, math.ceil(updates / per_epoch))


def spearman(x, y) -> float:
    """Spearman rank correlation of two 1-D sequences (average ranks for ties); NaN if either is constant."""
    def ranks(v):
        v = np.asarray(v, np.float64)
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=np.float64)
        for val in np.unique(v):  # average the ranks of ties
            tie = v == val
            r[tie] = r[tie].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])
