"""random_split, stratified_subset, stratified_split."""

import numpy as np
import pytest

from nnbasics.data import Subset, TensorDataset, dataset_labels, random_split, stratified_split, stratified_subset


def _ds(n=100, k=10):
    return TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n) % k)


def _all_indices(parts):
    return np.concatenate([p.indices for p in parts])


def test_random_split_lengths_and_fractions_cover_everything_once():
    ds = _ds(103)
    parts = random_split(ds, [50, 50, 3], rng=0)
    assert [len(p) for p in parts] == [50, 50, 3]
    np.testing.assert_array_equal(np.sort(_all_indices(parts)), np.arange(103))
    fr = random_split(ds, [0.7, 0.2, 0.1], rng=0)
    assert [len(p) for p in fr] == [73, 20, 10]  # floor, remainder round-robin from the first part
    np.testing.assert_array_equal(np.sort(_all_indices(fr)), np.arange(103))
    again = random_split(ds, [0.7, 0.2, 0.1], rng=0)
    np.testing.assert_array_equal(again[0].indices, fr[0].indices)
    assert not np.array_equal(random_split(ds, [0.7, 0.2, 0.1], rng=1)[0].indices, fr[0].indices)


def test_random_split_validation():
    ds = _ds(10)
    with pytest.raises(ValueError, match="sum to the dataset size 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(TypeError, match="all ints or all floats"):
        random_split(ds, [5, "5"])
    with pytest.raises(TypeError, match="needs a dataset"):
        random_split(iter(range(10)), [5, 5])  # no len, no indexing (a list or an array is fine, as in torch)


@pytest.mark.parametrize("n,expected_total", [(30, 30), (35, 35), (300, 300)])
def test_stratified_subset_balanced(n, expected_total):
    y = np.random.default_rng(0).integers(0, 10, 2000)
    ds = TensorDataset(np.zeros((2000, 1), np.float32), y)
    sub = stratified_subset(ds, n, rng=0)
    assert isinstance(sub, Subset) and len(sub) == expected_total
    counts = np.bincount(sub.targets, minlength=10)
    assert counts.max() - counts.min() <= 1
    assert len(np.unique(sub.indices)) == len(sub)
    assert (np.diff(sub.indices) > 0).all()  # keeps dataset order
    np.testing.assert_array_equal(stratified_subset(ds, n, rng=0).indices, sub.indices)
    assert not np.array_equal(stratified_subset(ds, n, rng=1).indices, sub.indices)


def test_stratified_subset_per_class_fraction_and_labels():
    y = np.repeat(np.arange(3), [50, 30, 20])
    idx = stratified_subset(y, per_class=10, rng=0)
    assert isinstance(idx, np.ndarray) and idx.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y[idx]), [10, 10, 10])
    idx = stratified_subset(y, fraction=0.5, rng=0)
    np.testing.assert_array_equal(np.bincount(y[idx]), [25, 15, 10])
    with pytest.raises(ValueError, match="class 2 has only 20 samples but 25"):
        stratified_subset(y, per_class=25)
    with pytest.raises(ValueError, match="exactly one of"):
        stratified_subset(y, 10, per_class=3)
    with pytest.raises(ValueError, match="1-D array of ints"):
        stratified_subset(np.linspace(0, 1, 10), 4)


def test_stratified_split_keeps_proportions():
    y = np.repeat(np.arange(4), [40, 20, 30, 10])
    ds = TensorDataset(np.zeros((100, 1), np.float32), y)
    train, val = stratified_split(ds, [0.8, 0.2], rng=0)
    np.testing.assert_array_equal(np.bincount(train.targets), [32, 16, 24, 8])
    np.testing.assert_array_equal(np.bincount(val.targets), [8, 4, 6, 2])
    assert not set(train.indices) & set(val.indices)
    parts = stratified_split(np.arange(101) % 7, [0.6, 0.3, 0.1], rng=0)
    assert [len(p) for p in parts] == [61, 30, 10]  # same sizes as random_split would give
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(101))


def test_dataset_labels_generic_dataset():
    class Items:
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.zeros(2), i % 2

    np.testing.assert_array_equal(dataset_labels(Items()), [0, 1, 0, 1])
    sub = stratified_subset(Items(), 2, rng=0)
    assert sorted(dataset_labels(sub).tolist()) == [0, 1]


@pytest.mark.parametrize("data", [list(range(11)), range(11), tuple(range(11)), np.arange(11)])
def test_random_split_takes_any_sequence_as_torch(data):
    """Found by the audit (issue 13): random_split(list_of_samples, [0.5, 0.5]) raised 'needs a dataset'
    (torch splits any sized, indexable sequence); the parts have torch's sizes and cover every item once."""
    parts = random_split(data, [0.5, 0.5], rng=0)
    assert [len(p) for p in parts] == [6, 5]
    assert sorted(int(p[i]) for p in parts for i in range(len(p))) == list(range(11))
