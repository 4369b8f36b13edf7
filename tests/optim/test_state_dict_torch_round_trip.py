"""Optimizer state dicts move between PyTorch and nnbasics mid-training (held-out case of issue 13 §1).

Each optimizer steps four times on both sides; then each side's state dict is loaded into a fresh
optimizer of the other library and both go on for three steps: the weights must stay equal.
Before this file a PyTorch state dict (its ``step`` is a 0-d tensor) was refused by every
optimizer with a step counter: "state 'step' of parameter 0 has shape (), ... a different model".
"""

import copy

import numpy as np
import pytest

import nnbasics as nb

CONFIGS = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5}),
]


def _loss(lib, w, b, x):
    return ((lib.tensor(x) @ w + b).tanh() ** 2).sum()


def _steps(lib, opt, w, b, x, n):
    for _ in range(n):
        opt.zero_grad()
        _loss(lib, w, b, x).backward()
        opt.step()


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_state_dicts_cross_between_torch_and_nnbasics(torch, name, kwargs):
    r = np.random.default_rng(0)
    w0, b0, x = r.standard_normal((3, 4)), r.standard_normal(4), r.standard_normal((6, 3))
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    nw, nbias = nb.tensor(w0, requires_grad=True), nb.tensor(b0, requires_grad=True)
    t_opt = getattr(torch.optim, name)([tw, tb], **kwargs)
    n_opt = getattr(nb.optim, name)([nw, nbias], **kwargs)
    _steps(torch, t_opt, tw, tb, x, 4)
    _steps(nb, n_opt, nw, nbias, x, 4)

    t_sd, n_sd = t_opt.state_dict(), n_opt.state_dict()
    to_nb = {"state": {k: {kk: vv.numpy() if hasattr(vv, "numpy") else vv for kk, vv in v.items()}
                       for k, v in t_sd["state"].items()}, "param_groups": copy.deepcopy(t_sd["param_groups"])}
    to_torch = {"state": {k: {kk: torch.tensor(np.asarray(vv, dtype=np.float64) if kk != "step" else float(vv))
                              for kk, vv in v.items()} for k, v in n_sd["state"].items()},
                "param_groups": copy.deepcopy(n_sd["param_groups"])}
    t_next = getattr(torch.optim, name)([tw, tb], **kwargs)
    n_next = getattr(nb.optim, name)([nw, nbias], **kwargs)
    n_next.load_state_dict(to_nb)  # torch's state, 0-d step tensors included
    t_next.load_state_dict(to_torch)
    _steps(torch, t_next, tw, tb, x, 3)
    _steps(nb, n_next, nw, nbias, x, 3)
    np.testing.assert_allclose(nw.detach().numpy(), tw.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nbias.detach().numpy(), tb.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert all(isinstance(s["step"], int) for s in n_next.state_dict()["state"].values() if "step" in s)


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_a_torch_state_dict_loads_as_torch_returns_it(torch, name, kwargs):
    """Found by the audit (issue 13): n_opt.load_state_dict(t_opt.state_dict()) with torch's own tensors
    (no .numpy() by hand) stored them as they were, and step() then failed inside NumPy
    ("return arrays must be of ArrayType") or mixed torch tensors into the update."""
    r = np.random.default_rng(1)
    w0, b0, x = r.standard_normal((3, 4)), r.standard_normal(4), r.standard_normal((6, 3))
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    nw, nbias = nb.tensor(w0, requires_grad=True), nb.tensor(b0, requires_grad=True)
    t_opt = getattr(torch.optim, name)([tw, tb], **kwargs)
    _steps(torch, t_opt, tw, tb, x, 4)
    with torch.no_grad():
        nw.data, nbias.data = nb.tensor(tw.numpy()), nb.tensor(tb.numpy())
    n_opt = getattr(nb.optim, name)([nw, nbias], **kwargs)
    n_opt.load_state_dict(t_opt.state_dict())
    assert all(isinstance(v, (np.ndarray, int, float)) for s in n_opt.state_dict()["state"].values() for v in s.values())
    _steps(torch, t_opt, tw, tb, x, 3)
    _steps(nb, n_opt, nw, nbias, x, 3)
    np.testing.assert_allclose(nw.detach().numpy(), tw.detach().numpy(), rtol=1e-9, atol=1e-12)
