"""lab ensemble: K members averaged are at least as good as the best of them (bagging), and seed-only members too."""

import json

import numpy as np
import pytest

from nnbasics import nn
from nnbasics.lab.experiments import ensemble
from nnbasics.lab.html import check_html
from nnbasics.training import train_ensemble
from nnbasics.training.ensemble import Ensemble


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("ensemble")


def test_the_ensemble_beats_its_best_member(run):
    report, _ = run
    m = report.metrics
    cfg = ensemble.settings(True)
    assert m["members"] == 5 and len(m["bagging.member_acc"]) == 5 and len(m["bagging.acc_by_k"]) == 5
    assert m["replicates"] == cfg["replicates"] >= 3 and len(m["replicate_gains"]) == m["replicates"]
    # the direction of the claim, and the verdict is the rule applied to the replicates' gains
    assert m["ensemble_acc"] > m["best_member_acc"]
    assert m["gain_over_best"] == pytest.approx(np.mean(m["replicate_gains"]))
    assert m["gain_over_best"] == pytest.approx(m["ensemble_acc"] - m["best_member_acc"])
    effect = m["effect.gain_over_best"]
    assert effect["n"] == m["replicates"]
    assert report.verdict == ("supported" if effect["ci95_low"] > 0 else "not supported" if effect["ci95_high"] < 0
                              else "inconclusive")
    assert m["bagging.best_member_acc"] == max(m["bagging.member_acc"])
    for recipe in ensemble.RECIPES:
        assert m[f"{recipe}.ensemble_acc"] > m[f"{recipe}.mean_member_acc"]  # averaging beats the average member
        assert m[f"{recipe}.ensemble_nll"] < m[f"{recipe}.member_nll_k1"]  # and lowers the test loss
        assert m[f"{recipe}.mean_member_acc"] <= m[f"{recipe}.best_member_acc"] <= m[f"{recipe}.oracle_acc"]
        assert 0 < m[f"{recipe}.pairwise_disagreement"] < 0.5
        assert m[f"{recipe}.acc_by_k"][0] == m[f"{recipe}.member_acc"][0]  # k = 1 is member 0 alone
    # bagging makes the members differ more than seeds alone
    assert m["bagging.pairwise_disagreement"] > m["seeds.pairwise_disagreement"]


def test_verdict_is_computed_from_the_numbers():
    supported, because, decision = ensemble.ensemble_verdict([-0.02, -0.025, -0.018], 0.80, 0.82)
    assert supported is False and "worse than its best member" in because and decision.estimate.n == 3
    assert ensemble.ensemble_verdict([0.012, 0.009, 0.015, 0.011])[0] is True
    with pytest.raises(ValueError, match="numbers"):
        ensemble.ensemble_verdict([float("nan"), 0.01])


def test_a_gain_within_the_noise_is_inconclusive():
    # +0.3 points on average, but the replicates disagree by more than that
    supported, because, _ = ensemble.ensemble_verdict([0.012, -0.006, 0.004, 0.002])
    assert supported is None and "within the noise" in because and "+0.0030" in because
    assert ensemble.ensemble_verdict([0.05])[0] is None  # one replicate: no spread


def _table_member(logits):
    """A Linear member whose output on the one-hot row i is logits[i] (a fixed prediction table)."""
    logits = np.asarray(logits, np.float32)
    lin = nn.Linear(logits.shape[0], logits.shape[1], bias=False, rng=0)
    lin.weight._array[...] = logits.T
    return lin


def test_prefix_scores_on_hand_made_members():
    # 4 samples, true labels 0,1,0,1; member a right on 0,1,2; b right on 1,2,3; c right on 0,3 (confidently wrong on 1,2)
    y = np.array([0, 1, 0, 1])
    a = _table_member([[2, 0], [0, 2], [2, 0], [2, 0]])
    b = _table_member([[0, 1], [0, 1], [1, 0], [0, 1]])
    c = _table_member([[3, 0], [5, 0], [0, 5], [0, 3]])
    X = np.eye(4, dtype=np.float32)
    scores = ensemble.prefix_scores(Ensemble([a, b, c]), X, y)
    assert [s["k"] for s in scores] == [1, 2, 3]
    assert scores[0]["mean_acc"] == 0.75 and scores[0]["best_member_acc"] == 0.75
    assert scores[2]["member_acc"] == [0.75, 0.75, 0.5]
    assert scores[2]["oracle_acc"] == 1.0 and scores[1]["oracle_acc"] == 1.0
    expected = Ensemble([a, b, c]).predict(X)
    assert scores[2]["mean_acc"] == float((expected == y).mean())
    assert scores[2]["vote_acc"] == float((Ensemble([a, b, c], combine="vote").predict(X) == y).mean())
    p = Ensemble([a, b]).predict_proba(X)
    assert scores[1]["nll"] == pytest.approx(-np.log(p[np.arange(4), y]).mean())


def test_bootstrap_trainer_resamples_from_the_member_seed(rng):
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    spec = {"model": "mlp", "in_features": 3, "hidden": [8], "out_features": 2}
    kw = {"seeds": [3, 4], "executor": "serial", "epochs": 2, "batch_size": 16}
    bag1 = train_ensemble(spec, (X, y), trainer=ensemble.bootstrap_trainer, **kw)
    bag2 = train_ensemble(spec, (X, y), trainer=ensemble.bootstrap_trainer, **kw)
    plain = train_ensemble(spec, (X, y), **kw)
    w = [m[0].weight._array for m in bag1.members]
    np.testing.assert_array_equal(w[0], bag2.members[0][0].weight._array)  # seeded: reproducible
    assert not np.allclose(w[0], plain.members[0][0].weight._array)  # another sample than the full set


def test_files_written(run):
    report, out = run
    page = check_html((out / "report.html").read_text())
    assert page.ok and len(page.images) == len(report.figures) == 1
    assert (out / "figures" / "ensemble_members.png").exists()
    assert len(report.tables) == 3 and "bagging" in page.text and "seeds" in page.text
    assert "https://doi.org/10.1007/BF00058655" in page.links
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdict"] == report.verdict
    assert metrics["metrics"]["gain_over_best"] == pytest.approx(report.metrics["gain_over_best"])
    config = json.loads((out / "config.json").read_text())
    assert config["members"] == 5 and config["seed"] == 0
