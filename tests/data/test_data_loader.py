"""DataLoader: coverage, determinism, dtypes, fast path vs generic path, validation."""

import numpy as np
import pytest

from nnbasics import Tensor
from nnbasics.data import ConcatDataset, DataLoader, Subset, TensorDataset


def _ids(loader):
    """Concatenate the id field of every batch of one epoch."""
    return np.concatenate([b[-1]._array for b in loader])


class ListDataset:
    """No get_batch: forces the generic per-sample path; counts __getitem__ calls."""

    def __init__(self, X, y):
        self.X, self.y, self.calls = X, y, 0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.calls += 1
        return self.X[i], int(self.y[i])


class CountingTensorDataset(TensorDataset):
    def __init__(self, *a):
        super().__init__(*a)
        self.item_calls = 0

    def __getitem__(self, i):
        self.item_calls += 1
        return super().__getitem__(i)


@pytest.mark.parametrize("n,bs", [(10, 3), (9, 3), (7, 10), (1, 1), (23, 4)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once_per_epoch(n, bs, shuffle):
    ds = TensorDataset(np.arange(n * 2, dtype=np.float64).reshape(n, 2), np.arange(n))
    loader = DataLoader(ds, batch_size=bs, shuffle=shuffle, rng=3)
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader) == -(-n // bs)
        assert [len(b[1]) for b in batches[:-1]] == [bs] * (len(batches) - 1)
        assert len(batches[-1][1]) == n - bs * (len(batches) - 1)  # the last partial batch is kept
        ids = np.concatenate([b[1]._array for b in batches])
        np.testing.assert_array_equal(np.sort(ids), np.arange(n))
        if not shuffle:
            np.testing.assert_array_equal(ids, np.arange(n))
        for x, y in batches:  # rows stay paired with their labels
            np.testing.assert_array_equal(x._array, ds.tensors[0][y._array].astype(np.float32))


@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last_drops_only_the_partial_batch(shuffle):
    n, bs = 23, 5
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=bs, shuffle=shuffle, drop_last=True, rng=0)
    batches = list(loader)
    assert len(batches) == len(loader) == n // bs
    assert all(len(b[0]) == bs for b in batches)
    ids = _ids(loader)
    assert len(np.unique(ids)) == len(ids) == n - n % bs


def test_shuffle_reproducible_from_seed_and_epochs_differ():
    ds = TensorDataset(np.arange(50))
    a = DataLoader(ds, batch_size=7, shuffle=True, rng=11)
    b = DataLoader(ds, batch_size=7, shuffle=True, rng=11)
    epochs_a = [_ids(a) for _ in range(3)]
    epochs_b = [_ids(b) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    c = DataLoader(ds, batch_size=7, shuffle=True, rng=12)
    assert not np.array_equal(_ids(c), epochs_a[0])


def test_generator_state_restore_restores_next_epoch():
    ds = TensorDataset(np.arange(40))
    loader = DataLoader(ds, batch_size=6, shuffle=True, rng=5)
    _ids(loader)
    state = loader.generator.bit_generator.state
    expected = _ids(loader)
    _ids(loader)  # move on
    fresh = DataLoader(ds, batch_size=6, shuffle=True, rng=999)
    fresh.generator.bit_generator.state = state
    np.testing.assert_array_equal(_ids(fresh), expected)


def test_iter_fixes_order_before_first_batch():
    ds = TensorDataset(np.arange(20))
    loader = DataLoader(ds, batch_size=4, shuffle=True, rng=1)
    it = iter(loader)
    before = loader.generator.bit_generator.state
    first = np.concatenate([b[0]._array for b in it])
    assert loader.generator.bit_generator.state == before  # nothing drawn while iterating
    assert sorted(first.tolist()) == list(range(20))


def test_rng_generator_is_used_as_is():
    g = np.random.default_rng(0)
    loader = DataLoader(TensorDataset(np.arange(5)), shuffle=True, rng=g)
    assert loader.generator is g


def test_dtypes_float32_int64_and_tensors():
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    y8 = np.arange(6, dtype=np.uint8)
    y32 = np.arange(6, dtype=np.int32)
    reg = np.linspace(0, 1, 6)  # float64 regression targets
    for ds in (TensorDataset(X, y8, y32, reg), ListDataset(X, y32)):
        for batch in DataLoader(ds, batch_size=4):
            assert all(isinstance(t, Tensor) and not t.requires_grad for t in batch)
            assert batch[0].dtype == np.float32
            assert all(t.dtype in (np.int64, np.float32) for t in batch)
            assert batch[1].dtype == np.int64
    x, _, _, r = next(iter(DataLoader(TensorDataset(X, y8, y32, reg), batch_size=6)))
    assert r.dtype == np.float32
    np.testing.assert_allclose(x._array, X.astype(np.float32))


def test_fast_path_uses_get_batch_not_getitem():
    ds = CountingTensorDataset(np.arange(30.0).reshape(15, 2), np.arange(15))
    for _ in DataLoader(Subset(ds, np.arange(0, 15, 2)), batch_size=4, shuffle=True, rng=0):
        pass
    assert ds.item_calls == 0


def test_generic_path_matches_fast_path():
    X = np.random.default_rng(0).standard_normal((17, 3)).astype(np.float32)
    y = np.arange(17)
    fast = list(DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True, rng=4))
    slow_ds = ListDataset(X, y)
    slow = list(DataLoader(slow_ds, batch_size=5, shuffle=True, rng=4))
    assert slow_ds.calls == 17
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf._array, xs._array)
        np.testing.assert_array_equal(yf._array, ys._array)


def test_concat_dataset_batches():
    a = TensorDataset(np.zeros((3, 2)), np.arange(3))
    b = TensorDataset(np.ones((4, 2)), np.arange(3, 7))
    c = ConcatDataset([a, b])
    ids = _ids(DataLoader(c, batch_size=3, shuffle=True, rng=2))
    np.testing.assert_array_equal(np.sort(ids), np.arange(7))
    x, y = c.get_batch([5, 0, 3])
    np.testing.assert_array_equal(y, [5, 0, 3])
    np.testing.assert_array_equal(x[:, 0], [1, 0, 1])


def test_single_field_samples_give_one_tuples():
    class Scalars:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return float(i)

    batches = list(DataLoader(Scalars(), batch_size=2))
    assert all(isinstance(b, tuple) and len(b) == 1 for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[0]._array for b in batches]), np.arange(5, dtype=np.float32))


def test_transform_applied_to_inputs_with_loader_generator():
    seen = []

    def add_noise(x, rng):
        seen.append(rng)
        return x + rng.standard_normal(x.shape)

    ds = TensorDataset(np.zeros((8, 3), np.float32), np.arange(8))
    loader = DataLoader(ds, batch_size=4, shuffle=True, transform=add_noise, rng=7)
    b1 = [(x._array.copy(), y._array.copy()) for x, y in loader]
    assert all(r is loader.generator for r in seen)
    assert all(x.dtype == np.float32 and np.abs(x).sum() > 0 for x, _ in b1)
    again = DataLoader(ds, batch_size=4, shuffle=True, transform=add_noise, rng=7)
    for (x1, y1), (x2, y2) in zip(b1, [(x._array, y._array) for x, y in again]):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(ds.tensors[0], 0)  # the dataset was not modified


def test_batches_are_copies_not_views_of_the_dataset():
    X = np.zeros((4, 2), np.float32)
    ds = TensorDataset(X, np.arange(4))
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    x._array += 1
    np.testing.assert_array_equal(X, 0)


@pytest.mark.parametrize("bs", [0, -1, 2.0, True, "4", None])
def test_bad_batch_size(bs):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=bs)


def test_validation_messages():
    with pytest.raises(ValueError, match="empty"):
        DataLoader(TensorDataset(np.zeros((0, 2))))
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(object())
    with pytest.raises(TypeError, match="transform must be callable"):
        DataLoader(TensorDataset(np.arange(3)), transform=3)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        DataLoader(TensorDataset(np.arange(3)), shuffle="yes")
    with pytest.raises(ValueError, match="drop_last=True"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=4, drop_last=True)
    with pytest.raises(TypeError, match="rng"):
        DataLoader(TensorDataset(np.arange(3)), rng="seed")
    bad_tf = DataLoader(TensorDataset(np.zeros((4, 2))), batch_size=4, transform=lambda x, rng: x[:2])
    with pytest.raises(ValueError, match="transform changed the batch size"):
        next(iter(bad_tf))


def test_ragged_samples_error_names_field():
    class Ragged:
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.zeros(i + 1), 0

    with pytest.raises(ValueError, match="field 0 has samples of different shapes"):
        next(iter(DataLoader(Ragged(), batch_size=2)))


def test_dataset_validation():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    ds = TensorDataset(np.arange(3))
    with pytest.raises(IndexError, match="out of range"):
        ds[3]
    assert int(ds[-1][0]) == 2
    with pytest.raises(IndexError):
        Subset(ds, [0, 5])
    with pytest.raises(TypeError):
        Subset(ds, [0.5])
