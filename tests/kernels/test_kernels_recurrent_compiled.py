"""The LSTM's backward gate step as one compiled loop (kernels/recurrent_compiled.py): the NumPy
kernel's gradients to the bit, on one thread and on several, whole batches and row pieces."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import threads
from nnbasics.kernels import recurrent, recurrent_compiled


def _lstm_grads(compiled_on, dtype, n, reverse=False):
    """Output and every gradient of an LSTM layer (T 7, I 5, H 12, batch n) through the kernel."""
    rng = np.random.default_rng(5)
    T, I, H = 7, 5, 12
    arrays = [rng.standard_normal(s).astype(dtype) * 0.5
              for s in ((T, n, I), (n, H), (n, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,))]
    upstream = rng.standard_normal((T + 1, n, H)).astype(dtype)
    with nb.compiled_kernels(enabled=compiled_on), nb.reference_mode(False):
        ts = [nb.tensor(a, requires_grad=True) for a in arrays]
        out = recurrent.LSTMLayer.apply(*ts, reverse=reverse)
        out.backward(nb.tensor(upstream))
    return [out._array] + [t.grad._array for t in ts]


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("n,reverse", [(4, False), (4, True), (130, False)])  # 130 rows: row pieces on 3 threads
def test_float64_gradients_are_the_numpy_kernels_bits(numba, monkeypatch, n_threads, n, reverse):
    """float64 products stay on BLAS, so the gate loop is the one difference: none, to the bit."""
    monkeypatch.setattr(threads, "_threads", threads._threads)
    threads.set_num_threads(n_threads)
    with nb.compiled_kernels(enabled=False):  # the same products both ways (no native pieces)
        want = _lstm_grads(False, np.float64, n, reverse)
    monkeypatch.setattr(recurrent, "compiled", SimpleNamespace(is_compiled=lambda: True))  # the gate loop alone
    got = _lstm_grads(False, np.float64, n, reverse)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)


def test_float32_step_is_the_numpy_passes_bits(numba):
    """One step in float32 (``1 - g^2`` in float32, not float64): the NumPy passes' bits."""
    rng = np.random.default_rng(6)
    n, H = 9, 20
    dh, g, tc, c_prev, dc = (rng.standard_normal((n, H)).astype(np.float32) for _ in range(5))
    a = rng.uniform(-1, 1, (n, 4 * H)).astype(np.float32)
    d_np, d_c = np.empty((n, 4 * H), np.float32), np.empty((n, 4 * H), np.float32)
    dc_np, dc_c, dh_np = dc.copy(), dc.copy(), dh.copy()
    recurrent._lstm_gates_backward(dh_np, g, a, tc, c_prev, dc_np, d_np, np.empty((n, H), np.float32),
                                   np.empty((n, 4 * H), np.float32))
    recurrent_compiled.lstm_gates_backward(dh, g, a, tc, c_prev, dc_c, d_c)
    np.testing.assert_array_equal(d_c, d_np)
    np.testing.assert_array_equal(dc_c, dc_np)


def test_float32_layer_with_every_compiled_kernel_matches_the_reference(numba):
    """All compiled kernels on (the float32 products too, where they run here): the reference's
    values within float32 rounding."""
    got = _lstm_grads(True, np.float32, 6)
    want = _lstm_grads(False, np.float64, 6)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("layer", ["gru", "rnn"])
def test_gru_and_rnn_take_the_compiled_product_where_it_runs(numba, monkeypatch, layer):
    """Their step and per-sequence products go to the compiled product (float32, compiled kernels
    on, a CPU it runs on), NumPy's elsewhere; the reference's values either way."""
    from nnbasics.kernels import fastblas, gemm_compiled

    calls = []
    inner = fastblas.matmul
    monkeypatch.setattr(recurrent.fastblas, "matmul", lambda *a, **k: calls.append(1) or inner(*a, **k))
    rng = np.random.default_rng(9)
    T, N, I, H = 6, 16, 5, 40
    G = 3 * H if layer == "gru" else H
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.5
              for s in ((T, N, I), (N, H), (G, I), (G, H), (G,), (G,))]
    op = recurrent.GRULayer if layer == "gru" else recurrent.RNNLayer
    results = {}
    for on in (False, True):
        calls.clear()
        with nb.compiled_kernels(enabled=on), nb.reference_mode(False):
            ts = [nb.tensor(a, requires_grad=True) for a in arrays]
            out = op.apply(*ts)
            out.backward(nb.tensor(np.ones(out.shape, np.float32)))
            results[on] = [out._array] + [t.grad._array for t in ts]
            compiled_here = gemm_compiled.available() and fastblas.compiled_sgemm() is not None
        assert bool(calls) == (on and compiled_here)
    for a, b in zip(results[False], results[True]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
