"""lab dropout: a wide MLP memorizes a small slice; dropout shrinks the train/test gap; MC dropout is unsure where wrong."""

import json

import numpy as np
import pytest

from nnbasics import nn
from nnbasics.lab import run_experiment
from nnbasics.lab.experiments import dropout
from nnbasics.lab.experiments._uncertainty import auroc, mc_dropout_stats, predictive_entropy
from nnbasics.lab.html import check_html


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "dropout"
    return run_experiment("dropout", quick=True, output=out, seed=0, progress=False), out


def test_the_network_memorizes_without_dropout_and_dropout_shrinks_the_gap(run):
    m = run[0].metrics
    assert m["p0.train_acc"] >= 0.98  # memorized the slice
    assert m["gap_p0"] >= 0.1  # ...and overfits
    assert m["best_p"] > 0
    assert m["gap_best"] < m["gap_p0"] - 0.01
    assert m["gap_reduction"] == pytest.approx(m["gap_p0"] - m["gap_best"])
    assert run[0].verdict == "supported"
    for p in (0, 0.1, 0.3, 0.5, 0.7):  # every rate was measured
        assert 0 <= m[f"p{p:g}.test_acc"] <= 1 and m[f"p{p:g}.gap"] == pytest.approx(
            m[f"p{p:g}.train_acc"] - m[f"p{p:g}.test_acc"])


def test_mc_dropout_is_more_uncertain_on_its_errors(run):
    m = run[0].metrics
    assert m["mc.n_wrong"] > 0
    assert m["mc.entropy_wrong"] > m["mc.entropy_correct"]
    assert m["mc.std_wrong"] > m["mc.std_correct"]
    assert m["mc.auroc_entropy"] > 0.6
    assert abs(m["mc.mc_accuracy"] - m["mc.eval_accuracy"]) < 0.05  # averaging T passes ~ weight scaling


def test_verdict_is_computed_from_the_numbers():
    base = {0.0: {"gap": 0.30, "test_acc": 0.70, "train_acc": 1.0}}
    refuted = {**base, 0.5: {"gap": 0.35, "test_acc": 0.65, "train_acc": 1.0}}
    supported, because = dropout.dropout_verdict(refuted)
    assert supported is False and "did not shrink" in because
    tiny = {**base, 0.3: {"gap": 0.295, "test_acc": 0.705, "train_acc": 1.0}}
    assert dropout.dropout_verdict(tiny)[0] is None  # within the margin: inconclusive
    # the gap shrinks but test accuracy does not improve: supported, and the sentence says so
    shrink_only = {**base, 0.7: {"gap": 0.10, "test_acc": 0.69, "train_acc": 0.79}}
    supported, because = dropout.dropout_verdict(shrink_only)
    assert supported is True and "did NOT improve" in because
    # the best rate is chosen by test accuracy, not by the smallest gap
    two = {**base, 0.3: {"gap": 0.2, "test_acc": 0.78, "train_acc": 0.98},
           0.7: {"gap": 0.05, "test_acc": 0.6, "train_acc": 0.65}}
    assert dropout.best_rate(two) == 0.3
    with pytest.raises(ValueError, match="p = 0"):
        dropout.dropout_verdict({0.5: base[0.0]})


def test_summarize_averages_repeats_per_rate():
    def run_(p, tr, te):
        return {"p": p, "gap": tr - te, "loss_gap": 0.5, "curves": {"train_acc": [tr], "test_acc": [te],
                                                                     "train_loss": [0.1], "test_loss": [0.6]}}

    s = dropout.summarize([run_(0.5, 1.0, 0.7), run_(0.0, 1.0, 0.6), run_(0.5, 0.9, 0.8)])
    assert list(s) == [0.0, 0.5]
    assert s[0.5]["test_acc"] == pytest.approx(0.75) and s[0.5]["gap"] == pytest.approx(0.2)
    assert s[0.5]["gap_std"] == pytest.approx(0.1) and s[0.5]["n"] == 2


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
    config = json.loads((out / "config.json").read_text())
    assert config["rates"] == [0.0, 0.1, 0.3, 0.5, 0.7] and config["seed"] == 0
    assert "shapes" in report.data_note and "memorize" in report.data_note
