"""Classification metrics on NumPy arrays, and streaming versions used by fit/evaluate.

Every function takes ``(outputs, targets)`` in the order of the losses (PyTorch's
``(input, target)``), as arrays or Tensors:

* ``outputs``: scores — logits or probabilities — of shape (N, C) or (N, C, d1, ...) with the
  class axis 1 (as ``cross_entropy``); or, for a binary classifier with one output, (N,) or
  (N, 1) logits, thresholded at ``threshold`` (0.0 for logits; pass 0.5 for probabilities).
* ``targets``: integer labels (N,) or (N, d1, ...); or one-hot / probability targets of the
  outputs' shape (their argmax is the label).

The streaming metrics (:class:`Accuracy`, :class:`TopKAccuracy`, :class:`ConfusionMatrix`)
accumulate counts over batches, so a metric over an epoch is exact whatever the batch sizes
(not an average of batch averages). :class:`EpochAccumulator` is what ``fit`` uses.

Example:
    >>> import numpy as np
    >>> logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.5, 0.0, 0.1]])
    >>> labels = np.array([0, 1, 1, 2])
    >>> accuracy(logits, labels)
    0.5
    >>> top_k_accuracy(logits, labels, k=2)
    0.75
    >>> confusion_matrix(logits, labels, num_classes=3).tolist()
    [[1, 0, 0], [0, 1, 1], [1, 0, 0]]
"""

from __future__ import annotations

import math
import re

import numpy as np

from .._validate import is_int
from ..tensor import Tensor

__all__ = [
    "Accuracy",
    "ConfusionMatrix",
    "EpochAccumulator",
    "MeanMetric",
    "Metric",
    "TopKAccuracy",
    "accuracy",
    "confusion_matrix",
    "get_metric",
    "per_class_accuracy",
    "predicted_labels",
    "top_k_accuracy",
]


def _array(x, name: str, owner: str) -> np.ndarray:
    arr = np.asarray(x._array if isinstance(x, Tensor) else x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: {name} must be numeric. Got dtype {arr.dtype}.")
    return arr


def _target_labels(outputs: np.ndarray, targets: np.ndarray, owner: str) -> np.ndarray:
    """Integer labels from ``targets``: as is when they are labels, argmax over axis 1 when one-hot."""
    if targets.shape == outputs.shape and outputs.ndim >= 2 and outputs.shape[1] > 1:
        return targets.argmax(axis=1)
    if targets.dtype.kind == "f" and not (np.all(np.isfinite(targets)) and np.array_equal(targets, np.round(targets))):
        raise ValueError(
            f"{owner}: targets must be integer class labels or one-hot rows of the outputs' shape "
            f"{outputs.shape}. Got float targets of shape {targets.shape} that are not whole numbers."
        )
    return targets.astype(np.int64)


def predicted_labels(outputs, targets=None, *, threshold: float = 0.0) -> np.ndarray:
    """The predicted class of each sample: argmax over the class axis 1, or ``outputs > threshold`` for binary.

    Args:
        outputs: scores (N, C, ...) or binary logits (N,) / (N, 1).
        targets: optional labels, used only to tell the cases apart: outputs with one more
            dimension than the targets, or the targets' shape with a class axis of size > 1,
            are multi-class; otherwise binary.
        threshold: decision threshold for binary outputs (0.0 for logits, 0.5 for probabilities).

    Returns:
        int64 array of labels, shape (N, ...) (the class axis removed; a binary (N, 1) stays (N, 1)).
    """
    out = _array(outputs, "outputs", "predicted_labels")
    if out.ndim == 0:
        raise ValueError("predicted_labels: outputs must have a batch dimension; got a scalar.")
    tgt = None if targets is None else _array(targets, "targets", "predicted_labels")
    binary = out.ndim == 1 or (out.ndim >= 2 and out.shape[1] == 1 and (tgt is None or tgt.ndim == out.ndim))
    if tgt is not None and tgt.ndim == out.ndim - 1:
        if out.shape[1] == 1:  # (N, 1) logits for (N,) targets
            return (out[:, 0] > threshold).astype(np.int64)
        binary = False
    if binary:
        return (out > threshold).astype(np.int64)
    return out.argmax(axis=1)


def _labels_pair(outputs, targets, owner: str, threshold: float = 0.0):
    out = _array(outputs, "outputs", owner)
    tgt = _array(targets, "targets", owner)
    if out.ndim == 0:
        raise ValueError(f"{owner}: outputs must have a batch dimension (N, ...); got a scalar.")
    if tgt.ndim == out.ndim - 1:
        if out.ndim >= 2 and out.shape[1] == 1 and tgt.shape == out.shape[:1] + out.shape[2:]:
            # one binary logit per sample, (N, 1) outputs with (N,) targets
            return (out[:, 0] > threshold).astype(np.int64), _target_labels(out, tgt, owner)
        if out.ndim < 2 or tgt.shape != out.shape[:1] + out.shape[2:]:
            raise ValueError(
                f"{owner}: outputs of shape {out.shape} (class axis 1) need targets of shape "
                f"{out.shape[:1] + out.shape[2:]}. Got {tgt.shape}."
            )
        return out.argmax(axis=1), _target_labels(out, tgt, owner)
    if tgt.shape != out.shape:
        raise ValueError(
            f"{owner}: outputs of shape {out.shape} and targets of shape {tgt.shape} do not match. Expected "
            f"labels of shape {out.shape[:1] + out.shape[2:]}, or one-hot/binary targets of shape {out.shape}."
        )
    if out.ndim >= 2 and out.shape[1] > 1:  # one-hot targets
        return out.argmax(axis=1), tgt.argmax(axis=1)
    return (out > threshold).astype(np.int64), _target_labels(out, tgt, owner)


def accuracy(outputs, targets, *, threshold: float = 0.0) -> float:
    """Fraction of samples whose predicted class equals the target.

    Args:
        outputs: scores (N, C, ...) (argmax over axis 1; ties go to the lowest class) or binary
            logits (N,) / (N, 1) (predicted 1 where ``> threshold``).
        targets: labels (N, ...) or one-hot / binary targets of the outputs' shape.
        threshold: binary decision threshold (0.0 for logits, 0.5 for probabilities).

    Returns:
        float in [0, 1]; NaN for an empty batch.

    Example:
        >>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
        0.5
    """
    pred, true = _labels_pair(outputs, targets, "accuracy", threshold)
    return float(np.mean(pred == true)) if true.size else math.nan


def _check_k(k, owner):
    if not is_int(k) or k < 1:
        raise ValueError(f"k of {owner} must be an int >= 1. Got {k!r}.")
    return int(k)


def _top_k_hits(outputs, targets, k, owner) -> np.ndarray:
    out = _array(outputs, "outputs", owner)
    tgt = _array(targets, "targets", owner)
    if out.ndim < 2:
        raise ValueError(f"{owner}: outputs must be scores (N, C, ...) with the class axis 1. Got shape {out.shape}.")
    if tgt.shape == out.shape:
        tgt = tgt.argmax(axis=1)
    expected = out.shape[:1] + out.shape[2:]
    if tgt.shape != expected:
        raise ValueError(f"{owner}: outputs of shape {out.shape} need labels of shape {expected}. Got {tgt.shape}.")
    tgt = _target_labels(out, tgt, owner)
    c = out.shape[1]
    if tgt.size and (tgt.min() < 0 or tgt.max() >= c):
        raise ValueError(f"{owner}: labels must be in [0, {c}) for {c} classes. Got values in [{tgt.min()}, {tgt.max()}].")
    true_score = np.take_along_axis(out, np.expand_dims(tgt, 1), axis=1)  # (N, 1, ...)
    # NOTE: rank by strict comparison: a tie with the target's score counts as a hit.
    higher = (out > true_score).sum(axis=1)
    return higher < k


def top_k_accuracy(outputs, targets, k: int = 5) -> float:
    """Fraction of samples whose target is among the ``k`` highest scores.

    A sample is a hit when fewer than ``k`` classes score strictly higher than the target
    (ties with the target's score count in its favour). ``k >= C`` gives 1.

    Args:
        outputs: scores (N, C, ...), class axis 1.
        targets: labels (N, ...) in [0, C), or one-hot (N, C, ...).
        k: how many top classes count (>= 1).

    Returns:
        float in [0, 1]; NaN for an empty batch.

    Example:
        >>> top_k_accuracy(np.array([[0.5, 0.3, 0.2]]), np.array([1]), k=2)
        1.0
    """
    k = _check_k(k, "top_k_accuracy")
    hits = _top_k_hits(outputs, targets, k, "top_k_accuracy")
    return float(hits.mean()) if hits.size else math.nan


def _check_num_classes(num_classes, owner):
    if num_classes is None:
        return None
    if not is_int(num_classes) or num_classes < 1:
        raise ValueError(f"num_classes of {owner} must be an int >= 1 or None. Got {num_classes!r}.")
    return int(num_classes)


def confusion_matrix(outputs, targets, num_classes: int | None = None, *, threshold: float = 0.0) -> np.ndarray:
    """Counts ``M[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Args:
        outputs: scores (N, C, ...), binary logits, or already predicted labels (N, ...) (any
            integer array of the targets' shape is taken as labels).
        targets: labels (N, ...) or one-hot.
        num_classes: C; default: the outputs' class axis, else ``max label + 1``.
        threshold: binary decision threshold.

    Returns:
        int64 array (C, C): rows are true classes, columns predicted (sklearn's layout); the
        diagonal holds the correct predictions.

    Example:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1])).tolist()
        [[1, 1], [0, 1]]
    """
    owner = "confusion_matrix"
    num_classes = _check_num_classes(num_classes, owner)
    out = _array(outputs, "outputs", owner)
    tgt = _array(targets, "targets", owner)
    if out.shape == tgt.shape and out.dtype.kind in "iub":  # labels given
        pred, true = out.astype(np.int64), tgt.astype(np.int64)
    else:
        pred, true = _labels_pair(out, tgt, owner, threshold)
        if num_classes is None:  # the class axis of scores; 2 for binary logits
            multi = out.ndim >= 2 and out.shape[1] > 1
            num_classes = out.shape[1] if multi else 2
    pred, true = pred.ravel(), true.ravel()
    if num_classes is None:
        num_classes = max(int(max(pred.max(initial=-1), true.max(initial=-1))) + 1, 1)
    for what, v in (("predicted", pred), ("true", true)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(
                f"{owner}: {what} labels must be in [0, {num_classes}). Got values in [{v.min()}, {v.max()}]; "
                "pass num_classes= large enough."
            )
    return np.bincount(true * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes).astype(np.int64)


def per_class_accuracy(outputs, targets, num_classes: int | None = None, *, threshold: float = 0.0) -> np.ndarray:
    """Accuracy within each true class (the recall of each class): ``M[i, i] / sum_j M[i, j]``.

    Args: as :func:`confusion_matrix`.

    Returns:
        float64 array (C,); NaN for a class with no samples.

    Example:
        >>> per_class_accuracy(np.array([0, 1, 1]), np.array([0, 0, 1]), num_classes=3).tolist()
        [0.5, 1.0, nan]
    """
    return _per_class_from_matrix(confusion_matrix(outputs, targets, num_classes, threshold=threshold))


def _per_class_from_matrix(m: np.ndarray) -> np.ndarray:
    support = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(m) / np.maximum(support, 1), np.nan).astype(np.float64)


# ---------------------------------------------------------------- streaming metrics
class Metric:
    """A metric accumulated over batches: ``update`` per batch, ``result`` at the end, ``reset`` between epochs.

    Subclasses keep exact counts, so the result over an epoch does not depend on how the
    samples were split into batches.

    Attributes:
        name (str): the key under which ``fit`` logs it (``"accuracy"``, ``"val_accuracy"``).
    """

    name = "metric"

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, outputs, targets) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Streaming :func:`accuracy`: correct predictions / samples over every batch seen.

    Example:
        >>> m = Accuracy()
        >>> m.update(np.array([[1.0, 0.0]]), np.array([0]))
        >>> m.update(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([1, 1, 1]))
        >>> m.result()  # 2 of 4 samples, not the mean of the batch accuracies (1 and 1/3)
        0.5
    """

    name = "accuracy"

    def __init__(self, *, threshold: float = 0.0):
        self.threshold = float(threshold)
        self.reset()

    def reset(self):
        self.correct, self.total = 0, 0

    def update(self, outputs, targets):
        pred, true = _labels_pair(outputs, targets, "Accuracy", self.threshold)
        self.correct += int(np.count_nonzero(pred == true))
        self.total += int(true.size)

    def result(self) -> float:
        return self.correct / self.total if self.total else math.nan


class TopKAccuracy(Metric):
    """Streaming :func:`top_k_accuracy`; logged as ``top{k}_accuracy``."""

    def __init__(self, k: int = 5):
        self.k = _check_k(k, "TopKAccuracy")
        self.name = f"top{self.k}_accuracy"
        self.reset()

    def reset(self):
        self.hits, self.total = 0, 0

    def update(self, outputs, targets):
        h = _top_k_hits(outputs, targets, self.k, "TopKAccuracy")
        self.hits += int(np.count_nonzero(h))
        self.total += int(h.size)

    def result(self) -> float:
        return self.hits / self.total if self.total else math.nan


class ConfusionMatrix(Metric):
    """Streaming :func:`confusion_matrix` over ``num_classes`` classes; ``result()`` is the (C, C) matrix.

    Not a scalar, so ``fit`` does not log it; use it with :func:`~nnbasics.training.predict` or
    your own loop. ``per_class_accuracy()`` gives the per-class accuracy of what was seen.
    """

    name = "confusion_matrix"

    def __init__(self, num_classes: int, *, threshold: float = 0.0):
        n = _check_num_classes(num_classes, "ConfusionMatrix")
        if n is None:
            raise ValueError("ConfusionMatrix needs num_classes (an int >= 1).")
        self.num_classes, self.threshold = n, float(threshold)
        self.reset()

    def reset(self):
        self.matrix = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, outputs, targets):
        self.matrix += confusion_matrix(outputs, targets, self.num_classes, threshold=self.threshold)

    def result(self) -> np.ndarray:
        return self.matrix.copy()

    def per_class_accuracy(self) -> np.ndarray:
        return _per_class_from_matrix(self.matrix)


class MeanMetric(Metric):
    """Wrap ``fn(outputs, targets) -> float`` (a per-batch mean) into a sample-weighted mean over batches.

    Exact for metrics that are means over samples (the batch's value times its size, summed,
    over the total); an approximation for others (F1, AUC...): write a :class:`Metric` for those.
    """

    def __init__(self, fn, name: str | None = None):
        if not callable(fn):
            raise TypeError(f"MeanMetric needs a callable fn(outputs, targets) -> float. Got {type(fn).__name__}.")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, outputs, targets):
        t = targets._array if isinstance(targets, Tensor) else np.asarray(targets)
        n = int(t.shape[0]) if t.ndim else 1
        self.total += float(self.fn(outputs, targets)) * n
        self.count += n

    def result(self) -> float:
        return self.total / self.count if self.count else math.nan


_TOPK = re.compile(r"^top_?(\d+)(?:_acc|_accuracy)?$")


def get_metric(metric) -> Metric:
    """A fresh :class:`Metric` from a name, a Metric, or a function ``fn(outputs, targets) -> float``.

    Names: ``"accuracy"`` (or ``"acc"``), ``"top_k_accuracy"`` (k = 5), ``"top{k}_accuracy"``
    (e.g. ``"top3_accuracy"``).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        key = metric.strip().lower()
        if key in ("accuracy", "acc"):
            return Accuracy()
        if key == "top_k_accuracy":
            return TopKAccuracy(5)
        m = _TOPK.match(key)
        if m:
            return TopKAccuracy(int(m.group(1)))
        raise ValueError(
            f"unknown metric {metric!r}. Valid names: 'accuracy', 'top_k_accuracy' (k=5), 'top{{k}}_accuracy' "
            "(e.g. 'top3_accuracy'); or pass a Metric or a function fn(outputs, targets) -> float."
        )
    if callable(metric):
        return MeanMetric(metric)
    raise TypeError(f"a metric must be a name, a Metric or a callable. Got {type(metric).__name__}.")


class EpochAccumulator:
    """Exact loss and metrics over an epoch: the loss weighted by batch size, metrics by counts.

    Args:
        metrics: names, Metrics or callables (see :func:`get_metric`).
        prefix: prepended to every key of :meth:`result` (``"val_"`` for validation).

    Example:
        >>> acc = EpochAccumulator(["accuracy"])
        >>> acc.update(0.5, np.array([[1.0, 0.0]]), np.array([0]))
        >>> acc.update(1.0, np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), np.array([1, 1, 1]))
        >>> acc.result()  # loss (0.5 * 1 + 1.0 * 3) / 4, accuracy 3 / 4
        {'loss': 0.875, 'accuracy': 0.75}
    """

    def __init__(self, metrics=(), prefix: str = ""):
        if isinstance(metrics, (str, Metric)) or callable(metrics):
            metrics = [metrics]
        self.metrics = [get_metric(m) for m in metrics]
        names = [m.name for m in self.metrics]
        dup = {n for n in names if names.count(n) > 1}
        if dup or "loss" in names:
            raise ValueError(f"metric names must be unique and not 'loss'. Got {names}.")
        self.prefix = prefix
        self.reset()

    def reset(self) -> None:
        self.loss_sum, self.count = 0.0, 0
        for m in self.metrics:
            m.reset()

    def update(self, loss: float | None, outputs, targets, n: int | None = None) -> None:
        """Add one batch: ``loss`` is the batch's mean loss, ``n`` its number of samples (len(targets))."""
        if n is None:
            t = targets._array if isinstance(targets, Tensor) else np.asarray(targets)
            n = int(t.shape[0]) if t.ndim else 1
        if loss is not None:
            self.loss_sum += float(loss) * n
        self.count += n
        for m in self.metrics:
            m.update(outputs, targets)

    def result(self) -> dict:
        """``{prefix + "loss": ..., prefix + name: ...}`` (floats)."""
        out = {self.prefix + "loss": self.loss_sum / self.count if self.count else math.nan}
        for m in self.metrics:
            out[self.prefix + m.name] = float(m.result())
        return out
