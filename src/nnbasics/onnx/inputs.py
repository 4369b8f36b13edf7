"""The example inputs of an export: flattening, default names, and which of their dims are dynamic."""

from __future__ import annotations

import numbers

import numpy as np

from .. import nn
from ..tensor import Tensor
from .errors import OnnxExportError
from .trace import array_of

__all__ = ["NamePrefix", "default_names", "dim_sources", "leaves", "rebuild", "resized"]


class NamePrefix(list):
    """Names for the first inputs (or outputs) only; the rest keep their defaults (torch's rule)."""


def leaves(example, owner="export"):
    """Flatten the example input: (structure, [arrays]); tuples/lists nest (an LSTM state (h_0, c_0)).

    Floats become float32 and integers int64 (the graph's dtypes).
    """
    if isinstance(example, (tuple, list)):
        if not example:
            raise OnnxExportError(f"{owner}: example_input is an empty {type(example).__name__}; give an array.")
        parts = [leaves(e, owner) for e in example]
        return tuple(p[0] for p in parts), [a for p in parts for a in p[1]]
    if isinstance(example, Tensor):
        arr = array_of(example)
    elif isinstance(example, np.ndarray):
        arr = example
    else:
        raise TypeError(f"{owner}: example_input must be an nnbasics Tensor or a NumPy array (or a tuple of them for "
                        f"several inputs); got {type(example).__name__}. Wrap it: nb.tensor(x).")
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    else:
        raise TypeError(f"{owner}: example_input must hold floats (exported as float32) or integer ids (int64); "
                        f"got dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise OnnxExportError(f"{owner}: example_input must have at least one dim (the batch); got a scalar.")
    return None, [arr]


def rebuild(structure, values):
    """The call's arguments from the flattened ``values`` (the inverse of :func:`leaves`)."""
    it = iter(values)

    def build(s):
        return next(it) if s is None else tuple(build(e) for e in s)
    return [build(s) for s in structure] if isinstance(structure, tuple) else [build(structure)]


def _zoo():
    from ..models.rnn import CharRNN, SequenceClassifier

    return CharRNN, SequenceClassifier


def default_names(model, n_in, n_out):
    """Graph input and output names: ``input``/``output``, and the recurrent models' own."""
    CharRNN, SequenceClassifier = _zoo()
    if isinstance(model, (nn.RNNBase, CharRNN)):
        ins = ["input", "h_0", "c_0"]
    elif isinstance(model, SequenceClassifier):
        ins = ["input", "lengths"]
    else:
        ins = ["input"]
    outs = ["logits", "h_n", "c_n"] if isinstance(model, CharRNN) else \
        ["output", "h_n", "c_n"] if isinstance(model, nn.RNNBase) else \
        ["logits"] if isinstance(model, SequenceClassifier) else ["output"]
    ins += [f"input_{i}" for i in range(len(ins), n_in)]
    outs += [f"output_{i}" for i in range(len(outs), n_out)]
    return ins[:n_in], outs[:n_out]


def _batch_axes(model, arrays, second_choice=False):
    """The batch axis of each input: the first input's dim 0 (an RNN's time-major input: 1);
    a later input's first dim of the same size (0, else 1), none if neither has it; the states of
    the recurrent layers and CharRNN always have it in dim 1. ``second_choice``: dim 1 for the
    inputs whose dims 0 and 1 both have the batch's size (None if there are none)."""
    CharRNN, _ = _zoo()
    if isinstance(model, nn.RNNBase):
        return None if second_choice else [0 if model.batch_first else 1] + [1] * (len(arrays) - 1)
    if isinstance(model, CharRNN):
        return None if second_choice else [0] + [1] * (len(arrays) - 1)
    n = arrays[0].shape[0]
    axes, ambiguous = [0], False
    for a in arrays[1:]:
        fits = [i for i in (0, 1) if i < a.ndim and a.shape[i] == n]
        ambiguous |= len(fits) == 2
        axes.append(fits[-1 if second_choice else 0] if fits else None)
    return axes if ambiguous or not second_choice else None


def _time_axes(model, n_in):
    """The sequence axis of the first input, for dynamic_sequence=True."""
    CharRNN, SequenceClassifier = _zoo()
    if isinstance(model, nn.RNNBase) and type(model).forward is nn.RNNBase.forward:
        return [(0, 1 if model.batch_first else 0)]
    if isinstance(model, (CharRNN, SequenceClassifier)) or any(isinstance(m, nn.RNNBase) for m in model.modules()):
        return [(0, 1)]  # batch-first (N, T, ...) inputs, as the zoo's and most user models take them
    raise ValueError(f"export: dynamic_sequence=True is for recurrent models (nn.RNN/LSTM/GRU, CharRNN, "
                     f"SequenceClassifier, or a model containing one); got {type(model).__name__}. Leave it False, "
                     f"or name the dynamic dims with dynamic_axes.")


def dim_sources(model, arrays, in_names, dynamic_batch, dynamic_sequence, dynamic_axes, second_choice=False):
    """symbol -> [(input index, axis)]: the dims that are dynamic, and where each is read.

    ``second_choice``: the other reading of inputs whose dims 0 and 1 both have the batch's size
    (an LSTM state (1, 1, H) at batch 1), or None when there is no other reading.
    """
    if second_choice and (dynamic_axes is not None or not dynamic_batch):
        return None
    sources = {}
    if dynamic_axes is not None:
        for name, axes in _parse_dynamic_axes(dynamic_axes, in_names).items():
            k = in_names.index(name)
            for axis, symbol in axes.items():
                if not 0 <= axis < arrays[k].ndim:
                    raise ValueError(f"export: dynamic_axes gives axis {axis} of input {name!r}, which has "
                                     f"{arrays[k].ndim} dims.")
                sources.setdefault(symbol, []).append((k, axis))
    else:
        if dynamic_batch:
            axes = _batch_axes(model, arrays, second_choice)
            if axes is None:
                return None
            for k, axis in enumerate(axes):
                if axis is not None:
                    sources.setdefault("batch", []).append((k, axis))
        if dynamic_sequence:
            sources["sequence"] = _time_axes(model, len(arrays))
    for symbol, places in sources.items():
        sizes = {arrays[k].shape[a] for k, a in places}
        if len(sizes) > 1:
            raise ValueError(f"export: the dynamic dim {symbol!r} has different sizes in the example inputs "
                             f"({sorted(sizes)}); give inputs that agree.")
    return sources


def _parse_dynamic_axes(dynamic_axes, in_names):
    """torch's ``dynamic_axes`` for the inputs: {input name: {axis: dim name}}; lists get torch's names."""
    if not isinstance(dynamic_axes, dict):
        raise TypeError(f"export: dynamic_axes must be a dict {{name: {{axis: dim_name}}}}; got "
                        f"{type(dynamic_axes).__name__}.")
    out = {}
    for name, axes in dynamic_axes.items():
        if isinstance(axes, (list, tuple)):
            axes = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        if not isinstance(axes, dict) or not all(isinstance(a, numbers.Integral) for a in axes):
            raise TypeError(f"export: dynamic_axes[{name!r}] must be a dict {{axis: dim_name}} or a list of axes; "
                            f"got {axes!r}.")
        if name in in_names:
            out[name] = {int(a): str(s) for a, s in axes.items()}
    return out


def output_axes(dynamic_axes, out_names):
    """{output index: {axis: dim name}} asked for by ``dynamic_axes``."""
    if not dynamic_axes:
        return {}
    out = {}
    for name, axes in dynamic_axes.items():
        if name in out_names:
            if isinstance(axes, (list, tuple)):
                axes = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
            out[out_names.index(name)] = {int(a): str(s) for a, s in axes.items()}
    return out


def resized(arrays, sources, env, shift):
    """The example inputs with each dynamic dim resized to ``env[symbol]``: rows taken cyclically from
    the example, starting ``shift`` rows in, and float inputs scaled by 7/8, so that other traces see
    other values (a number computed from the data then differs between traces and is reported)."""
    out = list(arrays)
    for symbol, places in sources.items():
        for k, axis in places:
            n0 = arrays[k].shape[axis]
            idx = (np.arange(env[symbol]) + shift) % n0
            out[k] = np.take(out[k], idx, axis=axis)
    return [a * np.float32(0.875) if a.dtype.kind == "f" else a for a in out]
