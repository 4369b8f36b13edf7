"""Fast recurrent layers: one GEMM for all input projections, fused in-place gate passes, gate-major LSTM.

The references (:mod:`nnbasics.ops.recurrent`) write each step's equations out. These kernels
compute the same, laid out for speed:

* the input projections of all T steps are ONE matrix product ``X W_ih^T + b`` (T*N rows);
* each step does ONE recurrent product ``h_{t-1} W_hh^T`` and a few fused elementwise passes
  on the (N, G*H) gate slab, writing into buffers preallocated for the whole sequence;
* backward through time keeps the gate gradients of every step in one (T, N, G*H) buffer,
  so ``dW_hh = sum_t dgates_t^T h_{t-1}``, ``dW_ih`` and ``dX`` are each ONE GEMM at the end.

The LSTM reorders its gates to (i, f, o, g) so that the three sigmoid gates are adjacent,
keeps them gate-major ((4, T, N, H): each gate of each step one contiguous (N, H) block), and
computes sigmoid(a) = (1 + tanh(a/2)) / 2: with the sigmoid rows of the weights pre-scaled by
1/2, a single ``tanh`` covers all four gates of a step. Its big per-sequence buffers come from
:mod:`nnbasics.kernels.workspace`. Inputs, outputs and PyTorch's gate order and weight layout
are the references'.
"""

from __future__ import annotations

from ..backend import xp
from ..dispatch import register
from ..ops import recurrent as ref
from ..ops.recurrent import steps as _steps
from ..threads import blas_setter, num_threads
from . import fastblas, gemm, parallel, workspace


def _project(x, w_ih, bias):
    """X W^T (+ bias) for all T steps in one GEMM: (T, N, I) -> (T, N, G*H), C-contiguous."""
    T, N, I = x.shape
    g = x.reshape(T * N, I) @ w_ih.T
    if bias is not None:
        g += bias
    return g.reshape(T, N, -1)


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
    dw = d_first.T @ h0  # (G, H)
    if T > 1:
        dw += d_inner.reshape(-1, G).T @ h_inner.reshape(-1, H)
    return dw


# ---------------------------------------------------------------------------- Elman RNN
def _rnn_rows(a, whh_t, h0, relu, steps):
    """The forward recurrence on a block of rows: a (T, n, H) pre-activations, made h in place."""
    tmp = xp.empty(a.shape[1:], dtype=a.dtype)
    h = h0
    for t in steps:
        xp.matmul(h, whh_t, out=tmp)
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
        xp.matmul(d, w_hh, out=dh)


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
        dx = (d2 @ w_ih).reshape(x.shape) if needs[0] else None
        dw_ih = d2.T @ x.reshape(T * N, -1) if needs[2] else None
        dh0 = dh if needs[1] else None
        dw_hh = _dw_hh(da, hs, h0, self.reverse) if needs[3] else None
        if not self.has_bias:
            return dx, dh0, dw_ih, dw_hh
        db = d2.sum(axis=0)
        return dx, dh0, dw_ih, dw_hh, db, db


# ---------------------------------------------------------------------------------- LSTM
# Internal gate order (i, f, o, g): PyTorch's blocks (i, f, g, o) taken as 0, 1, 3, 2, so the
# three sigmoid gates are adjacent. The permutation is its own inverse.
_LSTM_ORDER = [0, 1, 3, 2]


def _lstm_blocks(w, H):
    """(4H, K) weights in PyTorch order -> (4, H, K) gate blocks in internal order (a copy)."""
    return w.reshape(4, H, -1)[_LSTM_ORDER]


#: Rows of the batch per piece of the LSTM's recurrence on several threads (at least), and the most
#: pieces: see :func:`_row_bounds`. A piece makes ~20 small NumPy and BLAS calls per step, and two
#: threads hand the GIL to each other between them: with pieces of 16 rows (batch 32) two threads
#: ran the char-LSTM's recurrence no faster than one thread ran both pieces (19.3 against 20.0 ms),
#: and one thread ran it whole in 15 ms. So a piece has at least 64 rows.
MIN_ROWS = 64
MAX_PIECES = 4


def _row_bounds(N):
    """Fixed row pieces of a batch of N: up to MAX_PIECES of at least MIN_ROWS rows each.

    The rows of a batch are independent through the whole recurrence, so each piece runs all
    T steps by itself: one hand-off per call instead of a barrier per step (a barrier per step
    waits for a descheduled thread 100 times a sequence). The bounds depend on N alone, never on
    the thread count, and every piece runs with BLAS single-threaded, so the result is the same
    for any number of threads and any schedule.
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
    """True if every array is (..., n, H) with H contiguous and rows H apart (a block of rows of a
    C-contiguous array): each (n, H) block of it is then one BLAS matrix with leading dimension H."""
    return all(x.strides[-1] == x.itemsize and x.strides[-2] == x.shape[-1] * x.itemsize for x in arrays)


def _blas_ready(blocks, *others):
    """True if the raw BLAS calls of the recurrence may take these arrays: one dtype, ``blocks``
    (and an (T + 1, n, H) ``out``, if among ``others``) in rows of contiguous blocks, weights
    C-contiguous; else the loop takes NumPy's products."""
    dt = blocks.dtype
    return all(x.dtype == dt for x in others) and _rows_of_contiguous(blocks) and all(
        x.flags.c_contiguous or (x.ndim == 3 and _rows_of_contiguous(x)) for x in others)


def _add_products(raw, h, w_t, a):
    """``a[k] += h @ w_t[k]`` for the 4 gate blocks: h (n, K) C-contiguous, w_t (4, K, H)
    C-contiguous, a (4, n, H) with rows H apart; the BLAS call adds into ``a`` (beta = 1)."""
    n, K = h.shape
    H = w_t.shape[2]
    size = a.itemsize
    hp, wp, ap = h.ctypes.data, w_t.ctypes.data, a.ctypes.data
    for k in range(4):
        raw(101, 111, 111, n, H, K, 1.0, hp, K, wp + k * K * H * size, H, 1.0, ap + k * a.strides[0], H)


def _sum_of_products(raw, d, w, dh):
    """``dh = sum_k d[k] @ w[k]``: d (4, n, H) with rows H apart, w (4, H, K) C-contiguous, dh (n, K)
    C-contiguous; the first product writes ``dh`` (beta = 0), the others add to it (beta = 1)."""
    n, H = d.shape[1:]
    K = w.shape[2]
    size = d.itemsize
    dp, wp, hp = d.ctypes.data, w.ctypes.data, dh.ctypes.data
    for k in range(4):
        raw(101, 111, 111, n, K, H, 1.0, dp + k * d.strides[0], H, wp + k * H * K * size, K, 1.0 if k else 0.0, hp, K)


def _lstm_rows(acts, whh4_t, h0, c0, out, cs, tcs, steps):
    """The forward recurrence on a block of rows (all arguments sliced to it; acts (4, T, n, H) in place)."""
    _, _, n, H = acts.shape
    raw = fastblas.raw(acts.dtype) if _blas_ready(acts, out, whh4_t, h0) else None
    rec = xp.empty((4, n, H), dtype=acts.dtype) if raw is None else None  # h_{t-1} W_k^T
    ig = xp.empty((n, H), dtype=acts.dtype)
    with fastblas.one_thread():
        _lstm_steps(raw, acts, whh4_t, h0, c0, out, cs, tcs, steps, rec, ig)


def _lstm_steps(raw, acts, whh4_t, h0, c0, out, cs, tcs, steps, rec, ig):
    """The steps of :func:`_lstm_rows`: ``a_k += h_{t-1} W_k^T`` (by ``raw`` BLAS calls adding into the
    gate blocks, else NumPy's batched product into ``rec``), then the gates, ``c_t``, ``h_t``."""
    h, c = h0, c0
    for t in steps:
        a = acts[:, t]  # (4, n, H), each block contiguous
        if raw is None:
            xp.matmul(h, whh4_t, out=rec)
            a += rec
        else:
            _add_products(raw, h, whh4_t, a)  # a_k += h W_k^T: BLAS adds into the block itself
        xp.tanh(a, out=a)
        s = a[:3]
        s *= 0.5
        s += 0.5
        c_t = cs[t]
        xp.multiply(a[1], c, out=c_t)  # f * c_{t-1}
        xp.multiply(a[0], a[3], out=ig)  # i * g
        c_t += ig
        tc = tcs[t]
        xp.tanh(c_t, out=tc)
        h = out[t]
        xp.multiply(a[2], tc, out=h)  # o * tanh(c_t)
        c = c_t


def _lstm_rows_backward(g, acts, w_hh4, c0, cs, tcs, da, dh, dc, steps):
    """Backward through time on a block of rows (all arguments sliced to it); dh, dc updated in place."""
    n, H = dh.shape
    dt = dh.dtype
    tmp = xp.empty((n, H), dtype=dt)
    fac = xp.empty((4, n, H), dtype=dt)  # derivative of the activations: s (1 - s) | 1 - g^2
    raw = fastblas.raw(dt) if dh.flags.c_contiguous and _blas_ready(da, w_hh4) else None
    rec = xp.empty((4, n, H), dtype=dt) if raw is None else None  # da_k W_k
    with fastblas.one_thread():  # the direct BLAS calls on this thread only
        for k in range(len(steps) - 1, -1, -1):
            t = steps[k]
            a = acts[:, t]
            d = da[:, t]
            dh += g[t]
            tc = tcs[t]
            xp.multiply(dh, tc, out=d[2])  # d o = dh * tanh(c_t)
            # dc += dh * o * (1 - tc^2), as (dh - do * tc) * o
            xp.multiply(d[2], tc, out=tmp)
            xp.subtract(dh, tmp, out=tmp)
            tmp *= a[2]
            dc += tmp
            c_prev = cs[steps[k - 1]] if k > 0 else c0
            xp.multiply(dc, a[3], out=d[0])  # d i = dc * g
            xp.multiply(dc, c_prev, out=d[1])  # d f = dc * c_{t-1}
            xp.multiply(dc, a[0], out=d[3])  # d g = dc * i
            dc *= a[1]  # dc_{t-1} = dc * f
            # to pre-activations: sigmoid' = s - s^2 on (i, f, o), tanh' = 1 - g^2 on g
            xp.multiply(a, a, out=fac)
            xp.subtract(a[:3], fac[:3], out=fac[:3])
            xp.subtract(1, fac[3], out=fac[3])
            d *= fac
            if raw is None:
                xp.matmul(d, w_hh4, out=rec)
                xp.sum(rec, axis=0, out=dh)
            else:
                _sum_of_products(raw, d, w_hh4, dh)  # dh = sum_k d_k W_k, summed by BLAS as it goes


@register(ref.LSTMLayer)
class LSTMLayer(ref.LSTMLayer):
    """:class:`nnbasics.ops.recurrent.LSTMLayer`, gate-major in the order (i, f, o, g).

    The gates are kept gate-major, (4, T, N, H), so every gate of every step is one contiguous
    (N, H) block (elementwise passes on contiguous blocks run about twice as fast as on column
    slices of an (N, 4H) slab). The products are batched over the 4 gate blocks: the input
    projection (4, T*N, H), the recurrent product ``h_{t-1} W_k^T`` per gate into a
    preallocated (4, N, H) buffer, and in backward ``dh_{t-1} = sum_k da_k W_k``, dX, dW_ih and
    dW_hh. On several threads the recurrence runs in fixed pieces of the batch's rows, each
    through the whole sequence with single-threaded BLAS (:func:`_row_bounds`).
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        T, N, I = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        self.has_bias = b_ih is not None
        # the sigmoid blocks halved: tanh(a/2) gives sigmoid(a) = (1 + tanh(a/2)) / 2
        scale = xp.array([0.5, 0.5, 0.5, 1.0], dtype=dt)[:, None, None]
        w_ih4 = _lstm_blocks(w_ih, H) * scale  # (4, H, I)
        whh4_t = xp.ascontiguousarray((_lstm_blocks(w_hh, H) * scale).transpose(0, 2, 1))  # (4, H, H): W_k^T
        # (4, T*N, H): one batched GEMM for all steps and gates; pre-activations, then activations in place
        acts = workspace.empty((4, T * N, H), dt)
        x2 = x.reshape(T * N, I)
        for k in range(4):
            gemm.product(x2, w_ih4[k].T, acts[k], key="lstm x W_ih")
        if self.has_bias:
            acts += _lstm_blocks((b_ih + b_hh)[:, None], H).reshape(4, 1, H) * scale
        acts = acts.reshape(4, T, N, H)
        # big per-sequence buffers from the workspace pool: no fresh page faults each step
        out = workspace.empty((T + 1, N, H), dt)  # h_1..h_T, then c_T
        cs = workspace.empty((T, N, H), dt)  # c_t
        tcs = workspace.empty((T, N, H), dt)  # tanh(c_t)
        steps = list(_steps(T, reverse))
        _by_rows(N, lambda lo, hi: _lstm_rows(acts[:, :, lo:hi], whh4_t, h0[lo:hi], c0[lo:hi], out[:, lo:hi],
                                               cs[:, lo:hi], tcs[:, lo:hi], steps), ("lstm", x.shape, dt))
        out[T] = cs[steps[-1]] if T else c0
        if self.needs_grad is not None:
            self.saved = (x, h0, c0, w_ih, w_hh, acts, out, cs, tcs)
            self.reverse = reverse
        return out

    def backward(self, g):
        x, h0, c0, w_ih, w_hh, acts, out, cs, tcs = self.saved
        T, N, H = cs.shape
        I = x.shape[2]
        dt = g.dtype
        w_hh4 = _lstm_blocks(w_hh, H)  # (4, H, H): W_k, contiguous
        da = workspace.empty((4, T, N, H), dt)  # pre-activation gradients, (i, f, o, g) blocks
        dh = xp.zeros((N, H), dtype=dt)
        dc = g[T].copy()
        steps = list(_steps(T, self.reverse))
        _by_rows(N, lambda lo, hi: _lstm_rows_backward(g[:, lo:hi], acts[:, :, lo:hi], w_hh4, c0[lo:hi],
                                                       cs[:, lo:hi], tcs[:, lo:hi], da[:, :, lo:hi], dh[lo:hi],
                                                       dc[lo:hi], steps), ("lstm backward", x.shape, dt))
        needs = self.needs_grad
        d2 = da.reshape(4, T * N, H)
        x2 = x.reshape(T * N, I)
        dx = None
        if needs[0]:  # dX = sum_k dA_k W_ih,k, summed by BLAS as it goes
            w_ih4 = _lstm_blocks(w_ih, H)
            dx = workspace.empty((T * N, I), dt)
            for k in range(4):
                gemm.product(d2[k], w_ih4[k], dx, accumulate=k > 0, key="lstm dX")
            dx = dx.reshape(x.shape)
        dw_ih = None
        if needs[3]:  # dW_ih in PyTorch's block order: block j is internal gate _LSTM_ORDER[j]
            dw_ih = xp.empty((4 * H, I), dt)
            for j, k in enumerate(_LSTM_ORDER):
                gemm.product(d2[k].T, x2, dw_ih[j * H:(j + 1) * H], key="lstm dW_ih")
        dw_hh = None
        if needs[4]:
            hs = out[:T]
            if self.reverse:
                d_inner, h_inner, d_first = da[:, : T - 1], hs[1:], da[:, T - 1]
            else:
                d_inner, h_inner, d_first = da[:, 1:], hs[: T - 1], da[:, 0]
            dw_hh = xp.empty((4 * H, H), dt)  # PyTorch's block order, as dW_ih
            h_inner = h_inner.reshape(-1, H)
            for j, k in enumerate(_LSTM_ORDER):
                block = dw_hh[j * H:(j + 1) * H]
                gemm.product(d_first[k].T, h0, block, key="lstm dW_hh")
                if T > 1:
                    gemm.product(d_inner[k].reshape(-1, H).T, h_inner, block, accumulate=True, key="lstm dW_hh")
        dh0 = dh if needs[1] else None
        dc0 = dc if needs[2] else None
        if not self.has_bias:
            return dx, dh0, dc0, dw_ih, dw_hh
        with fastblas.one_thread():  # GEMVs: ~2x d2.sum(axis=1); on this thread (BLAS's split stalls under load)
            db = xp.matmul(xp.ones(T * N, dt), d2)[_LSTM_ORDER].reshape(4 * H)
        return dx, dh0, dc0, dw_ih, dw_hh, db, db


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
        xp.matmul(h, whh_t, out=tmp)
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
        dh += dgh @ w_hh


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
        dx = (d2 @ w_ih).reshape(x.shape) if needs[0] else None
        dw_ih = d2.T @ x.reshape(T * N, -1) if needs[2] else None
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
