"""Recurrent layers and cells with PyTorch's arguments, parameter names, layouts and return values.

``RNN``/``LSTM``/``GRU`` run whole sequences: each layer and direction is ONE op
(:mod:`nnbasics.ops.recurrent`: the step equations and backward through time written out; its
kernel, :mod:`nnbasics.kernels.recurrent`, runs all input projections as one matrix product),
so a 5,000-step sequence is one graph node per layer. ``RNNCell``/``LSTMCell``/``GRUCell`` run
one step (the same op with T = 1).

State dicts interchange with PyTorch: ``weight_ih_l{k}`` (G*H, I), ``weight_hh_l{k}`` (G*H, H),
``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), with ``_reverse`` for the backward direction, in
PyTorch's registration order; G = 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n).
"""

from __future__ import annotations

import math

from .._validate import check_positive_int, float_dtype, is_real
from ..backend import xp
from ..device import check_device
from ..functional.dropout import dropout
from ..ops.movement import concatenate, stack
from ..ops.recurrent import GRULayer, LSTMLayer, RNNLayer
from ..ops.util import as_operand
from ..rng import as_generator
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _shape(t):
    return tuple(t.shape)


def _float_input(x, owner):
    x = as_operand(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{owner}: expected a floating-point input; got dtype {x.dtype}. Use x.float().")
    return x


def _zeros(shape, dtype):
    return Tensor._make(xp.zeros(shape, dtype=dtype), False, None)


def _check_nonlinearity(nonlinearity, owner):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu'. Got {nonlinearity!r}.")
    return nonlinearity


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (PyTorch's ``RNNBase``).

    Args:
        mode: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'.
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional:
            as in PyTorch (see :class:`LSTM`).
        rng: Generator, int seed or None: parameter init and the dropout masks between layers.
        dtype: parameter dtype (float32 by default).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, rng=None, device=None, dtype=None):
        super().__init__()
        check_device(device)
        owner = type(self).__name__
        self.mode = mode
        self.input_size = check_positive_int(input_size, f"input_size of {owner}")
        self.hidden_size = check_positive_int(hidden_size, f"hidden_size of {owner}")
        self.num_layers = check_positive_int(num_layers, f"num_layers of {owner}")
        if not is_real(dropout) or not 0 <= dropout < 1:
            raise ValueError(f"dropout of {owner} must be a number in [0, 1) (the drop probability). Got {dropout!r}.")
        self.dropout = float(dropout)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        dtype = float_dtype(dtype, f"dtype of {owner}")
        self.rng = as_generator(rng)
        G, H = _GATES[mode], self.hidden_size
        D = 2 if self.bidirectional else 1
        for k in range(self.num_layers):
            in_k = self.input_size if k == 0 else H * D
            for sfx in ("", "_reverse")[:D]:
                setattr(self, f"weight_ih_l{k}{sfx}", Parameter(xp.empty((G * H, in_k), dtype=dtype)))
                setattr(self, f"weight_hh_l{k}{sfx}", Parameter(xp.empty((G * H, H), dtype=dtype)))
                if self.bias:
                    setattr(self, f"bias_ih_l{k}{sfx}", Parameter(xp.empty((G * H,), dtype=dtype)))
                    setattr(self, f"bias_hh_l{k}{sfx}", Parameter(xp.empty((G * H,), dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """Redraw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), PyTorch's default."""
        gen = self.rng if rng is None else as_generator(rng)
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            p._array[...] = gen.uniform(-bound, bound, size=p.shape)

    def _layer_params(self, k, sfx):
        names = [f"weight_ih_l{k}{sfx}", f"weight_hh_l{k}{sfx}"]
        if self.bias:
            names += [f"bias_ih_l{k}{sfx}", f"bias_hh_l{k}{sfx}"]
        return [self._parameters[n] for n in names]

    def _check_input(self, x):
        owner = type(self).__name__
        if x.ndim not in (2, 3):
            layout = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
            raise ValueError(
                f"{owner} expected a 3-D batched input {layout} or a 2-D unbatched input "
                f"(T, input_size); got {x.ndim}-D input of shape {_shape(x)}."
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{owner} expected input with {self.input_size} features (input_size), got {_shape(x)}."
            )
        t_axis = 1 if (self.batch_first and x.ndim == 3) else 0
        if x.shape[t_axis] == 0:
            raise ValueError(f"{owner} expected a sequence of at least one step; got input of shape {_shape(x)}.")

    def _check_state(self, s, name, expected, unbatched):
        owner = type(self).__name__
        s = _float_input(s, owner)
        if _shape(s) != expected:
            what = "(num_layers * num_directions, hidden_size)" if unbatched else \
                "(num_layers * num_directions, batch, hidden_size)"
            raise ValueError(
                f"{owner} expected {name} of shape {expected} {what}; got {_shape(s)}."
            )
        return s

    def forward(self, input, hx=None):
        """Run the whole sequence. See :class:`LSTM` for shapes and return values."""
        owner = type(self).__name__
        x = _float_input(input, owner)
        self._check_input(x)
        is_lstm = self.mode == "LSTM"
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (T, N, I)
        T, N, _ = x.shape
        D = 2 if self.bidirectional else 1
        LD, H = self.num_layers * D, self.hidden_size
        expected = (LD, H) if unbatched else (LD, N, H)
        h0 = c0 = None
        if hx is not None:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError(f"{owner} expected hx as a tuple (h_0, c_0); got {type(hx).__name__}.")
                h0 = self._check_state(hx[0], "h_0", expected, unbatched)
                c0 = self._check_state(hx[1], "c_0", expected, unbatched)
            else:
                if isinstance(hx, (tuple, list)):
                    raise ValueError(f"{owner} expected hx as one tensor h_0, not a {type(hx).__name__}.")
                h0 = self._check_state(hx, "h_0", expected, unbatched)
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
        zeros = None
        h_n, c_n = [], []
        layer_in = x
        for k in range(self.num_layers):
            outs = []
            for d in range(D):
                idx = k * D + d
                reverse = d == 1
                params = self._layer_params(k, "_reverse" if reverse else "")
                if h0 is None:
                    zeros = zeros if zeros is not None else _zeros((N, H), x.dtype)
                    h_init = c_init = zeros
                else:
                    h_init = h0[idx]
                    c_init = c0[idx] if is_lstm else None
                last = 0 if reverse else T - 1
                if is_lstm:
                    r = LSTMLayer.apply(layer_in, h_init, c_init, *params, reverse=reverse)  # (T + 1, N, H)
                    outs.append(r[:T])
                    h_n.append(r[last])
                    c_n.append(r[T])
                elif self.mode == "GRU":
                    r = GRULayer.apply(layer_in, h_init, *params, reverse=reverse)
                    outs.append(r)
                    h_n.append(r[last])
                else:
                    nl = "relu" if self.mode == "RNN_RELU" else "tanh"
                    r = RNNLayer.apply(layer_in, h_init, *params, nonlinearity=nl, reverse=reverse)
                    outs.append(r)
                    h_n.append(r[last])
            layer_in = outs[0] if D == 1 else concatenate(outs, dim=2)  # (T, N, D*H)
            if self.dropout and self.training and k + 1 < self.num_layers:
                layer_in = dropout(layer_in, self.dropout, True, rng=self.rng)
        out = layer_in
        h_n = stack(h_n, 0)  # (L*D, N, H)
        c_n = stack(c_n, 0) if is_lstm else None
        if unbatched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


_LAYER_DOC = """
    Args:
        input_size: number of features I of each input step.
        hidden_size: number of features H of the hidden state.
        num_layers: stacked layers; layer k > 0 takes the (D*H) outputs of layer k-1.
        bias: learn ``bias_ih_l{{k}}`` and ``bias_hh_l{{k}}`` (not registered when False, as in PyTorch).
        batch_first: input and output are (N, T, *) instead of (T, N, *) (states are not affected).
        dropout: drop probability applied to the outputs of every layer but the last, in
            training mode only (masks drawn from ``rng``).
        bidirectional: add a second direction reading the sequence backwards (D = 2); its
            parameters carry the ``_reverse`` suffix and outputs are concatenated (forward first).
        rng: Generator, int seed or None: U(-1/sqrt(H), 1/sqrt(H)) init and dropout masks.
        dtype: parameter dtype (float32 by default; float64 for gradient checks).

    Shape:
        input: (T, N, I), (N, T, I) with ``batch_first``, or unbatched (T, I).
        {state_in}
        output: (T, N, D*H) (or (N, T, D*H) / (T, D*H)), the last layer's hidden states.
        {state_out}
        Unbatched inputs take and return states without the batch axis.
"""


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    ``nonlinearity`` is 'tanh' (default) or 'relu'; the other arguments are documented below.

    Returns:
        (output, h_n).

    Example:
        >>> import nnbasics as nb
        >>> rnn = RNN(3, 5, num_layers=2, rng=0)
        >>> out, h_n = rnn(nb.randn(7, 2, 3, rng=1))
        >>> out.shape, h_n.shape
        ((7, 2, 5), (2, 2, 5))
    """

    __doc__ += _LAYER_DOC.format(
        state_in="h_0 (optional, zeros by default): (L*D, N, H).",
        state_out="h_n: (L*D, N, H), the final hidden state of every layer and direction.",
    )

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, rng=None, device=None, dtype=None):
        mode = "RNN_RELU" if _check_nonlinearity(nonlinearity, "RNN") == "relu" else "RNN_TANH"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng=rng, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's gate order (i, f, g, o)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)    f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)       o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                            h' = o * tanh(c')

    Returns:
        (output, (h_n, c_n)).

    Example:
        >>> import nnbasics as nb
        >>> lstm = LSTM(5, 8, batch_first=True, rng=0)
        >>> out, (h_n, c_n) = lstm(nb.randn(2, 7, 5, rng=1))
        >>> out.shape, h_n.shape, c_n.shape
        ((2, 7, 8), (1, 2, 8), (1, 2, 8))
    """

    __doc__ += _LAYER_DOC.format(
        state_in="hx (optional, zeros by default): a tuple (h_0, c_0), each (L*D, N, H).",
        state_out="(h_n, c_n): each (L*D, N, H), the final hidden and cell states.",
    )

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, rng=None, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng=rng, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's gate order (r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) h' = (1 - z) * n + z * h

    Returns:
        (output, h_n).

    Example:
        >>> import nnbasics as nb
        >>> gru = GRU(3, 4, bidirectional=True, rng=0)
        >>> out, h_n = gru(nb.randn(6, 2, 3, rng=1))
        >>> out.shape, h_n.shape
        ((6, 2, 8), (2, 2, 4))
    """

    __doc__ += _LAYER_DOC.format(
        state_in="h_0 (optional, zeros by default): (L*D, N, H).",
        state_out="h_n: (L*D, N, H), the final hidden state of every layer and direction.",
    )

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, rng=None, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng=rng, device=device, dtype=dtype)


# ----------------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Shared machinery of the one-step cells: parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, *, rng=None, device=None, dtype=None):
        super().__init__()
        check_device(device)
        owner = type(self).__name__
        self.input_size = check_positive_int(input_size, f"input_size of {owner}")
        self.hidden_size = check_positive_int(hidden_size, f"hidden_size of {owner}")
        self.bias = bool(bias)
        dtype = float_dtype(dtype, f"dtype of {owner}")
        self.rng = as_generator(rng)
        GH = self._gates * self.hidden_size
        self.weight_ih = Parameter(xp.empty((GH, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(xp.empty((GH, self.hidden_size), dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(xp.empty((GH,), dtype=dtype))
            self.bias_hh = Parameter(xp.empty((GH,), dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """Redraw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), PyTorch's default."""
        gen = self.rng if rng is None else as_generator(rng)
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            p._array[...] = gen.uniform(-bound, bound, size=p.shape)

    def _params(self):
        ps = [self.weight_ih, self.weight_hh]
        return ps + [self.bias_ih, self.bias_hh] if self.bias else ps

    def _prepare(self, input, states):
        """Validate; (x (1, N, I), [states (N, H)], unbatched) with zeros for missing states."""
        owner = type(self).__name__
        x = _float_input(input, owner)
        if x.ndim not in (1, 2):
            raise ValueError(
                f"{owner} expected input of shape (N, {self.input_size}) or ({self.input_size},); got {_shape(x)}."
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{owner} expected input with {self.input_size} features (input_size), got {_shape(x)}.")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        N, H = x.shape[0], self.hidden_size
        out = []
        for name, s in states:
            if s is None:
                out.append(_zeros((N, H), x.dtype))
                continue
            s = _float_input(s, owner)
            expected = (H,) if unbatched else (N, H)
            if _shape(s) != expected:
                raise ValueError(f"{owner} expected {name} of shape {expected}; got {_shape(s)}.")
            out.append(s.unsqueeze(0) if unbatched else s)
        return x.unsqueeze(0), out, unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


_CELL_DOC = """
    Args:
        input_size: features I of the input; hidden_size: features H of the state.
        bias: learn ``bias_ih`` and ``bias_hh``.
        rng: Generator, int seed or None for the U(-1/sqrt(H), 1/sqrt(H)) init.
        dtype: parameter dtype (float32 by default).

    Shape:
        input (N, I) or unbatched (I,); states (N, H) or (H,), zeros when omitted.
"""


class RNNCell(RNNCellBase):
    """One Elman step h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = 'tanh' or 'relu'.

    Returns:
        h' (N, H).

    Example:
        >>> import nnbasics as nb
        >>> RNNCell(3, 5, rng=0)(nb.randn(2, 3, rng=1)).shape
        (2, 5)
    """

    __doc__ += _CELL_DOC

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, rng=None, device=None, dtype=None):
        nonlinearity = _check_nonlinearity(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias, rng=rng, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, [("hx", hx)])
        r = RNNLayer.apply(x, h, *self._params(), nonlinearity=self.nonlinearity)[0]
        return r[0] if unbatched else r


class LSTMCell(RNNCellBase):
    """One LSTM step with gates (i, f, g, o), as :class:`LSTM`; ``hx`` is a tuple (h, c) or None.

    Returns:
        (h', c'), each (N, H).

    Example:
        >>> import nnbasics as nb
        >>> h, c = LSTMCell(3, 5, rng=0)(nb.randn(2, 3, rng=1))
        >>> h.shape, c.shape
        ((2, 5), (2, 5))
    """

    __doc__ += _CELL_DOC
    _gates = 4

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"LSTMCell expected hx as a tuple (h, c); got {type(hx).__name__}.")
        h, c = (None, None) if hx is None else hx
        x, (h, c), unbatched = self._prepare(input, [("h", h), ("c", c)])
        r = LSTMLayer.apply(x, h, c, *self._params())  # (2, N, H): h', c'
        if unbatched:
            return r[0, 0], r[1, 0]
        return r[0], r[1]


class GRUCell(RNNCellBase):
    """One GRU step with gates (r, z, n), as :class:`GRU`.

    Returns:
        h' (N, H).

    Example:
        >>> import nnbasics as nb
        >>> GRUCell(3, 5, rng=0)(nb.randn(2, 3, rng=1)).shape
        (2, 5)
    """

    __doc__ += _CELL_DOC
    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, [("hx", hx)])
        r = GRULayer.apply(x, h, *self._params())[0]
        return r[0] if unbatched else r
