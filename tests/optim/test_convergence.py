"""End to end: seeded optimizers minimise a convex quadratic f(x) = 1/2 x^T A x - b^T x."""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import optim
from nnbasics.nn import Parameter
from nnbasics.optim import lr_scheduler


def quadratic(seed=0):
    r = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(r.standard_normal((6, 6)))
    A = (Q * np.linspace(1.0, 10.0, 6)) @ Q.T  # SPD, condition number 10
    b = r.standard_normal(6)
    return A.astype(np.float32), b.astype(np.float32), np.linalg.solve(A, b)


@pytest.mark.parametrize("make,steps", [
    (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), 200),
    (lambda p: optim.Adam(p, lr=0.05), 400),
    (lambda p: optim.AdamW(p, lr=0.05, weight_decay=0.0, amsgrad=True), 400),
    (lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5), 400),
    (lambda p: optim.Adagrad(p, lr=0.5), 400),
])
def test_optimizer_minimises_quadratic(make, steps):
    A, b, x_star = quadratic()
    x = Parameter(np.zeros(6, dtype=np.float32))
    opt = make([x])
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=1e-4)
    At, bt = nb.tensor(A), nb.tensor(b)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (x * (At @ x)).sum() - (bt * x).sum()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
    np.testing.assert_allclose(x._array, x_star, atol=2e-3)
    assert losses[-1] < losses[0]


def test_seeded_training_is_deterministic():
    def run():
        A, b, _ = quadratic(seed=3)
        x = Parameter(nb.randn(6, rng=1)._array)
        opt = optim.Adam([x], lr=0.1)
        out = []
        for _ in range(20):
            opt.zero_grad()
            (0.5 * (x * (nb.tensor(A) @ x)).sum() - (nb.tensor(b) * x).sum()).backward()
            opt.step()
            out.append(x._array.copy())
        return np.array(out)

    np.testing.assert_array_equal(run(), run())
