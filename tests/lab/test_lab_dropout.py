"""lab dropout: a wide MLP memorizes a small slice; dropout shrinks the train/test gap; MC dropout is unsure where wrong."""

import json

import numpy as np
import pytest

from nnbasics import nn
from nnbasics.lab.experiments import dropout
from nnbasics.lab.experiments._uncertainty import auroc, mc_dropout_stats, predictive_entropy
from nnbasics.lab.html import check_html


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("dropout")


def test_the_network_memorizes_without_dropout_and_dropout_shrinks_the_gap(run):
    report = run[0]
    m = report.metrics
    cfg = dropout.settings(True)
    assert m["p0.train_acc"] >= 0.98  # memorized the slice
    assert m["gap_p0"] >= 0.1  # ...and overfits
    assert m["verdict_rate"] == dropout.VERDICT_RATE
    # the direction of the claim: both gaps shrink at the verdict's rate (means over seeds)
    assert m["gap_dropout"] < m["gap_p0"] and m["loss_gap_dropout"] < m["loss_gap_p0"]
    assert m["gap_reduction"] == pytest.approx(m["gap_p0"] - m["gap_dropout"])
    effect = m["effect.gap"]
    assert effect["n"] == cfg["seeds"] >= 4 and effect["values"][0] == pytest.approx(
        m["p0.gap"] - m["p0.5.gap"], abs=0.2)  # per-seed differences
    # the verdict follows the rule: supported only if both intervals lie above 0
    lows = (m["effect.gap"]["ci95_low"], m["effect.loss_gap"]["ci95_low"])
    assert report.verdict == ("supported" if min(lows) > 0 else "inconclusive" if max(
        m["effect.gap"]["ci95_high"], m["effect.loss_gap"]["ci95_high"]) > 0 else "not supported")
    assert "How the verdict is decided" in report.rule and f"{cfg['seeds']} seeds" in report.rule
    if report.verdict == "inconclusive":  # quick mode says when its seeds are too few
        assert any("too few" in f for f in report.findings)
    for p in cfg["rates"]:  # every rate was measured, with every seed
        assert 0 <= m[f"p{p:g}.test_acc"] <= 1 and m[f"p{p:g}.gap"] == pytest.approx(
            m[f"p{p:g}.train_acc"] - m[f"p{p:g}.test_acc"])


def test_mc_dropout_is_more_uncertain_on_its_errors(run):
    m = run[0].metrics
    assert m["mc.n_wrong"] > 0
    assert m["mc.entropy_wrong"] > m["mc.entropy_correct"]
    assert m["mc.std_wrong"] > m["mc.std_correct"]
    assert m["mc.auroc_entropy"] > 0.6
    assert abs(m["mc.mc_accuracy"] - m["mc.eval_accuracy"]) < 0.05  # averaging T passes ~ weight scaling


def _summary(gaps0, gaps5, loss0=(1.0, 1.1, 1.2), loss5=(0.3, 0.2, 0.4), acc0=(0.7, 0.68, 0.69),
             acc5=(0.8, 0.79, 0.81)):
    return {0.0: {"gaps": list(gaps0), "loss_gaps": list(loss0), "test_accs": list(acc0)},
            0.5: {"gaps": list(gaps5), "loss_gaps": list(loss5), "test_accs": list(acc5)}}


def test_verdict_is_computed_from_the_numbers():
    supported, because, decisions = dropout.dropout_verdict(_summary([0.30, 0.32, 0.31], [0.10, 0.12, 0.09]))
    assert supported is True and set(decisions) == {"gap", "loss_gap", "test_acc"} and "beyond the noise" in because
    refuted = _summary([0.30, 0.32, 0.31], [0.35, 0.36, 0.37], loss5=(1.5, 1.6, 1.7), acc5=(0.65, 0.64, 0.66))
    supported, because, _ = dropout.dropout_verdict(refuted)
    assert supported is False and "did not shrink" in because and "did NOT rise" in because
    with pytest.raises(ValueError, match="p = 0"):
        dropout.dropout_verdict({0.5: refuted[0.5]})


def test_a_gap_reduction_within_the_noise_is_inconclusive():
    # the case: a 0.01 reduction while one seed's gap moves by ~0.017: within the noise
    tiny = _summary([0.300, 0.330, 0.285, 0.315], [0.295, 0.305, 0.290, 0.300], loss0=(1.0, 1.1, 1.2, 1.05),
                    loss5=(0.3, 0.2, 0.4, 0.3), acc0=(0.7, 0.68, 0.69, 0.7), acc5=(0.71, 0.69, 0.7, 0.7))
    supported, because, decisions = dropout.dropout_verdict(tiny)
    assert supported is None and decisions["gap"].supported is None and "within the noise" in because
    assert "+0.010" in because  # the numbers, not only the word
    # one seed: whatever the reduction, no spread to judge it against
    one = _summary([0.30], [0.10], loss0=(1.0,), loss5=(0.3,), acc0=(0.7,), acc5=(0.8,))
    assert dropout.dropout_verdict(one)[0] is None


def test_summarize_averages_seeds_per_rate():
    def run_(p, tr, te, seed_index):
        return {"p": p, "gap": tr - te, "loss_gap": 0.5, "seed_index": seed_index,
                "curves": {"train_acc": [tr], "test_acc": [te], "train_loss": [0.1], "test_loss": [0.6]}}

    s = dropout.summarize([run_(0.5, 0.9, 0.8, 1), run_(0.0, 1.0, 0.6, 0), run_(0.5, 1.0, 0.7, 0)])
    assert list(s) == [0.0, 0.5]
    assert s[0.5]["test_acc"] == pytest.approx(0.75) and s[0.5]["gap"] == pytest.approx(0.2)
    assert s[0.5]["gap_std"] == pytest.approx(np.std([0.3, 0.1], ddof=1)) and s[0.5]["n"] == 2
    assert s[0.5]["gaps"] == pytest.approx([0.3, 0.1])  # in seed order, for pairing with p = 0


def test_entropy_and_auroc_on_tiny_inputs():
    np.testing.assert_allclose(predictive_entropy([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]]),
                               [np.log(2), 0.0, -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))])
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [True, False, True, False]) == 0.5  # ties count 1/2
    assert auroc([0.3, 0.1, 0.2], [True, False, False]) == 1.0
    assert auroc([0.3, 0.1], [True, True]) != auroc([0.3, 0.1], [True, True])  # NaN: no negatives


def test_mc_dropout_stats_on_a_tiny_model_is_seeded_and_restores_modes(rng):
    net = nn.Sequential(nn.Linear(3, 16, rng=0), nn.ReLU(), nn.Dropout(0.5, rng=1), nn.Linear(16, 4, rng=2))
    net.train()
    X = rng.normal(size=(20, 3)).astype(np.float32)
    y = rng.integers(0, 4, 20)
    a = mc_dropout_stats(net, X, y, T=8, rng=5, batch_size=7)
    b = mc_dropout_stats(net, X, y, T=8, rng=5, batch_size=7)
    assert net.training and all(m.training for m in net.modules())  # modes restored
    np.testing.assert_allclose(a["entropy"], b["entropy"], rtol=1e-5, atol=1e-6)  # same seed: same masks
    assert a["T"] == 8 and a["entropy"].shape == (20,) and np.all(a["entropy"] >= 0)
    assert np.all(a["entropy"] <= np.log(4) + 1e-6)
    assert a["n_wrong"] == int((~a["correct"]).sum())
    c = mc_dropout_stats(net, X, y, T=8, rng=6)
    assert not np.allclose(a["entropy"], c["entropy"])  # other masks, other passes


def test_files_written_and_convention_stated(run):
    report, out = run
    page = check_html((out / "report.html").read_text())
    assert page.ok and len(page.images) == len(report.figures) == 3
    for name in ("dropout_curves", "dropout_gap", "mc_dropout_entropy"):
        assert (out / "figures" / f"{name}.png").exists()
    assert "Srivastava" in report.claim and "randomly set some neurons to zero" in report.claim
    assert "1/(1 - p)" in page.text and "DROPPING" in page.text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdict"] == report.verdict and metrics["metrics"]["gap_p0"] == report.metrics["gap_p0"]
    assert "https://jmlr.org/papers/v15/srivastava14a.html" in page.links
    config = json.loads((out / "config.json").read_text())
    assert config["rates"] == dropout.settings(True)["rates"] and config["seed"] == 0
    assert "shapes" in report.data_note and "memorize" in report.data_note
