"""Generated datasets: shapes, dtypes, seeds, class balance and the property each one is about."""

import numpy as np
import pytest

from nnbasics.data import synthetic as S

CLASSIFIERS = [
    (lambda rng: S.xor(200, rng=rng), 2),
    (lambda rng: S.spiral(40, 3, rng=rng), 3),
    (lambda rng: S.circles(201, rng=rng), 2),
    (lambda rng: S.moons(201, rng=rng), 2),
    (lambda rng: S.blobs(301, centers=4, n_features=3, rng=rng), 4),
]


@pytest.mark.parametrize("make,k", CLASSIFIERS)
def test_classification_sets_shapes_seeds_balance(make, k):
    X, y = make(0)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.ndim == 2 and y.shape == (X.shape[0],)
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1  # balanced classes
    X2, y2 = make(0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(1)
    assert not np.array_equal(X, X3)
    X4, _ = make(np.random.default_rng(0))
    np.testing.assert_array_equal(X, X4)


def test_xor_labels_are_xor_of_signs_and_margin():
    X, y = S.xor(500, margin=0.2, rng=3)
    np.testing.assert_array_equal(y, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64))
    assert np.abs(X).min() >= 0.2 - 1e-6 and np.abs(X).max() <= 1
    # not linearly separable: the best linear least-squares fit is near chance
    A = np.c_[X, np.ones(len(X))]
    w = np.linalg.lstsq(A, y * 2.0 - 1, rcond=None)[0]
    assert np.mean((A @ w > 0) == (y == 1)) < 0.7
    with pytest.raises(ValueError, match="margin must be < 1"):
        S.xor(10, margin=1.0)


def test_spiral_is_cs231n_geometry():
    X, y = S.spiral(n_per_class=100, n_classes=3, noise=0.0, rng=0)
    r = np.hypot(X[:, 0], X[:, 1])
    for j in range(3):
        np.testing.assert_allclose(r[y == j], np.linspace(0, 1, 100), atol=1e-6)
        t = np.linspace(4 * j, 4 * j + 4, 100)
        np.testing.assert_allclose(X[y == j], np.c_[r[y == j] * np.sin(t), r[y == j] * np.cos(t)], atol=1e-6)
    # linear classifiers fail on it (the reason it is in the lecture)
    onehot = np.eye(3)[y]
    A = np.c_[X, np.ones(len(X))]
    w = np.linalg.lstsq(A, onehot, rcond=None)[0]
    assert np.mean((A @ w).argmax(1) == y) < 0.7


def test_circles_radii_and_moons_geometry():
    X, y = S.circles(400, noise=0.0, factor=0.3, rng=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)
    M, m = S.moons(400, noise=0.0, rng=0)
    np.testing.assert_allclose(np.hypot(M[m == 0, 0], M[m == 0, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(1 - M[m == 1, 0], 0.5 - M[m == 1, 1]), 1.0, atol=1e-6)
    assert (M[m == 0, 1] >= -1e-6).all() and (M[m == 1, 1] <= 0.5 + 1e-6).all()


def test_blobs_cluster_around_given_centers():
    C = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, -10.0]])
    X, y = S.blobs(3000, centers=C, cluster_std=0.5, rng=0)
    for k in range(3):
        np.testing.assert_allclose(X[y == k].mean(0), C[k], atol=0.1)
        np.testing.assert_allclose(X[y == k].std(0), 0.5, atol=0.05)


def test_sine_windows_predict_next_value():
    X, y = S.sine(n=64, seq_len=15, freq_range=(1.0, 1.0), dt=0.05, rng=0)
    assert X.shape == (64, 15, 1) and y.shape == (64, 1) and X.dtype == y.dtype == np.float32
    # with one known frequency, x_{t+1} = 2 cos(w dt) x_t - x_{t-1} (the sine recurrence)
    c = 2 * np.cos(2 * np.pi * 1.0 * 0.05)
    np.testing.assert_allclose(y[:, 0], c * X[:, -1, 0] - X[:, -2, 0], atol=1e-5)
    Xm, ym = S.sine(n=8, seq_len=10, many_to_many=True, rng=1)
    assert ym.shape == (8, 10, 1)
    np.testing.assert_allclose(ym[:, :-1], Xm[:, 1:], atol=1e-6)
    Xa, _ = S.sine(n=8, rng=2)
    Xb, _ = S.sine(n=8, rng=2)
    np.testing.assert_array_equal(Xa, Xb)


def test_copy_task_targets_are_the_inputs_after_the_delimiter():
    T, delay = 5, 3
    X, y = S.copy_task(n=32, seq_len=T, n_symbols=4, delay=delay, rng=0)
    L = 2 * T + delay + 1
    assert X.shape == y.shape == (32, L) and X.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(y[:, -T:], X[:, :T])
    assert (X[:, T + delay] == 1).all() and (X[:, :T] >= 2).all() and (X[:, :T] <= 5).all()
    assert (y[:, :-T] == 0).all() and (X[:, T:T + delay] == 0).all() and (X[:, -T:] == 0).all()
    Xo, _ = S.copy_task(n=4, seq_len=T, n_symbols=4, delay=delay, one_hot=True, rng=0)
    assert Xo.shape == (4, L, 6) and Xo.dtype == np.float32
    np.testing.assert_array_equal(Xo.argmax(-1), X[:4])


def test_addition_task_sums_the_two_marked_values():
    X, y = S.addition_task(n=100, seq_len=30, rng=0)
    assert X.shape == (100, 30, 2) and y.shape == (100, 1)
    marks = X[..., 1]
    assert (marks.sum(1) == 2).all()
    assert (marks[:, :15].sum(1) == 1).all() and (marks[:, 15:].sum(1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (X[..., 0] * marks).sum(1), atol=1e-6)
    # the constant predictor's MSE is about 1/6: the baseline a model must beat
    _, yl = S.addition_task(n=4000, seq_len=10, rng=1)
    assert abs(np.mean((yl - 1.0) ** 2) - 1 / 6) < 0.02


def test_hihello():
    X, y = S.hihello()
    assert "".join(S.HIHELLO_VOCAB[i] for i in X[0]) == "hihell"
    assert "".join(S.HIHELLO_VOCAB[i] for i in y[0]) == "ihello"
    Xo, _ = S.hihello(one_hot=True)
    assert Xo.shape == (1, 6, 5)
    np.testing.assert_array_equal(Xo[0].argmax(-1), X[0])
    assert S.copy is S.copy_task and S.addition is S.addition_task


@pytest.mark.parametrize("call,msg", [
    (lambda: S.xor(0), "n must be an int >= 1"),
    (lambda: S.spiral(10, 0), "n_classes"),
    (lambda: S.spiral(10, noise=-1), "noise"),
    (lambda: S.circles(10, factor=1.5), "factor"),
    (lambda: S.blobs(10, centers=np.zeros(3)), "centers"),
    (lambda: S.sine(4, freq_range=(2, 1)), "freq_range"),
    (lambda: S.copy_task(4, delay=-1), "delay"),
    (lambda: S.addition_task(4, seq_len=1), "seq_len"),
])
def test_validation(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
