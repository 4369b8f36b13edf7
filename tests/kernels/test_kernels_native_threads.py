"""Matrix-product pieces on native threads (kernels/native_threads.py, with the compiled kernels):
taken where they apply, the same bits for any thread count above one and either thread choice,
the reference's values, and Python's threads wherever they cannot run."""

import itertools

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import threads
from nnbasics.kernels import adaptive, fastblas, gemm, native_threads, recurrent, workspace
from nnbasics.ops import recurrent as rc

pytestmark = pytest.mark.skipif(threads.blas_setter() is None or not fastblas.available(),
                                reason="needs direct BLAS calls and OpenBLAS's per-thread setting")


@pytest.fixture
def native(numba, monkeypatch, kernels_on):
    """The compiled kernels on, native pieces at the tests' sizes, a fresh chooser; counts the runs."""
    monkeypatch.setattr(nb.compiled, "_wanted", True)
    monkeypatch.setattr(native_threads, "PIECE_WORK", 1)
    monkeypatch.setattr(gemm, "MIN_COLS", 2)
    monkeypatch.setattr(gemm, "MIN_ROWS", 16)
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    monkeypatch.setattr(adaptive, "_choices", {})
    runs = []
    inner = native_threads.run
    monkeypatch.setattr(native_threads, "run", lambda calls, *a, **k: runs.append(
        len(calls) if k.get("count") is None else k["count"]) or inner(calls, *a, **k))
    old = threads._threads
    yield runs
    threads._threads = old


def _force(monkeypatch, picks):
    seq = itertools.cycle(picks)
    monkeypatch.setattr(adaptive.ThreadChoice, "pick", lambda self: min(next(seq), max(self.times)))


def _calls(a, b, out, bounds):
    return np.array([fastblas.call_args(a, b[:, lo:hi], out[:, lo:hi]) for lo, hi in itertools.pairwise(bounds)],
                    dtype=np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("picks", [[1], [2]], ids=["one thread", "native threads"])
def test_run_computes_every_piece_as_one_blas_call_each(native, monkeypatch, dtype, picks):
    threads.set_num_threads(2)
    _force(monkeypatch, picks)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((40, 64)).astype(dtype), rng.standard_normal((64, 96)).astype(dtype)
    bounds = [0, 32, 64, 96]
    out = np.full((40, 96), 2.0, dtype)
    native_threads.run(_calls(a, b, out, bounds), dtype, "t", beta=1.0)  # out += a @ b
    want = np.full((40, 96), 2.0, dtype)
    with fastblas.one_thread():
        for lo, hi in itertools.pairwise(bounds):
            fastblas.matmul(a, b[:, lo:hi], out=want[:, lo:hi], accumulate=True)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_thread_runs_the_whole_products_where_pieces_give_their_bits(native, monkeypatch, dtype):
    """Where the chooser keeps one thread, ``whole`` (the products before they were cut) runs
    instead of the pieces, one call each, but only on a kernel whose pieces give the whole product's
    bits (the compiled float32 product); the values are the native threads' pieces' bits either way."""
    threads.set_num_threads(2)
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((40, 64)).astype(dtype), rng.standard_normal((64, 96)).astype(dtype)
    start = rng.standard_normal((40, 96)).astype(dtype)
    outs = []
    for picks in ([2], [1]):
        _force(monkeypatch, picks)
        out = start.copy()
        counted, raw = [], fastblas.raw
        if picks == [1]:  # count the calls made on this thread (native threads' calls are compiled)
            monkeypatch.setattr(fastblas, "raw", lambda d, c=counted, r=raw: lambda *args: c.append(args) or r(d)(*args))
        made = []  # the pieces' calls, made only where they run
        native_threads.run(lambda m=made, o=out: m.append(1) or _calls(a, b, o, [0, 32, 64, 96]), dtype, "whole",
                           beta=1.0, whole=[fastblas.call_args(a, b, out)], count=3)
        monkeypatch.setattr(fastblas, "raw", raw)
        outs.append(out)
        if picks == [2]:
            assert made == [1]
    exact = native_threads.exact_pieces(dtype)
    assert len(counted) == (1 if exact else 3)  # one thread: the whole product, or its three pieces
    assert made == ([] if exact else [1])
    assert exact == (dtype == np.float32 and fastblas.compiled_sgemm() is not None)
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_allclose(outs[0], start + a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)


def test_run_moves_a_and_c_by_the_shifts(native):
    threads.set_num_threads(2)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 64, 32)).astype(np.float32)  # two (64, 32) matrices
    b = rng.standard_normal((32, 96)).astype(np.float32)
    out = np.zeros((2, 64, 96), np.float32)
    calls = _calls(a[0], b, out[0], [0, 48, 96])
    native_threads.run(calls, np.float32, "shift", shift_a=a.strides[0], shift_c=out.strides[0])
    np.testing.assert_allclose(out[1], a[1] @ b, rtol=1e-5, atol=1e-5)
    assert not out[0].any()


def _lstm(arrays, upstream, n_threads, reference=False):
    threads.set_num_threads(n_threads)
    with nb.reference_mode(reference):
        ts = [nb.tensor(x.copy(), requires_grad=True) for x in arrays]
        out = rc.lstm_layer(*ts)
    assert type(out._ctx) is (rc.LSTMLayer if reference else recurrent.LSTMLayer)
    out.backward(nb.tensor(upstream))
    return [out._array.copy()] + [t.grad._array.copy() for t in ts]


def _lstm_inputs(dtype, T=5, N=6, I=4, H=8):
    rng = np.random.default_rng(3)
    shapes = [(T, N, I), (N, H), (N, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,)]
    return [rng.standard_normal(s).astype(dtype) for s in shapes], rng.standard_normal((T + 1, N, H)).astype(dtype)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_the_lstm_steps_run_on_native_threads_with_the_references_values(native, dtype, tol):
    arrays, upstream = _lstm_inputs(dtype)
    ref = _lstm(arrays, upstream, 1, reference=True)
    fast = _lstm(arrays, upstream, 2)
    assert native and min(native) > 1  # every step's product, both ways, in column pieces
    for f, r in zip(fast, ref):
        assert np.abs(f - r).max() <= tol * np.abs(r).max()


def test_the_lstm_gives_the_same_bits_on_any_thread_count_and_choice(native, monkeypatch):
    arrays, upstream = _lstm_inputs(np.float32)
    two = _lstm(arrays, upstream, 2)
    for n, picks in ((3, None), (2, [1]), (2, [1, 2]), (3, [3, 1])):
        if picks:
            _force(monkeypatch, picks)
        for f, r in zip(_lstm(arrays, upstream, n), two):
            np.testing.assert_array_equal(f, r, err_msg=f"{n} threads, picks {picks}")


@pytest.mark.parametrize("bias", [True, False])
def test_linear_runs_its_pieces_natively_with_the_references_values(native, monkeypatch, bias):
    rng = np.random.default_rng(4)
    x0, w0, b0 = (rng.standard_normal(s).astype(np.float32) for s in ((40, 64), (48, 64), (48,)))
    up = rng.standard_normal((40, 48)).astype(np.float32)

    def run(n, reference=False, picks=None):
        threads.set_num_threads(n)
        if picks:
            _force(monkeypatch, picks)
        with nb.reference_mode(reference):
            x, w, b = (nb.tensor(a.copy(), requires_grad=True) for a in (x0, w0, b0))
            y = F.linear(x, w, b if bias else None)
            y.backward(nb.tensor(up))
            return [y._array.copy(), x.grad._array.copy(), w.grad._array.copy()] + ([b.grad._array.copy()] if bias else [])

    ref = run(1, reference=True)
    fast = run(2)
    assert len(native) == 2  # forward, then both gradients in one run
    for f, r in zip(fast, ref):
        assert np.abs(f - r).max() <= 2e-6 * np.abs(r).max()
    for f, r in zip(run(3, picks=[1]), fast):
        np.testing.assert_array_equal(f, r)


def test_python_threads_where_native_ones_cannot_run(native, monkeypatch):
    monkeypatch.setattr(native_threads, "_state", False)  # e.g. no OpenMP layer here
    arrays, upstream = _lstm_inputs(np.float32)
    _lstm(arrays, upstream, 2)
    assert not native
    assert not native_threads.available(np.float32)


def test_native_pieces_only_with_the_compiled_kernels_and_several_threads(native, monkeypatch):
    threads.set_num_threads(2)
    assert native_threads.available(np.float32) and native_threads.available(np.float64)
    assert not native_threads.available(np.float16)
    cols = recurrent._step_columns(object(), True, 16, 4, np.float32)
    assert isinstance(cols, recurrent._NativeColumns) and cols == gemm.column_bounds(16, 4, 1)
    threads.set_num_threads(1)
    assert not native_threads.available(np.float32)
    threads.set_num_threads(2)
    monkeypatch.setattr(nb.compiled, "_wanted", False)
    assert not native_threads.available(np.float32)
    assert not isinstance(recurrent._step_columns(object(), True, 16, 4, np.float32), recurrent._NativeColumns)


@pytest.mark.parametrize("axis", ["rows", "cols"])
@pytest.mark.parametrize("a_t", [False, True], ids=["A as stored", "A transposed"])
@pytest.mark.parametrize("b_t", [False, True], ids=["B as stored", "B transposed"])
def test_split_gives_each_pieces_own_blas_call(axis, a_t, b_t):
    """The pieces' calls derived from the whole product's are the calls of the pieces themselves,
    for both operands held as stored or transposed (x @ W.T: B transposed; g.T @ x: A transposed)."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((96, 64) if a_t else (64, 96)).astype(np.float32)
    b = rng.standard_normal((128, 96) if b_t else (96, 128)).astype(np.float32)
    a, b = (a.T if a_t else a), (b.T if b_t else b)
    out = np.empty((64, 128), np.float32)
    bounds = [0, 32, 64] if axis == "rows" else [0, 64, 128]
    got = native_threads.split(fastblas.call_args(a, b, out), axis, bounds, a.itemsize)
    want = [fastblas.call_args(a[lo:hi], b, out[lo:hi]) if axis == "rows" else
            fastblas.call_args(a, b[:, lo:hi], out[:, lo:hi]) for lo, hi in itertools.pairwise(bounds)]
    assert got == want and None not in want


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_product_runs_its_row_pieces_on_native_threads(native, monkeypatch, dtype, accumulate):
    """gemm.product (the LSTM's per-sequence products) hands its row pieces to native threads: the
    same bits for 2 and 3 threads and either thread choice, the product's values."""
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((100, 48)).astype(dtype), rng.standard_normal((48, 70)).astype(dtype)
    start = rng.standard_normal((100, 70)).astype(dtype)
    results = []
    for n, picks in ((2, [2]), (3, [3]), (3, [1])):
        threads.set_num_threads(n)
        _force(monkeypatch, picks)
        out = start.copy()
        gemm.product(a, b, out, accumulate=accumulate, key="t")
        results.append(out)
    assert len(native) == 3 and all(p > 2 for p in native)  # pieces, on native_threads.run each time
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    want = (start if accumulate else 0) + a.astype(np.float64) @ b
    np.testing.assert_allclose(results[0], want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-4)


@pytest.mark.parametrize("preset", [None, "7"])
def test_the_pool_spins_briefly_unless_the_user_chose(numba, preset):
    """GOMP_SPINCOUNT is set (before OpenMP loads) where the user set none, and kept where they did."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != native_threads.SPIN_ENV}
    if preset is not None:
        env[native_threads.SPIN_ENV] = preset
    code = ("import os, nnbasics as nb, nnbasics.threads\n"
            "from nnbasics.kernels import native_threads\n"
            "nb.threads.set_num_threads(2)\n"
            "with nb.compiled_kernels():\n"
            "    native_threads.available('float32')\n"
            "print(os.environ.get('GOMP_SPINCOUNT'))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == (preset or str(native_threads.SPIN))
