"""Optimizers stepped side by side with torch.optim on the same problem: the same trajectory.

The problem: W (5, 3) and b (5,), loss = sum(tanh(X W^T + b) * C) + 0.1 * sum(W^2),
gradients from nnbasics autograd on one side and torch autograd on the other.
float64 on both sides isolates the update rules; one float32 run per optimizer
checks that nothing is upcast and that the float32 rounding stays close.
"""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import optim
from nnbasics.nn import Parameter

STEPS = 10

# (optimizer, kwargs, the same kwargs without the option under test: the option must change torch's trajectory)
CONFIGS = [
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.3}, {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.3, "maximize": True}, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.3}, {"lr": 0.1, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "maximize": True}, {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.2}, {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5}, {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.3}, {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "eps": 0.1}, {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.2, "weight_decay": 0.1, "maximize": True},
     {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.2, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}, None),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}, {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}, {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.3}, {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1},
     {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "maximize": True}, {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adam", {"lr": 0.05}, None),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.9)}, {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.3}, {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "eps": 0.1}, {"lr": 0.05}),
    ("Adam", {"lr": 0.1, "betas": (0.9, 0.8), "amsgrad": True}, {"lr": 0.1, "betas": (0.9, 0.8)}),
    ("Adam", {"lr": 0.1, "betas": (0.9, 0.8), "amsgrad": True, "weight_decay": 0.3},
     {"lr": 0.1, "betas": (0.9, 0.8), "weight_decay": 0.3}),
    ("Adam", {"lr": 0.05, "maximize": True}, {"lr": 0.05}),
    ("AdamW", {"lr": 0.05}, {"lr": 0.05, "weight_decay": 0.0}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.5}, {"lr": 0.05, "weight_decay": 0.0}),
    ("AdamW", {"lr": 0.1, "betas": (0.9, 0.8), "amsgrad": True, "weight_decay": 0.3},
     {"lr": 0.1, "betas": (0.9, 0.8), "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "maximize": True}, {"lr": 0.05, "weight_decay": 0.3}),
]


def _ids(cfg):
    name, kw, _ = cfg
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def make_problem(dtype, seed=7):
    r = np.random.default_rng(seed)
    W0 = r.standard_normal((5, 3))
    b0 = 0.5 * r.standard_normal(5)
    X = r.standard_normal((7, 3))
    C = r.standard_normal((7, 5))
    return [a.astype(dtype) for a in (W0, b0, X, C)]


def nb_loss(W, b, X, C):
    return ((X @ W.T + b).tanh() * C).sum() + 0.1 * (W * W).sum()


def torch_loss(torch, W, b, X, C):
    return (torch.tanh(X @ W.T + b) * C).sum() + 0.1 * (W * W).sum()


def run_nb(name, kwargs, steps=STEPS, dtype=np.float64, groups=None, seed=7):
    W0, b0, X, C = make_problem(dtype, seed)
    W, b = Parameter(W0.copy()), Parameter(b0.copy())
    X, C = nb.tensor(X), nb.tensor(C)
    params = [W, b] if groups is None else groups(W, b)
    opt = getattr(optim, name)(params, **kwargs)
    data = (W._array, b._array)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        nb_loss(W, b, X, C).backward()
        grads = [p.grad._array.copy() for p in (W, b)]
        opt.step()
        for p, g in zip((W, b), grads):  # the optimizer never writes into a gradient
            np.testing.assert_array_equal(p.grad._array, g)
        assert W._array is data[0] and b._array is data[1], "parameters must be updated in place"
        traj.append((W._array.copy(), b._array.copy()))
    return traj, opt


def run_torch(torch, name, kwargs, steps=STEPS, dtype=np.float64, groups=None, seed=7):
    W0, b0, X, C = make_problem(dtype, seed)
    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    X, C = torch.tensor(X), torch.tensor(C)
    params = [W, b] if groups is None else groups(W, b)
    opt = getattr(torch.optim, name)(params, foreach=False, **kwargs)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        torch_loss(torch, W, b, X, C).backward()
        opt.step()
        traj.append((W.detach().numpy().copy(), b.detach().numpy().copy()))
    return traj, opt


def assert_same_trajectory(ours, theirs, rtol, atol):
    assert len(ours) == len(theirs)
    for step, (a, t) in enumerate(zip(ours, theirs)):
        for name, x, y in zip(("W", "b"), a, t):
            assert x.dtype == y.dtype, f"step {step}: {name} is {x.dtype}, torch's {y.dtype}"
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {step + 1}, param {name}")


@pytest.mark.parametrize("cfg", CONFIGS, ids=[_ids(c) for c in CONFIGS])
def test_trajectory_matches_torch_float64(torch, cfg):
    name, kwargs, ablated = cfg
    ours, _ = run_nb(name, kwargs)
    theirs, _ = run_torch(torch, name, kwargs)
    assert_same_trajectory(ours, theirs, rtol=1e-7, atol=1e-10)
    if ablated is not None:  # the option under test changes the trajectory, so parity really tests it
        without, _ = run_torch(torch, name, ablated)
        diff = max(np.abs(x - y).max() for (x, _), (y, _) in zip(theirs, without))
        assert diff > 1e-4, f"{kwargs} and {ablated} give the same trajectory: the test would not see the option"
    moved = np.abs(theirs[-1][0] - make_problem(np.float64)[0]).max()
    assert moved > 1e-2  # the trajectory goes somewhere


FLOAT32_CONFIGS = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
]


@pytest.mark.parametrize("name,kwargs", FLOAT32_CONFIGS, ids=[c[0] for c in FLOAT32_CONFIGS])
def test_trajectory_matches_torch_float32(torch, name, kwargs):
    ours, opt = run_nb(name, kwargs, dtype=np.float32)
    theirs, _ = run_torch(torch, name, kwargs, dtype=np.float32)
    assert_same_trajectory(ours, theirs, rtol=1e-4, atol=1e-5)  # dtype checked there: no float64 upcast
    for states in opt.state:
        for s in states:
            for v in s.values():
                assert not isinstance(v, np.ndarray) or v.dtype == np.float32


def _groups(W, b):
    return [{"params": [W], "lr": 0.1}, {"params": [b], "lr": 0.02, "momentum": 0.5, "weight_decay": 0.2}]


def _adam_groups(W, b):
    return [{"params": [W]}, {"params": [b], "lr": 0.01, "amsgrad": True, "betas": (0.8, 0.9)}]


@pytest.mark.parametrize("name,kwargs,groups", [
    ("SGD", {"lr": 0.3, "momentum": 0.9}, _groups),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, _groups),
    ("Adam", {"lr": 0.05}, _adam_groups),
])
def test_param_groups_match_torch(torch, name, kwargs, groups):
    ours, opt = run_nb(name, kwargs, groups=groups)
    theirs, _ = run_torch(torch, name, kwargs, groups=groups)
    assert_same_trajectory(ours, theirs, rtol=1e-7, atol=1e-10)
    # group-specific values were kept, the rest filled from the defaults
    g0, g1 = opt.param_groups
    if name == "Adam":
        assert (g0["lr"], g0["amsgrad"], g0["betas"]) == (0.05, False, (0.9, 0.999))
        assert (g1["lr"], g1["amsgrad"], g1["betas"]) == (0.01, True, (0.8, 0.9))
    else:
        assert (g0["lr"], g0["momentum"], g0["weight_decay"]) == (0.1, 0.9, 0)
        assert (g1["lr"], g1["momentum"], g1["weight_decay"]) == (0.02, 0.5, 0.2)


STATE_CONFIGS = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "amsgrad": True}),
]


@pytest.mark.parametrize("name,kwargs", STATE_CONFIGS, ids=[c[0] for c in STATE_CONFIGS])
def test_state_matches_torch_layout_and_values(torch, name, kwargs):
    _, ours = run_nb(name, kwargs, steps=3)
    _, theirs = run_torch(torch, name, kwargs, steps=3)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1]
    for i in (0, 1):
        assert set(sd["state"][i]) == set(tsd["state"][i])
        for key, value in sd["state"][i].items():
            ref = tsd["state"][i][key]
            if key == "step":
                assert value == int(ref) == 3
            else:
                np.testing.assert_allclose(value, ref.numpy(), rtol=1e-7, atol=1e-12, err_msg=key)
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    for key, value in sd["param_groups"][0].items():
        assert key in tsd["param_groups"][0], key
        assert value == tsd["param_groups"][0][key], key
