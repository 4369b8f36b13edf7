"""LBFGS: parameters and losses step for step as torch.optim.LBFGS (float64), closure-call counts, errors."""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.optim import LBFGS


def _problem(rng):
    x = rng.standard_normal((40, 5))
    y = np.tanh(x @ rng.standard_normal((5, 1))) + 0.1 * rng.standard_normal((40, 1))
    w0, b0 = rng.standard_normal((5, 3)) * 0.5, rng.standard_normal((3,)) * 0.1
    v0 = rng.standard_normal((3, 1)) * 0.5
    return x, y, (w0, b0, v0)


def _run_nnbasics(x, y, init, steps, **kw):
    params = [nb.nn.Parameter(a.copy()) for a in init]
    opt = LBFGS(params, **kw)
    X, Y = nb.tensor(x), nb.tensor(y)
    calls, losses = [0], []

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = ((nb.tanh(X @ params[0] + params[1]) @ params[2] - Y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return [p.detach().numpy().copy() for p in params], losses, calls[0]


def _run_torch(torch, x, y, init, steps, **kw):
    params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    opt = torch.optim.LBFGS(params, **kw)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    calls, losses = [0], []

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = ((torch.tanh(X @ params[0] + params[1]) @ params[2] - Y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return [p.detach().numpy() for p in params], losses, calls[0]


@pytest.mark.parametrize("kw", [{"lr": 1.0}, {"lr": 0.5, "history_size": 3, "max_iter": 7}, {"lr": 0.8, "max_eval": 4}])
def test_lbfgs_matches_torch(torch, rng, kw):
    x, y, init = _problem(rng)
    ours, our_losses, our_calls = _run_nnbasics(x, y, init, 3, **kw)
    theirs, their_losses, their_calls = _run_torch(torch, x, y, init, 3, **kw)
    assert our_calls == their_calls
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-9, atol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    assert our_losses[-1] < our_losses[0]


def test_lbfgs_refuses_what_it_does_not_do():
    w = nb.nn.Parameter(nb.ones(2))
    with pytest.raises(ValueError, match="strong_wolfe.*not implemented"):
        LBFGS([w], line_search_fn="strong_wolfe")
    with pytest.raises(ValueError, match="needs a closure"):
        LBFGS([w]).step()
    with pytest.raises(ValueError, match="param"):
        LBFGS([{"params": [w]}, {"params": [nb.nn.Parameter(nb.ones(1))], "lr": 0.1}])
