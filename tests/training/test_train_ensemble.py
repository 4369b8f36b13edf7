"""training.ensemble: combination rules, the member report, and members trained in parallel on any Executor."""

import json
import math
import os
import types

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.functional import cross_entropy
from nnbasics.models.mlp import mlp
from nnbasics.training.ensemble import COMBINE_RULES, Ensemble, RayExecutor, SerialExecutor, train_ensemble


class Fixed(nn.Module):
    """Returns fixed logits: row i for input i (inputs are row indices)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = np.asarray(logits, dtype=np.float64)

    def forward(self, x):
        return nb.tensor(self.logits[np.asarray(x._array, dtype=np.int64)])


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


LOGITS = np.array([
    [[2.0, 0.0, -1.0], [0.1, 0.3, 0.2], [0.0, 0.0, 0.0], [-3.0, 1.0, 4.0]],
    [[0.5, 1.5, 0.0], [1.0, -1.0, 0.5], [2.0, 0.0, 0.0], [0.0, 0.5, 0.2]],
    [[1.0, 0.0, 2.0], [0.0, 2.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.0]],
])  # (K=3, N=4, C=3)
X = np.arange(4)


def _ensemble(combine, logits=LOGITS):
    return Ensemble([Fixed(z) for z in logits], combine=combine)


def test_combination_rules_match_their_formulas():
    p = _softmax(LOGITS)
    expected = {
        "mean": p.mean(0),
        "geomean": _softmax(np.log(p).mean(0)),
        "logit_sum": _softmax(LOGITS.sum(0)),
    }
    for combine, want in expected.items():
        ens = _ensemble(combine)
        np.testing.assert_allclose(ens.predict_proba(X), want, rtol=1e-12)
        np.testing.assert_allclose(np.exp(ens(nb.tensor(X))._array), want, rtol=1e-10)
        np.testing.assert_array_equal(ens.predict(X), want.argmax(-1))
    # geomean and logit_sum differ in confidence only
    np.testing.assert_array_equal(_ensemble("geomean").predict(X), _ensemble("logit_sum").predict(X))
    assert not np.allclose(expected["geomean"], expected["logit_sum"])


def test_vote_counts_labels_and_breaks_ties_by_mean_probability():
    ens = _ensemble("vote")
    labels = LOGITS.argmax(-1)  # (3, 4): [[0,1,0,2],[1,0,0,1],[2,1,1,0]]
    votes = np.stack([(labels == c).sum(0) for c in range(3)], -1) / 3
    np.testing.assert_allclose(ens.predict_proba(X), votes)
    # sample 0: one vote each -> the highest mean probability wins
    mean = _softmax(LOGITS).mean(0)
    assert ens.predict(X)[0] == mean[0].argmax()
    assert ens.predict(X)[1] == 1 and ens.predict(X)[2] == 0  # majorities


def test_call_returns_log_probabilities_so_cross_entropy_is_the_ensemble_nll():
    y = np.array([0, 1, 1, 2])
    for combine in ("mean", "geomean", "logit_sum"):
        ens = _ensemble(combine)
        p = ens.predict_proba(X)
        loss = cross_entropy(ens(nb.tensor(X)), nb.tensor(y))
        np.testing.assert_allclose(float(loss._array), -np.log(p[np.arange(4), y]).mean(), rtol=1e-10)


@pytest.mark.parametrize("combine", ["mean", "geomean", "logit_sum"])
def test_gradients_flow_through_the_combination(combine):
    members = [mlp(in_features=3, hidden=[5], out_features=2, activation="tanh", dtype="float64", rng=s)
               for s in range(3)]
    ens = Ensemble(members, combine=combine)
    x = nb.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    nb.gradcheck(lambda x: ens(x), x)


def test_binary_single_logit_members_become_two_classes():
    z = np.array([[[2.0], [-1.0]], [[0.5], [-3.0]]])  # (K=2, N=2, 1)
    ens = _ensemble("mean", z)
    sig = 1 / (1 + np.exp(-z[..., 0]))
    np.testing.assert_allclose(ens.predict_proba(np.arange(2))[:, 1], sig.mean(0), rtol=1e-12)
    np.testing.assert_array_equal(ens.predict(np.arange(2)), [1, 0])


def test_report_accuracies_and_disagreement():
    # member labels: A [0,0,1,1], B [0,1,1,1], C [0,0,0,1]; truth [0,0,1,1]
    onehot = np.eye(2)[np.array([[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 0, 1]])] * 3.0
    rep = _ensemble("vote", onehot).report(np.arange(4), np.array([0, 0, 1, 1]))
    assert rep.member_accuracy == [1.0, 0.75, 0.75]
    assert rep.ensemble_accuracy == 1.0 and rep.best_member_accuracy == 1.0 and rep.gain_over_best == 0.0
    np.testing.assert_allclose(rep.pairwise_disagreement, (0.25 + 0.25 + 0.5) / 3)
    assert rep.disagreement_rate == 0.5 and rep.oracle_accuracy == 1.0 and rep.n_samples == 4
    assert json.loads(json.dumps(rep.to_dict()))["mean_member_accuracy"] == pytest.approx(2.5 / 3)
    assert "| ensemble (vote) | 1.0000 |" in str(rep)


def test_predict_uses_eval_mode_and_restores_the_mode():
    members = [mlp(in_features=3, hidden=[8], out_features=2, dropout=0.5, rng=s) for s in range(2)]
    ens = Ensemble(members).train()
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    a, b = ens.predict_proba(x), ens.predict_proba(x)
    np.testing.assert_array_equal(a, b)  # no dropout noise
    assert ens.training and all(m.training for m in ens.modules())
    np.testing.assert_allclose(ens.predict_proba(x, batch_size=4), a, rtol=1e-6)
    assert list(ens.state_dict())[:2] == ["members.0.0.weight", "members.0.0.bias"]
    np.testing.assert_array_equal(ens.member_predictions(x).shape, (2, 6))


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one model"):
        Ensemble([])
    with pytest.raises(TypeError, match="member 1 is str"):
        Ensemble([Fixed(LOGITS[0]), "model"])
    with pytest.raises(ValueError, match=r"combine must be one of mean, vote, geomean, logit_sum; got 'max'"):
        Ensemble([Fixed(LOGITS[0])], combine="max")
    with pytest.raises(ValueError, match="disagree on the output shape"):
        Ensemble([Fixed(LOGITS[0]), Fixed(LOGITS[0][:, :2])])(nb.tensor(X))
    with pytest.raises(ValueError, match="4 inputs but 3 labels"):
        _ensemble("mean").report(X, np.array([0, 1, 2]))
    assert set(COMBINE_RULES) == {"mean", "vote", "geomean", "logit_sum"}


def test_serial_executor_delivers_results_and_exceptions():
    ex = SerialExecutor()
    assert ex.submit(math.sqrt, 4.0).result() == 2.0
    with pytest.raises(ZeroDivisionError):
        ex.submit(lambda: 1 / 0).result()


# --------------------------------------------------------------- training
SPEC = {"model": "mlp", "in_features": 2, "hidden": [32, 32], "out_features": 3}
TRAIN = {"epochs": 25, "lr": 0.01, "batch_size": 16}


@pytest.fixture(scope="module")
def spiral():
    from nnbasics.data import load_dataset

    # seeded task: overlapping spiral arms, 150 training points, a large test set
    return load_dataset("spiral", "train", n=150, rng=0, noise=0.3), load_dataset("spiral", "test", n=1500, rng=0,
                                                                                   noise=0.3)


def _assert_same_members(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k]._array, sb[k]._array, err_msg=k)


def test_members_are_identical_on_serial_process_pool_and_dask_and_beat_the_best_member(spiral):
    from distributed import Client, LocalCluster

    (X, y), (Xt, yt) = spiral
    serial = train_ensemble(SPEC, (X, y), n_members=4, executor="serial", **TRAIN)
    pool = train_ensemble(SPEC, (X, y), n_members=4, max_workers=2, **TRAIN)  # default: local spawn pool
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = train_ensemble(SPEC, (X, y), n_members=4, executor=client.get_executor(), **TRAIN)
    _assert_same_members(serial, pool)
    _assert_same_members(serial, dask)
    assert serial.seeds == [0, 1, 2, 3] and len(serial.histories) == 4
    assert serial.histories[0]["history"]["loss"] == dask.histories[0]["history"]["loss"]
    # different seeds give different members
    assert not np.array_equal(serial.members[0][0].weight._array, serial.members[1][0].weight._array)
    report = serial.report(Xt, yt)
    assert report.ensemble_accuracy >= report.best_member_accuracy, str(report)
    assert report.ensemble_accuracy > report.mean_member_accuracy
    assert report.pairwise_disagreement > 0


def _factory(rng):
    return mlp(in_features=2, hidden=[8], out_features=3, rng=rng)


def test_factory_seeds_and_validation_data(spiral):
    (X, y), (Xt, yt) = spiral
    ens = train_ensemble(_factory, (X, y), seeds=[5, 9], executor="serial", epochs=2, validation_data=(Xt, yt),
                         combine="vote", optimizer="sgd", lr=0.1, optimizer_kwargs={"momentum": 0.9})
    assert ens.seeds == [5, 9] and ens.combine == "vote" and len(ens) == 2
    assert "val_accuracy" in ens.histories[1]["history"]
    again = train_ensemble(_factory, (X, y), seeds=[5], executor="thread", epochs=2, optimizer="sgd", lr=0.1,
                           optimizer_kwargs={"momentum": 0.9})
    _assert_same_members(Ensemble([ens.members[0]]), again)


def _failing_trainer(model, train, validation, rng, settings):
    raise FloatingPointError("loss is NaN")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"executor": "gpu"}, ValueError, r"executor must be None/'process'.*'serial'"),
    ({"executor": 3}, TypeError, "concurrent.futures.Executor"),
    ({"seeds": [1, 1]}, ValueError, "seeds must differ"),
    ({"seeds": [1, 2], "n_members": 3}, ValueError, "n_members=3 but 2 seeds"),
    ({"n_members": 0}, ValueError, "n_members must be a positive int"),
    ({"combine": "max"}, ValueError, "combine must be one of"),
    ({"optimizer": "adamx"}, ValueError, r"unknown optimizer 'adamx'; valid: sgd, adam"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
    ({"trainer": _failing_trainer, "executor": "serial"}, RuntimeError, r"seed 0 failed: FloatingPointError"),
])
def test_bad_arguments_fail_before_training(spiral, kwargs, error, match):
    (X, y), _ = spiral
    with pytest.raises(error, match=match):
        train_ensemble(SPEC, (X, y), **{"n_members": 2, **kwargs})


def test_a_bad_spec_fails_fast_listing_the_valid_keys(spiral):
    from nnbasics.models.spec import SpecError

    (X, y), _ = spiral
    with pytest.raises(SpecError, match="unknown key.*'hiden'.*Valid keys"):
        train_ensemble({**SPEC, "hiden": [3]}, (X, y), n_members=2)
    with pytest.raises(ValueError, match="different lengths"):
        train_ensemble(SPEC, (X, y[:-1]), n_members=2, executor="serial")


# --------------------------------------------------------------- executors
def test_default_executor_is_a_process_pool_sized_to_the_usable_cpus(monkeypatch):
    from concurrent.futures import ProcessPoolExecutor

    from nnbasics.training import executors as ens_mod  # where resolve_executor lives (ensemble re-exports it)

    if hasattr(os, "sched_getaffinity"):
        assert ens_mod.usable_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(ens_mod, "usable_cpus", lambda: 3)
    for n_jobs, workers in ((8, 3), (2, 2)):
        pool, owned = ens_mod.resolve_executor(None, n_jobs, None)
        try:
            assert isinstance(pool, ProcessPoolExecutor) and owned and pool._max_workers == workers
        finally:
            pool.shutdown()
    pool, _ = ens_mod.resolve_executor(None, 8, 2)  # max_workers caps it
    pool.shutdown()
    assert pool._max_workers == 2
    monkeypatch.setattr(ens_mod, "usable_cpus", lambda: 1)  # one CPU: no pool, run here
    assert isinstance(ens_mod.resolve_executor(None, 8, None)[0], SerialExecutor)


def _fake_ray():
    """A stand-in for the ray module: ray.remote(fn) / ray.remote(**opts)(fn), .remote(...) -> ref, ref.future()."""
    from concurrent.futures import Future

    ray = types.ModuleType("ray")
    ray.calls = []

    class Ref:
        def __init__(self, future):
            self._future = future

        def future(self):
            return self._future

    class Task:
        def __init__(self, fn, options):
            self.fn, self.options = fn, options

        def remote(self, *args, **kwargs):
            ray.calls.append(self.options)
            f = Future()
            f.set_result(self.fn(*args, **kwargs))
            return Ref(f)

    def remote(*args, **options):
        if len(args) == 1 and callable(args[0]) and not options:
            return Task(args[0], {})
        return lambda fn: Task(fn, options)

    ray.remote = remote
    return ray


def test_the_ray_module_is_accepted_unchanged(spiral):
    (X, y), _ = spiral
    ray = _fake_ray()
    small = {"epochs": 2, "lr": 0.01, "batch_size": 32}
    serial = train_ensemble(SPEC, (X, y), n_members=2, executor="serial", **small)
    on_ray = train_ensemble(SPEC, (X, y), n_members=2, executor=ray, **small)
    _assert_same_members(serial, on_ray)
    assert ray.calls == [{}, {}]  # one Ray task per member
    with_options = train_ensemble(SPEC, (X, y), seeds=[1], executor=RayExecutor(ray, num_cpus=2), **small)
    assert ray.calls[-1] == {"num_cpus": 2}
    _assert_same_members(Ensemble([serial.members[1]]), with_options)
    with pytest.raises(TypeError, match="needs the ray module"):
        RayExecutor(object())


def test_an_ensemble_records_its_spec_and_reloads_from_a_checkpoint(spiral, tmp_path):
    from nnbasics.models import build_model
    from nnbasics.training import load_checkpoint, save_checkpoint
    from nnbasics.training.ensemble import _build_member

    (X, y), (Xt, _) = spiral
    ens = train_ensemble(SPEC, (X, y), seeds=[3, 4], executor="serial", combine="geomean", epochs=2)
    assert ens.spec["model"] == "ensemble" and ens.spec["seeds"] == [3, 4] and ens.spec["combine"] == "geomean"
    assert ens.spec["members"][0]["hidden"] == [32, 32]
    fresh = build_model(ens.spec)  # the members' initial weights, as train_ensemble seeded them
    _assert_same_members(fresh, Ensemble([_build_member(ens.spec["members"][0], None, s) for s in (3, 4)]))
    path = save_checkpoint(tmp_path / "ens.safetensors", ens)
    back = load_checkpoint(path).model
    assert isinstance(back, Ensemble) and back.combine == "geomean"
    _assert_same_members(ens, back)
    np.testing.assert_array_equal(back.predict(Xt[:50]), ens.predict(Xt[:50]))
    with pytest.raises(ValueError, match="seeds must be one int >= 0 per member"):
        build_model(ens.spec, seeds=[1])
