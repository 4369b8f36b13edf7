"""Fused recurrent layers: one direction of one RNN / LSTM / GRU layer over a whole sequence.

Each op runs the whole sequence in one :class:`~nnbasics.autograd.Function`, so the graph
has one node per layer and direction, not a pile of tiny nodes per time step (a 5,000-step
sequence is one node too). The work is laid out for speed:

* the input projections of all T steps are ONE matrix product ``X W_ih^T + b`` (T*N rows);
* each step does ONE recurrent product ``h_{t-1} W_hh^T`` and a few fused elementwise passes
  on the (N, G*H) gate slab, writing into buffers preallocated for the whole sequence;
* backward through time keeps the gate gradients of every step in one (T, N, G*H) buffer,
  so ``dW_hh = sum_t dgates_t^T h_{t-1}``, ``dW_ih`` and ``dX`` are each ONE GEMM at the end.

Gate orders follow PyTorch, so weights interchange: LSTM (i, f, g, o), GRU (r, z, n).
Internally the LSTM reorders its gates to (i, f, o, g) so that the three sigmoid gates are
adjacent, keeps them gate-major ((4, T, N, H): each gate of each step one contiguous (N, H)
block), and computes sigmoid(a) = (1 + tanh(a/2)) / 2: with the sigmoid rows of the
weights pre-scaled by 1/2, a single ``tanh`` covers all four gates of a step.

Outputs (one array each, as :class:`Function` has one output; modules slice them):

* :func:`rnn_layer` (T, N, H): h_1..h_T;
* :func:`lstm_layer` (T + 1, N, H): h_1..h_T, then the final cell state c_T;
* :func:`gru_layer` (T, N, H): h_1..h_T.

With ``reverse=True`` the sequence is processed from t = T-1 down to 0, and the hidden
states are still returned in input order (the final state is then row 0).
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, as_tensor
from . import workspace

__all__ = ["GRULayer", "LSTMLayer", "RNNLayer", "gru_layer", "lstm_layer", "rnn_layer"]


def _steps(T, reverse):
    """Time indices in processing order."""
    return range(T - 1, -1, -1) if reverse else range(T)


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
class RNNLayer(Function):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) over a whole sequence, act = tanh or relu.

    Inputs: x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H)[, b_ih (H,), b_hh (H,)].
    Output: (T, N, H), the hidden states h_1..h_T in input order.

    Backward through time with a_t the pre-activation and dh_t the total gradient at h_t
    (from the output and from step t+1): da_t = dh_t * act'(a_t) (tanh: 1 - h_t^2;
    relu: 1 where h_t > 0, 0 at the kink and below), dh_{t-1} += da_t W_hh.
    """

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity="tanh", reverse=False):
        T, N, _ = x.shape
        H = w_hh.shape[0]
        self.has_bias = b_ih is not None
        a = _project(x, w_ih, (b_ih + b_hh) if self.has_bias else None)  # (T, N, H), becomes h in place
        whh_t = xp.ascontiguousarray(w_hh.T)  # (H, H)
        relu = nonlinearity == "relu"
        tmp = xp.empty((N, H), dtype=a.dtype)
        h = h0
        for t in _steps(T, reverse):
            xp.matmul(h, whh_t, out=tmp)
            h = a[t]
            h += tmp
            if relu:
                xp.maximum(h, 0, out=h)
            else:
                xp.tanh(h, out=h)
        if self.needs_grad is not None:
            self.saved = (x, h0, w_ih, w_hh, a)
            self.relu, self.reverse = relu, reverse
        return a

    def backward(self, g):
        x, h0, w_ih, w_hh, hs = self.saved
        T, N, H = hs.shape
        da = xp.empty_like(hs)  # (T, N, H): pre-activation gradients of every step
        dh = xp.zeros((N, H), dtype=g.dtype)
        for t in _steps(T, not self.reverse):
            d = da[t]
            xp.add(dh, g[t], out=d)
            h = hs[t]
            if self.relu:
                d *= h > 0
            else:
                tmp = h * h
                xp.subtract(1, tmp, out=tmp)
                d *= tmp
            xp.matmul(d, w_hh, out=dh)
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


class LSTMLayer(Function):
    """Long short-term memory (Hochreiter & Schmidhuber 1997) over a whole sequence, PyTorch's gates.

    Per step, with a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh split as (i, f, g, o)::

        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
        c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)

    Inputs: x (T, N, I), h0 (N, H), c0 (N, H), w_ih (4H, I), w_hh (4H, H)[, b_ih (4H,), b_hh (4H,)].
    Output: (T + 1, N, H): h_1..h_T in input order, then the final cell state.

    Backward (dh_t, dc_t: total gradients at step t)::

        dc_t += dh_t * o * (1 - tanh(c_t)^2)
        da_o = dh_t * tanh(c_t) * o (1 - o);  da_i = dc_t * g * i (1 - i)
        da_f = dc_t * c_{t-1} * f (1 - f);    da_g = dc_t * i * (1 - g^2)
        dc_{t-1} = dc_t * f;                  dh_{t-1} += da_t W_hh

    Layout: the gates are kept gate-major, (4, T, N, H) in the internal order (i, f, o, g), so
    every gate of every step is one contiguous (N, H) block (elementwise passes on contiguous
    blocks run about twice as fast as on column slices of an (N, 4H) slab). The products are
    batched over the 4 gate blocks: the input projection (4, T*N, H), the recurrent product
    ``h_{t-1} W_k^T`` per gate into a preallocated (4, N, H) buffer, and in backward
    ``dh_{t-1} = sum_k da_k W_k``, dX, dW_ih and dW_hh.
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
        acts = xp.matmul(x.reshape(T * N, I), w_ih4.transpose(0, 2, 1), out=workspace.empty((4, T * N, H), dt))
        if self.has_bias:
            acts += _lstm_blocks((b_ih + b_hh)[:, None], H).reshape(4, 1, H) * scale
        acts = acts.reshape(4, T, N, H)
        # big per-sequence buffers from the workspace pool: no fresh page faults each step
        out = workspace.empty((T + 1, N, H), dt)  # h_1..h_T, then c_T
        cs = workspace.empty((T, N, H), dt)  # c_t
        tcs = workspace.empty((T, N, H), dt)  # tanh(c_t)
        rec = xp.empty((4, N, H), dtype=dt)  # h_{t-1} W_k^T
        ig = xp.empty((N, H), dtype=dt)
        h, c = h0, c0
        for t in _steps(T, reverse):
            a = acts[:, t]  # (4, N, H), each block contiguous
            xp.matmul(h, whh4_t, out=rec)
            a += rec
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
        out[T] = c
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
        tmp = xp.empty((N, H), dtype=dt)
        fac = xp.empty((4, N, H), dtype=dt)  # derivative of the activations: s (1 - s) | 1 - g^2
        rec = xp.empty((4, N, H), dtype=dt)  # da_k W_k
        steps = list(_steps(T, self.reverse))
        for k in range(T - 1, -1, -1):
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
            xp.matmul(d, w_hh4, out=rec)
            xp.sum(rec, axis=0, out=dh)
        needs = self.needs_grad
        d2 = da.reshape(4, T * N, H)
        x2 = x.reshape(T * N, I)
        dx = None
        if needs[0]:
            dx4 = xp.matmul(d2, _lstm_blocks(w_ih, H), out=workspace.empty((4, T * N, I), dt))
            dx = xp.sum(dx4, axis=0, out=workspace.empty((T * N, I), dt)).reshape(x.shape)
            del dx4
        dw_ih = xp.matmul(d2.transpose(0, 2, 1), x2)[_LSTM_ORDER].reshape(4 * H, I) if needs[3] else None
        dw_hh = None
        if needs[4]:
            hs = out[:T]
            if self.reverse:
                d_inner, h_inner, d_first = da[:, : T - 1], hs[1:], da[:, T - 1]
            else:
                d_inner, h_inner, d_first = da[:, 1:], hs[: T - 1], da[:, 0]
            dw = xp.matmul(d_first.transpose(0, 2, 1), h0)  # (4, H, H)
            if T > 1:
                dw += xp.matmul(d_inner.reshape(4, -1, H).transpose(0, 2, 1), h_inner.reshape(-1, H))
            dw_hh = dw[_LSTM_ORDER].reshape(4 * H, H)
        dh0 = dh if needs[1] else None
        dc0 = dc if needs[2] else None
        if not self.has_bias:
            return dx, dh0, dc0, dw_ih, dw_hh
        db = d2.sum(axis=1)[_LSTM_ORDER].reshape(4 * H)
        return dx, dh0, dc0, dw_ih, dw_hh, db, db


# ----------------------------------------------------------------------------------- GRU
class GRULayer(Function):
    """Gated recurrent unit (Cho et al. 2014) over a whole sequence, PyTorch's formulation.

    Per step, with gates in PyTorch's order (r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr);  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h

    Inputs: x (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H)[, b_ih (3H,), b_hh (3H,)].
    Output: (T, N, H), the hidden states h_1..h_T in input order.

    Backward, with dh the total gradient at h'::

        dn = dh (1 - z) (1 - n^2) = da_n (input side);  dz = dh (h - n) z (1 - z)
        dr = da_n * (W_hn h + b_hn) * r (1 - r);  recurrent-side gradient of the n rows: da_n * r
        dh_prev = dh * z + [dr, dz, da_n * r] W_hh
    """

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
        tmp = xp.empty((N, 3 * H), dtype=dt)
        tmp1 = xp.empty((N, H), dtype=dt)
        h = h0
        for t in _steps(T, reverse):
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
        tmp = xp.empty((N, H), dtype=dt)
        tmp2 = xp.empty((N, H2), dtype=dt)
        dgh = xp.empty((N, 3 * H), dtype=dt)
        steps = list(_steps(T, self.reverse))
        for k in range(T - 1, -1, -1):
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


# ------------------------------------------------------------------------------ functions
def _tensor(v):
    return as_tensor(v)


def _bias_args(b_ih, b_hh, owner):
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{owner}: give both b_ih and b_hh, or neither.")
    return () if b_ih is None else (_tensor(b_ih), _tensor(b_hh))


def _check(owner, x, hs, w_ih, w_hh, gates):
    if x.ndim != 3:
        raise ValueError(f"{owner}: expected input of shape (T, N, input_size); got {tuple(x.shape)}.")
    T, N, I = x.shape
    GH, H = w_hh.shape
    if GH != gates * H or w_ih.shape != (gates * H, I):
        raise ValueError(
            f"{owner}: expected w_ih ({gates}*H, {I}) and w_hh ({gates}*H, H); got {tuple(w_ih.shape)} "
            f"and {tuple(w_hh.shape)}."
        )
    if T == 0:
        raise ValueError(f"{owner}: expected a sequence of at least one step; got {tuple(x.shape)}.")
    for s in hs:
        if tuple(s.shape) != (N, H):
            raise ValueError(f"{owner}: expected initial state of shape ({N}, {H}); got {tuple(s.shape)}.")


def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity="tanh", reverse=False) -> Tensor:
    """One direction of one Elman RNN layer over a sequence (see :class:`RNNLayer`).

    Shape: x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H), biases (H,) -> (T, N, H).
    """
    x, h0, w_ih, w_hh = map(_tensor, (x, h0, w_ih, w_hh))
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: expected nonlinearity 'tanh' or 'relu'; got {nonlinearity!r}.")
    _check("rnn_layer", x, (h0,), w_ih, w_hh, 1)
    return RNNLayer.apply(x, h0, w_ih, w_hh, *_bias_args(b_ih, b_hh, "rnn_layer"),
                          nonlinearity=nonlinearity, reverse=bool(reverse))


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False) -> Tensor:
    """One direction of one LSTM layer over a sequence (see :class:`LSTMLayer`).

    Shape: x (T, N, I), h0 and c0 (N, H), w_ih (4H, I), w_hh (4H, H), biases (4H,)
    -> (T + 1, N, H): rows 0..T-1 the hidden states, row T the final cell state.
    """
    x, h0, c0, w_ih, w_hh = map(_tensor, (x, h0, c0, w_ih, w_hh))
    _check("lstm_layer", x, (h0, c0), w_ih, w_hh, 4)
    return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, *_bias_args(b_ih, b_hh, "lstm_layer"), reverse=bool(reverse))


def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False) -> Tensor:
    """One direction of one GRU layer over a sequence (see :class:`GRULayer`).

    Shape: x (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), biases (3H,) -> (T, N, H).
    """
    x, h0, w_ih, w_hh = map(_tensor, (x, h0, w_ih, w_hh))
    _check("gru_layer", x, (h0,), w_ih, w_hh, 3)
    return GRULayer.apply(x, h0, w_ih, w_hh, *_bias_args(b_ih, b_hh, "gru_layer"), reverse=bool(reverse))
