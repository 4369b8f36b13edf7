"""The lecture's XOR story: one layer cannot separate XOR; one hidden layer can.

Issue 3, item 8: a single-layer perceptron or logistic unit cannot exceed 75 %
on XOR; a 2-2-1 sigmoid MLP and a ReLU MLP reach 100 % from seeded starts.
"""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn, optim

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
Y = np.array([0, 1, 1, 0])


def _train(model, steps, lr):
    x, y = nb.tensor(X), nb.tensor(Y[:, None].astype(np.float32))
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with nb.no_grad():
        pred = (model(x)._array[:, 0] > 0).astype(int)
    return losses, float((pred == Y).mean())


@pytest.mark.parametrize("seed", range(4))
def test_logistic_unit_cannot_exceed_75_percent(seed):
    losses, acc = _train(nn.Linear(2, 1, rng=seed), steps=300, lr=0.1)
    assert acc <= 0.75
    assert losses[-1] > 0.6  # stuck near ln 2: no linear boundary separates XOR


def test_no_linear_boundary_exceeds_75_percent():
    # Any (w, b): at most 3 of the 4 XOR points on the right side (the geometric fact behind the story).
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((20000, 2)), rng.standard_normal(20000)
    pred = (X @ w.T + b > 0).astype(int)  # (4, 20000)
    best = (pred == Y[:, None]).mean(axis=0).max()
    assert best == 0.75


def test_rosenblatt_perceptron_never_reaches_100_percent_on_xor():
    p = nn.Perceptron(2, rng=0)
    mistakes = p.fit(X, Y, epochs=50)
    assert min(mistakes) > 0  # never a clean epoch
    assert p.score(X, Y) <= 0.75


def test_rosenblatt_perceptron_learns_and():
    y_and = np.array([0, 0, 0, 1])
    p = nn.Perceptron(2, rng=0)
    mistakes = p.fit(X, y_and, epochs=50)
    assert mistakes[-1] == 0 and p.score(X, y_and) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_2_2_1_sigmoid_mlp_solves_xor(seed):
    # Seeds 3, 4, 5 and 7 fall into the classic XOR local minimum (loss ln2/2, 50 %) with
    # this recipe: the two-unit sigmoid net is the smallest that can solve XOR, not a reliable one.
    model = nn.Sequential(nn.Linear(2, 2, rng=seed), nn.Sigmoid(), nn.Linear(2, 1, rng=seed + 100))
    losses, acc = _train(model, steps=1500, lr=0.1)
    assert acc == 1.0
    assert losses[-1] < 0.01 < losses[0]


@pytest.mark.parametrize("seed", range(4))
def test_relu_mlp_solves_xor(seed):
    model = nn.Sequential(nn.Linear(2, 8, rng=seed), nn.ReLU(), nn.Linear(8, 1, rng=seed + 100))
    losses, acc = _train(model, steps=300, lr=0.05)
    assert acc == 1.0
    assert losses[-1] < 0.05 < losses[0]


def test_readme_example_runs():
    """The README's ten-line example, executed as written."""
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = re.search(r"## Ten lines\n\n```python\n(.*?)```", readme, re.DOTALL).group(1)
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - our own README
    assert ns["loss"].item() < 0.01
    assert ns["model"](ns["x"]).argmax(dim=1).tolist() == [0, 1, 1, 0]
