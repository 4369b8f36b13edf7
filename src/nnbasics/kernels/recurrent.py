"""Fast recurrent layers: one GEMM for all input projections, one per step, fused in-place gate passes.

The references (:mod:`nnbasics.ops.recurrent`) write each step's equations out. These kernels
compute the same, laid out for speed:

* the input projections of all T steps are ONE matrix product ``X W_ih^T + b`` (T*N rows);
* each step does ONE recurrent product ``h_{t-1} W_hh^T`` and a few fused elementwise passes
  on the (N, G*H) gate slab, writing into buffers preallocated for the whole sequence;
* backward through time keeps the gate gradients of every step in one (T, N, G*H) buffer,
  so ``dW_hh = sum_t dgates_t^T h_{t-1}``, ``dW_ih`` and ``dX`` are each ONE GEMM at the end.

The LSTM reorders its gates to (o, i, f, g) so that the three sigmoid gates are adjacent and
computes sigmoid(a) = (1 + tanh(a/2)) / 2: with the sigmoid rows of the weights pre-scaled by
1/2, a single ``tanh`` covers all four gates of a step. Each step's product adds into the
step's (N, 4H) slab in one BLAS call, and backward's ``dh_{t-1} = da_t W_hh`` is one call too
(a BLAS call costs ~3 us of overhead: one per gate was most of a small model's product). Its
big per-sequence buffers come from :mod:`nnbasics.kernels.workspace`. Inputs, outputs and PyTorch's gate order and weight layout
are the references'.
"""

from __future__ import annotations

from itertools import pairwise

from .. import compiled
from ..backend import xp
from ..dispatch import register
from ..ops import recurrent as ref
from ..ops.recurrent import steps as _steps
from ..threads import blas_setter, num_threads
from . import fastblas, gemm, native_threads, parallel, recurrent_compiled, workspace


def _project(x, w_ih, bias):
    """X W^T (+ bias) for all T steps in one GEMM: (T, N, I) -> (T, N, G*H), C-contiguous."""
    T, N, I = x.shape
    g = _mm(x.reshape(T * N, I), w_ih.T)
    if bias is not None:
        g += bias
    return g.reshape(T, N, -1)


def _mm(a, b, out=None):
    """``a @ b`` (into ``out``): the compiled product where it runs (float32 with the compiled
    kernels on an AVX-512 CPU, :mod:`~nnbasics.kernels.gemm_compiled`), else NumPy's, as before."""
    if a.dtype == xp.float32 and fastblas.compiled_sgemm() is not None:
        return fastblas.matmul(a, b, out=out)
    return xp.matmul(a, b, out=out)


def _dw_hh(dgates, hs, h0, reverse):
    """sum_t dgates_t^T h_{t-1}, as one GEMM over the T-1 inner steps plus the first step's h0.

    ``hs`` (T, N, H) are the outputs h_1..h_T in input order; the state entering step t is
    hs[t-1] (forward) or hs[t+1] (reverse), and h0 for the first processed step.
    """
    T, _, G = dgates.shape
    H = hs.shape[2]
    if reverse:
        d_inner, h_inner, d_first = dgates[: T - 1], hs[1:], dgates[T - 1]
    else:
        d_inner, h_inner, d_first = dgates[1:], hs[: T - 1], dgates[0]
    dw = _mm(d_first.T, h0)  # (G, H)
    if T > 1:
        dw += _mm(d_inner.reshape(-1, G).T, h_inner.reshape(-1, H))
    return dw


# ---------------------------------------------------------------------------- Elman RNN
def _rnn_rows(a, whh_t, h0, relu, steps):
    """The forward recurrence on a block of rows: a (T, n, H) pre-activations, made h in place."""
    tmp = xp.empty(a.shape[1:], dtype=a.dtype)
    h = h0
    for t in steps:
        _mm(h, whh_t, out=tmp)
        h = a[t]
        h += tmp
        if relu:
            xp.maximum(h, 0, out=h)
        else:
            xp.tanh(h, out=h)


def _rnn_rows_backward(g, hs, w_hh, da, dh, relu, steps):
    """Backward through time on a block of rows (all arguments sliced to it); dh updated in place."""
    for t in steps:
        d = da[t]
        xp.add(dh, g[t], out=d)
        h = hs[t]
        if relu:
            d *= h > 0
        else:
            tmp = h * h
            xp.subtract(1, tmp, out=tmp)
            d *= tmp
        _mm(d, w_hh, out=dh)


@register(ref.RNNLayer)
class RNNLayer(ref.RNNLayer):
    """:class:`nnbasics.ops.recurrent.RNNLayer`: one input GEMM, activations in place, one GEMM per weight at
    the end; on several threads the recurrence in fixed row pieces of the batch, as the LSTM's."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity="tanh", reverse=False):
        T, N, _ = x.shape
        self.has_bias = b_ih is not None
        a = _project(x, w_ih, (b_ih + b_hh) if self.has_bias else None)  # (T, N, H), becomes h in place
        whh_t = xp.ascontiguousarray(w_hh.T)  # (H, H)
        relu = nonlinearity == "relu"
        steps = list(_steps(T, reverse))
        _by_rows(N, lambda lo, hi: _rnn_rows(a[:, lo:hi], whh_t, h0[lo:hi], relu, steps), ("rnn", x.shape, a.dtype))
        if self.needs_grad is not None:
            self.saved = (x, h0, w_ih, w_hh, a)
            self.relu, self.reverse = relu, reverse
        return a

    def backward(self, g):
        x, h0, w_ih, w_hh, hs = self.saved
        T, N, H = hs.shape
        da = xp.empty_like(hs)  # (T, N, H): pre-activation gradients of every step
        dh = xp.zeros((N, H), dtype=g.dtype)
        steps = list(_steps(T, not self.reverse))
        _by_rows(N, lambda lo, hi: _rnn_rows_backward(g[:, lo:hi], hs[:, lo:hi], w_hh, da[:, lo:hi], dh[lo:hi],
                                                      self.relu, steps), ("rnn backward", hs.shape, g.dtype))
        needs = self.needs_grad
        d2 = da.reshape(T * N, H)
        dx = _mm(d2, w_ih).reshape(x.shape) if needs[0] else None
        dw_ih = _mm(d2.T, x.reshape(T * N, -1)) if needs[2] else None
        dh0 = dh if needs[1] else None
        dw_hh = _dw_hh(da, hs, h0, self.reverse) if needs[3] else None
        if not self.has_bias:
            return dx, dh0, dw_ih, dw_hh
        db = d2.sum(axis=0)
        return dx, dh0, dw_ih, dw_hh, db, db


# ---------------------------------------------------------------------------------- LSTM
# Internal gate order (o, i, f, g): PyTorch's blocks (i, f, g, o) taken as 3, 0, 1, 2. The three
# sigmoid gates are the first 3H columns of a step's (N, 4H) slab (one pass takes them), and the
# three gates whose gradients backward scales by dc (i, f, g) are the last 3H (one pass too).
_LSTM_ORDER = [3, 0, 1, 2]
#: PyTorch's block j is internal block _LSTM_BACK[j] (the inverse permutation).
_LSTM_BACK = [1, 2, 3, 0]


def _internal(w, H):
    """(4H, ...) rows in PyTorch's gate order -> the same rows in internal order (a copy)."""
    return w.reshape(4, H, -1)[_LSTM_ORDER].reshape(w.shape)


def _pytorch_order(w, H):
    """(4H, ...) rows in internal gate order -> PyTorch's order (a copy): the inverse of :func:`_internal`."""
    return w.reshape(4, H, -1)[_LSTM_BACK].reshape(w.shape)


#: Rows of the batch per piece of the LSTM's recurrence on several threads (at least), and the most
#: pieces: see :func:`_row_bounds`. A piece makes ~10 small NumPy and BLAS calls per step, and two
#: threads hand the GIL to each other between them: with pieces of 16 rows (batch 32) two threads
#: ran the char-LSTM's recurrence no faster than one thread ran both pieces (19.3 against 20.0 ms),
#: and one thread ran it whole in 15 ms. So a piece has at least 64 rows.
MIN_ROWS = 64
MAX_PIECES = 4


def _row_bounds(N):
    """Fixed row pieces of a batch of N: up to MAX_PIECES of at least MIN_ROWS rows each.

    The rows of a batch are independent through the whole recurrence, so each piece runs all
    T steps by itself: one hand-off per call instead of a barrier per step (a barrier per step
    waits for a descheduled thread 100 times a sequence). The bounds depend on N alone and every
    piece runs with BLAS single-threaded, so on several threads the result is the same for any
    number of them, any schedule and either choice of the thread chooser. One thread runs the
    batch whole: its last bits may differ (see :mod:`~nnbasics.kernels.gemm`).
    """
    p = max(1, min(MAX_PIECES, N // MIN_ROWS))
    return [N * i // p for i in range(p + 1)]


def _by_rows(N, fn, key):
    """``fn(lo, hi)`` over the batch's rows: one call on one thread, else fixed pieces on one or all
    threads, whichever the calls of ``key`` measured faster lately (the result is the same)."""
    if num_threads() <= 1 or blas_setter() is None:
        fn(0, N)
    else:
        parallel.run_pieces(_row_bounds(N), fn, key)


def _rows_of_contiguous(*arrays):
    """True if every array is (..., n, W) with W contiguous and rows W apart (a block of rows of a
    C-contiguous array): each (n, W) block of it is then one BLAS matrix with leading dimension W."""
    return all(x.strides[-1] == x.itemsize and x.strides[-2] == x.shape[-1] * x.itemsize for x in arrays)


def _blas_ready(slab, *others):
    """True if the raw BLAS calls of the recurrence may take these arrays: one dtype, ``slab`` (and
    any 3-D array among ``others``) in rows of contiguous blocks, the 2-D ones C-contiguous; else
    the loop takes NumPy's products."""
    dt = slab.dtype
    return all(x.dtype == dt for x in others) and _rows_of_contiguous(slab) and all(
        x.flags.c_contiguous or (x.ndim == 3 and _rows_of_contiguous(x)) for x in others)


def _lstm_rows(acts, whh_s, h0, c0, out, cs, tcs, steps, whole):
    """The forward recurrence on a block of rows (all arguments sliced to it; acts (T, n, 4H) in place);
    ``whole``: the block is the whole batch (its step products may then be cut by columns)."""
    n, G = acts.shape[1:]
    raw = fastblas.raw(acts.dtype) if _blas_ready(acts, out, whh_s, h0) else None
    rec = xp.empty((n, G), dtype=acts.dtype) if raw is None else None  # h_{t-1} W_hh^T
    ig = xp.empty((n, G // 4), dtype=acts.dtype)
    cols = _step_columns(raw, whole, G, n * (G // 4), acts.dtype)
    with fastblas.one_thread():
        _lstm_steps(raw, acts, whh_s, h0, c0, out, cs, tcs, steps, rec, ig, cols)


def _step_columns(raw, whole, n_cols, per_col, dtype):
    """Column pieces of a step's product (:func:`gemm.column_bounds`) on several threads, where the
    batch is one row piece (``whole``) and BLAS is called directly; else one piece. The size and
    the thread setting decide, never the timing (the values are the same for either choice of the
    thread chooser; one thread runs the product whole, as :mod:`~nnbasics.kernels.gemm` does).
    Where the pieces run on native threads (:mod:`~nnbasics.kernels.native_threads`, with the
    compiled kernels), they are smaller (its PIECE_WORK) and come as :class:`_NativeColumns`.

    Measured on the 2-core VM of BENCHMARKS.md, quiet: H 512 at batch 64, (64, 512) @ (512, 2048),
    67 M multiply-adds: 1153 us in one call, 666 us in four column pieces on two threads (a
    hand-off costs ~50 us). The char-LSTM's (32, 256) @ (256, 1024), 8.4 M, stays one piece on
    Python's threads: in two it took 142 against 167 us on two threads, but the whole step ran
    1.8 % slower on two threads and 4 % slower on one (the pieces run one after the other there);
    on native threads it is four pieces (forward and backward of the layer 0.79-0.83x).
    """
    if raw is None or not whole or num_threads() <= 1 or blas_setter() is None:
        return [0, n_cols]
    if native_threads.available(dtype):
        bounds = gemm.column_bounds(n_cols, per_col, native_threads.PIECE_WORK)
        return _NativeColumns(bounds) if len(bounds) > 2 else bounds
    return gemm.column_bounds(n_cols, per_col)


class _NativeColumns(list):
    """Column bounds whose pieces run on native threads; ``calls`` is the pieces' BLAS calls, built
    at the first step (A and C at 0: each step moves them), ``whole`` the one call they cut."""

    calls = whole = None


def _in_columns(raw, cols, key, m, k, a_at, lda, b_at, ldb, beta, c_at, ldc, size, trans_b=False):
    """``C (=|+=) A B`` by raw BLAS calls, one per column piece ``cols`` of B and C, on one thread or
    all (:func:`parallel.run_pieces` or, for :class:`_NativeColumns`, native threads, either timing
    which is faster); one call where there is one piece. ``trans_b``: B is held as its transpose
    (rows of B^T, ``ldb`` apart)."""
    tb, b_step = (112, ldb * size) if trans_b else (111, size)
    if len(cols) == 2:
        raw(101, 111, tb, m, cols[1], k, 1.0, a_at, lda, b_at, ldb, beta, c_at, ldc)
        return
    if isinstance(cols, _NativeColumns):
        if cols.calls is None:
            cols.calls = xp.array([(111, tb, m, hi - lo, k, 0, lda, b_at + lo * b_step, ldb, lo * size, ldc)
                                   for lo, hi in pairwise(cols)], dtype=xp.int64)
            cols.whole = [(111, tb, m, cols[-1], k, 0, lda, b_at, ldb, 0, ldc)]
        native_threads.run(cols.calls, xp.float32 if size == 4 else xp.float64, key, beta=beta, shift_a=a_at,
                           shift_c=c_at, whole=cols.whole)
        return
    parallel.run_pieces(cols, lambda lo, hi: raw(101, 111, tb, m, hi - lo, k, 1.0, a_at, lda, b_at + lo * b_step, ldb,
                                                 beta, c_at + lo * size, ldc), key)


def _lstm_steps(raw, acts, whh_s, h0, c0, out, cs, tcs, steps, rec, ig, cols):
    """The steps of :func:`_lstm_rows`: ``a_t += h_{t-1} W_hh^T`` (BLAS adding into the step's slab,
    one call per column piece ``cols``, else NumPy's product into ``rec``), then the gates, ``c_t``, ``h_t``.

    With ``a = (a_o, a_i, a_f, a_g)`` (the sigmoid columns' weights halved in advance)::

        o, i, f = (1 + tanh(a_o, a_i, a_f)) / 2,  g = tanh(a_g)
        c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
    """
    n, G = acts.shape[1:]
    H = K = G // 4
    rows_of_t = whh_s.shape[0] == K  # W_hh^T itself (H, 4H), else its rows (4H, H), read transposed
    if raw is not None:  # pointers by arithmetic (``.ctypes.data`` costs ~1 us a call)
        a_at, a_step = acts.ctypes.data, acts.strides[0]
        o_at, o_step = out.ctypes.data, out.strides[0]
        w_at, h_at = whh_s.ctypes.data, h0.ctypes.data
        key = ("lstm step", acts.shape, acts.dtype)
    h, c = h0, c0
    for t in steps:
        a = acts[t]  # (n, 4H): columns o, i, f, g
        if raw is None:
            xp.matmul(h, whh_s if rows_of_t else whh_s.T, out=rec)
            a += rec
        else:
            _in_columns(raw, cols, key, n, K, h_at, K, w_at, G if rows_of_t else K, 1.0, a_at + t * a_step, G,
                        acts.itemsize, trans_b=not rows_of_t)
        xp.tanh(a, out=a)
        s = a[:, :3 * H]
        s *= 0.5
        s += 0.5
        c_t = cs[t]
        xp.multiply(a[:, 2 * H:3 * H], c, out=c_t)  # f * c_{t-1}
        xp.multiply(a[:, H:2 * H], a[:, 3 * H:], out=ig)  # i * g
        c_t += ig
        tc = tcs[t]
        xp.tanh(c_t, out=tc)
        h = out[t]
        xp.multiply(a[:, :H], tc, out=h)  # o * tanh(c_t)
        c = c_t
        if raw is not None:
            h_at = o_at + t * o_step


def _lstm_rows_backward(g, acts, w_hh, c0, cs, tcs, da, dh, dc, steps, whole):
    """Backward through time on a block of rows (all arguments sliced to it; ``whole`` as for
    :func:`_lstm_rows`); dh, dc updated in place.

    Per step, with ``o, i, f, g`` the activations and ``c_prev`` the cell state entering it::

        dc += dh * o * (1 - tanh(c_t)^2)
        d(o, i, f, g) = (dh * tanh(c_t), dc * g, dc * c_prev, dc * i)        (then dc *= f)
        da = d * (o(1-o), i(1-i), f(1-f), 1 - g^2)                          (to pre-activations)
        dh = da W_hh                                                        (one product)
    """
    n, H = dh.shape
    G = da.shape[2]
    dt = dh.dtype
    tmp = xp.empty((n, H), dtype=dt)
    fac = xp.empty((n, G), dtype=dt)  # derivative of the activations: s (1 - s) | 1 - g^2
    raw = fastblas.raw(dt) if dh.flags.c_contiguous and _blas_ready(da, w_hh) else None
    cols = _step_columns(raw, whole, H, n * G, dt)
    if raw is not None:  # pointers by arithmetic (``.ctypes.data`` costs ~1 us a call)
        d_at, d_step = da.ctypes.data, da.strides[0]
        w_at, dh_at = w_hh.ctypes.data, dh.ctypes.data
        key = ("lstm step backward", da.shape, dt)
    fused = compiled.is_compiled()  # the gate passes as one compiled loop (the same bits)
    with fastblas.one_thread():  # the direct BLAS calls on this thread only
        for k in range(len(steps) - 1, -1, -1):
            t = steps[k]
            d, c_prev = da[t], cs[steps[k - 1]] if k > 0 else c0  # d (n, 4H): columns o, i, f, g
            if fused:
                recurrent_compiled.lstm_gates_backward(dh, g[t], acts[t], tcs[t], c_prev, dc, d)
            else:
                _lstm_gates_backward(dh, g[t], acts[t], tcs[t], c_prev, dc, d, tmp, fac)
            if raw is None:
                xp.matmul(d, w_hh, out=dh)
            else:  # dh_{t-1} = da_t W_hh, one BLAS call per column piece
                _in_columns(raw, cols, key, n, G, d_at + t * d_step, G, w_at, H, 0.0, dh_at, H, dt.itemsize)


def _lstm_gates_backward(dh, g, a, tc, c_prev, dc, d, tmp, fac):
    """One step's gate gradients (:func:`_lstm_rows_backward`'s formulas) into ``d`` (n, 4H), dc
    made dc_prev in place, dh (n, H) += g; ``tmp`` (n, H) and ``fac`` (n, 4H) scratch."""
    H = dh.shape[1]
    dh += g
    xp.multiply(dh, tc, out=d[:, :H])  # d o = dh * tanh(c_t)
    # dc += dh * o * (1 - tc^2), as (dh - do * tc) * o
    xp.multiply(d[:, :H], tc, out=tmp)
    xp.subtract(dh, tmp, out=tmp)
    tmp *= a[:, :H]
    dc += tmp
    xp.multiply(dc, a[:, 3 * H:], out=d[:, H:2 * H])  # d i = dc * g
    xp.multiply(dc, c_prev, out=d[:, 2 * H:3 * H])  # d f = dc * c_prev
    xp.multiply(dc, a[:, H:2 * H], out=d[:, 3 * H:])  # d g = dc * i
    dc *= a[:, 2 * H:3 * H]  # dc_{t-1} = dc * f
    # to pre-activations: sigmoid' = s - s^2 on (o, i, f), tanh' = 1 - g^2 on g
    xp.multiply(a, a, out=fac)
    xp.subtract(a[:, :3 * H], fac[:, :3 * H], out=fac[:, :3 * H])
    xp.subtract(1, fac[:, 3 * H:], out=fac[:, 3 * H:])
    d *= fac


@register(ref.LSTMLayer)
class LSTMLayer(ref.LSTMLayer):
    """:class:`nnbasics.ops.recurrent.LSTMLayer`, the gates in the order (o, i, f, g).

    Every step's gates are one (N, 4H) row slab of a (T, N, 4H) buffer, so each step makes ONE
    recurrent product ``h_{t-1} W_hh^T`` (BLAS adds it into the slab) and backward ONE
    ``dh_{t-1} = da_t W_hh`` (one call instead of one per gate: a BLAS call costs ~3 us of
    overhead, most of a small model's product). The input projection, dX, dW_ih and dW_hh are one product each over
    all T*N rows. On several threads the recurrence runs in fixed pieces of the batch's rows,
    each through the whole sequence with single-threaded BLAS (:func:`_row_bounds`).
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        T, N, I = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        self.has_bias = b_ih is not None
        # the sigmoid rows halved: tanh(a/2) gives sigmoid(a) = (1 + tanh(a/2)) / 2
        scale = xp.repeat(xp.array([0.5, 0.5, 0.5, 1.0], dtype=dt), H)  # (4H,)
        w_ih_s = _internal(w_ih, H) * scale[:, None]  # (4H, I)
        # (4H, H), read transposed by the step product: OpenBLAS packs B = W_hh^T faster from these
        # rows when H < 4H, and no transposed copy is made (char-LSTM step 3 % faster, 1 and 2 threads);
        # the compiled product reads B's rows where they lie, so it gets W_hh^T (H, 4H) made once
        whh_s = _internal(w_hh, H) * scale[:, None]
        if dt == xp.float32 and fastblas.compiled_sgemm() is not None:
            whh_s = xp.ascontiguousarray(whh_s.T)
        acts = workspace.empty((T * N, 4 * H), dt)  # pre-activations of all steps, then activations in place
        gemm.product(x.reshape(T * N, I), w_ih_s.T, acts, key="lstm x W_ih")
        if self.has_bias:
            acts += _internal(b_ih + b_hh, H) * scale
        acts = acts.reshape(T, N, 4 * H)
        # big per-sequence buffers from the workspace pool: no fresh page faults each step
        out = workspace.empty((T + 1, N, H), dt)  # h_1..h_T, then c_T
        cs = workspace.empty((T, N, H), dt)  # c_t
        tcs = workspace.empty((T, N, H), dt)  # tanh(c_t)
        steps = list(_steps(T, reverse))
        whole = len(_row_bounds(N)) == 2
        _by_rows(N, lambda lo, hi: _lstm_rows(acts[:, lo:hi], whh_s, h0[lo:hi], c0[lo:hi], out[:, lo:hi],
                                               cs[:, lo:hi], tcs[:, lo:hi], steps, whole), ("lstm", x.shape, dt))
        out[T] = cs[steps[-1]] if T else c0
        if self.needs_grad is not None:
            self.saved = (x, h0, c0, w_ih, w_hh, acts, out, cs, tcs)
            self.reverse = reverse
        return out

    def backward(self, g):
        x, _, c0, _, w_hh, acts, _, cs, tcs = self.saved
        T, N, H = cs.shape
        G = 4 * H
        dt = g.dtype
        da = workspace.empty((T, N, G), dt)  # pre-activation gradients, columns o, i, f, g
        w_hh_i = _internal(w_hh, H)  # (4H, H), contiguous
        dh = xp.zeros((N, H), dtype=dt)
        dc = g[T].copy()
        steps = list(_steps(T, self.reverse))
        whole = len(_row_bounds(N)) == 2
        _by_rows(N, lambda lo, hi: _lstm_rows_backward(g[:, lo:hi], acts[:, lo:hi], w_hh_i, c0[lo:hi], cs[:, lo:hi],
                                                       tcs[:, lo:hi], da[:, lo:hi], dh[lo:hi], dc[lo:hi], steps, whole),
                 ("lstm backward", x.shape, dt))
        return (*self._sequence_grads(da, dh, dc, dt), *self._bias_grads(da, dt))

    def _sequence_grads(self, da, dh, dc, dt):
        """dX, dh0, dc0, dW_ih, dW_hh from the pre-activation gradients of all steps, one product each."""
        x, h0, _, w_ih, _, _, out, _, _ = self.saved
        T, N, G = da.shape
        H, I = G // 4, x.shape[2]
        needs = self.needs_grad
        d2 = da.reshape(T * N, G)
        dx = dw_ih = dw_hh = None
        if needs[0]:
            dx = workspace.empty((T * N, I), dt)
            gemm.product(d2, _internal(w_ih, H), dx, key="lstm dX")
            dx = dx.reshape(x.shape)
        if needs[3]:
            dw = xp.empty((G, I), dt)
            gemm.product(d2.T, x.reshape(T * N, I), dw, key="lstm dW_ih")
            dw_ih = _pytorch_order(dw, H)
        if needs[4]:  # sum_t da_t^T h_{t-1}: the first step processed meets h0
            hs = out[:T]
            if self.reverse:
                d_inner, h_inner, d_first = da[: T - 1], hs[1:], da[T - 1]
            else:
                d_inner, h_inner, d_first = da[1:], hs[: T - 1], da[0]
            dw = xp.empty((G, H), dt)
            gemm.product(d_first.T, h0, dw, key="lstm dW_hh")
            if T > 1:
                gemm.product(d_inner.reshape(-1, G).T, h_inner.reshape(-1, H), dw, accumulate=True, key="lstm dW_hh")
            dw_hh = _pytorch_order(dw, H)
        return dx, dh if needs[1] else None, dc if needs[2] else None, dw_ih, dw_hh

    def _bias_grads(self, da, dt):
        if not self.has_bias:
            return ()
        T, N, G = da.shape
        with fastblas.one_thread():  # a GEMV: ~2x da.sum(axis=(0, 1)); on this thread (BLAS's split stalls under load)
            db = _pytorch_order(xp.matmul(xp.ones(T * N, dt), da.reshape(T * N, G)), G // 4)
        return db, db


# ----------------------------------------------------------------------------------- GRU
def _gru_rows(gx, whh_t, b_hn, h0, out, ghn, steps):
    """The forward recurrence on a block of rows (all arguments sliced to it; gx (T, n, 3H) in place)."""
    n_rows, H = h0.shape
    H2 = 2 * H
    tmp = xp.empty((n_rows, 3 * H), dtype=gx.dtype)
    tmp1 = xp.empty((n_rows, H), dtype=gx.dtype)
    h = h0
    for t in steps:
        a = gx[t]
        _mm(h, whh_t, out=tmp)
        rz = a[:, :H2]
        rz += tmp[:, :H2]
        # sigmoid = (1 + tanh(a / 2)) / 2
        rz *= 0.5
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        hn = ghn[t]
        if b_hn is not None:
            xp.add(tmp[:, H2:], b_hn, out=hn)
        else:
            hn[...] = tmp[:, H2:]
        n = a[:, H2:]
        xp.multiply(a[:, :H], hn, out=tmp1)
        n += tmp1
        xp.tanh(n, out=n)
        # h' = n + z * (h - n)
        h_new = out[t]
        xp.subtract(h, n, out=h_new)
        h_new *= a[:, H:H2]
        h_new += n
        h = h_new


def _gru_rows_backward(g, acts, ghn, hs, h0, w_hh, dgx, dgh_n, dh, steps):
    """Backward through time on a block of rows (all arguments sliced to it); dh updated in place."""
    n_rows, H = dh.shape
    H2 = 2 * H
    dt = dh.dtype
    tmp = xp.empty((n_rows, H), dtype=dt)
    tmp2 = xp.empty((n_rows, H2), dtype=dt)
    dgh = xp.empty((n_rows, 3 * H), dtype=dt)
    for k in range(len(steps) - 1, -1, -1):
        t = steps[k]
        a = acts[t]
        r, z, n = a[:, :H], a[:, H:H2], a[:, H2:]
        h_prev = hs[steps[k - 1]] if k > 0 else h0
        d = dgx[t]
        dh += g[t]
        dn = d[:, H2:]
        # da_n = dh (1 - z)(1 - n^2)
        xp.multiply(n, n, out=tmp)
        xp.subtract(1, tmp, out=tmp)
        xp.multiply(dh, tmp, out=dn)
        xp.subtract(1, z, out=tmp)
        dn *= tmp
        # dz = dh (h_prev - n), dr = da_n * ghn (sigmoid' applied below)
        xp.subtract(h_prev, n, out=d[:, H:H2])
        d[:, H:H2] *= dh
        xp.multiply(dn, ghn[t], out=d[:, :H])
        s = a[:, :H2]
        xp.subtract(1, s, out=tmp2)
        tmp2 *= s
        d[:, :H2] *= tmp2
        dghn = dgh_n[t]
        xp.multiply(dn, r, out=dghn)
        dgh[:, :H2] = d[:, :H2]
        dgh[:, H2:] = dghn
        dh *= z
        dh += _mm(dgh, w_hh)


@register(ref.GRULayer)
class GRULayer(ref.GRULayer):
    """:class:`nnbasics.ops.recurrent.GRULayer`: one input GEMM, fused in-place passes on the (N, 3H) slab; on
    several threads the recurrence in fixed row pieces of the batch, as the LSTM's."""

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        T, N, _ = x.shape
        H = w_hh.shape[1]
        H2 = 2 * H
        dt = x.dtype
        self.has_bias = b_ih is not None
        if self.has_bias:
            bias = b_ih.copy()
            bias[:H2] += b_hh[:H2]  # r and z take both biases; b_hn stays inside r * (...)
            b_hn = b_hh[H2:]
        else:
            bias = b_hn = None
        gx = _project(x, w_ih, bias)  # (T, N, 3H): r, z pre-activations then activations in place; n
        whh_t = xp.ascontiguousarray(w_hh.T)  # (H, 3H)
        out = xp.empty((T, N, H), dtype=dt)
        ghn = xp.empty((T, N, H), dtype=dt)  # W_hn h + b_hn, saved for dr
        steps = list(_steps(T, reverse))
        _by_rows(N, lambda lo, hi: _gru_rows(gx[:, lo:hi], whh_t, b_hn, h0[lo:hi], out[:, lo:hi], ghn[:, lo:hi], steps),
                 ("gru", x.shape, dt))
        if self.needs_grad is not None:
            self.saved = (x, h0, w_ih, w_hh, gx, ghn, out)
            self.reverse = reverse
        return out

    def backward(self, g):
        x, h0, w_ih, w_hh, acts, ghn, hs = self.saved
        T, N, H = hs.shape
        H2 = 2 * H
        dt = g.dtype
        dgx = xp.empty((T, N, 3 * H), dtype=dt)  # input-side pre-activation gradients
        dgh_n = xp.empty((T, N, H), dtype=dt)  # recurrent-side gradient of the n rows: da_n * r
        dh = xp.zeros((N, H), dtype=dt)
        steps = list(_steps(T, self.reverse))
        _by_rows(N, lambda lo, hi: _gru_rows_backward(g[:, lo:hi], acts[:, lo:hi], ghn[:, lo:hi], hs[:, lo:hi], h0[lo:hi],
                                                      w_hh, dgx[:, lo:hi], dgh_n[:, lo:hi], dh[lo:hi], steps),
                 ("gru backward", hs.shape, dt))
        needs = self.needs_grad
        d2 = dgx.reshape(T * N, 3 * H)
        dx = _mm(d2, w_ih).reshape(x.shape) if needs[0] else None
        dw_ih = _mm(d2.T, x.reshape(T * N, -1)) if needs[2] else None
        dw_hh = None
        if needs[3]:
            dgh_all = dgx.copy()
            dgh_all[:, :, H2:] = dgh_n
            dw_hh = _dw_hh(dgh_all, hs, h0, self.reverse)
        dh0 = dh if needs[1] else None
        if not self.has_bias:
            return dx, dh0, dw_ih, dw_hh
        db_ih = d2.sum(axis=0)
        db_hh = db_ih.copy()
        db_hh[H2:] = dgh_n.reshape(T * N, H).sum(axis=0)
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh
