"""Lab `activation`: the 20-layer sigmoid net's first layer gets orders of magnitude less gradient than
ReLU's and learns less; the verdict follows the numbers; the report is written; the deep-MLP helpers."""

import json
import math

import numpy as np
import pytest

from nnbasics.lab.experiments import _deepnet as D
from nnbasics.lab.experiments import activation
from nnbasics.lab.html import check_html
from nnbasics.lab.report import Report


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("activation")


def test_deep_sigmoid_gradient_vanishes_and_relu_learns_more(run):
    report, _ = run
    m = report.metrics
    d = m["deepest"]
    assert d == 20
    for when in ("grad_ratio_init", "grad_ratio_trained"):
        assert m[f"{when}.sigmoid.{d}"] < 1e-2 * m[f"{when}.relu.{d}"]
        assert m[f"{when}.sigmoid.{d}"] < 1e-6  # below 0.25^10 already: geometric in depth
    assert m[f"accuracy.relu.{d}"] >= m[f"accuracy.sigmoid.{d}"] + activation.ACCURACY_MARGIN
    # the verdict's nets ran several seeds, each shared by sigmoid and ReLU
    seeds = activation.sizes(True)["seeds"]
    assert seeds >= 3 and len(m["seeds.accuracy.relu"]) == len(m["seeds.grad_ratio_init.sigmoid"]) == seeds
    assert m["seeds.accuracy.relu"][0] == m[f"accuracy.relu.{d}"]  # the sweep's seed is the first
    assert m["effect.accuracy"]["n"] == seeds and m["effect.accuracy"]["ci95_low"] > activation.ACCURACY_MARGIN
    # sigmoid's ratio falls with depth; at depth 2 it is still within two orders of ReLU's
    ratios = [m[f"grad_ratio_init.sigmoid.{k}"] for k in (2, 5, 10, 20)]
    assert np.all(np.diff(ratios) < 0)
    assert m["grad_ratio_init.sigmoid.2"] > 1e-2 * m["grad_ratio_init.relu.2"]
    # the ReLU family keeps its first layer's gradient within a factor ~10 of the output layer's
    for a in ("relu", "leaky_relu", "elu", "gelu"):
        assert 0.1 < m[f"grad_ratio_init.{a}.{d}"] < 100
    assert report.verdict == "supported"


def test_lecture_bound_measured(run):
    m = run[0].metrics
    assert m["sigmoid_slope_max"] == pytest.approx(0.25, abs=1e-6)
    assert m["sigmoid_bound"] == pytest.approx(0.25 ** 20, rel=1e-4)
    # the measured product of mean slopes is below the bound for sigmoid, and ReLU's is ~0.5^20 (half active)
    assert m["mean_slope_product.sigmoid"] <= m["sigmoid_bound"]
    assert 0.5 ** 20 / 100 < m["mean_slope_product.relu"] < 0.5 ** 20 * 100


def test_same_init_does_not_rescue_sigmoid(run):
    m = run[0].metrics
    for init in ("xavier", "he"):
        assert m[f"same_init.{init}.grad_ratio_init.sigmoid"] < 1e-2 * m[f"same_init.{init}.grad_ratio_init.relu"]


RS, RR = [1e-12, 2e-12, 5e-13], [1.0, 1.3, 0.8]  # three seeds' gradient ratios, sigmoid and ReLU


def test_verdict_follows_the_numbers():
    ok, because, decisions = activation.verdict(RS, RR, [0.125, 0.13, 0.12], [0.6, 0.62, 0.58])
    assert ok is True and "beyond the noise" in because and set(decisions) == {"grad_init", "accuracy"}
    # refuting numbers: sigmoid's gradient as large as ReLU's, and sigmoid more accurate
    ok, because, _ = activation.verdict([0.5, 0.6, 0.55], [1.0, 1.1, 0.9], [0.8, 0.82, 0.79], [0.7, 0.69, 0.71])
    assert ok is False
    report = Report(activation.NAME, activation.TITLE, activation.CLAIM)
    report.conclude(ok, because)
    assert report.verdict == "not supported"
    # gradient vanishes but ReLU does not learn more than the 5-point margin: not supported either
    assert activation.verdict(RS, RR, [0.5, 0.5, 0.51], [0.52, 0.51, 0.52])[0] is False
    # vanishes at init but not after training
    assert activation.verdict(RS, RR, [0.1] * 3, [0.9] * 3, ratio_trained_sigmoid=[0.5, 0.6, 0.4],
                              ratio_trained_relu=[1.0, 1.1, 0.9])[0] is False
    assert activation.verdict([float("nan")] * 3, RR, [0.1] * 3, [0.9] * 3)[0] is None


def test_numbers_within_the_noise_are_inconclusive():
    # ReLU leads by 8 points on average, but the seeds disagree: the interval contains the 5-point margin
    ok, because, decisions = activation.verdict(RS, RR, [0.5, 0.4, 0.45], [0.6, 0.45, 0.55])
    assert ok is None and decisions["accuracy"].supported is None and "contains 0.050" in because
    # one seed: no spread to judge the effect against, however large it is
    assert activation.verdict(1e-12, 1.0, 0.125, 0.6)[0] is None


def test_report_files_and_figures(run):
    report, out = run
    for f in ("report.html", "report.md", "metrics.json", "config.json"):
        assert (out / f).is_file()
    names = {f.name for f in report.figures}
    assert names == {"accuracy_vs_depth", "grad_ratio_vs_depth", "layer_grad_norms"}
    for n in names:
        assert (out / "figures" / f"{n}.png").stat().st_size > 1000
    page = check_html((out / "report.html").read_text())
    assert page.ok and len(page.images) == len(report.figures)
    assert "Xavier/Glorot" in page.text and "He" in page.text
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["verdict"] == report.verdict
    assert saved["metrics"]["grad_ratio_init.relu.20"] == pytest.approx(report.metrics["grad_ratio_init.relu.20"])
    assert "shapes" in report.data_note
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["quick"] is True and cfg["sizes"]["depths"] == [2, 5, 10, 20]


# ------------------------------------------------------------------ helpers on tiny inputs
def _tiny(seed=0, n=60, d=7, k=3):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 3
    y = np.arange(n) % k
    X = (centers[y] + rng.standard_normal((n, d))).astype(np.float32)
    return X, y


def test_grad_ratio():
    assert activation.grad_ratio([2.0, 1.0, 4.0]) == 0.5
    assert math.isnan(activation.grad_ratio([1.0]))
    assert math.isnan(activation.grad_ratio([1.0, 0.0]))
    assert math.isnan(activation.grad_ratio([float("nan"), 1.0]))


def test_sigmoid_slope_max_on_a_grid_without_zero():
    # the grid's point nearest 0 is 0.5 away: sigmoid'(0.5) = s(1 - s) with s = sigmoid(0.5)
    s = 1 / (1 + math.exp(-0.5))
    assert activation.sigmoid_slope_max(-0.5, 1.5, 3) == pytest.approx(s * (1 - s), rel=1e-6)


def test_flatten_standardize_uses_train_statistics():
    rng = np.random.default_rng(1)
    A = rng.uniform(0, 1, (5, 1, 2, 3)).astype(np.float32)
    B = rng.uniform(0, 1, (2, 1, 2, 3)).astype(np.float32)
    a, b = D.flatten_standardize(A, B)
    assert a.shape == (5, 6) and b.shape == (2, 6) and a.dtype == np.float32
    assert abs(a.mean()) < 1e-6 and a.std() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(b, (B.reshape(2, -1) - A.mean()) / A.std(), rtol=1e-5, atol=1e-6)


def test_weight_grad_norms_match_param_grads():
    X, y = _tiny()
    net = D.build_net(7, 3, depth=3, width=5, activation="tanh", init="xavier", seed=0)
    norms = D.weight_grad_norms(net, X, y)
    assert norms.shape == (4,)
    from nnbasics import functional as F
    from nnbasics import tensor

    F.cross_entropy(net(tensor(X)), tensor(y)).backward()
    manual = [np.linalg.norm(m.weight.grad._array) for m in D.linear_layers(net)]
    np.testing.assert_allclose(norms, manual, rtol=1e-5)


def test_trace_and_mean_slope():
    X, _ = _tiny()
    net = D.build_net(7, 3, depth=2, width=5, activation="relu", init="he", seed=0)
    layers = D.trace(net, X)
    assert len(layers) == 2 and all(z.shape == h.shape == (60, 5) for z, h in layers)
    z, h = layers[0]
    np.testing.assert_array_equal(h, np.maximum(z, 0))
    assert D.mean_slope("relu", z) == pytest.approx(float((z > 0).mean()))
    assert D.mean_slope("sigmoid", np.zeros((2, 3))) == pytest.approx(0.25)
    assert D.mean_slope("tanh", np.zeros((2, 3))) == pytest.approx(1.0)


def test_train_lowers_the_loss_and_is_deterministic():
    X, y = _tiny()
    runs = []
    for _ in range(2):
        net = D.build_net(7, 3, depth=2, width=8, activation="relu", init="he", seed=3)
        curve = D.train(net, X, y, steps=40, batch_size=16, lr=0.05, seed=4, checkpoints=4)
        runs.append((curve, D.accuracy(net, X, y)))
    (curve, acc), (curve2, _) = runs
    assert curve["steps"] == [0, 10, 20, 30, 40] and len(curve["batch_loss"]) == 40
    assert curve["loss"][-1] < 0.5 * curve["loss"][0]
    assert acc > 0.9
    assert curve["loss"] == curve2["loss"]


def test_train_stops_on_divergence():
    X, y = _tiny()
    X[7] = np.inf  # the first minibatch that draws row 7 has a non-finite loss
    net = D.build_net(7, 3, depth=2, width=8, activation="relu", init="he", seed=0)
    curve = D.train(net, X, y, steps=30, batch_size=8, lr=0.1, seed=0, checkpoints=30, probe=(X[:7], y[:7]))
    bad = next(i for i, v in enumerate(curve["batch_loss"]) if not math.isfinite(v))
    assert 0 < bad < 29 and all(math.isnan(v) for v in curve["batch_loss"][bad + 1:])
    assert all(math.isfinite(v) for v in curve["loss"][:bad + 1]) and all(math.isnan(v) for v in curve["loss"][bad + 1:])


def test_unit_spread():
    net = D.build_net(7, 3, depth=1, width=4, activation="tanh", init="zeros", seed=0)
    assert D.unit_spread(D.linear_layers(net)[0]) == 0.0
    net = D.build_net(7, 3, depth=1, width=4, activation="tanh", init="lecun", seed=0)
    assert D.unit_spread(D.linear_layers(net)[0]) > 0.1


def test_single_thread_blas_restores_and_computes():
    a = np.arange(12.0).reshape(3, 4)
    with D.single_thread_blas():
        inside = a @ a.T
    np.testing.assert_allclose(inside, a @ a.T)


def test_signal_monitor_shows_why_on_the_deepest_nets(run):
    report, _ = run
    m = report.metrics
    # the sigmoid net's first layer gets (almost) no gradient and so (almost) no update; ReLU's does
    assert m["monitor.grad_ratio_first.sigmoid"] < 1e-6 * m["monitor.grad_ratio_first.relu"]
    assert m["monitor.update_ratio_first.sigmoid"] < 1e-3 * m["monitor.update_ratio_first.relu"]
    assert 0.0 <= m["monitor.dead_fraction_mean.relu"] < 0.9
    assert any(f.startswith("Diagnostics, ") and "vanishing" in f for f in report.findings)
