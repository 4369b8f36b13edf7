"""Predictive uncertainty: Monte-Carlo dropout class probabilities, entropy, and how well it flags errors.

Used by the ``dropout`` experiment. Gal & Ghahramani 2016 (https://arxiv.org/abs/1506.02142):
keeping dropout on at test time and averaging T stochastic passes approximates the predictive
distribution of a Bayesian network; its spread is a measure of the model's uncertainty.

Example:
    >>> import numpy as np
    >>> predictive_entropy(np.array([[0.5, 0.5], [1.0, 0.0]])).round(4).tolist()
    [0.6931, 0.0]
    >>> auroc(scores=[0.9, 0.8, 0.1, 0.2], positive=[True, True, False, False])
    1.0
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["auroc", "mc_dropout_stats", "predictive_entropy"]


def predictive_entropy(probs) -> np.ndarray:
    """Entropy in nats of each row of class probabilities: H = -sum_c p_c log p_c (0 log 0 = 0).

    Shape:
        (N, C) -> (N,)
    """
    p = np.asarray(probs, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return 0.0 - terms.sum(-1)  # 0.0 - x, not -x: a certain row's entropy is 0.0, never -0.0


def auroc(scores, positive) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties 1/2.

    The Mann-Whitney U statistic divided by n_pos * n_neg. NaN when either class is empty.
    Here: how well an uncertainty score separates misclassified (positive) from correct examples.
    """
    s = np.asarray(scores, np.float64)
    pos = np.asarray(positive, bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1, dtype=np.float64)
    for val in np.unique(s):  # average ranks over ties
        tie = s == val
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def _softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def mc_dropout_stats(model, X, y, *, T=30, rng=None, batch_size=2048) -> dict:
    """Monte-Carlo dropout on (X, y): the mean of T dropout-on passes, against the usual eval pass.

    Each pass runs :func:`nnbasics.nn.mc_dropout_predict` on ``model`` followed by a softmax,
    so the average is over class *probabilities* (not logits), as Gal & Ghahramani do.

    Args:
        model: a classifier with at least one Dropout module (returns logits (N, C)).
        X, y: inputs and integer labels.
        T: stochastic passes (>= 2).
        rng: Generator, int seed or None: the dropout masks of the T passes.
        batch_size: inputs per chunk.

    Returns:
        dict: ``mc_accuracy`` (argmax of the mean probabilities), ``eval_accuracy`` (dropout
        off: the weight-scaling rule), ``entropy_correct`` / ``entropy_wrong`` (mean predictive
        entropy, nats, of the MC prediction on correctly / wrongly classified examples),
        ``std_correct`` / ``std_wrong`` (mean over examples of the std across passes of the
        predicted class's probability), ``auroc_entropy`` (how well MC entropy flags the
        errors), ``auroc_eval_entropy`` (the same for the plain softmax's entropy),
        ``n_wrong``, ``T``, and the per-example arrays ``entropy`` and ``correct``.
    """
    from ... import nn
    from ...nn.dropout import mc_dropout_predict
    from ...rng import as_generator
    from ...tensor import as_tensor
    from ...training import predict

    gen = as_generator(rng)
    y = np.asarray(y)
    probs_model = nn.Sequential(model, nn.Softmax(dim=-1))
    means, variances = [], []
    for i in range(0, len(X), batch_size):
        m, v = mc_dropout_predict(probs_model, as_tensor(np.asarray(X[i:i + batch_size])), T=int(T), rng=gen)
        means.append(m._array.astype(np.float64))
        variances.append(v._array.astype(np.float64))
    mean, var = np.concatenate(means), np.concatenate(variances)
    pred = mean.argmax(-1)
    correct = pred == y
    entropy = predictive_entropy(mean)
    std_pred = np.sqrt(np.maximum(var[np.arange(len(y)), pred], 0.0))
    eval_probs = _softmax(predict(model, X, batch_size=batch_size))
    eval_correct = eval_probs.argmax(-1) == y

    def mean_of(a, mask):
        return float(a[mask].mean()) if mask.any() else math.nan

    return {
        "T": int(T),
        "mc_accuracy": float(correct.mean()),
        "eval_accuracy": float(eval_correct.mean()),
        "entropy_correct": mean_of(entropy, correct),
        "entropy_wrong": mean_of(entropy, ~correct),
        "std_correct": mean_of(std_pred, correct),
        "std_wrong": mean_of(std_pred, ~correct),
        "auroc_entropy": auroc(entropy, ~correct),
        "auroc_eval_entropy": auroc(predictive_entropy(eval_probs), ~eval_correct),
        "n_wrong": int((~correct).sum()),
        "entropy": entropy.astype(np.float32),
        "correct": correct,
    }
