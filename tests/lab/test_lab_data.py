"""lab data: test accuracy grows with the training-set size and the gap shrinks; the power-law fit is right."""

import json
import math

import numpy as np
import pytest

from nnbasics.lab.experiments import data
from nnbasics.lab.experiments._tracking import spearman, updates_to_epochs
from nnbasics.lab.html import check_html


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("data")


def test_more_data_raises_test_accuracy_and_closes_the_gap(run):
    report, _ = run
    m = report.metrics
    assert m["sizes"] == [50, 100, 200, 400, 800, 1600]
    assert m["test_acc_largest"] - m["test_acc_smallest"] >= 0.2
    assert m["gap_largest"] < m["gap_smallest"] - 0.2
    assert m["train_acc"][0] >= 0.98  # 50 images are memorized
    assert m["rank_corr"] >= 0.8
    assert m["power_law.b"] > 0.1 and m["power_law.r2"] > 0.7
    assert m["imagenet_over_1980s"] > 1000  # "thousands of times"
    repeats = data.settings(True)["repeats"]
    assert repeats >= 3 and all(len(r) == repeats for r in m["test_acc_by_repeat"])
    assert m["effect.gain"]["n"] == repeats and m["effect.gain"]["ci95_low"] > 0.05
    assert report.verdict == "supported" and report.rule


def _repeats(curve, spread=0.01):
    """Three repeats around a mean curve (one value per size and repeat)."""
    return [[v - spread, v, v + spread] for v in curve]


def test_verdict_is_computed_from_the_numbers():
    n = [50, 500, 5000]
    supported, because, decisions = data.data_verdict(n, _repeats([0.6, 0.75, 0.85]), _repeats([0.4, 0.2, 0.05]))
    assert supported is True and set(decisions) == {"gain", "gap"} and "beyond the noise" in because
    supported, because, _ = data.data_verdict(n, _repeats([0.8, 0.75, 0.7]), _repeats([0.2, 0.2, 0.3]))
    assert supported is False and "Not as claimed" in because
    # accuracy rises but the gap widens: not as claimed
    assert data.data_verdict(n, _repeats([0.6, 0.7, 0.8]), _repeats([0.1, 0.2, 0.3]))[0] is False
    # the order of the points does not matter
    assert data.data_verdict([5000, 50, 500], _repeats([0.85, 0.6, 0.75]), _repeats([0.05, 0.4, 0.2]))[0] is True


def test_gains_within_the_noise_are_inconclusive():
    # the largest size beats the smallest by 0.06 on average, but the repeats scatter by 0.05:
    # the interval contains the 0.05 a gain must clear
    acc = [[0.60, 0.55, 0.65], [0.65, 0.62, 0.68], [0.70, 0.58, 0.70]]
    gap = [[0.4, 0.35, 0.45], [0.3, 0.3, 0.3], [0.1, 0.12, 0.08]]
    supported, because, decisions = data.data_verdict(n=[50, 500, 5000], test_acc=acc, gap=gap)
    assert supported is None and decisions["gain"].supported is None and "contains 0.050" in because
    # a curve that is not monotone-ish (rank correlation 0.4 < 0.8) is not a decision either way
    assert data.data_verdict([1, 2, 3, 4], _repeats([0.5, 0.9, 0.6, 0.8]), _repeats([0.5, 0.1, 0.4, 0.2]))[0] is None
    # one repeat: no spread, inconclusive
    assert data.data_verdict(n=[50, 500, 5000], test_acc=[0.6, 0.75, 0.85], gap=[0.4, 0.2, 0.05])[0] is None


def test_power_law_fit_recovers_a_known_exponent(rng):
    n = np.array([50, 100, 200, 500, 1000, 5000], np.float64)
    fit = data.fit_power_law(n, 2.5 * n ** -0.35)
    assert fit["a"] == pytest.approx(2.5) and fit["b"] == pytest.approx(0.35) and fit["r2"] == pytest.approx(1.0)
    assert fit["halving_factor"] == pytest.approx(2 ** (1 / 0.35))
    noisy = 2.5 * n ** -0.35 * np.exp(rng.normal(0, 0.02, size=n.shape))
    assert data.fit_power_law(n, noisy)["b"] == pytest.approx(0.35, abs=0.03)
    flat = data.fit_power_law([10, 100], [0.3, 0.3])
    assert flat["b"] == pytest.approx(0.0, abs=1e-12) and flat["halving_factor"] == math.inf
    assert math.isfinite(data.fit_power_law([10, 100, 1000], [0.2, 0.1, 0.0])["b"])  # zero error clipped
    with pytest.raises(ValueError, match="same length"):
        data.fit_power_law([1, 2, 3], [0.1, 0.2])
    with pytest.raises(ValueError, match="> 0"):
        data.fit_power_law([0, 2], [0.1, 0.2])


def test_helpers_on_tiny_inputs():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))
    assert updates_to_epochs(50, 32, 300) == 150 and updates_to_epochs(1600, 32, 300) == 6
    assert updates_to_epochs(10_000, 32, 1) == 1


def test_learning_curve_point_checks_the_subset_size(rng):
    X = rng.random((20, 1, 4, 4), dtype=np.float32)
    y = np.arange(20) % 2
    kw = {"X_train": X, "y_train": y, "X_test": X, "y_test": y, "hidden": [4], "updates": 2, "min_epochs": 1,
          "lr": 1e-2, "batch_size": 8, "seed": 0}
    with pytest.raises(ValueError, match="n=10"):
        data.learning_curve_point(n=10, **kw)
    point = data.learning_curve_point(n=20, **kw)
    assert point["epochs"] == 1 and point["gap"] == pytest.approx(point["train_acc"] - point["test_acc"])
    assert data.learning_curve_point(n=20, **kw) == point  # seeded


def test_files_written(run):
    report, out = run
    page = check_html((out / "report.html").read_text())
    assert page.ok and len(page.images) == len(report.figures) == 1
    assert (out / "figures" / "learning_curve.png").exists()
    assert "thousands of times too small" in report.claim and "ImageNet" in page.text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdict"] == report.verdict and metrics["metrics"]["sizes"] == report.metrics["sizes"]
    config = json.loads((out / "config.json").read_text())
    assert config["sizes"] == report.metrics["sizes"] and config["seed"] == 0
