"""synthetic.shapes: the lab's generated image set (8 shape classes at random places and scales)."""

import numpy as np
import pytest

from nnbasics.data import load_dataset
from nnbasics.data.synthetic import SHAPE_CLASSES, shapes


def test_shapes_dtype_range_balance_and_determinism():
    X, y = shapes(n=83, size=16, noise=0.1, rng=3)
    assert X.shape == (83, 1, 16, 16) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    counts = np.bincount(y, minlength=len(SHAPE_CLASSES))
    assert len(SHAPE_CLASSES) == 8 and counts.max() - counts.min() <= 1 and counts.sum() == 83
    X2, y2 = shapes(n=83, size=16, noise=0.1, rng=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = shapes(n=83, size=16, noise=0.1, rng=4)
    assert not np.array_equal(X, X3)


def test_shapes_noise_free_strokes_match_their_class():
    X, y = shapes(n=400, size=20, noise=0.0, rng=0)
    ink = X[:, 0] > 0.5  # (N, H, W)
    rows = ink.any(axis=2).sum(1)  # number of rows touched
    cols = ink.any(axis=1).sum(1)
    area = ink.sum((1, 2))
    hbar, vbar, filled = (y == 0), (y == 1), (y == 3)
    assert np.all(rows[hbar] <= 2) and np.all(cols[hbar] >= 6)  # one-stroke-high horizontal bars
    assert np.all(cols[vbar] <= 2) and np.all(rows[vbar] >= 6)
    assert np.all(area[filled] >= 0.8 * rows[filled] * cols[filled])  # a filled box fills its bounding box
    outline = y == 2
    assert np.all(area[outline] < 0.8 * rows[outline] * cols[outline])
    # every image has ink, and positions vary within a class (translation matters)
    assert np.all(area > 0)
    centre_x = (ink.sum(1) * np.arange(20)).sum(1) / area
    for c in range(8):
        assert np.ptp(centre_x[y == c]) > 3


def test_shapes_in_catalog_with_distinct_train_and_test():
    Xtr, ytr = load_dataset("shapes", "train", n=40, rng=1, size=12)
    Xte, _ = load_dataset("shapes", "test", n=40, rng=1, size=12)
    assert Xtr.shape == (40, 1, 12, 12) and not np.array_equal(Xtr, Xte)
    assert set(ytr.tolist()) == set(range(8))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 0}, r"shapes: n must be an int >= 1"),
    ({"size": 5}, r"shapes: size must be an int >= 8"),
    ({"noise": -0.1}, r"shapes: noise must be a finite number >= 0"),
])
def test_shapes_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shapes(**kwargs)
