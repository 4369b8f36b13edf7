"""Optimizer behaviour without torch: state dicts, groups, zero_grad, closures, dtypes, validation."""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import optim
from nnbasics.nn import Parameter

STATEFUL = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05, "amsgrad": True}),
]


def make_params(rng, dtype=np.float32):
    return [Parameter(rng.standard_normal((5, 3)).astype(dtype)), Parameter(rng.standard_normal(5).astype(dtype))]


def loss_fn(W, b, X):
    return ((X @ W.T + b).tanh() ** 2).sum() + (W * W).sum()


def train(opt, params, X, steps):
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(*params, X).backward()
        opt.step()
        traj.append([p._array.copy() for p in params])
    return traj


@pytest.mark.parametrize("name,kwargs", STATEFUL, ids=[c[0] for c in STATEFUL])
def test_state_dict_round_trip_gives_identical_continuation(rng, name, kwargs):
    X = nb.tensor(rng.standard_normal((7, 3)).astype(np.float32))
    params = make_params(rng)
    opt = getattr(optim, name)(params, **kwargs)
    train(opt, params, X, 4)
    opt.param_groups[0]["lr"] *= 0.5  # e.g. set by a scheduler: must be saved too
    sd = opt.state_dict()
    at_save = [p._array.copy() for p in params]
    expected = train(opt, params, X, 6)  # the snapshot must not follow these steps

    fresh = [Parameter(a.copy()) for a in at_save]
    opt2 = getattr(optim, name)(fresh, **kwargs)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    got = train(opt2, fresh, X, 6)
    for e, g in zip(expected, got):
        for a, b in zip(e, g):
            np.testing.assert_array_equal(a, b)


def test_state_dict_layout_and_indices_span_groups(rng):
    W, b, extra = make_params(rng) + [Parameter(np.ones(2, dtype=np.float32))]
    opt = optim.Adam([{"params": [W, b]}, {"params": [extra], "lr": 0.5}], lr=0.1)
    W.grad = nb.ones(5, 3)
    extra.grad = nb.ones(2)
    opt.step()  # b has no grad: no state for index 1
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 2]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][2]["step"] == 1 and sd["param_groups"][1]["lr"] == 0.5
    assert sd["state"][0]["exp_avg"] is not opt.state[0][0]["exp_avg"]  # a copy


def test_load_state_dict_validates_and_changes_nothing_on_error(rng):
    params = make_params(rng)
    opt = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = nb.ones(*p.shape)
    opt.step()
    sd = opt.state_dict()

    two_groups = optim.Adam([{"params": [params[0]]}, {"params": [params[1]]}])
    with pytest.raises(ValueError, match="1 parameter group"):
        two_groups.load_state_dict(sd)

    one_param = optim.Adam([params[0]])
    with pytest.raises(ValueError, match="has 2 parameter"):
        one_param.load_state_dict(sd)

    other = make_params(rng)
    other[1] = Parameter(np.zeros(4, dtype=np.float32))
    opt_other = optim.Adam(other, lr=0.3)
    with pytest.raises(ValueError, match=r"shape \(5,\).*\(4,\)"):
        opt_other.load_state_dict(sd)
    assert opt_other.param_groups[0]["lr"] == 0.3 and opt_other.state == [[{}, {}]]  # untouched

    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_load_state_dict_casts_state_to_param_dtype(rng):
    params = make_params(rng, np.float32)
    opt = optim.Adam(params)
    sd64 = {"state": {0: {"step": 2, "exp_avg": np.ones((5, 3)), "exp_avg_sq": np.ones((5, 3))}},
            "param_groups": opt.state_dict()["param_groups"]}
    opt.load_state_dict(sd64)
    assert opt.state[0][0]["exp_avg"].dtype == np.float32


@pytest.mark.parametrize("name,kwargs", STATEFUL, ids=[c[0] for c in STATEFUL])
def test_float32_stays_float32_and_params_without_grad_are_skipped(rng, name, kwargs):
    W, b = make_params(rng)
    frozen = Parameter(np.ones(3, dtype=np.float32))
    opt = getattr(optim, name)([W, b, frozen], **kwargs)
    X = nb.tensor(rng.standard_normal((7, 3)).astype(np.float32))
    train(opt, [W, b], X, 3)
    assert W.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(frozen._array, np.ones(3))
    assert opt.state[0][2] == {}
    for s in opt.state[0][:2]:
        for v in s.values():
            assert not isinstance(v, np.ndarray) or v.dtype == np.float32


def test_zero_grad(rng):
    W, b = make_params(rng)
    opt = optim.SGD([W, b], lr=0.1)
    shared = nb.ones(5)
    W.grad, b.grad = nb.ones(5, 3), shared
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(W.grad._array, 0)
    np.testing.assert_array_equal(shared._array, 1)  # a new zero array, the old one is not written
    opt.zero_grad()
    assert W.grad is None and b.grad is None
    opt.step()  # no grads: nothing happens


def test_step_with_closure_returns_loss_and_records_graph(rng):
    W, b = make_params(rng)
    X = nb.tensor(rng.standard_normal((7, 3)).astype(np.float32))
    opt = optim.SGD([W, b], lr=0.01)

    def closure():
        opt.zero_grad()
        loss = loss_fn(W, b, X)
        loss.backward()
        return loss

    with nb.no_grad():  # the closure runs with gradients enabled anyway
        loss0 = opt.step(closure)
    loss1 = opt.step(closure)
    assert float(loss1) < float(loss0)
    assert opt.step() is None


def test_add_param_group_takes_defaults_and_rejects_overlap(rng):
    W, b = make_params(rng)
    opt = optim.SGD([W], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    assert len(opt.state) == 2 and opt.state[1] == [{}]
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [W]})
    with pytest.raises(ValueError, match="lr of SGD \\(param group 1\\) must be >= 0"):
        optim.SGD([{"params": [W]}, {"params": [b], "lr": -1}], lr=0.1)


def test_repr_lists_groups(rng):
    r = repr(optim.Adam(make_params(rng), lr=0.1))
    assert r.startswith("Adam (") and "Parameter Group 0" in r and "lr: 0.1" in r


@pytest.mark.parametrize("make,message", [
    (lambda p: optim.SGD(p, lr=-1), "lr of SGD must be >= 0. Got -1."),
    (lambda p: optim.SGD(p, momentum=-0.5), "momentum of SGD must be >= 0. Got -0.5."),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov of SGD requires momentum > 0 and dampening = 0"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "requires momentum > 0 and dampening = 0"),
    (lambda p: optim.SGD(p, weight_decay=float("nan")), "weight_decay of SGD must be >= 0"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "lr_decay of Adagrad must be >= 0. Got -1."),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-0.1), "initial_accumulator_value of Adagrad must be >= 0"),
    (lambda p: optim.Adagrad(p, eps=-1e-3), "eps of Adagrad must be >= 0"),
    (lambda p: optim.RMSprop(p, alpha=1.5), r"alpha of RMSprop must be in \[0, 1\). Got 1.5."),
    (lambda p: optim.RMSprop(p, momentum=-1), "momentum of RMSprop must be >= 0"),
    (lambda p: optim.Adam(p, lr=-1), "lr of Adam must be >= 0. Got -1."),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\] of Adam must be in \[0, 1\). Got 1.0."),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"betas\[1\] of Adam must be in \[0, 1\)"),
    (lambda p: optim.Adam(p, eps=-1), "eps of Adam must be >= 0"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay of AdamW must be >= 0. Got -0.1."),
])
def test_hyperparameter_validation(rng, make, message):
    with pytest.raises(ValueError, match=message):
        make(make_params(rng))


def test_params_validation(rng):
    W, b = make_params(rng)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Wrap it in a list"):
        optim.SGD(W, lr=0.1)
    with pytest.raises(TypeError, match="set's order changes"):
        optim.SGD({W, b}, lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([W, W], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([W * 2], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.ones(3)], lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([nb.tensor([1, 2])], lr=0.1)
    with pytest.raises(TypeError, match="betas of Adam must be a pair"):
        optim.Adam([W], betas=0.9)
    with pytest.raises(TypeError, match="lr of Adam must be a real number"):
        optim.Adam([W], lr="0.1")
