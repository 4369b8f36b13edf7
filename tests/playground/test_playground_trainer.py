"""A playground run: the seeded start, the batch order, live changes, NaN location, ensembles, the history."""

import math

import numpy as np
import pytest

from nnbasics.models.spec import build_from_spec
from nnbasics.playground.config import normalize
from nnbasics.playground.datasets import make_data
from nnbasics.playground.network import export_spec, weights_rng
from nnbasics.playground.trainer import MAX_POINTS, BatchStream, Run, lr_at


def run_of(**changes):
    cfg = normalize(changes)
    return Run(cfg, make_data(cfg))


def weights(run, member=0):
    return [p.detach().numpy().copy() for p in run.models[member].parameters()]


@pytest.mark.parametrize("changes", [
    {},
    {"layers": [{"units": 6, "activation": "relu", "dropout": 0.3}] * 2, "batch_norm": True, "optimizer": "momentum"},
    {"dataset": "xor", "members": 3, "loss": "mse", "schedule": "cosine", "schedule_steps": 10},
])
def test_same_setup_same_weights_batches_and_losses(changes):
    a, b = run_of(**changes), run_of(**changes)
    for w, v in zip(weights(a), weights(b)):
        np.testing.assert_array_equal(w, v)
    a.train(40)
    b.train(40)
    assert a.history == b.history and len(a.history["step"]) == 41
    for m in range(len(a.models)):
        for w, v in zip(weights(a, m), weights(b, m)):
            np.testing.assert_array_equal(w, v)
    c = run_of(**{**changes, "seed": 1})
    assert not np.array_equal(weights(c)[0], weights(a)[0]) or c.history["loss"][0] != a.history["loss"][0]


def test_reset_returns_to_the_seeded_start():
    run = run_of()
    start, loss0 = weights(run), run.history["loss"][0]
    run.train(25)
    assert run.step == 25 and not np.array_equal(weights(run)[0], start[0])
    run.reset()
    assert run.step == 0 and run.history["step"] == [0] and run.history["loss"][0] == loss0
    for w, v in zip(weights(run), start):
        np.testing.assert_array_equal(w, v)


def test_inits_share_the_draws_so_normal_and_he_differ_only_in_scale():
    layers = [{"units": 16, "activation": "relu"}] * 3
    normal, he = run_of(layers=layers, init="normal"), run_of(layers=layers, init="he")
    for (name, p), q in zip(normal.models[0].named_parameters(), he.models[0].parameters()):
        if name.endswith("weight"):
            fan_in = p.shape[1]
            np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy() * math.sqrt(2 / fan_in), rtol=1e-6)


def test_the_network_is_the_spec_built_from_the_seed():
    run = run_of(layers=[{"units": 5, "activation": "gelu", "dropout": 0.2}], init="orthogonal", seed=7)
    twin = build_from_spec(export_spec(run.spec), rng=weights_rng(7, 0))
    for w, v in zip(weights(run), (p.detach().numpy() for p in twin.parameters())):
        np.testing.assert_array_equal(w, v)
    kinds = [e["type"] for e in run.spec["layers"]]
    assert kinds == ["linear", "gelu", "dropout", "linear"] and run.spec["init"] == "orthogonal"


def test_batch_stream_full_batches_new_permutation_each_epoch():
    s = BatchStream(10, np.random.default_rng(0))
    batches = [s.next(4) for _ in range(6)]  # two per epoch: 8 of 10 samples, the rest waits
    assert all(len(b) == 4 for b in batches) and s.epoch == 3
    for e in range(3):
        seen = np.r_[batches[2 * e], batches[2 * e + 1]]
        assert len(set(seen.tolist())) == 8
    assert len(BatchStream(3, np.random.default_rng(0)).next(100)) == 3  # full batch


def test_live_changes_keep_the_weights():
    run = run_of(layers=[{"units": 8, "activation": "tanh", "dropout": 0.0}])
    run.train(10)
    before = weights(run)
    new = normalize({"lr": 0.001, "l2": 0.01, "layers": [{"units": 8, "activation": "tanh", "dropout": 0.4}],
                     "batch_size": 4}, base=run.cfg)
    run.apply(new)
    assert run.step == 10
    for w, v in zip(weights(run), before):
        np.testing.assert_array_equal(w, v)
    drops = [m for m in run.models[0].modules() if type(m).__name__ == "Dropout"]
    assert [d.p for d in drops] == [0.4] and run.optimizers[0].param_groups[0]["weight_decay"] == 0.01
    run.train(1)
    assert run.optimizers[0].param_groups[0]["lr"] == 0.001
    run.apply(normalize({"optimizer": "sgd"}, base=run.cfg))
    assert type(run.optimizers[0]).__name__ == "SGD" and run.step == 11


def test_schedules():
    cfg = normalize({"lr": 0.1, "schedule_steps": 100})
    def at(kind, t):
        return lr_at({**cfg, "schedule": kind}, t)
    assert at("constant", 500) == 0.1
    assert at("step", 99) == 0.1 and at("step", 100) == pytest.approx(0.05) and at("step", 250) == pytest.approx(0.025)
    assert at("exponential", 100) == pytest.approx(0.01) and at("exponential", 50) == pytest.approx(0.1 * 0.1 ** 0.5)
    assert at("cosine", 50) == pytest.approx(0.05) and at("cosine", 100) == pytest.approx(0) == at("cosine", 300)
    assert at("warmup", 0) == pytest.approx(0.001) and at("warmup", 100) == pytest.approx(0.1) == at("warmup", 400)


def test_nan_names_the_op_the_layer_and_the_step_and_halts():
    run = run_of(layers=[{"units": 32, "activation": "relu"}] * 8, init="normal", optimizer="momentum", lr=0.02,
                 batch_size=32)
    taken = run.train(50)
    nan = run.nan
    assert nan is not None and taken < 50 and nan["step"] == taken + 1
    assert nan["where"] == "loss" and nan["phase"] == "forward" and nan["op"]
    assert nan["block"].startswith("hidden") and ("Linear" in nan["layer"] or "ReLU" in nan["layer"])
    assert "detect_anomaly" in nan["message"]
    assert run.train(5) == 0 and run.step == taken  # halted until reset
    assert run.history["step"][-1] == taken
    run.reset()
    assert run.nan is None


def test_ensemble_member_zero_is_the_single_network_and_the_metric_is_the_vote():
    single, ens = run_of(dataset="moons", members=1), run_of(dataset="moons", members=3)
    single.train(30)
    ens.train(30)
    for w, v in zip(weights(single), weights(ens, 0)):
        np.testing.assert_array_equal(w, v)
    assert ens.member_metrics[0] == single.history["test_metric"][-1]
    d = ens.data
    vote = ens.ensemble.predict(d.X_test)
    assert ens.history["test_metric"][-1] == float((vote == d.y_test).mean())
    losses = [float(ens.loss(__import__("nnbasics").as_tensor(ens.predict(d.X_test, m)), d.y_test).item())
              for m in range(3)]
    assert ens.history["test_loss"][-1] == pytest.approx(np.mean(losses))


def test_history_is_thinned_by_steps_not_by_time():
    run = run_of(dataset="xor", n=40, layers=[{"units": 2, "activation": "tanh"}])
    run.train(2 * MAX_POINTS + 7)
    steps = run.history["step"]
    assert len(steps) <= MAX_POINTS and all(s % run.every == 0 for s in steps) and run.every == 4
    assert steps == sorted(steps) and steps[0] == 0
    assert all(len(v) == len(steps) for v in run.history.values())


def test_mse_loss_and_regression():
    run = run_of(dataset="spiral", loss="mse")
    run.train(30)
    assert run.history["loss"][-1] < run.history["loss"][0]
    from nnbasics.playground.csvdata import parse_csv

    g = np.random.default_rng(1)
    X = g.uniform(-1, 1, (200, 2))
    table = parse_csv("a,b,target\n" + "\n".join(f"{a},{b},{a * a + b / 2 + 0.25}" for a, b in X))
    cfg = normalize({"dataset": "csv", "loss": "mse", "lr": 0.01, "layers": [{"units": 16, "activation": "tanh"}]})
    reg = Run(cfg, make_data(cfg, table))
    reg.train(400)
    assert reg.data.task == "regression" and reg.history["test_metric"][-1] > 0.8  # R^2


def test_curves_of_big_sets_use_an_even_spread_of_samples():
    run = run_of(dataset="shapes", n=1200, test_fraction=0.5, layers=[{"units": 8, "activation": "relu"}])
    tr, te = run._eval
    assert len(tr) == 512 and len(te) == 1000
    assert set(run.data.y_train[tr].tolist()) == set(range(8))  # a class-major set keeps every class
    run.train(16)
    assert run.history["step"] == [0, 8, 16]
    loss, _ = run.evaluate(run.data.X_train[tr], run.data.y_train[tr])
    assert run.history["loss"][-1] == loss
