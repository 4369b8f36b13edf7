"""Lab `init`: He's 30-layer ReLU loss falls while Xavier's stalls, zeros/N(0, 1) lose to the scaled inits,
zero init never breaks symmetry; the verdict follows the numbers; the report and its figures are written."""

import json
import math

import numpy as np
import pytest

from nnbasics.lab.experiments import _deepnet as D
from nnbasics.lab.experiments import init
from nnbasics.lab.html import check_html
from nnbasics.lab.report import Report


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("init")


def test_he_trains_the_30_layer_relu_net_where_xavier_stalls(run):
    report, _ = run
    m = report.metrics
    assert m["deep.depth"] == 30
    assert m["deep.loss_ratio.he"] < init.FALL
    seeds = init.sizes(True)["seeds"]
    assert seeds >= 3 and len(m["seeds.deep.loss_ratio.he"]) == seeds and m["effect.he"]["ci95_high"] < init.FALL
    for k in ("xavier", "lecun"):
        assert m[f"deep.loss_ratio.{k}"] > init.STALL
        # stuck at chance: the logits are ~0 because the signal died on the way up
        assert m[f"deep.loss_final.{k}"] == pytest.approx(m["chance_loss"], abs=0.02)
        assert m[f"deep.accuracy.{k}"] < m["deep.accuracy.he"]
    assert report.verdict == "supported"


def test_activation_std_shrinks_as_half_per_layer_with_lecun_and_not_with_he(run):
    m = run[0].metrics
    # 29 halvings of the variance: (1/2)^14.5 = 4.3e-5; finite width scatters it within a factor ~10
    theory = m["deep.std_ratio_theory"]
    assert theory == pytest.approx(0.5 ** 14.5, rel=1e-9)
    for k in ("lecun", "xavier"):
        assert theory / 10 < m[f"deep.std_ratio.{k}"] < theory * 10
    assert m["deep.std_ratio.he"] > 0.05


def test_bad_inits_lose_to_scaled_inits(run):
    m = run[0].metrics
    for a in init.JUDGED:
        worst_good = min(m[f"accuracy.{a}.{i}"] for i in init.GOOD)
        assert max(m[f"accuracy.{a}.zeros"], m[f"accuracy.{a}.normal"]) < worst_good
    # too small: ReLU and tanh activations die out layer by layer (5 layers x 0.01 * sqrt(fan_in) < 1)
    for a in ("tanh", "relu"):
        assert m[f"act_std_last.{a}.small"] < 1e-3 * m[f"act_std_last.{a}.he"]
    # too large: N(0, 1) ReLU activations blow up
    assert m["act_std_last.relu.normal"] > 100


def test_zero_init_keeps_every_unit_identical(run):
    m = run[0].metrics
    for a in init.ACTIVATIONS:
        assert m[f"zeros.unit_spread.{a}"] < init.SYMMETRIC
        assert m[f"unit_spread_min.{a}"] > 0.1


def _grid(good=(0.9, 0.88, 0.92), bad=(0.2, 0.22, 0.18)):
    return {(a, i): list(good if i in init.GOOD else bad) for a in init.ACTIVATIONS for i in init.INITS}


HE, STALL = [0.4, 0.45, 0.38], [1.0, 1.0, 0.999]  # three seeds' final / initial loss


def test_verdict_follows_the_numbers():
    acc = _grid()
    ok, because, decisions = init.verdict({"he": HE, "xavier": STALL, "lecun": STALL}, acc)
    assert ok is True and "beyond the noise" in because and set(decisions) == {"he", "xavier", "lecun", "tanh", "relu"}
    # refuting: Xavier trains as well as He
    assert init.verdict({"he": HE, "xavier": HE, "lecun": STALL}, acc)[0] is False
    # refuting: He stalls too
    assert init.verdict({"he": [0.97, 0.98, 0.99], "xavier": STALL, "lecun": STALL}, acc)[0] is False
    # refuting: N(0, 1) beats a scaled init for tanh
    bad = dict(acc)
    bad[("tanh", "normal")] = [0.95, 0.94, 0.96]
    ok, because, _ = init.verdict({"he": HE, "xavier": STALL, "lecun": STALL}, bad)
    assert ok is False and "tanh" in because
    report = Report(init.NAME, init.TITLE, init.CLAIM)
    report.conclude(ok, because)
    assert report.verdict == "not supported"
    # sigmoid is reported, not judged
    sig = dict(acc)
    sig[("sigmoid", "normal")] = [0.95, 0.94, 0.96]
    assert init.verdict({"he": HE, "xavier": STALL, "lecun": STALL}, sig)[0] is True
    assert init.verdict({"he": [float("nan")] * 3, "xavier": STALL}, acc)[0] is None
    assert init.verdict({"he": HE}, acc)[0] is None


def test_numbers_within_the_noise_are_inconclusive():
    acc = _grid()
    # He's loss ratio scatters around the 0.8 threshold: the interval contains it
    ok, because, decisions = init.verdict({"he": [0.6, 0.95, 0.75], "xavier": STALL, "lecun": STALL}, acc)
    assert ok is None and decisions["he"].supported is None and "contains 0.80" in because
    # ReLU's scaled inits lead the bad ones by 0.05 on average, but the seeds disagree
    close = dict(acc)
    close[("relu", "he")] = [0.25, 0.22, 0.35]
    ok, because, decisions = init.verdict({"he": HE, "xavier": STALL, "lecun": STALL}, close)
    assert ok is None and decisions["relu"].supported is None and "within the noise" in because
    # one seed: no spread
    one = {k: v[0] for k, v in acc.items()}
    assert init.verdict({"he": 0.4, "xavier": 1.0, "lecun": 1.0}, one)[0] is None


def test_report_files_and_figures(run):
    report, out = run
    for f in ("report.html", "report.md", "metrics.json", "config.json"):
        assert (out / f).is_file()
    names = {f.name for f in report.figures}
    assert names == {"hist_sigmoid", "hist_tanh", "hist_relu", "training_curves", "deep_relu"}
    for n in names:
        assert (out / "figures" / f"{n}.png").stat().st_size > 1000
    page = check_html((out / "report.html").read_text())
    assert page.ok and len(page.images) == len(report.figures)
    assert "2/(fan_in + fan_out)" in page.text and "LeCun" in page.text
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["verdict"] == report.verdict
    assert len(report.tables) == 4  # accuracy grid, losses, the deep nets, the init_report table
    assert "https://arxiv.org/abs/1502.01852" in page.links
    # N(0, 1) may diverge: its non-finite metrics are stored as null and listed, never as NaN in the JSON
    assert all(saved["metrics"][k] is None for k in saved["metrics"].get("nonfinite", []))


# ------------------------------------------------------------------ helpers on tiny inputs
def test_histogram_fixed_bins_clip_into_end_bins():
    counts, edges = init.histogram([-5.0, -0.5, 0.0, 0.5, 0.99, 7.0, float("nan")], -1.0, 1.0, 4)
    np.testing.assert_allclose(edges, [-1.0, -0.5, 0.0, 0.5, 1.0])
    assert counts.tolist() == [1, 1, 1, 3]
    assert counts.sum() == 6


def test_std_theory_and_loss_ratio():
    np.testing.assert_allclose(init.std_theory(3, 2.0), [2.0, 2.0 * 0.5 ** 0.5, 1.0])
    np.testing.assert_allclose(init.std_theory(3, 1.0, gain=1.0), [1.0, 1.0, 1.0])
    assert init.loss_ratio([2.0, 1.5, 1.0]) == 0.5
    assert math.isnan(init.loss_ratio([2.0, float("nan")]))
    assert math.isnan(init.loss_ratio([]))


def test_train_job_on_tiny_data():
    rng = np.random.default_rng(0)
    y = np.arange(48) % 3
    X = (np.eye(3, 6)[y] * 3 + rng.standard_normal((48, 6))).astype(np.float32)
    out = init.train_job(X=X, y=y, X_test=X, y_test=y, activation="tanh", init="zeros", depth=2, width=5, steps=20,
                         batch_size=8, lr=0.1, net_seed=0, batch_seed=1, probe=16, bins=5)
    assert out["act_std"] == [0.0, 0.0] and len(out["hists"]) == 2
    assert [c.sum() for c, _ in out["hists"]] == [16 * 5, 16 * 5]
    assert max(out["spread"]) == 0.0  # trained, yet every hidden unit still the same
    out = init.train_job(X=X, y=y, X_test=X, y_test=y, activation="tanh", init="lecun", depth=2, width=5, steps=20,
                         batch_size=8, lr=0.1, net_seed=0, batch_seed=1, probe=16, bins=5, hist=False)
    assert out["hists"] == [] and min(out["spread"]) > 0 and out["loss"][-1] < out["loss"][0]
    assert out["accuracy"] > 0.8
    net = D.build_net(6, 3, depth=1, width=4, activation="tanh", init="small", seed=0)
    assert 0.001 < float(np.std(D.linear_layers(net)[0].weight._array)) < 0.02


def test_init_report_diagnoses_the_deep_nets(run):
    report, _ = run
    m = report.metrics
    # the per-layer diagnosis agrees with the claim: LeCun's/Glorot's signal dies with depth, He's does not
    assert m["deep.diag.act_var_last.lecun"] < 1e-6 * m["deep.diag.act_var_last.he"]
    assert m["deep.diag.act_var_last.xavier"] < 1e-6 * m["deep.diag.act_var_last.he"]
    assert any(f.startswith("Diagnostics — LeCun") and "shrink" in f for f in report.findings)
