"""Recurrent layers: one direction of one RNN / LSTM / GRU layer over a whole sequence.

Each op runs the whole sequence in one :class:`~nnbasics.autograd.Function`, so the graph has
one node per layer and direction, not a pile of tiny nodes per time step (a 5,000-step
sequence is one node too). Forward is a loop over the time steps with the cell's equations
written out; backward is backpropagation through time, the same loop run backwards, each
step's gradients from the chain rule on those equations. Gate orders and weight layouts are
PyTorch's, so weights interchange: LSTM (i, f, g, o), GRU (r, z, n).

The kernels registered for them (:mod:`nnbasics.kernels.recurrent`) compute the same with one
matrix product for all input projections, one recurrent product per step and fused in-place
gate passes.

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

__all__ = ["GRULayer", "LSTMLayer", "RNNLayer", "gru_layer", "lstm_layer", "rnn_layer", "steps"]


def steps(T, reverse):
    """Time indices in processing order."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _sigmoid(a):
    """The logistic function 1 / (1 + e^-a), as (1 + tanh(a/2)) / 2: no overflow for any a."""
    return 0.5 + 0.5 * xp.tanh(0.5 * a)


def _bias(b_ih, b_hh):
    return 0 if b_ih is None else b_ih + b_hh


# ---------------------------------------------------------------------------- Elman RNN
class RNNLayer(Function):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) over a whole sequence, act = tanh or relu.

    Inputs: x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H)[, b_ih (H,), b_hh (H,)].
    Output: (T, N, H), the hidden states h_1..h_T in input order.

    Backward through time, from the last step back, with dh the gradient reaching h_t (from
    the output and from step t+1)::

        da = dh * act'(a_t)        tanh: 1 - h_t^2;  relu: 1 where h_t > 0 (0 at the kink)
        dW_ih += da^T x_t;  dW_hh += da^T h_{t-1};  db += sum over N of da;  dx_t = da W_ih
        dh = da W_hh               (to step t-1)
    """

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity="tanh", reverse=False):
        act = (lambda a: xp.maximum(a, 0)) if nonlinearity == "relu" else xp.tanh
        out = xp.empty((x.shape[0],) + h0.shape, dtype=x.dtype)  # (T, N, H)
        h = h0
        for t in steps(x.shape[0], reverse):
            h = out[t] = act(x[t] @ w_ih.T + h @ w_hh.T + _bias(b_ih, b_hh))
        self.saved = (x, h0, w_ih, w_hh, out)
        self.relu, self.reverse, self.has_bias = nonlinearity == "relu", reverse, b_ih is not None
        return out

    def backward(self, grad):
        x, h0, w_ih, w_hh, hs = self.saved
        dx, dw_ih, dw_hh = xp.zeros_like(x), xp.zeros_like(w_ih), xp.zeros_like(w_hh)
        db = xp.zeros(w_hh.shape[0], dtype=grad.dtype)
        dh = xp.zeros_like(h0)
        order = list(steps(x.shape[0], self.reverse))
        for k in reversed(range(len(order))):
            t = order[k]
            h_prev = hs[order[k - 1]] if k else h0
            dh = dh + grad[t]
            da = dh * (hs[t] > 0) if self.relu else dh * (1 - hs[t] * hs[t])
            dw_ih += da.T @ x[t]
            dw_hh += da.T @ h_prev
            db += da.sum(axis=0)
            dx[t] = da @ w_ih
            dh = da @ w_hh
        return (dx, dh, dw_ih, dw_hh) + ((db, db) if self.has_bias else ())


# ---------------------------------------------------------------------------------- LSTM
class LSTMLayer(Function):
    """Long short-term memory (Hochreiter & Schmidhuber 1997) over a whole sequence, PyTorch's gates.

    Inputs: x (T, N, I), h0 (N, H), c0 (N, H), w_ih (4H, I), w_hh (4H, H)[, b_ih (4H,), b_hh (4H,)].
    Output: (T + 1, N, H): h_1..h_T in input order, then the final cell state.

    Per step, with the pre-activations a split into PyTorch's gate blocks (i, f, g, o)::

        a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh                      (N, 4H)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)
        c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

    Backward through time, from the last step back, with dh and dc the gradients reaching h_t
    and c_t (from the output and from step t+1)::

        dc += dh * o * (1 - tanh(c_t)^2)
        da_i = dc * g * i (1 - i);        da_f = dc * c_{t-1} * f (1 - f)
        da_g = dc * i * (1 - g^2);        da_o = dh * tanh(c_t) * o (1 - o)
        dW_ih += da^T x_t;  dW_hh += da^T h_{t-1};  db += sum over N of da;  dx_t = da W_ih
        dh = da W_hh;  dc = dc * f        (to step t-1)
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        T, H, h, c = x.shape[0], h0.shape[1], h0, c0
        out = xp.empty((T + 1,) + h0.shape, dtype=x.dtype)  # h_1..h_T, then c_T
        gates = xp.empty((T,) + h0.shape[:1] + (4 * H,), dtype=x.dtype)  # i, f, g, o of every step
        cs = xp.empty((T,) + h0.shape, dtype=x.dtype)  # c_t
        for t in steps(T, reverse):
            a = x[t] @ w_ih.T + h @ w_hh.T + _bias(b_ih, b_hh)
            i, f, g, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), xp.tanh(a[:, 2 * H:3 * H]), _sigmoid(a[:, 3 * H:])
            c = cs[t] = f * c + i * g
            h = out[t] = o * xp.tanh(c)
            gates[t] = xp.concatenate([i, f, g, o], axis=1)
        out[T] = c
        self.saved = (x, h0, c0, w_ih, w_hh, gates, cs, out)
        self.reverse, self.has_bias = reverse, b_ih is not None
        return out

    def backward(self, grad):
        x, h0, c0, w_ih, w_hh, gates, cs, hs = self.saved
        H = h0.shape[1]
        dx, dw_ih, dw_hh = xp.zeros_like(x), xp.zeros_like(w_ih), xp.zeros_like(w_hh)
        db = xp.zeros(4 * H, dtype=grad.dtype)
        dh, dc = xp.zeros_like(h0), grad[-1].copy()  # the last row of the output is c_T
        order = list(steps(x.shape[0], self.reverse))
        for k in reversed(range(len(order))):
            t = order[k]
            h_prev, c_prev = (hs[order[k - 1]], cs[order[k - 1]]) if k else (h0, c0)
            i, f, g, o = (gates[t][:, j * H:(j + 1) * H] for j in range(4))
            tanh_c = xp.tanh(cs[t])
            dh = dh + grad[t]
            dc = dc + dh * o * (1 - tanh_c * tanh_c)
            da = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                                 dh * tanh_c * o * (1 - o)], axis=1)  # (N, 4H), gates i, f, g, o
            dw_ih += da.T @ x[t]
            dw_hh += da.T @ h_prev
            db += da.sum(axis=0)
            dx[t] = da @ w_ih
            dh, dc = da @ w_hh, dc * f
        return (dx, dh, dc, dw_ih, dw_hh) + ((db, db) if self.has_bias else ())


# ----------------------------------------------------------------------------------- GRU
class GRULayer(Function):
    """Gated recurrent unit (Cho et al. 2014) over a whole sequence, PyTorch's formulation.

    Inputs: x (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H)[, b_ih (3H,), b_hh (3H,)].
    Output: (T, N, H), the hidden states h_1..h_T in input order.

    Per step, with the input and hidden projections split into PyTorch's blocks (r, z, n)::

        gi = x_t W_ih^T + b_ih;   gh = h_{t-1} W_hh^T + b_hh                  (N, 3H) each
        r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z);  n = tanh(gi_n + r * gh_n)
        h_t = (1 - z) * n + z * h_{t-1}

    Backward through time, from the last step back, with dh the gradient reaching h_t::

        dn = dh (1 - z) (1 - n^2);   dz = dh (h_{t-1} - n) z (1 - z);   dr = dn gh_n r (1 - r)
        dgi = [dr, dz, dn];   dgh = [dr, dz, dn * r]
        dW_ih += dgi^T x_t;  dW_hh += dgh^T h_{t-1};  db_ih += sum dgi;  db_hh += sum dgh
        dx_t = dgi W_ih;  dh = dh * z + dgh W_hh          (to step t-1)
    """

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        T, H, h = x.shape[0], h0.shape[1], h0
        out = xp.empty((T,) + h0.shape, dtype=x.dtype)
        gates = xp.empty((T,) + h0.shape[:1] + (4 * H,), dtype=x.dtype)  # r, z, n and gh_n of every step
        for t in steps(T, reverse):
            gi = x[t] @ w_ih.T + (0 if b_ih is None else b_ih)
            gh = h @ w_hh.T + (0 if b_hh is None else b_hh)
            r, z = _sigmoid(gi[:, :H] + gh[:, :H]), _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = xp.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h = out[t] = (1 - z) * n + z * h
            gates[t] = xp.concatenate([r, z, n, gh[:, 2 * H:]], axis=1)
        self.saved = (x, h0, w_ih, w_hh, gates, out)
        self.reverse, self.has_bias = reverse, b_ih is not None
        return out

    def backward(self, grad):
        x, h0, w_ih, w_hh, gates, hs = self.saved
        H = h0.shape[1]
        dx, dh, dw_ih, dw_hh = xp.zeros_like(x), xp.zeros_like(h0), xp.zeros_like(w_ih), xp.zeros_like(w_hh)
        db_ih, db_hh = xp.zeros(3 * H, dtype=grad.dtype), xp.zeros(3 * H, dtype=grad.dtype)
        order = list(steps(x.shape[0], self.reverse))
        for k in reversed(range(len(order))):
            t = order[k]
            h_prev = hs[order[k - 1]] if k else h0
            r, z, n, gh_n = (gates[t][:, j * H:(j + 1) * H] for j in range(4))
            dh = dh + grad[t]
            dn = dh * (1 - z) * (1 - n * n)
            dz = dh * (h_prev - n) * z * (1 - z)
            dr = dn * gh_n * r * (1 - r)
            dgi = xp.concatenate([dr, dz, dn], axis=1)
            dgh = xp.concatenate([dr, dz, dn * r], axis=1)
            dw_ih += dgi.T @ x[t]
            dw_hh += dgh.T @ h_prev
            db_ih += dgi.sum(axis=0)
            db_hh += dgh.sum(axis=0)
            dx[t] = dgi @ w_ih
            dh = dh * z + dgh @ w_hh
        return (dx, dh, dw_ih, dw_hh) + ((db_ih, db_hh) if self.has_bias else ())


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
