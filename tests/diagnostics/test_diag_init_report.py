"""init_report: the variance predictions hold for a wide random net and fail when the weight scale is wrong."""

import json

import numpy as np
import pytest

from nnbasics import nn
from nnbasics.diagnostics import init_report
from nnbasics.models.mlp import apply_init, mlp


def _linear_net(width=256, depth=4):
    net = nn.Sequential(*[nn.Linear(width, width, rng=k) for k in range(depth)])
    apply_init(net, "lecun", rng=0)
    return net


def test_wide_linear_net_measured_matches_predicted(rng):
    X = rng.standard_normal((512, 256))
    rep = init_report(_linear_net(), X, scheme="lecun")
    assert [r.name for r in rep.rows] == ["0", "1", "2", "3"]
    for r in rep.rows:
        # relative sampling error of a variance over 512 x 256 elements and a 256-wide random W: a few %
        assert r.act_ratio == pytest.approx(1.0, abs=0.1)
        assert r.act_var_chain == pytest.approx(r.act_var, rel=0.1)
        assert r.grad_ratio == pytest.approx(1.0, abs=0.1)
        assert r.weight_var == pytest.approx(1 / 256, rel=0.05)
    assert rep.findings() == []
    # the gradient reaching the output layer's output is the unit-variance upstream gradient
    assert rep.rows[-1].grad_out_sq == pytest.approx(1.0, abs=0.05)


def test_wrong_weight_scale_disagrees_and_is_named(rng):
    X = rng.standard_normal((512, 256))
    net = _linear_net()
    for m in net.modules():
        if isinstance(m, nn.Linear):
            m.weight._array *= 3.0  # std instead of variance style bug: 9x the variance
    rep = init_report(net, X, scheme="lecun")
    for r in rep.rows:
        assert r.act_ratio == pytest.approx(9.0, rel=0.15) and r.grad_ratio == pytest.approx(9.0, rel=0.15)
    found = rep.findings()
    assert any(f.startswith("layer 0 (linear) has weights of variance") and "'lecun'" in f for f in found)
    assert any(f.startswith("activations grow by") for f in found)
    # without a scheme the prediction follows the actual weights and agrees again
    assert all(r.act_ratio == pytest.approx(1.0, abs=0.1) for r in init_report(net, X).rows)


def test_relu_lecun_shrinks_by_half_per_layer_he_keeps_it(rng):
    X = rng.standard_normal((256, 128)).astype(np.float32)
    per_layer = {}
    for init in ("lecun", "he"):
        net = mlp(in_features=128, hidden=[128] * 7, out_features=128, activation="relu", init=init, rng=0)
        rep = init_report(net, X)
        v = [r.act_var for r in rep.rows]
        per_layer[init] = (v[-1] / v[0]) ** (1 / (len(v) - 1))
        for r in rep.rows:
            assert r.act_ratio == pytest.approx(1.0, abs=0.2)  # the local prediction holds in both
        if init == "lecun":
            assert any(f.startswith("activations shrink by") and "He initialization" in f for f in rep.findings())
            assert rep.rows[3].activation == "relu"
            assert rep.rows[3].act_var_chain == pytest.approx(rep.rows[3].act_var, rel=0.3)
        else:
            assert not any(f.startswith("activations") for f in rep.findings())
    assert per_layer["lecun"] == pytest.approx(0.5, abs=0.1) and per_layer["he"] == pytest.approx(1.0, abs=0.15)


def test_zero_init_conv_net_and_json(rng):
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=0), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 7, 3, rng=0))
    apply_init(net, "zeros")
    rep = init_report(net, rng.standard_normal((4, 2, 5, 7)))
    assert rep.rows[0].kind == "conv" and rep.rows[0].fan_in == 18 and rep.rows[0].fan_out == 36
    assert any("all-zero weights" in f for f in rep.findings())
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert d["rows"][0]["name"] == "0" and "|" in str(rep)
    grads_before = [p.grad for p in net.parameters()]
    assert grads_before == [None] * 4  # init_report restored them
    with pytest.raises(ValueError, match="no Linear or Conv"):
        init_report(nn.Sequential(nn.ReLU()), np.ones((2, 3)))
