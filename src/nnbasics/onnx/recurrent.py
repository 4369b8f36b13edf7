"""nn.RNN / nn.LSTM / nn.GRU as ONNX's RNN / LSTM / GRU operators, one node per layer.

Gate order: PyTorch (and nnbasics) stack LSTM gates as i, f, g, o and GRU gates as r, z, n;
ONNX wants i, o, f, c (LSTM) and z, r, h (GRU), so each weight and bias is reordered block by
block. ONNX's bias ``B`` is ``[Wb, Rb]`` (input then recurrent biases) per direction; GRU uses
``linear_before_reset=1``, which is PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

Shapes: ONNX's recurrent ops take time-major X (T, N, I) and return Y (T, D, N, H), Y_h and
Y_c (D, N, H). A batch-first model gets a Transpose before the first and after the last layer;
between layers Y becomes (T, N, D*H); the final states of all layers are concatenated to
PyTorch's (L*D, N, H). The ``layout=1`` (batch-first) attribute is not used: onnxruntime's CPU
kernels do not implement it.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .errors import OnnxExportError
from .graph import Value

__all__ = ["convert_recurrent"]

# ONNX gate order as indices into PyTorch's gate blocks.
_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(a, mode, H):
    """Rows of a PyTorch gate-stacked array (G*H, ...) in ONNX's gate order."""
    blocks = a.reshape((len(_ORDER[mode]), H) + a.shape[1:])
    return blocks[list(_ORDER[mode])].reshape(a.shape)


def _check(m, x):
    owner = type(m).__name__
    if x.ndim != 3:
        raise OnnxExportError(
            f"export: {owner} needs a batched 3-D input for ONNX ({'(N, T, I)' if m.batch_first else '(T, N, I)'}); "
            f"got shape {x.shape}. Add the batch dim to the example input."
        )


def convert_recurrent(g, m: nn.RNNBase, x: Value, states, outs, sequence_lens: str = ""):
    """Emit the layers of ``m`` for input ``x``.

    Args:
        g: the GraphBuilder.
        m: an nn.RNN, nn.LSTM or nn.GRU.
        x: the input Value ((N, T, I) with batch_first, else (T, N, I)).
        states: None, or the initial state Values: ``[h_0]`` (RNN/GRU) or ``[h_0, c_0]`` (LSTM),
            each (L*D, N, H).
        outs: what nnbasics returned on the example: ``(out, h_n)`` or ``(out, (h_n, c_n))``.
        sequence_lens: name of an int32 (N,) tensor of valid lengths, or "" (all T steps).

    Returns:
        ``(output, h_n)`` or ``(output, h_n, c_n)`` Values.
    """
    _check(m, x)
    mode, H = m.mode, m.hidden_size
    D = 2 if m.bidirectional else 1
    is_lstm = mode == "LSTM"
    out_arr = outs[0]._array
    finals = [outs[1][0]._array, outs[1][1]._array] if is_lstm else [outs[1]._array]
    layer_in = g.op("Transpose", [x.name], perm=[1, 0, 2]) if m.batch_first else x.name  # (T, N, I)
    ys_h, ys_c = [], []
    for k in range(m.num_layers):
        sfxs = ("", "_reverse")[:D]
        W = np.stack([_reorder(getattr(m, f"weight_ih_l{k}{s}")._array, mode, H) for s in sfxs])  # (D, G*H, I)
        R = np.stack([_reorder(getattr(m, f"weight_hh_l{k}{s}")._array, mode, H) for s in sfxs])  # (D, G*H, H)
        ins = [layer_in, g.initializer(W, f"W_l{k}"), g.initializer(R, f"R_l{k}")]
        if m.bias:
            B = np.stack([np.concatenate([_reorder(getattr(m, f"bias_ih_l{k}{s}")._array, mode, H),
                                          _reorder(getattr(m, f"bias_hh_l{k}{s}")._array, mode, H)]) for s in sfxs])
            ins.append(g.initializer(B, f"B_l{k}"))  # (D, 2*G*H)
        else:
            ins.append("")
        ins.append(sequence_lens)
        if states is not None:
            sl = [g.int64s([k * D], "start"), g.int64s([(k + 1) * D], "end"), g.int64s([0], "axes")]
            ins += [g.op("Slice", [s.name] + sl, hint=f"initial_{'hc'[i]}_l{k}") for i, s in enumerate(states)]
        while ins and ins[-1] == "":
            ins.pop()
        attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
        if mode == "GRU":
            attrs["linear_before_reset"] = 1
        if mode in ("RNN_TANH", "RNN_RELU"):
            attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * D
        n_out = 3 if is_lstm else 2
        res = g.op(_OP[mode], ins, n_out=n_out, hint=f"{_OP[mode].lower()}_l{k}", **attrs)
        y = res[0]  # (T, D, N, H)
        ys_h.append(res[1])
        if is_lstm:
            ys_c.append(res[2])
        if D == 1:
            layer_in = g.op("Squeeze", [y, g.int64s([1], "axes")])  # (T, N, H)
        else:
            tnd = g.op("Transpose", [y], perm=[0, 2, 1, 3])  # (T, N, D, H)
            layer_in = g.op("Reshape", [tnd, g.int64s([0, 0, D * H], "shape")])  # (T, N, D*H)
    out = g.op("Transpose", [layer_in], perm=[1, 0, 2]) if m.batch_first else layer_in
    result = [Value(out, out_arr, 0 if m.batch_first else 1)]
    for ys, arr in zip((ys_h, ys_c), finals):
        name = ys[0] if len(ys) == 1 else g.op("Concat", ys, axis=0, hint="h_n" if ys is ys_h else "c_n")
        result.append(Value(name, arr, 1))  # (L*D, N, H)
    return tuple(result)
