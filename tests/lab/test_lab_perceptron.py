"""lab perceptron: a single layer fails XOR (<= 75%), a hidden layer solves it; AND/OR are separable."""

import json

import numpy as np
import pytest

from nnbasics.lab.experiments import perceptron
from nnbasics.lab.html import check_html


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("perceptron")


def test_single_layer_fails_xor_and_a_hidden_layer_solves_it(run):
    report, _ = run
    m = report.metrics
    assert m["xor_single_layer_accuracy"] <= 0.75 and m["xor_perceptron_rule_accuracy"] <= 0.75
    assert m["xor_hidden_layer_accuracy"] == 1.0 and m["xor_hidden_solved_fraction"] >= 0.8
    assert m["and_single_layer_accuracy"] == 1.0 and m["or_single_layer_accuracy"] == 1.0
    assert m["xor_single_layer_final_loss"] == pytest.approx(np.log(2), abs=0.02)  # outputs 0.5 everywhere
    assert m["effect.hidden_minus_single"]["n"] == 5 and m["effect.hidden_minus_single"]["ci95_low"] > 0
    assert report.verdict == "supported" and report.rule


def test_verdict_is_computed_from_the_numbers():
    single, hidden = [0.75, 0.5, 0.75, 0.75, 0.5], [1.0] * 5
    supported, because, lead = perceptron.verdict(single, hidden, 1.0)
    assert supported is True and lead.estimate.n == 5 and "beyond the noise" in because
    # a single layer that solved XOR once refutes the claim: the 75% ceiling is a bound
    assert perceptron.verdict([0.75, 1.0, 0.75, 0.5, 0.75], hidden, 1.0)[0] is False
    # a hidden layer that fails refutes it too
    assert perceptron.verdict(single, [0.25, 0.25, 0.5, 0.25, 0.25], 1.0)[0] is False
    supported, because, _ = perceptron.verdict(single, hidden, 0.75)
    assert supported is None and "did not even learn AND/OR" in because


def test_a_hidden_layer_lead_within_the_noise_is_inconclusive():
    # the hidden layer solves XOR in one seed of three: its lead is not beyond the noise
    supported, because, lead = perceptron.verdict([0.75, 0.75, 0.75], [1.0, 0.5, 0.75], 1.0)
    assert supported is None and lead.supported is None and "within the noise" in because
    assert perceptron.verdict([0.75], [1.0], 1.0)[0] is None  # one seed: no spread


def test_training_a_gate_is_deterministic_and_the_rule_stops_on_and():
    a = perceptron.train_gate("XOR", "hidden", seed=11, steps=50)
    b = perceptron.train_gate("XOR", "hidden", seed=11, steps=50)
    assert a["curve"] == b["curve"]
    rule = perceptron.train_gate("AND", "rule", seed=1, steps=400)
    assert rule["accuracy"] == 1.0 and rule["curve"][-1] == 0


def test_files_written_with_both_decision_boundary_figures(run):
    report, out = run
    page = check_html((out / "report.html").read_text())
    assert page.ok and len(page.images) == len(report.figures) == 2
    assert report.claim in page.text and "supported" in page.text
    m = json.loads((out / "metrics.json").read_text())
    assert m["verdict"] == "supported" and m["metrics"]["xor_hidden_layer_accuracy"] == 1.0
    assert (out / "figures" / "decision_boundaries.png").exists() and (out / "report.md").exists()
    assert "truth tables" in report.data_note
