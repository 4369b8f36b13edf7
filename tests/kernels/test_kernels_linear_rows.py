"""The linear kernel's weight gradient reads a batch_first RNN's output as it lies in memory.

An (N, T, H) view over (T, N, H) memory (``nn.LSTM(batch_first=True)``'s output, as PyTorch's)
going into ``nn.Linear``: W's gradient ``sum_r g_r^T x_r`` takes the rows in x's memory order and
copies the (smaller) upstream gradient into that order, instead of copying x. The values are the
reference's up to the order of the sum's terms."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import threads
from nnbasics.kernels import adaptive, gemm
from nnbasics.kernels import linalg as linalg_kernel

T, N, H, V = 7, 5, 64, 3


def _batch_first(rng, dtype=np.float32):
    """(N, T, H) view of (T, N, H) memory, as a batch_first RNN returns it."""
    return rng.standard_normal((T, N, H)).astype(dtype).transpose(1, 0, 2)


def _grads(x, w, b, up, *, reference, x_grad=True):
    with nb.reference_mode(reference):
        tx = nb.tensor(x, requires_grad=x_grad) if x_grad else nb.Tensor._make(x, False, None)
        tw, tb = nb.tensor(w, requires_grad=True), nb.tensor(b, requires_grad=True)
        y = nb.functional.linear(tx, tw, tb)
        y.backward(nb.tensor(up))
    return [t.grad.numpy() for t in ((tx, tw, tb) if x_grad else (tw, tb))]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_of_a_permuted_input_are_the_references(monkeypatch, n_threads, dtype):
    rng = np.random.default_rng(0)
    x = _batch_first(rng, dtype)
    w, b = rng.standard_normal((V, H)).astype(dtype), rng.standard_normal(V).astype(dtype)
    up = rng.standard_normal((N, T, V)).astype(dtype)
    monkeypatch.setattr(threads, "_threads", n_threads)
    if n_threads > 1:  # the several-thread path: the products in pieces at these sizes
        monkeypatch.setattr(gemm, "MIN_ROWS", 2)
        monkeypatch.setattr(gemm, "PIECE_WORK", 1)
        monkeypatch.setattr(linalg_kernel, "COL_WORK", 1)
        monkeypatch.setattr(adaptive, "_choices", {})
    want = _grads(x, w, b, up, reference=True)
    got = _grads(x, w, b, up, reference=False)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, e in zip(got, want):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol)


def test_the_weight_gradient_does_not_copy_the_permuted_input():
    rng = np.random.default_rng(1)
    x = _batch_first(rng)
    w, b = rng.standard_normal((V, H)).astype(np.float32), np.zeros(V, np.float32)
    up = rng.standard_normal((N, T, V)).astype(np.float32)
    with nb.reference_mode(False):
        tw, tb = nb.tensor(w, requires_grad=True), nb.tensor(b, requires_grad=True)
        y = nb.functional.linear(nb.Tensor._make(x, False, None), tw, tb)
        tracemalloc.start()
        y.backward(nb.tensor(up))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < x.nbytes // 2  # the reference's x.reshape copies all of x (N*T*H floats)
    np.testing.assert_allclose(tw.grad.numpy(), np.einsum("ntv,nth->vh", up, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda r: r.standard_normal((N, T, H)).astype(np.float32),  # contiguous: rows as they are
    lambda r: r.standard_normal((N, H, T)).astype(np.float32).transpose(0, 2, 1),  # inner axis strided
    lambda r: np.broadcast_to(r.standard_normal((1, T, H)).astype(np.float32), (N, T, H)),  # stride 0
])
def test_other_layouts_keep_the_references_rows(make):
    x = make(np.random.default_rng(2))
    assert linalg_kernel._rows_as_stored(x, np.zeros((N, T, V), np.float32)) == (None, None)


def test_a_wider_upstream_gradient_than_the_input_keeps_the_references_rows():
    x = _batch_first(np.random.default_rng(3))  # H = 64 columns
    g = np.zeros((N, T, 2 * H), np.float32)  # copying it would cost more than copying x
    assert linalg_kernel._rows_as_stored(x, g) == (None, None)
    xs, gs = linalg_kernel._rows_as_stored(x, np.zeros((N, T, V), np.float32))
    assert xs.base is not None and np.shares_memory(xs, x) and xs.shape == (T * N, H) and gs.shape == (T * N, V)
