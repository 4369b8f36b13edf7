"""The vanishing gradient through time: ‖∂L/∂h_t‖ back through a tanh RNN and an LSTM.

A loss at the last step only, ``L = sum(w * h_T)``, is backpropagated through ``T`` steps,
and the gradient norm reaching each hidden state ``h_t`` is measured (``retain_grad()`` on
every step's state; the cells ``nn.RNNCell`` / ``nn.LSTMCell`` are run step by step so each
``h_t`` is a tensor of its own). In a tanh RNN::

    ∂L/∂h_{t-1} = W_hh^T diag(1 - h_t^2) ∂L/∂h_t

a product of ``T - t`` Jacobians whose norms are below 1 at PyTorch's default
initialization, so the gradient shrinks geometrically: the first steps receive almost
nothing, and the RNN cannot learn dependencies that span many steps. The LSTM adds the
cell path ``∂c_T/∂c_t = prod f_s`` (forget gates): with the forget gate open (bias
``+1``, the usual initialization since Gers et al. 2000 and Jozefowicz et al. 2015) the
gradient decays far more slowly. At PyTorch's plain initialization (forget bias 0, so
f ~ 0.5 and ``prod f_s`` ~ 2^-(T-t)) the cell path vanishes too, and the LSTM is not
reliably better than the RNN at the start of training -- both LSTMs are measured.

Computed in float64 so that the smallest norms do not underflow.

Run it: ``python -m nnbasics.demo.grad_through_time --steps 50``.

Example:
    >>> r = run(rng=0)
    >>> r["lstm"]["ratio"] > 100 * r["rnn"]["ratio"]
    True
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from .. import nn
from .._validate import is_int
from ..autograd import no_grad
from ..rng import as_generator
from ..tensor import as_tensor

__all__ = ["gradient_norms", "main", "run"]


def gradient_norms(cell, x, w) -> np.ndarray:
    """‖∂L/∂h_t‖ (Frobenius over the batch) for t = 1..T, with ``L = sum(w * h_T)``.

    Args:
        cell: an ``nn.RNNCell``, ``nn.GRUCell`` (state ``h``) or ``nn.LSTMCell`` (state ``(h, c)``).
        x: ``(T, N, I)`` inputs.
        w: ``(N, H)`` weights of the last-step loss.

    Returns:
        ndarray ``(T,)``: the norm for each step, the last one equal to ``‖w‖``.
    """
    state, hs = None, []
    for t in range(x.shape[0]):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state  # (N, H)
        h.retain_grad()
        hs.append(h)
    (hs[-1] * w).sum().backward()
    return np.array([float(np.linalg.norm(h.grad._array)) for h in hs])


def _summary(norms):
    return {"norms": norms.tolist(), "ratio": float(norms[0] / norms[-1]),
            "log10_ratio": float(math.log10(norms[0] / norms[-1])) if norms[0] > 0 else -math.inf}


def run(*, steps: int = 50, hidden: int = 32, input_size: int = 8, batch: int = 4, forget_bias: float = 1.0,
        rng=0, out=None) -> dict:
    """Measure ‖∂L/∂h_t‖ back through ``steps`` steps for a tanh RNN and two LSTMs, on the same inputs.

    Args:
        steps: sequence length T.
        hidden, input_size, batch: H, I, N.
        forget_bias: added to the LSTM's forget-gate bias (``bias_ih[H:2H]``) for the ``"lstm"`` run.
        rng: Generator, int seed or None (weights, inputs, loss weights).
        out: a print function (None: silent).

    Returns:
        dict: ``"rnn"``, ``"lstm"`` (forget bias ``+forget_bias``) and ``"lstm_default"``
        (PyTorch's init), each ``{"norms": [T values, t = 1..T], "ratio": norm_1 / norm_T,
        "log10_ratio"}``; and ``steps``.
    """
    for name, v in (("steps", steps), ("hidden", hidden), ("input_size", input_size), ("batch", batch)):
        if not is_int(v) or v < 1:
            raise ValueError(f"grad_through_time: {name} must be a positive int. Got {v!r}.")
    g = as_generator(rng)
    x = as_tensor(g.standard_normal((steps, batch, input_size)))  # (T, N, I) float64
    w = as_tensor(g.standard_normal((batch, hidden)))  # (N, H)
    seeds = g.integers(0, 2**31, size=2)
    rnn = nn.RNNCell(input_size, hidden, rng=int(seeds[0]), dtype="float64")
    lstm = nn.LSTMCell(input_size, hidden, rng=int(seeds[1]), dtype="float64")
    lstm_default = nn.LSTMCell(input_size, hidden, rng=int(seeds[1]), dtype="float64")
    with no_grad():
        lstm.bias_ih._array[hidden:2 * hidden] += forget_bias  # gates (i, f, g, o): f is the second block
    r = {"steps": steps, "forget_bias": float(forget_bias)}
    for name, cell in (("rnn", rnn), ("lstm", lstm), ("lstm_default", lstm_default)):
        r[name] = _summary(gradient_norms(cell, x, w))
    if out is not None:
        out(f"‖∂L/∂h_t‖ for L = sum(w * h_T), T = {steps}, hidden {hidden} (float64)")
        out(f"{'t':>5} | {'tanh RNN':>10} | {'LSTM f+' + format(forget_bias, 'g'):>10} | {'LSTM init':>10}")
        marks = sorted({steps - 1, *range(steps - 1, -1, -max(1, steps // 10)), 0}, reverse=True)
        for t in marks:
            out(f"{t + 1:>5} | {r['rnn']['norms'][t]:10.2e} | {r['lstm']['norms'][t]:10.2e} | "
                f"{r['lstm_default']['norms'][t]:10.2e}")
        out(f"norm at t=1 / norm at t=T:  RNN {r['rnn']['ratio']:.1e},  LSTM (forget bias +{forget_bias:g}) "
            f"{r['lstm']['ratio']:.1e},  LSTM (PyTorch init) {r['lstm_default']['ratio']:.1e}")
    return r


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m nnbasics.demo.grad_through_time",
                                description="gradient norm back through time: tanh RNN vs LSTM")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--input-size", type=int, default=8)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--forget-bias", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    return run(steps=a.steps, hidden=a.hidden, input_size=a.input_size, batch=a.batch, forget_bias=a.forget_bias,
               rng=a.seed, out=print)


if __name__ == "__main__":
    main()
