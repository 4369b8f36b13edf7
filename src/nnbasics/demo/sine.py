"""Sine-wave prediction: an LSTM reads a stretch of a sine wave and predicts each next value.

Windows of ``window`` samples of ``sin(w t + phase)`` (random phases, step ``dt``) are the
inputs; the targets are the same windows one sample later. The model is an LSTM of
``hidden`` units and a Linear read-out, trained on the mean squared error at every step::

    x_t = sin(w (t0 + t dt))               (N, T, 1)
    h_t = LSTM(x_t, h_{t-1});  yhat_t = h_t W^T + b   ->  predicts x_{t+1}

A single sample does not say whether the wave is rising or falling; the recurrent state,
which has seen the previous samples, does. The test MSE is measured on fresh phases.

Run it: ``python -m nnbasics.demo.sine``.

Example:
    >>> r = run(rng=0)
    >>> r["test_mse"] < 1e-3
    True
"""

from __future__ import annotations

import argparse

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..functional import mse_loss
from ..optim import Adam
from ..rng import as_generator
from ..tensor import as_tensor
from .charseq import check_demo_args

__all__ = ["SineModel", "main", "run", "sine_windows"]


def sine_windows(n: int, window: int, *, dt: float = 0.2, rng=None):
    """``n`` windows of ``window + 1`` samples at random phases: ``(x, y)`` each ``(n, window, 1)`` float32."""
    g = as_generator(rng)
    phase = g.uniform(0, 2 * np.pi, size=(n, 1))
    wave = np.sin(phase + dt * np.arange(window + 1)[None, :]).astype(np.float32)  # (n, window + 1)
    return wave[:, :-1, None], wave[:, 1:, None]


class SineModel(nn.Module):
    """LSTM(1, hidden) -> Linear(hidden, 1), batch first: ``(N, T, 1) -> (N, T, 1)``."""

    def __init__(self, hidden: int = 16, *, rng=None):
        super().__init__()
        g = as_generator(rng)
        self.rnn = nn.LSTM(1, hidden, batch_first=True, rng=g)
        self.fc = nn.Linear(hidden, 1, rng=g)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out)


def run(*, window: int = 20, n_train: int = 64, steps: int = 150, hidden: int = 16, lr: float = 0.02, rng=0,
        out=None) -> dict:
    """Train on ``n_train`` windows (full batch, Adam) and measure the MSE on fresh ones.

    The first ``window // 4`` steps of each window are left out of the test MSE: there the
    state has not yet seen enough samples to know the direction of the wave.

    Returns:
        dict: ``losses`` (training MSE per step), ``train_mse``, ``test_mse``, ``baseline_mse``
        (predicting "no change", x_{t+1} = x_t, on the test windows).
    """
    check_demo_args(steps, hidden, lr)
    g = as_generator(rng)
    x, y = sine_windows(n_train, window, rng=g)
    xt, yt = sine_windows(256, window, rng=g)
    model = SineModel(hidden, rng=g)
    opt = Adam(model.parameters(), lr=lr)
    X, Y = as_tensor(x), as_tensor(y)
    losses = []
    for _ in range(steps):
        loss = mse_loss(model(X), Y)
        losses.append(float(loss.item()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    burn = window // 4
    with no_grad():
        train_mse = float(mse_loss(model(X), Y).item())
        pred = model(as_tensor(xt))._array
    test_mse = float(((pred - yt)[:, burn:] ** 2).mean())
    baseline = float(((xt - yt)[:, burn:] ** 2).mean())
    if out is not None:
        for s in range(0, steps, max(1, steps // 10)):
            out(f"step {s:>4}  train MSE {losses[s]:.5f}")
        out(f"test MSE {test_mse:.2e} (from step {burn} of each window); 'no change' baseline {baseline:.2e}")
    return {"losses": losses, "train_mse": train_mse, "test_mse": test_mse, "baseline_mse": baseline}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m nnbasics.demo.sine", description="LSTM next-value prediction of a sine")
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    return run(window=a.window, steps=a.steps, hidden=a.hidden, lr=a.lr, rng=a.seed, out=print)


if __name__ == "__main__":
    main()
