"""Metrics against hand-computed values and loop-based references; streaming == whole-set."""

import itertools
import math

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.training import (
    Accuracy,
    ConfusionMatrix,
    EpochAccumulator,
    MeanMetric,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    get_metric,
    per_class_accuracy,
    predicted_labels,
    top_k_accuracy,
)

LOGITS = np.array([[2.0, 1.0, 0.0],   # pred 0, label 0: hit
                   [0.0, 3.0, 1.0],   # pred 1, label 1: hit
                   [1.0, 0.0, 2.0],   # pred 2, label 1: miss (label 1 ranks 3rd)
                   [0.5, 0.0, 0.1]])  # pred 0, label 2: miss (label 2 ranks 2nd)
LABELS = np.array([0, 1, 1, 2])


def _ref_confusion(true, pred, c):
    m = np.zeros((c, c), np.int64)
    for t, p in zip(true, pred):
        m[t, p] += 1
    return m


def _ref_topk(scores, labels, k):
    hits = 0
    for s, t in zip(scores, labels):
        order = sorted(range(len(s)), key=lambda j: -s[j])
        hits += t in order[:k]
    return hits / len(labels)


def test_hand_computed_values():
    assert accuracy(LOGITS, LABELS) == 0.5
    assert top_k_accuracy(LOGITS, LABELS, k=1) == 0.5
    assert top_k_accuracy(LOGITS, LABELS, k=2) == 0.75
    assert top_k_accuracy(LOGITS, LABELS, k=3) == 1.0
    np.testing.assert_array_equal(confusion_matrix(LOGITS, LABELS), [[1, 0, 0], [0, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(per_class_accuracy(LOGITS, LABELS), [1.0, 0.5, 0.0])


def test_against_loop_references(rng):
    scores = rng.normal(size=(97, 7))  # no ties (continuous)
    labels = rng.integers(0, 7, size=97)
    pred = scores.argmax(1)
    assert accuracy(scores, labels) == pytest.approx(np.mean(pred == labels), abs=0)
    for k in (1, 2, 3, 7):
        assert top_k_accuracy(scores, labels, k=k) == pytest.approx(_ref_topk(scores, labels, k), abs=1e-15)
    np.testing.assert_array_equal(confusion_matrix(scores, labels), _ref_confusion(labels, pred, 7))
    ref = [np.mean(pred[labels == c] == c) if np.any(labels == c) else math.nan for c in range(7)]
    np.testing.assert_allclose(per_class_accuracy(scores, labels), ref)


def test_binary_logits_probabilities_one_hot_and_tensors():
    z = np.array([[1.5], [-0.2], [0.3], [-2.0]], np.float32)
    y = np.array([[1.0], [0.0], [0.0], [1.0]], np.float32)
    assert accuracy(z, y) == 0.5                       # threshold 0 for logits
    p = 1 / (1 + np.exp(-z))
    assert accuracy(p, y, threshold=0.5) == 0.5
    assert accuracy(z.ravel(), y.ravel().astype(np.int64)) == 0.5
    assert accuracy(z, y.ravel().astype(np.int64)) == 0.5  # (N, 1) logits, (N,) labels
    np.testing.assert_array_equal(confusion_matrix(z, y.ravel()), [[1, 1], [1, 1]])
    np.testing.assert_array_equal(predicted_labels(z, y.ravel()), [1, 0, 1, 0])
    np.testing.assert_array_equal(confusion_matrix(z, y), [[1, 1], [1, 1]])
    onehot = np.eye(3)[LABELS]
    assert accuracy(LOGITS, onehot) == 0.5
    assert top_k_accuracy(LOGITS, onehot, k=2) == 0.75
    assert accuracy(nb.tensor(LOGITS), nb.tensor(LABELS)) == 0.5
    np.testing.assert_array_equal(predicted_labels(LOGITS), [0, 1, 2, 0])


def test_sequence_outputs_class_axis_1(rng):
    scores = rng.normal(size=(4, 5, 6))  # (N, C, T) as cross_entropy
    labels = rng.integers(0, 5, size=(4, 6))
    assert accuracy(scores, labels) == np.mean(scores.argmax(1) == labels)
    assert confusion_matrix(scores, labels).sum() == 24


def test_ties_count_in_favour_of_the_target():
    s = np.array([[1.0, 1.0, 1.0, 0.0]])
    assert top_k_accuracy(s, np.array([2]), k=1) == 1.0
    assert top_k_accuracy(s, np.array([3]), k=3) == 0.0


def test_labels_given_to_confusion_matrix_and_absent_class_is_nan():
    m = confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), num_classes=3)
    np.testing.assert_array_equal(m, [[1, 0, 0], [1, 1, 0], [0, 0, 0]])
    pca = per_class_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]), num_classes=3)
    np.testing.assert_array_equal(pca[:2], [1.0, 0.5])
    assert math.isnan(pca[2])


def test_streaming_equals_whole_set_with_unequal_batches(rng):
    scores = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, size=50)
    cuts = [0, 1, 8, 31, 50]  # batches of 1, 7, 23, 19
    acc, top2, cm = Accuracy(), TopKAccuracy(2), ConfusionMatrix(4)
    batch_means = []
    for a, b in itertools.pairwise(cuts):
        for m in (acc, top2, cm):
            m.update(scores[a:b], labels[a:b])
        batch_means.append(accuracy(scores[a:b], labels[a:b]))
    assert acc.result() == accuracy(scores, labels)
    assert top2.result() == top_k_accuracy(scores, labels, k=2)
    np.testing.assert_array_equal(cm.result(), confusion_matrix(scores, labels, num_classes=4))
    np.testing.assert_array_equal(cm.per_class_accuracy(), per_class_accuracy(scores, labels, num_classes=4))
    assert acc.result() != pytest.approx(np.mean(batch_means))  # the naive average is wrong here


def test_epoch_accumulator_weights_loss_by_batch_size():
    acc = EpochAccumulator(["accuracy", "top2_accuracy"], prefix="val_")
    acc.update(2.0, LOGITS[:1], LABELS[:1])
    acc.update(1.0, LOGITS[1:], LABELS[1:])
    res = acc.result()
    assert res["val_loss"] == pytest.approx((2.0 * 1 + 1.0 * 3) / 4)
    assert res["val_accuracy"] == 0.5 and res["val_top2_accuracy"] == 0.75
    acc.reset()
    assert math.isnan(acc.result()["val_loss"])


def test_get_metric_names_callables_and_errors():
    assert get_metric("acc").name == "accuracy"
    assert get_metric("top3_accuracy").k == 3 and get_metric("top_k_accuracy").k == 5
    m = get_metric(lambda o, t: float(np.mean(o.argmax(1) == t)))
    assert isinstance(m, MeanMetric)
    m.update(LOGITS[:1], LABELS[:1])
    m.update(LOGITS[1:], LABELS[1:])
    assert m.result() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown metric 'f1'.*Valid names"):
        get_metric("f1")
    with pytest.raises(ValueError, match="must be unique"):
        EpochAccumulator(["accuracy", "acc"])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"need targets of shape \(4,\)"):
        accuracy(LOGITS, np.array([0, 1]))
    with pytest.raises(ValueError, match="k of top_k_accuracy must be an int >= 1"):
        top_k_accuracy(LOGITS, LABELS, k=0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        top_k_accuracy(LOGITS, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="num_classes= large enough"):
        confusion_matrix(np.array([0, 5]), np.array([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="not whole numbers"):
        accuracy(LOGITS, np.array([0.5, 1.0, 1.0, 2.0]))
