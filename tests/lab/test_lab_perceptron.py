"""lab perceptron: a single layer fails XOR (<= 75%), a hidden layer solves it; AND/OR are separable."""

import json

import numpy as np
import pytest

from nnbasics.lab import run_experiment
from nnbasics.lab.experiments import perceptron
from nnbasics.lab.html import check_html


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "perceptron"
    return run_experiment("perceptron", quick=True, output=out, seed=0, progress=False), out


def test_single_layer_fails_xor_and_a_hidden_layer_solves_it(run):
    report, _ = run
    m = report.metrics
    assert m["xor_single_layer_accuracy"] <= 0.75 and m["xor_perceptron_rule_accuracy"] <= 0.75
    assert m["xor_hidden_layer_accuracy"] == 1.0 and m["xor_hidden_solved_fraction"] >= 0.8
    assert m["and_single_layer_accuracy"] == 1.0 and m["or_single_layer_accuracy"] == 1.0
    assert m["xor_single_layer_final_loss"] == pytest.approx(np.log(2), abs=0.02)  # outputs 0.5 everywhere
    assert report.verdict == "supported"


def test_verdict_is_computed_from_the_numbers():
    assert perceptron.verdict(0.75, 1.0, 1.0)[0] is True
    assert perceptron.verdict(1.0, 1.0, 1.0)[0] is False  # a single layer that solved XOR refutes the claim
    assert perceptron.verdict(0.5, 0.2, 1.0)[0] is False  # a hidden layer that mostly fails does too
    supported, because = perceptron.verdict(0.5, 1.0, 0.75)
    assert supported is None and "did not even learn AND/OR" in because


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
