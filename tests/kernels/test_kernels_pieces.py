"""Fixed pieces on a chosen number of threads (kernels/parallel.run_pieces, kernels/adaptive): the
LSTM kernel's recurrence in row pieces gives the reference's values and gradients, and the very
same bits on any thread count and whichever count the measurement picks; the chooser keeps the
faster count, tries the other one, and notices when the faster one changes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import threads
from nnbasics.kernels import adaptive, gemm, parallel, recurrent, workspace
from nnbasics.kernels import linalg as linalg_kernel
from nnbasics.ops import linalg as linalg_ref
from nnbasics.ops import recurrent as rc

pytestmark = pytest.mark.skipif(threads.blas_setter() is None, reason="needs OpenBLAS's per-thread setting")

T, N, I, H = 6, 11, 4, 5  # N 11 in pieces of at least 2 rows: 4 pieces of uneven size


@pytest.fixture(params=["rows", "columns"])
def small_pieces(monkeypatch, request):
    """Pieces at the test's sizes: the recurrence in row pieces of the batch, or (the batch one
    piece) each step's products in column pieces."""
    if request.param == "rows":
        monkeypatch.setattr(recurrent, "MIN_ROWS", 2)
    monkeypatch.setattr(gemm, "MIN_COLS", 2)
    monkeypatch.setattr(gemm, "MIN_ROWS", 2)  # the per-sequence products in pieces too
    monkeypatch.setattr(gemm, "PIECE_WORK", 1)
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    monkeypatch.setattr(adaptive, "_choices", {})
    old = threads._threads
    yield
    threads._threads = old


def _op(call, classes, arrays, upstream, n_threads, grads=None, reference=False, picks=None, monkeypatch=None):
    """Output and the gradients of ``grads`` (default: every input) of ``call(*tensors)`` on
    ``n_threads``, by the reference or the kernel (``classes``: (reference op, kernel), the one that
    ran is checked); ``picks`` forces the thread choosers' counts, in turn."""
    grads = range(len(arrays)) if grads is None else grads
    threads.set_num_threads(n_threads)
    if picks is not None:
        seq = itertools.cycle(picks)  # the choosers of every call site, in turn
        monkeypatch.setattr(adaptive.ThreadChoice, "pick", lambda self: min(next(seq), max(self.times)))
    with nb.reference_mode(reference):
        ts = [nb.tensor(a.copy(), requires_grad=i in grads) for i, a in enumerate(arrays)]
        out = call(*ts)
        assert type(out._ctx) is classes[0 if reference else 1]
        out.backward(nb.tensor(upstream))
    return [out._array.copy()] + [ts[i].grad._array.copy() for i in grads]


def _lstm(arrays, upstream, reverse, n_threads, reference=False, picks=None, monkeypatch=None):
    """Output and every gradient of one LSTM layer on ``n_threads``; ``picks`` forces the chooser's counts."""
    return _op(lambda *ts: rc.lstm_layer(*ts, reverse=reverse), (rc.LSTMLayer, recurrent.LSTMLayer), arrays, upstream, n_threads,
               reference=reference, picks=picks, monkeypatch=monkeypatch)


def _inputs(dtype, seed=3):
    rng = np.random.default_rng(seed)
    shapes = [(T, N, I), (N, H), (N, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,)]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return arrays, rng.standard_normal((T + 1, N, H)).astype(dtype)


def test_row_bounds_depend_on_the_batch_size_only():
    assert recurrent._row_bounds(32) == [0, 32]
    assert recurrent._row_bounds(128) == [0, 64, 128]
    assert recurrent._row_bounds(1000) == [0, 250, 500, 750, 1000]


def test_a_big_step_product_is_cut_by_columns_only_where_the_batch_is_one_piece(monkeypatch):
    raw = object()  # _step_columns only asks whether there is one
    monkeypatch.setattr(threads, "_threads", 2)
    monkeypatch.setattr(nb.compiled, "_wanted", False)  # Python's threads (native ones: test_kernels_native_threads.py)
    # the char-LSTM's step, (32, 256) @ (256, 1024) and (32, 1024) @ (1024, 256): 8.4 M multiply-adds, one piece
    assert recurrent._step_columns(raw, True, 1024, 32 * 256, np.float32) == [0, 1024]
    assert recurrent._step_columns(raw, True, 256, 32 * 1024, np.float32) == [0, 256]
    # H 512 at batch 64: 67 M, four pieces each way
    assert recurrent._step_columns(raw, True, 2048, 64 * 512, np.float32) == [0, 512, 1024, 1536, 2048]
    assert recurrent._step_columns(raw, True, 512, 64 * 2048, np.float32) == [0, 128, 256, 384, 512]
    assert recurrent._step_columns(raw, False, 2048, 64 * 512, np.float32) == [0, 2048]  # rows already in pieces
    assert recurrent._step_columns(None, True, 2048, 64 * 512, np.float32) == [0, 2048]  # NumPy's product
    monkeypatch.setattr(threads, "_threads", 1)
    assert recurrent._step_columns(raw, True, 2048, 64 * 512, np.float32) == [0, 2048]  # one thread: one call


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_lstm_in_row_pieces_equals_the_reference(small_pieces, reverse, dtype, tol):
    arrays, upstream = _inputs(dtype)
    ref = _lstm(arrays, upstream, reverse, 1, reference=True)
    for n in (1, 2, 3):
        fast = _lstm(arrays, upstream, reverse, n)
        for what, f, r in zip(["output", "x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"], fast, ref):
            assert np.abs(f - r).max() <= tol * np.abs(r).max(), f"{n} threads: {what}"


@pytest.mark.parametrize("reverse", [False, True])
def test_the_same_bits_on_any_thread_count_and_any_choice(small_pieces, monkeypatch, reverse):
    arrays, upstream = _inputs(np.float32, seed=4)
    two = _lstm(arrays, upstream, reverse, 2)
    for n, picks in ((3, None), (2, [1, 1]), (2, [1, 2]), (3, [3, 1]), (3, [1, 3])):
        other = _lstm(arrays, upstream, reverse, n, picks=picks, monkeypatch=monkeypatch)
        for f, r in zip(other, two):
            np.testing.assert_array_equal(f, r, err_msg=f"{n} threads, picks {picks}")


def test_run_pieces_covers_every_piece_once_with_blas_single_threaded():
    seen = []
    set_local = threads.blas_setter()

    def fn(lo, hi):
        previous = set_local(1)  # returns the count in effect inside the piece
        set_local(previous)
        seen.append((lo, hi, previous))

    old = threads._threads
    try:
        for n in (1, 2, 3):
            threads.set_num_threads(n)
            seen.clear()
            parallel.run_pieces([0, 3, 4, 9, 10], fn, key=("test", n))
            assert sorted(seen) == [(0, 3, 1), (3, 4, 1), (4, 9, 1), (9, 10, 1)]
    finally:
        threads._threads = old


def test_run_pieces_raises_a_pieces_error_after_the_others_ran():
    ran = []

    def fn(lo, hi):
        ran.append(lo)
        if lo == 2:
            raise KeyError("piece 2")

    old = threads._threads
    try:
        threads.set_num_threads(2)
        with pytest.raises(KeyError, match="piece 2"):
            parallel.run_pieces([0, 1, 2, 3, 4], fn)
        assert sorted(ran) == [0, 1, 2, 3]
    finally:
        threads._threads = old


def _drive(choice, cost, calls):
    """``calls`` calls of a job whose count n takes cost(n, i) seconds; the counts picked."""
    picked = []
    for i in range(calls):
        n = choice.pick()
        picked.append(n)
        choice.record(n, cost(n, i))
    return picked


def test_the_choice_keeps_the_faster_count_and_tries_the_other_rarely():
    choice = adaptive.ThreadChoice(2)
    picked = _drive(choice, lambda n, i: 0.010 if n == 2 else 0.015, 400)
    assert picked[:3] == [2, 2, 2] and 1 in picked  # starts on many, tries one
    assert picked[-100:].count(2) >= 90  # keeps the faster
    spent_on_one = 0.015 * picked.count(1)
    assert spent_on_one < 2 * 0.010 * picked.count(2) / adaptive.PATIENCE  # trials cost little


def test_the_choice_goes_to_one_thread_under_load_and_back():
    choice = adaptive.ThreadChoice(2)
    quiet = _drive(choice, lambda n, i: 0.010 if n == 2 else 0.015, 100)
    assert quiet[-20:].count(2) >= 17
    loaded = _drive(choice, lambda n, i: 0.060 if n == 2 else 0.016, 100)  # a competitor appears
    first_one = loaded.index(1)
    assert first_one < 10 and loaded[-50:].count(1) >= 45
    trial_time = 0.060 * loaded[first_one:].count(2)  # ten times slower: tried rarely
    assert trial_time < 3 * 0.016 * loaded[first_one:].count(1) / adaptive.PATIENCE
    back = _drive(choice, lambda n, i: 0.010 if n == 2 else 0.015, 300)  # it leaves
    assert back[-50:].count(2) >= 45



def test_trials_the_other_count_keeps_losing_come_ever_more_rarely():
    """A steady machine: each lost trial doubles the patience (up to BACKOFF times), so the trials'
    share of the time falls from ~1/PATIENCE to ~1/(PATIENCE * BACKOFF) (before: a trial every ~90
    calls here, 5 % of the time)."""
    choice = adaptive.ThreadChoice(2)
    picked = _drive(choice, lambda n, i: 0.010 if n == 2 else 0.015, 6000)
    late = picked[1000:]
    trial_time, kept_time = 0.015 * late.count(1), 0.010 * late.count(2)
    assert late.count(2) > 0.99 * len(late)
    assert trial_time < 2.5 * kept_time / (adaptive.PATIENCE * adaptive.BACKOFF)
    assert choice.patience == adaptive.PATIENCE * adaptive.BACKOFF


def test_after_a_long_steady_load_the_quiet_machine_is_noticed_within_the_backoff():
    choice = adaptive.ThreadChoice(2)
    _drive(choice, lambda n, i: 0.010 if n == 2 else 0.015, 50)
    loaded = _drive(choice, lambda n, i: 0.060 if n == 2 else 0.016, 4000)  # a competitor, for long
    assert loaded[-1000:].count(1) == 1000 - loaded[-1000:].count(2) and loaded[-1000:].count(2) <= 3
    assert choice.current == 1 and choice.patience == adaptive.PATIENCE * adaptive.BACKOFF
    back = _drive(choice, lambda n, i: 0.010 if n == 2 else 0.015, 3000)  # it leaves
    trial_cost = adaptive.TRIAL * 0.060  # what the last trial of two threads cost, under load
    first_two = back.index(2)
    assert first_two <= adaptive.PATIENCE * adaptive.BACKOFF * trial_cost / 0.015 + 1
    assert back[first_two:first_two + adaptive.TRIAL] == [2] * adaptive.TRIAL  # the trial won: switched
    assert back[-100:].count(2) >= 95

def _runs(picked, n):
    """Lengths of the runs of ``n`` in ``picked``."""
    return [len(list(g)) for k, g in itertools.groupby(picked) if k == n]


def test_a_trial_far_slower_than_the_current_choice_ends_at_its_first_call():
    """Under load a native pool's two threads took 30-50x one thread's time (issue 19): each trial
    of them then costs one call, not TRIAL; a close loser still gets its TRIAL calls."""
    choice = adaptive.ThreadChoice(2)
    close = _drive(choice, lambda n, i: 0.010 if n == 2 else 0.015, 400)
    assert _runs(close[3:], 1) and set(_runs(close[3:], 1)) == {adaptive.TRIAL}
    loaded = _drive(choice, lambda n, i: 0.050 if n == 2 else 0.010, 6000)
    after = loaded[loaded.index(1):]
    assert len(_runs(after, 2)) >= 3 and set(_runs(after, 2)) == {1}  # tried, a call at a time
    assert loaded[-100:].count(1) >= 99


def test_a_choice_by_the_mean_sees_rare_long_stalls_the_median_hides():
    """Two threads fast in four calls of five and stalled for 2 ms in the fifth (a native pool's
    barrier waiting for a descheduled thread) cost more than one thread's steady 0.2 ms: the
    median keeps two threads, the mean (native_threads' chooser) goes to one."""
    def stalls(n, i):
        return (0.002 if i % 5 == 4 else 0.0001) if n == 2 else 0.0002

    by_median = _drive(adaptive.ThreadChoice(2), stalls, 300)
    by_mean = _drive(adaptive.ThreadChoice(2, mean=True), stalls, 300)
    assert by_median[-100:].count(2) >= 90
    assert by_mean[-100:].count(1) >= 90
    assert adaptive.choice_for(("t", "mean"), 2, mean=True).mean


def test_choosers_are_kept_per_key_and_bounded(monkeypatch):
    monkeypatch.setattr(adaptive, "_choices", {})
    a = adaptive.choice_for("a", 2)
    assert adaptive.choice_for("a", 2) is a and adaptive.choice_for("a", 3) is not a
    for i in range(adaptive.MAX_KEYS + 5):
        adaptive.choice_for(i, 2)
    assert len(adaptive._choices) == adaptive.MAX_KEYS


# ------------------------------------------------------------------ the fused linear op
def _linear(arrays, upstream, n_threads, grads, reference=False, picks=None, monkeypatch=None):
    return _op(nb.functional.linear, (linalg_ref.Linear, linalg_kernel.Linear), arrays, upstream, n_threads, grads, reference, picks,
               monkeypatch)


LINEAR = [([(11, 7), (9, 7), (9,)], [0, 1, 2]), ([(3, 5, 7), (9, 7)], [0, 1]), ([(11, 7), (9, 7), (9,)], [1, 2]),
          ([(11, 7), (9, 7)], [0])]


@pytest.fixture(params=["rows", "columns"])
def small_linear_pieces(monkeypatch, request):
    """Pieces at the test's sizes: of rows, or (rows never cut) of columns."""
    if request.param == "rows":
        monkeypatch.setattr(gemm, "MIN_ROWS", 2)
    else:
        monkeypatch.setattr(gemm, "MIN_ROWS", 10**9)
        monkeypatch.setattr(gemm, "MIN_COLS", 2)
        monkeypatch.setattr(linalg_kernel, "COL_WORK", 1)
    monkeypatch.setattr(gemm, "PIECE_WORK", 1)
    monkeypatch.setattr(adaptive, "_choices", {})
    old = threads._threads
    yield
    threads._threads = old


def test_a_product_with_too_few_rows_is_cut_by_columns():
    """A batch of 128 makes one row piece: its big products are cut by columns instead, in pieces
    as big as rows' (the 784-256-256-10 MLP's, 25.7 M multiply-adds, stay whole: cut in two they
    made its step 1.07x slower on two threads)."""
    assert linalg_kernel._cut(128, 1024, 1024) == ("cols", [128 * i for i in range(9)])  # 134 M
    assert linalg_kernel._cut(128, 1024, 784)[0] == "cols"  # the first layer's x W1^T, 103 M
    assert linalg_kernel._cut(1024, 784, 128)[0] == "rows"  # its weight gradient: 1024 rows
    assert linalg_kernel._cut(128, 256, 784) == ("rows", [0, 128])  # x W1^T of the MLP: whole
    assert linalg_kernel._cut(4096, 256, 784) == ("rows", gemm.row_bounds(4096, 784 * 256))  # rows first
    assert not linalg_kernel._splits(128, 256, 784) and linalg_kernel._splits(128, 1024, 1024)


@pytest.mark.parametrize("shapes,grads", LINEAR)
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-6), (np.float64, 1e-12)])
def test_linear_in_pieces_equals_the_reference(small_linear_pieces, shapes, grads, dtype, tol):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    upstream = rng.standard_normal(shapes[0][:-1] + (shapes[1][0],)).astype(dtype)
    ref = _linear(arrays, upstream, 1, grads, reference=True)
    for n in (1, 2, 3):
        for f, r in zip(_linear(arrays, upstream, n, grads), ref):
            assert f.shape == r.shape and f.dtype == r.dtype
            assert np.abs(f - r).max() <= tol * np.abs(r).max(), f"{n} threads"


@pytest.mark.parametrize("shapes,grads", LINEAR)
def test_linear_gives_the_same_bits_on_any_thread_count_and_choice(small_linear_pieces, monkeypatch, shapes, grads):
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    upstream = rng.standard_normal(shapes[0][:-1] + (shapes[1][0],)).astype(np.float32)
    two = _linear(arrays, upstream, 2, grads)
    for n, picks in ((3, None), (2, [1, 1]), (2, [2, 1]), (3, [1, 3])):
        for f, r in zip(_linear(arrays, upstream, n, grads, picks=picks, monkeypatch=monkeypatch), two):
            np.testing.assert_array_equal(f, r, err_msg=f"{n} threads, picks {picks}")


# ------------------------------------------------------------------ 2-D matrix products
MATMUL = [("a @ b", lambda a, b: a @ b, [(11, 7), (7, 9)], [0, 1]),
          ("x @ W.T", lambda a, b: a @ b.T, [(11, 7), (9, 7)], [0, 1]),
          ("a.T @ b", lambda a, b: a.T @ b, [(7, 11), (7, 9)], [0, 1]),
          ("W.T grad only", lambda a, b: a @ b.T, [(11, 7), (9, 7)], [1]),
          ("a grad only", lambda a, b: a @ b, [(11, 7), (7, 9)], [0])]


def _matmul(run, arrays, upstream, n_threads, grads, reference=False, picks=None, monkeypatch=None):
    return _op(run, (linalg_ref.MatMul, linalg_kernel.MatMul), arrays, upstream, n_threads, grads, reference, picks, monkeypatch)


@pytest.mark.parametrize("name,run,shapes,grads", MATMUL, ids=[m[0] for m in MATMUL])
def test_matmul_in_pieces_equals_the_reference_with_the_same_bits_on_any_thread_count(
        small_linear_pieces, monkeypatch, name, run, shapes, grads):
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    with nb.no_grad():
        upstream = rng.standard_normal(run(*[nb.tensor(a) for a in arrays]).shape).astype(np.float32)
    ref = _matmul(run, arrays, upstream, 1, grads, reference=True)
    two = _matmul(run, arrays, upstream, 2, grads)
    for f, r in zip(two, ref):
        assert f.shape == r.shape and f.dtype == r.dtype
        assert np.abs(f - r).max() <= 1e-6 * np.abs(r).max()
    for g, t in zip(two[1:], [arrays[i] for i in grads]):
        assert g.flags.c_contiguous == t.flags.c_contiguous  # the gradient of a leaf: C order, as before
    for n, picks in ((3, None), (2, [1, 1]), (2, [2, 1]), (3, [1, 3])):
        for f, r in zip(_matmul(run, arrays, upstream, n, grads, picks=picks, monkeypatch=monkeypatch), two):
            np.testing.assert_array_equal(f, r, err_msg=f"{name}: {n} threads, picks {picks}")


# ------------------------------------------------------------------ the Elman RNN's recurrence
def _rnn(arrays, upstream, kw, n_threads, reference=False, picks=None, monkeypatch=None):
    return _op(lambda *ts: rc.rnn_layer(*ts, **kw), (rc.RNNLayer, recurrent.RNNLayer), arrays, upstream, n_threads,
               reference=reference, picks=picks, monkeypatch=monkeypatch)


@pytest.mark.parametrize("kw", [{}, {"reverse": True}, {"nonlinearity": "relu"}], ids=["tanh", "reverse", "relu"])
def test_rnn_in_row_pieces_equals_the_reference_with_the_same_bits_on_any_thread_count(small_pieces, monkeypatch, kw):
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(T, N, I), (N, H), (H, I), (H, H), (H,), (H,)]]
    upstream = rng.standard_normal((T, N, H)).astype(np.float32)
    ref = _rnn(arrays, upstream, kw, 1, reference=True)
    two = _rnn(arrays, upstream, kw, 2)
    for f, r in zip(two, ref):
        assert np.abs(f - r).max() <= 2e-6 * np.abs(r).max()
    for n, picks in ((3, None), (2, [1, 1]), (3, [3, 1])):
        for f, r in zip(_rnn(arrays, upstream, kw, n, picks=picks, monkeypatch=monkeypatch), two):
            np.testing.assert_array_equal(f, r, err_msg=f"{n} threads, picks {picks}")


# ------------------------------------------------------------------ the GRU's recurrence
def _gru(arrays, upstream, kw, n_threads, reference=False, picks=None, monkeypatch=None):
    return _op(lambda *ts: rc.gru_layer(*ts, **kw), (rc.GRULayer, recurrent.GRULayer), arrays, upstream, n_threads,
               reference=reference, picks=picks, monkeypatch=monkeypatch)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("reverse", [False, True])
def test_gru_in_row_pieces_equals_the_reference_with_the_same_bits_on_any_thread_count(
        small_pieces, monkeypatch, reverse, bias):
    rng = np.random.default_rng(10)
    shapes = [(T, N, I), (N, H), (3 * H, I), (3 * H, H)] + ([(3 * H,), (3 * H,)] if bias else [])
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    upstream = rng.standard_normal((T, N, H)).astype(np.float32)
    kw = {"reverse": reverse}
    ref = _gru(arrays, upstream, kw, 1, reference=True)
    two = _gru(arrays, upstream, kw, 2)
    for f, r in zip(two, ref):
        assert np.abs(f - r).max() <= 2e-6 * np.abs(r).max()
    for n, picks in ((3, None), (2, [1, 1]), (3, [3, 1])):
        for f, r in zip(_gru(arrays, upstream, kw, n, picks=picks, monkeypatch=monkeypatch), two):
            np.testing.assert_array_equal(f, r, err_msg=f"{n} threads, picks {picks}")
