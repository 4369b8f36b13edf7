"""Long sequences (issue 5, item 2): the graph does not grow with T, peak memory grows linearly and modestly."""

import sys
import tracemalloc

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.kernels import workspace

N, I, H, V = 4, 8, 32, 11  # distinct sizes


def _graph_nodes(t):
    """Number of ops (Function nodes) behind a tensor, walked with an explicit stack."""
    seen, stack = set(), [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.extend(getattr(x, "grad_fn", None) for x in fn.inputs)
    return len(seen)


def _lm(mode):
    emb = nn.Embedding(V, I, rng=0)
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[mode](I, H, num_layers=2, bidirectional=True, rng=1)
    head = nn.Linear(2 * H, V, rng=2)
    return emb, rnn, head


def _loss(mods, T, seed=0):
    emb, rnn, head = mods
    g = np.random.default_rng(seed)
    x, y = g.integers(0, V, (T, N)), g.integers(0, V, (T * N,))
    out, _ = rnn(emb(nb.tensor(x)))
    return F.cross_entropy(head(out).reshape(-1, V), nb.tensor(y))


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
def test_graph_size_does_not_depend_on_sequence_length(mode):
    """2 layers x 2 directions: the same handful of ops for 5 steps as for 1,000 (no per-step nodes)."""
    mods = _lm(mode)
    short, long = _graph_nodes(_loss(mods, 5)), _graph_nodes(_loss(mods, 1000))
    assert short == long < 40, (short, long)


def test_1000_step_training_step_under_a_low_recursion_limit():
    """Backward through 1,000 steps (2 layers, both directions) with the recursion limit at 200."""
    mods = _lm("lstm")
    loss = _loss(mods, 1000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        loss.backward()
    finally:
        sys.setrecursionlimit(limit)
    for m in mods:
        for name, p in m.named_parameters():
            assert p.grad is not None and np.isfinite(p.grad._array).all(), name
    assert np.abs(mods[1].weight_ih_l0_reverse.grad._array).sum() > 0


def _peak_bytes(T):
    """Peak NumPy memory traced during one LSTM training step (forward, loss, backward) of T steps."""
    emb, lstm, head = nn.Embedding(V, I, rng=0), nn.LSTM(I, H, rng=1), nn.Linear(H, V, rng=2)
    g = np.random.default_rng(0)
    x, y = nb.tensor(g.integers(0, V, (T, N))), nb.tensor(g.integers(0, V, (T * N,)))
    workspace.clear()  # arrays the pool kept from earlier steps would not be traced
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out, _ = lstm(emb(x))
        F.cross_entropy(head(out).reshape(-1, V), y).backward()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_peak_memory_of_a_training_step_is_linear_in_T_and_modest():
    """Doubling T doubles the peak, and each step costs a few (N, H) float32 slabs.

    What a step must keep: the gate activations (4H), h, c and tanh(c) (3H) for backward, plus
    the gate gradients (4H) and the output gradient (H) during backward: about 12 slabs of
    N*H*4 bytes. We allow 16 (embedding and logits add a little); a per-step graph or a copy
    of the sequence per step would need far more, and quadratic growth would break the ratio.
    """
    peaks = {T: _peak_bytes(T) for T in (250, 500, 1000)}
    slab = N * H * 4
    for T, p in peaks.items():
        assert p / (T * slab) < 16, (T, p / (T * slab))
    assert 1.8 < peaks[500] / peaks[250] < 2.2 and 1.8 < peaks[1000] / peaks[500] < 2.2, peaks
