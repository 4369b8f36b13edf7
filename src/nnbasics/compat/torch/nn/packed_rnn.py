"""RNN/LSTM/GRU that accept a :class:`~.utils.rnn.PackedSequence`, as torch's do.

nnbasics' recurrent layers take padded batches. A packed batch holds sequences of different
lengths; running the padded batch would let the short ones run on through their padding and
change their final state. :class:`PackedInput` (mixed into the compat ``nn.RNN``/``LSTM``/``GRU``)
instead runs each group of equally long sequences on its own -- exactly, with gradients -- and
returns what torch returns: the output packed like the input, and ``h_n`` (``(h_n, c_n)``) of each
sequence at its last valid step, in the original batch order (``hx`` is taken in that order too).
"""

from __future__ import annotations

import numpy as np

from .... import ops as _ops
from ....tensor import as_tensor
from .utils.rnn import PackedSequence, pad_packed_sequence, time_major_index

__all__ = ["PackedInput"]


def _take(state, idx, dim=1):
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(_take(s, idx, dim) for s in state)
    return state[(slice(None),) * dim + (as_tensor(np.asarray(idx, dtype=np.int64)),)]


def _cat_states(states):
    if isinstance(states[0], tuple):
        return tuple(_ops.cat([s[k] for s in states], 1) for k in range(len(states[0])))
    return _ops.cat(states, 1)


class PackedInput:
    """Mixin: ``forward(PackedSequence, hx)`` -> ``(PackedSequence, h_n)``; other inputs go to the layer."""

    def flatten_parameters(self) -> None:
        """torch compacts cuDNN weights here; nnbasics' weights need nothing (a no-op, as torch on the CPU)."""

    def forward(self, input, hx=None):
        if not isinstance(input, PackedSequence):
            return super().forward(input, hx)
        padded, _ = pad_packed_sequence(PackedSequence(input.data, input.batch_sizes), batch_first=True)
        lengths = input.lengths()  # sorted, descending
        sorted_idx = None if input.sorted_indices is None else np.asarray(input.sorted_indices)
        if hx is not None and sorted_idx is not None:
            hx = _take(hx, sorted_idx)
        outs, states = [], []
        t_max = int(lengths[0])
        for length in sorted(set(lengths.tolist()), reverse=True):
            rows = np.flatnonzero(lengths == length)
            x = padded[as_tensor(rows)][:, :length]  # (n, L, *)
            if not self.batch_first:
                x = x.transpose(0, 1)
            out, state = super().forward(x, _take(hx, rows))
            if not self.batch_first:
                out = out.transpose(0, 1)  # (n, L, H)
            if length < t_max:
                pad = as_tensor(np.zeros((out.shape[0], t_max - length, out.shape[2]), dtype=np.asarray(out).dtype))
                out = _ops.cat([out, pad], 1)
            outs.append(out)
            states.append(state)
        out = _ops.cat(outs, 0)  # (B, T, H), sorted order
        rows, steps, _ = time_major_index(lengths)
        data = out[as_tensor(rows), as_tensor(steps)]
        h_n = _cat_states(states)
        if sorted_idx is not None:
            h_n = _take(h_n, np.asarray(input.unsorted_indices))
        return PackedSequence(data, input.batch_sizes, input.sorted_indices, input.unsorted_indices), h_n
