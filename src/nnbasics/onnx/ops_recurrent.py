"""The fused recurrent ops (one direction of one layer over a sequence) as ONNX RNN / LSTM / GRU nodes.

``nn.RNN``/``nn.LSTM``/``nn.GRU`` run one fused op per layer and direction, so the trace holds
all that an ONNX node needs: the weights, the initial states and the direction; the module's
``batch_first`` transposes, the stacking of layers, the concatenation of directions and the
final states are traced as ordinary ops around them.

Gate order: PyTorch (and nnbasics) stack LSTM gates as i, f, g, o and GRU gates as r, z, n;
ONNX wants i, o, f, c (LSTM) and z, r, h (GRU), so each weight and bias is reordered block by
block (initializers ``<key>_onnx``; node-side when the weights are computed). ONNX's bias
``B`` is ``[Wb, Rb]``; GRU uses ``linear_before_reset=1``, which is PyTorch's
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). ONNX's ``direction="reverse"`` returns the
hidden states in input order, as the op does.

Shapes: the op takes x (T, N, I) and h0 (N, H); ONNX takes X (T, N, I), initial_h (1, N, H)
and returns Y (T, 1, N, H), Y_h and Y_c (1, N, H). The LSTM op's output (T + 1, N, H) is
``Y`` with the final cell state appended. An all-zero initial state is left out (ONNX's default).
"""

from __future__ import annotations

import numpy as np

from ..ops import recurrent as rc
from .mapping import maps

__all__ = []

# ONNX gate order as indices into PyTorch's gate blocks.
_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}


def _reorder_array(a, mode):
    gates = len(_ORDER[mode])
    blocks = a.reshape((gates, a.shape[0] // gates) + a.shape[1:])
    return blocks[list(_ORDER[mode])].reshape(a.shape)


def _reordered(e, ref, mode, hint):
    """(1, G*H, ...) weights in ONNX gate order: an initializer when known, else Split/Concat nodes."""
    g = e.g
    name = e.param_as(ref, lambda a: _reorder_array(a, mode)[None], "_onnx")
    if name is not None:
        return name
    x = g.cast(e.name(ref), e.dtype(ref), np.float32)
    order = _ORDER[mode]
    if len(order) > 1:
        if g.opset >= 18:
            parts = g.op("Split", [x], n_out=len(order), axis=0, num_outputs=len(order))
        else:
            size = e.arr(ref).shape[0] // len(order)
            parts = g.op("Split", [x, g.int64s([size] * len(order), "split")], n_out=len(order), axis=0)
        x = g.op("Concat", [parts[i] for i in order], axis=0)
    return g.op("Unsqueeze", [x, g.int64s([0], "axes")], hint=hint)


def _bias(e, r, first, mode):
    """ONNX's B (1, 2*G*H) = [reordered b_ih, reordered b_hh], or "" without biases."""
    if len(r.inputs) <= first:
        return ""
    ih, hh = r.inputs[first], r.inputs[first + 1]
    a, b = e.known(ih), e.known(hh)
    if a is not None and b is not None:
        name = f"{ih[1]}+{hh[1].rsplit('.', 1)[-1]}" if ih[0] == hh[0] == "param" else "B"
        both = np.concatenate([_reorder_array(np.asarray(a), mode), _reorder_array(np.asarray(b), mode)])[None]
        return e.g.initializer(both, name, exact_name=ih[0] == "param")
    parts = [e.g.op("Squeeze", [_reordered(e, ref, mode, "b"), e.g.int64s([0], "axes")]) for ref in (ih, hh)]
    return e.g.op("Unsqueeze", [e.g.op("Concat", parts, axis=0), e.g.int64s([0], "axes")], hint="B")


def _state(e, ref):
    """initial_h/c (1, N, H) from an (N, H) state; "" for an all-zero constant (ONNX's default)."""
    if ref[0] == "const":
        info = e.prog.consts[ref[1]]
        if (info.kind == "fill" and info.fill == 0) or (info.kind == "static" and not info.array.any()):
            return ""
    return e.g.op("Unsqueeze", [e.g.cast(e.name(ref), e.dtype(ref), np.float32), e.g.int64s([0], "axes")])


def _node(e, r, p, mode, n_states):
    """Emit the ONNX node; returns its outputs [Y, Y_h(, Y_c)]."""
    g = e.g
    first = 1 + n_states  # x, states, then w_ih, w_hh(, b_ih, b_hh)
    H = e.arr(r.inputs[first + 1]).shape[1]
    ins = [e.inp(r, 0, np.float32), _reordered(e, r.inputs[first], mode, "W"),
           _reordered(e, r.inputs[first + 1], mode, "R"), _bias(e, r, first + 2, mode), ""]
    ins += [_state(e, r.inputs[1 + i]) for i in range(n_states)]
    # NOTE: the cells (GRUCell, LSTMCell, RNNCell) call the layer ops without the defaulted keywords
    attrs = {"hidden_size": int(H), "direction": "reverse" if p.get("reverse", False) else "forward"}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    if mode == "RNN":
        attrs["activations"] = ["Relu" if p.get("nonlinearity", "tanh") == "relu" else "Tanh"]
    return g.op(mode, ins, n_out=1 + n_states, hint=mode.lower(), **attrs)


def _hidden(e, y):
    return e.g.op("Squeeze", [y, e.g.int64s([1], "axes")])  # (T, 1, N, H) -> (T, N, H)


@maps(rc.LSTMLayer)
def _lstm(e, r, p):
    y, _, y_c = _node(e, r, p, "LSTM", 2)
    return e.g.op("Concat", [_hidden(e, y), y_c], axis=0)  # (T + 1, N, H): h_1..h_T, c_T


@maps(rc.GRULayer)
def _gru(e, r, p):
    return _hidden(e, _node(e, r, p, "GRU", 1)[0])


@maps(rc.RNNLayer)
def _rnn(e, r, p):
    return _hidden(e, _node(e, r, p, "RNN", 1)[0])
