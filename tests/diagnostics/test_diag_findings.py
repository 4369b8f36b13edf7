"""Plain-language findings: thresholds on both sides, and the sentence names the layer and a remedy."""

import math

from nnbasics.diagnostics import LayerStats, findings


def test_gradient_thresholds():
    assert findings.gradient_finding("1", "linear", 1e-6) == (
        "layer 1 (linear) receives 1e-06 of the output layer's gradient: vanishing — try ReLU or He initialization")
    assert findings.gradient_finding("1", "linear", 2e-3) is None
    assert "exploding" in findings.gradient_finding("0", "conv", 5e3)
    assert findings.gradient_finding("0", "conv", 5e2) is None
    assert findings.gradient_finding("0", "linear", math.nan) is None
    assert "output layer's is 0" in findings.gradient_finding("0", "linear", math.inf)


def test_saturation_dead_and_update_thresholds():
    assert "saturated: 60%" in findings.saturation_finding("3", "tanh", 0.6)
    assert findings.saturation_finding("3", "tanh", 0.4) is None
    assert "70% dead units" in findings.dead_finding("1", "relu", 0.7)
    assert findings.dead_finding("1", "relu", 0.5) is None
    assert "raise the learning rate" in findings.update_finding("0", "linear", 1e-6)
    assert "lower the learning rate" in findings.update_finding("0", "linear", 0.5)
    assert findings.update_finding("0", "linear", 1e-3) is None


def test_layer_findings_collects_in_order():
    stats = [LayerStats("0", "linear", grad_ratio=1e-5, update_ratio=1e-3), LayerStats("1", "sigmoid", saturation=0.9),
             LayerStats("2", "linear", grad_ratio=1.0, update_ratio=0.3)]
    out = findings.layer_findings(stats)
    assert [f.split(" ")[1] for f in out] == ["0", "1", "2"]
    assert "vanishing" in out[0] and "saturated" in out[1] and "too fast" in out[2]
