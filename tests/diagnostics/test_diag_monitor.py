"""SignalMonitor and gradient_norms: what they measure, against hand computations and the lecture's claims."""

import json
import math

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.diagnostics import LayerStats, SignalMonitor, gradient_norms, gradient_ratio
from nnbasics.models.mlp import mlp
from nnbasics.optim import SGD


def _data(rng, n=64, d=8, k=3):
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, k, n)


def test_deep_sigmoid_gradient_vanishes_relu_he_does_not(rng):
    X, y = _data(rng)
    ratios = {}
    for act, init in [("sigmoid", "lecun"), ("relu", "he")]:
        net = mlp(in_features=8, hidden=[32] * 9, out_features=3, activation=act, init=init, rng=0)
        norms = gradient_norms(net, X, y)
        assert list(norms) == [str(2 * i) for i in range(10)]  # 10 Linear layers, input -> output
        ratios[act] = gradient_ratio(norms)
    assert ratios["sigmoid"] < 1e-3 * ratios["relu"]  # orders of magnitude
    assert 1e-2 < ratios["relu"] < 1e2


def test_monitor_finds_vanishing_gradient_in_deep_sigmoid_net(rng):
    X, y = _data(rng)
    net = mlp(in_features=8, hidden=[32] * 9, out_features=3, activation="sigmoid", init="lecun", rng=0)
    opt = SGD(net.parameters(), lr=0.1)
    with SignalMonitor(net) as mon:
        _step(net, mon, opt, X, y)
    found = mon.findings()
    assert any(f.startswith("layer 0 (linear) receives") and "vanishing" in f for f in found)
    assert not any(f.startswith("layer 16 (linear)") for f in found)  # the last hidden layer is fine


def test_gradient_norms_restores_grads_and_modes(rng):
    X, y = _data(rng)
    net = mlp(in_features=8, hidden=[5], out_features=3, dropout=0.5, rng=0)
    net.eval()
    g0 = nb.ones(*net[0].weight.shape)
    net[0].weight.grad = g0
    norms = gradient_norms(net, X, y, train=True)
    assert net[0].weight.grad is g0 and net[3].weight.grad is None
    assert not any(m.training for m in net.modules())
    # the value is the norm of the weight gradient of a plain backward (in the current, eval, mode)
    norms = gradient_norms(net, X, y)
    net.zero_grad()
    F.cross_entropy(net(nb.tensor(X)), nb.tensor(y)).backward()
    np.testing.assert_allclose(norms["3"], np.linalg.norm(net[3].weight.grad._array), rtol=1e-5)
    assert gradient_ratio([2.0, 4.0]) == 0.5 and math.isnan(gradient_ratio([0.0, 0.0]))
    with pytest.raises(TypeError, match="gradient_norms"):
        gradient_norms("not a model", X, y)


def _step(net, mon, opt, X, y):
    opt.zero_grad()
    F.cross_entropy(net(nb.tensor(X)), nb.tensor(y)).backward()
    mon.after_backward()
    opt.step()
    mon.after_step()


def test_zero_init_relu_units_are_all_dead_and_identical(rng):
    X, _ = _data(rng)
    net = mlp(in_features=8, hidden=[6, 6], out_features=3, activation="relu", init="zeros", rng=0)
    with SignalMonitor(net) as mon:
        net(nb.tensor(X))
        mon.after_step()
    relu = {s.name: s for s in mon.stats()}
    assert relu["1"].kind == "relu" and relu["1"].dead_fraction == 1.0 and relu["3"].dead_fraction == 1.0
    assert relu["0"].act_std == 0.0  # every unit of the zero-init layer computes the same value
    assert mon.findings() and any("layer 1 (relu)" in f and "dead" in f for f in mon.findings())
    # a He-initialized layer keeps most units alive
    net2 = mlp(in_features=8, hidden=[64], out_features=3, activation="relu", init="he", rng=0)
    with SignalMonitor(net2) as mon2:
        net2(nb.tensor(X))
        mon2.after_step()
    assert mon2.stats()[1].dead_fraction < 0.2


def test_histograms_sum_to_the_element_count_with_fixed_edges(rng):
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=0), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 7, 4, rng=0),
                        nn.Tanh())
    x = rng.standard_normal((2, 2, 5, 7)).astype(np.float32) * 4
    mon = SignalMonitor(net, bins=10)
    with mon:
        net(x)
        net(x[:1])  # two forwards in one step accumulate
        mon.after_step()
    for s in mon.stats():
        n = 3 * 3 * 5 * 7 if s.name in ("0", "1") else 3 * 4
        assert s.count == n and int(s.hist.sum()) == n and len(s.edges) == 11
    tanh = mon.stats()[-1]
    np.testing.assert_allclose(tanh.edges[[0, -1]], [-1, 1])
    # mean/std against NumPy on the same outputs
    out = net(x)._array
    with mon:
        net(x)
        mon.after_step()
    s = mon.stats()[-1]
    np.testing.assert_allclose([s.act_mean, s.act_std], [out.mean(), out.std()], rtol=1e-5, atol=1e-7)
    counts, _ = np.histogram(np.clip(out, -1, 1), bins=s.edges)
    np.testing.assert_array_equal(s.hist, counts)
    # conv dead units are channels: a channel with a large negative bias is dead everywhere
    net[0].bias._array[1] = -1e3
    with mon:
        net(x)
        mon.after_step()
    assert mon.stats()[1].dead_fraction == pytest.approx(1 / 3)


def test_tanh_saturation_high_with_unit_normal_low_with_lecun(rng):
    X = rng.standard_normal((128, 64)).astype(np.float32)
    sat = {}
    for init in ("normal", "lecun"):
        net = mlp(in_features=64, hidden=[64] * 4, out_features=3, activation="tanh", init=init, rng=0)
        with SignalMonitor(net, modules=[nn.Tanh]) as mon:
            net(X)
            mon.after_step()
        sat[init] = [s.saturation for s in mon.stats()]
    assert min(sat["normal"]) > 0.5 and max(sat["lecun"]) < 0.05
    assert not any("saturated" in f for f in mon.findings())  # the LeCun net


def test_update_ratio_of_one_sgd_step_matches_hand_computation(rng):
    X, y = _data(rng)
    net = mlp(in_features=8, hidden=[5], out_features=3, activation="relu", init="he", rng=0)
    opt = SGD(net.parameters(), lr=0.1)
    w0 = [net[0].weight._array.copy(), net[2].weight._array.copy()]
    mon = SignalMonitor(net)
    with mon:
        _step(net, mon, opt, X, y)
    g = [net[0].weight.grad._array, net[2].weight.grad._array]  # grads still held after the step
    s = {x.name: x for x in mon.stats()}
    for name, w, gr in zip(("0", "2"), w0, g):
        np.testing.assert_allclose(s[name].update_ratio, 0.1 * np.linalg.norm(gr) / np.linalg.norm(w), rtol=1e-5)
        np.testing.assert_allclose(s[name].grad_norm, np.linalg.norm(gr), rtol=1e-5)
    assert s["2"].grad_ratio == pytest.approx(1.0)
    np.testing.assert_allclose(s["0"].grad_ratio, np.linalg.norm(g[0]) / np.linalg.norm(g[1]), rtol=1e-5)
    assert math.isnan(s["1"].grad_norm) and math.isnan(s["1"].update_ratio)


def test_every_k_records_only_every_kth_step_and_series(rng):
    X, y = _data(rng)
    net = mlp(in_features=8, hidden=[5], out_features=3, rng=0)
    opt = SGD(net.parameters(), lr=0.01)
    with SignalMonitor(net, every=3) as mon:
        for _ in range(7):
            _step(net, mon, opt, X, y)
    assert mon.steps == [0, 3, 6]
    assert mon.series("grad_norm", "0").shape == (3,) and mon.series("hist", "1").shape == (3, 40)
    with pytest.raises(ValueError, match="unknown field"):
        mon.series("nope", "0")


def test_hooks_removed_on_exit_even_on_exceptions(rng):
    net = mlp(in_features=8, hidden=[5], out_features=3, rng=0)
    mon = SignalMonitor(net)
    with pytest.raises(RuntimeError, match="boom"), mon:
        assert all(len(m._forward_hooks) == 1 for _, m in mon._layers)
        raise RuntimeError("boom")
    assert not mon.attached and all(len(m._forward_hooks) == 0 for m in net.modules())
    mon.attach()
    mon.attach()  # idempotent
    assert sum(len(m._forward_hooks) for m in net.modules()) == 3
    mon.detach()
    assert sum(len(m._forward_hooks) for m in net.modules()) == 0


def test_fit_callback_records_each_batch_and_skips_validation(rng):
    from nnbasics.training import fit

    X, y = _data(rng, n=40)
    net = mlp(in_features=8, hidden=[5], out_features=3, rng=0)
    mon = SignalMonitor(net, every=2)
    fit(net, (X, y), epochs=3, batch_size=10, optimizer=SGD(net.parameters(), lr=0.05), validation_data=(X, y),
        callbacks=[mon.callback()], progress=False)
    assert mon.steps == list(range(0, 12, 2))  # 4 batches x 3 epochs, every 2nd
    assert all(s.count == 10 * 5 for s in mon.stats() if s.name == "0")  # one batch of 10, not the validation set
    assert all(math.isfinite(s.update_ratio) and math.isfinite(s.grad_ratio) for s in mon.stats() if s.kind == "linear")
    assert not mon.attached and sum(len(m._forward_hooks) for m in net.modules()) == 0


def test_lstm_model_and_json_round_trip(rng):
    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 5, rng=0)
            self.lstm = nn.LSTM(5, 6, batch_first=True, rng=0)
            self.head = nn.Linear(6, 7, rng=0)

        def forward(self, x):
            out, _ = self.lstm(self.emb(x))
            return self.head(out[:, -1])

    net = Seq()
    x, y = rng.integers(0, 7, (3, 4)), rng.integers(0, 7, 3)
    opt = SGD(net.parameters(), lr=0.1)
    with SignalMonitor(net) as mon:
        _step(net, mon, opt, x, y)
    assert mon.layers == ["emb", "lstm", "head"]
    lstm = mon.stats()[1]
    assert lstm.kind == "lstm" and lstm.count == 3 * 4 * 6 and lstm.grad_norm > 0
    d = json.loads(json.dumps(mon.to_dict(), allow_nan=False))
    assert d["steps"] == [0] and d["records"][0]["lstm"]["count"] == 72
    assert isinstance(mon.table(), str) and "| lstm | lstm |" in mon.table()
    assert isinstance(mon.stats()[0], LayerStats)


def test_bad_arguments_raise_clear_errors():
    net = mlp(in_features=2, hidden=[3], out_features=2, rng=0)
    with pytest.raises(ValueError, match="every"):
        SignalMonitor(net, every=0)
    with pytest.raises(ValueError, match="no submodule named"):
        SignalMonitor(net, modules=["7"])
    with pytest.raises(ValueError, match="nothing recorded"):
        SignalMonitor(net).stats()
