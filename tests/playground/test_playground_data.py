"""The playground's data: every 2-D set, splits, noise, CSV standardization, image subsets; all from the data seed."""

import numpy as np
import pytest

from nnbasics.data import DatasetNotFoundError, locate
from nnbasics.playground.config import TWO_D_DATASETS, ConfigError, normalize
from nnbasics.playground.csvdata import parse_csv
from nnbasics.playground.datasets import available_image_sets, make_data


@pytest.mark.parametrize("name", TWO_D_DATASETS)
def test_two_d_sets_split_balanced_and_reproducible(name):
    cfg = normalize({"dataset": name, "n": 300, "test_fraction": 0.3, "classes": 4})
    d = make_data(cfg)
    k = 4 if name in ("spiral", "blobs") else 2
    assert d.kind == "2d" and d.n_classes == k and d.X_train.dtype == np.float32 and d.X_train.shape[1] == 2
    n = len(d.y_train) + len(d.y_test)
    assert abs(n - 300) < k and abs(len(d.y_test) - round(0.3 * n)) <= 1
    # class-balanced split: every class keeps its share in the test part (within one point)
    shares = np.bincount(d.y_test, minlength=k) / np.bincount(np.r_[d.y_train, d.y_test], minlength=k)
    assert np.all(np.abs(shares - len(d.y_test) / n) < 0.05)
    again = make_data(cfg)
    np.testing.assert_array_equal(d.X_train, again.X_train)
    np.testing.assert_array_equal(d.y_test, again.y_test)
    other = make_data(normalize({"data_seed": 1}, base=cfg))
    assert not np.array_equal(d.X_train, other.X_train)
    x0, x1, y0, y1 = d.domain
    X = np.r_[d.X_train, d.X_test]
    assert x0 < X[:, 0].min() and X[:, 0].max() < x1 and y0 < X[:, 1].min() and X[:, 1].max() < y1
    assert abs((x1 - x0) - (y1 - y0)) < 1e-6  # square cells


def test_noise_spreads_the_points_and_seed_of_the_network_does_not_touch_the_data():
    quiet = make_data(normalize({"dataset": "circles", "noise": 0.0}))
    loud = make_data(normalize({"dataset": "circles", "noise": 1.0}))
    r_quiet = np.linalg.norm(quiet.X_train[quiet.y_train == 0], axis=1)
    r_loud = np.linalg.norm(loud.X_train[loud.y_train == 0], axis=1)
    np.testing.assert_allclose(r_quiet, 1.0, rtol=1e-5)
    assert r_loud.std() > 0.2
    a = make_data(normalize({"seed": 0, "init": "he"}))
    b = make_data(normalize({"seed": 9, "init": "zeros"}))
    np.testing.assert_array_equal(a.X_train, b.X_train)


def csv_table(task="classification", n=40):
    g = np.random.default_rng(0)
    X = g.normal(50, 10, (n, 3))
    lab = (X[:, 0] > 50).astype(int) if task == "classification" else X[:, 0] * 2.5
    return parse_csv("a,b,c,label\n" + "\n".join(f"{r[0]},{r[1]},{r[2]},{v}" for r, v in zip(X, lab)), "mine.csv")


def test_csv_standardized_with_train_statistics_and_regression_targets():
    table = csv_table()
    d = make_data(normalize({"dataset": "csv", "test_fraction": 0.25}), table)
    assert d.kind == "table" and d.n_classes == 2 and d.source == "mine.csv"
    np.testing.assert_allclose(d.X_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(d.X_train.std(0), 1, atol=1e-4)
    raw = make_data(normalize({"dataset": "csv", "standardize": False}), table)
    assert raw.standardize is None and raw.X_train.mean() > 30
    reg = make_data(normalize({"dataset": "csv"}), csv_table("regression"))
    assert reg.task == "regression" and reg.n_classes == 1 and reg.y_train.shape[1] == 1
    np.testing.assert_allclose(reg.y_train.mean(), 0, atol=1e-5)
    assert len(reg.standardize["target"]) == 2


def test_csv_with_two_features_gets_a_heatmap_and_no_upload_is_a_clear_error():
    table = parse_csv("x,y,label\n" + "\n".join(f"{i % 7},{i % 5},{i % 2}" for i in range(30)))
    assert make_data(normalize({"dataset": "csv"}), table).kind == "2d"
    with pytest.raises(ConfigError, match="upload"):
        make_data(normalize({"dataset": "csv"}), None)


def test_shapes_images_offline():
    d = make_data(normalize({"dataset": "shapes", "n": 80, "test_fraction": 0.2}))
    assert d.kind == "image" and d.X_train.shape == (80, 1, 16, 16) and d.n_classes == 8
    assert len(d.y_test) == 50 and len(d.class_names) == 8  # at least 50 test images
    assert "shapes" in available_image_sets()


def _has(name):
    try:
        locate(name, "train", download=False)
        return True
    except (DatasetNotFoundError, OSError):
        return False


@pytest.mark.skipif(not _has("fashion-mnist"), reason="Fashion-MNIST files not on this machine")
def test_fashion_mnist_subset_is_balanced():
    d = make_data(normalize({"dataset": "fashion-mnist", "n": 200, "test_fraction": 0.5}))
    assert d.X_train.shape == (200, 1, 28, 28) and np.all(np.bincount(d.y_train) == 20)
    assert d.class_names[0] == "T-shirt/top" and len(d.y_test) == 200
    assert "fashion-mnist" in available_image_sets()


def test_missing_image_files_are_a_clear_error(monkeypatch, tmp_path):
    from nnbasics.data import sources
    from nnbasics.playground import datasets

    monkeypatch.setattr(sources, "SYSTEM_DATA_DIRS", ())
    monkeypatch.setenv("NNBASICS_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(datasets, "_cache", {})
    assert "mnist" not in available_image_sets()
    with pytest.raises(ConfigError, match="not on this machine.*shapes"):
        make_data(normalize({"dataset": "mnist"}))
