"""nnbasics.kernels.parallel: chunked elementwise passes on several threads, and the ops that use it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import threads as nthreads
from nnbasics.kernels import conv as conv_kernel
from nnbasics.kernels import parallel, workspace

pytestmark = pytest.mark.usefixtures("kernels_on")  # the kernels' own machinery, in any mode


@pytest.fixture
def threads(monkeypatch):
    """Force splitting: 3 threads, no minimum size; the setting is restored afterwards."""
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "PIECES_PER_THREAD", 1)  # one chunk per thread (pieces: test below)
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    old = nthreads._threads
    nthreads.set_num_threads(3)
    yield
    nthreads._threads = old


def test_parallel_for_covers_the_range_once_in_chunks(threads):
    seen, names = [], set()

    def fn(lo, hi):
        seen.append((lo, hi))
        names.add(threading.current_thread().name)
        time.sleep(0.02)  # NOTE: as a real chunk does, let go of the GIL: a warm pool's idle thread takes a piece

    parallel.parallel_for(10, fn)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]
    assert len(names) >= 2  # the caller and at least one pool thread
    seen.clear()
    parallel.parallel_for(2, fn)  # fewer items than threads: one chunk each
    assert sorted(seen) == [(0, 1), (1, 2)]


def test_parallel_for_pieces_taken_in_turn(threads, monkeypatch):
    """Several pieces per thread at fixed bounds; a slow piece's thread takes fewer pieces."""
    import time

    monkeypatch.setattr(parallel, "PIECES_PER_THREAD", 2)
    seen, by_thread = [], {}

    def fn(lo, hi):
        seen.append((lo, hi))
        by_thread.setdefault(threading.current_thread().name, []).append(lo)
        if lo == 0:
            time.sleep(0.2)  # the caller's first piece is slow: the pool threads take the rest

    parallel.parallel_for(10, fn)
    assert sorted(seen) == [(0, 1), (1, 3), (3, 5), (5, 6), (6, 8), (8, 10)]
    assert by_thread[threading.current_thread().name] == [0]


def test_parallel_for_pieces_all_run_when_one_fails(threads, monkeypatch):
    monkeypatch.setattr(parallel, "PIECES_PER_THREAD", 3)
    done = []

    def fn(lo, hi):
        if lo == 2:
            raise RuntimeError("piece 2 failed")
        done.append(lo)

    with pytest.raises(RuntimeError, match="piece 2"):
        parallel.parallel_for(9, fn)
    assert sorted(done) == [0, 1, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 64, 1001])
@pytest.mark.parametrize("before", [0, 1, 2])
def test_uniform_fill_gives_the_one_thread_numbers_and_state(threads, dtype, n, before):
    """Split fills equal one ``random`` call, also after an odd number of float32 draws (a
    buffered half-draw), and leave the generator where that call would."""
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    a.random(before, dtype=np.float32)
    b.random(before, dtype=np.float32)
    want = a.random((n,), dtype=dtype)
    got = np.full(n, -1.0, dtype=dtype)
    parallel.uniform_fill(b, got)
    np.testing.assert_array_equal(got, want)
    assert a.bit_generator.state == b.bit_generator.state
    np.testing.assert_array_equal(a.random(3, dtype=np.float32), b.random(3, dtype=np.float32))


def test_uniform_fill_other_bit_generators_and_dropout(threads):
    a, b = np.random.Generator(np.random.MT19937(3)), np.random.Generator(np.random.MT19937(3))
    got = np.empty((4, 5), np.float32)
    parallel.uniform_fill(b, got)
    np.testing.assert_array_equal(got, a.random((4, 5), dtype=np.float32))
    x = nb.tensor(np.ones((6, 5, 4), np.float32))
    mask = F.dropout(x, 0.5, rng=np.random.default_rng(2))._array != 0
    np.testing.assert_array_equal(mask, np.random.default_rng(2).random((6, 5, 4), dtype=np.float32) >= 0.5)


def test_parallel_for_single_call_when_small_or_one_thread(monkeypatch):
    calls = []
    parallel.parallel_for(8, lambda lo, hi: calls.append((lo, hi)), elements=10)  # below MIN_ELEMENTS
    assert calls == [(0, 8)]
    old = nthreads._threads
    try:
        nthreads.set_num_threads(1)
        calls.clear()
        parallel.parallel_for(8, lambda lo, hi: calls.append((lo, hi)), elements=10**9)
        assert calls == [(0, 8)]
    finally:
        nthreads._threads = old


def test_parallel_for_propagates_errors_after_all_chunks(threads):
    done = []

    def fn(lo, hi):
        if lo == 3:
            raise RuntimeError("chunk 3:6 failed")
        done.append(lo)

    with pytest.raises(RuntimeError, match="chunk 3:6"):
        parallel.parallel_for(10, fn)
    assert sorted(done) == [0, 6]


def test_num_threads_from_environment_and_validation(monkeypatch):
    old = nthreads._threads
    try:
        monkeypatch.setenv("NNBASICS_NUM_THREADS", "5")
        nthreads.set_num_threads(None)
        assert nthreads.num_threads() == 5
        monkeypatch.delenv("NNBASICS_NUM_THREADS")
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        nthreads.set_num_threads(None)
        assert nthreads.num_threads() == 2
        for bad in (0, -1, 2.0, True, "2"):
            with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
                nthreads.set_num_threads(bad)
    finally:
        nthreads._threads = old


def _relu_pool_grads(x_cl, g):
    t = nb.tensor(x_cl, requires_grad=True)
    y = F.max_pool2d(F.relu(t), 2)
    y.backward(nb.tensor(g))
    return y._array.copy(), t.grad._array.copy()


@pytest.mark.parametrize("hw", [(6, 8), (7, 9)])  # 2x2 windows cover the image / leave a row and column out
def test_relu_and_max_pool_split_across_threads_match_one_thread(threads, rng, hw):
    h, w = hw
    x = rng.standard_normal((5, h, w, 3)).astype(np.float32)
    x[x < 0.3] = 0.0  # ties, as after a ReLU
    x_cl = x.transpose(0, 3, 1, 2)  # channels-last, as conv2d returns
    g = rng.standard_normal((5, 3, h // 2, w // 2)).astype(np.float32)
    split = _relu_pool_grads(x_cl, g)
    nthreads.set_num_threads(1)
    single = _relu_pool_grads(x_cl, g)
    for a, b in zip(split, single):
        np.testing.assert_array_equal(a, b)
    assert split[1][x_cl <= 0].sum() == 0  # no gradient through the ReLU's flat part


def test_parallel_blas_for_sets_one_blas_thread_per_chunk_or_runs_once(threads, monkeypatch):
    calls, local = [], []

    def fake_local(n):
        local.append(n)
        return 7  # the "previous" per-thread setting, restored after the chunk

    monkeypatch.setattr(nthreads, "_blas_local", fake_local)
    parallel.parallel_blas_for(9, lambda lo, hi: calls.append((lo, hi)))
    assert sorted(calls) == [(0, 3), (3, 6), (6, 9)]
    assert sorted(local) == [1, 1, 1, 7, 7, 7]
    calls.clear()
    monkeypatch.setattr(nthreads, "_blas_local", None)  # no per-thread BLAS setting: one call, BLAS threads it
    parallel.parallel_blas_for(9, lambda lo, hi: calls.append((lo, hi)))
    assert calls == [(0, 9)]


@pytest.mark.parametrize("c", [3, 1])  # im2col rows (blocked) / one channel (K-major, split-K weight gradient)
def test_conv2d_split_across_threads_matches_one_thread(threads, rng, monkeypatch, c):
    # forward, weight gradient and stride-1 input gradient walk their image chunks on 3 threads
    monkeypatch.setattr(conv_kernel, "_SPLIT_K", 16)  # 210 positions: 13 blocks, ragged end
    x = rng.standard_normal((7, c, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, c, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    g = rng.standard_normal((7, 4, 6, 6)).astype(np.float32)

    def run():
        ts = [nb.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = F.conv2d(*ts, padding=1)
        y.backward(nb.tensor(g))
        return [y._array.copy()] + [t.grad._array.copy() for t in ts]

    split = run()
    nthreads.set_num_threads(1)
    single = run()
    for a, b_ in zip(split, single):
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-5)  # partial weight-gradient sums: another order
