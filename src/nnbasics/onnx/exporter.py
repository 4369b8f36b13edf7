"""``export(model, example_input, path)``: walk the module tree, emit ONNX nodes, save, check.

How a model is traced: not by recording tensor operations, but by structure. The exporter
walks the module tree with the example input:

* a module with a converter (:mod:`.converters`: Linear, Conv, pooling, normalization,
  activations, Flatten, Dropout, Embedding...) is run once by nnbasics on its input (so every
  shape is known) and emits its ONNX nodes;
* ``nn.Sequential`` is followed child by child (nested Sequentials too);
* ``nn.RNN``/``nn.LSTM``/``nn.GRU`` and the zoo's ``CharRNN`` (char-lstm, char-gru, char-rnn)
  and ``SequenceClassifier`` have exporters that know their ``forward``;
* any other module, in particular one with its own ``forward``, raises
  :class:`~.errors.UnsupportedModuleError` naming it; :func:`~.converters.register_converter`
  adds a converter for a new one-input, one-output layer.

Recognizing structure keeps each exported graph readable (one ONNX op per layer, names from
the state dict) and never silently exports the wrong thing: a forward the exporter does not
know is refused, not guessed.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..tensor import Tensor
from .converters import find_converter, supported_types
from .errors import OnnxExportError, UnsupportedModuleError
from .graph import GraphBuilder, Value
from .recurrent import convert_recurrent

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "export"]

#: The default opset: 17 is the first with LayerNormalization and is read by every current runtime.
DEFAULT_OPSET = 17
#: The oldest opset the converters write (Softmax over one axis, Squeeze/Unsqueeze axes as inputs: 13).
MIN_OPSET = 13


# ----------------------------------------------------------------------- tracing
class _Tracer:
    """Walks the module tree; ``trace(module, args, path)`` returns the output Value(s)."""

    def __init__(self, g: GraphBuilder):
        self.g = g

    def run(self, module, args, path):
        """Run ``module`` on the example arrays of ``args`` with nnbasics; its input errors name the layer."""
        def tensor(a):
            if isinstance(a, (tuple, list)):
                return tuple(tensor(e) for e in a)
            return Tensor(a.data)
        try:
            return module(*[tensor(a) for a in args])
        except (ValueError, TypeError, IndexError) as e:
            where = f"layer '{path}' ({type(module).__name__})" if path else type(module).__name__
            raise OnnxExportError(
                f"export: the example input does not fit {where}: {e} Give an example input the model accepts."
            ) from e

    def trace(self, module, args, path):
        g = self.g
        exporter = _model_exporter(module)
        if exporter is not None:
            return exporter(self, module, args, path)
        fn = find_converter(module)
        if fn is None:
            raise UnsupportedModuleError(_unsupported(module, path))
        if len(args) != 1 or not isinstance(args[0], Value):
            raise OnnxExportError(f"export: {type(module).__name__} at '{path}' takes one input; got {len(args)}.")
        x = args[0]
        y = self.run(module, args, path)._array
        scope, g.scope = g.scope, path
        try:
            out = fn(g, module, x, y)
        finally:
            g.scope = scope
        return out if isinstance(out, Value) else Value(out, y, x.batch_axis)

    def scoped(self, path):
        """A context manager setting the node-name scope."""
        tracer = self

        class _Scope:
            def __enter__(self):
                self.old, tracer.g.scope = tracer.g.scope, path

            def __exit__(self, *exc):
                tracer.g.scope = self.old
        return _Scope()


def _join(path, name):
    return f"{path}.{name}" if path else name


def _unsupported(module, path):
    where = f" at '{path}'" if path else ""
    own = "" if type(module).forward is nn.Module.forward else " with its own forward()"
    known = ", ".join(supported_types() + sorted(c.__name__ for c in _MODELS))
    return (f"export: no ONNX converter for {type(module).__name__}{where}{own}. Supported module types: {known}. "
            f"Build the model from these (e.g. an nn.Sequential), or register a converter with "
            f"nnbasics.onnx.register_converter({type(module).__name__}, fn).")


# ------------------------------------------------------------- model exporters
def _sequential(tr, m, args, path):
    x = args
    for name, child in m.named_children():
        out = tr.trace(child, x, _join(path, name))
        x = [out] if isinstance(out, Value) else list(out)
    return x[0] if len(x) == 1 else tuple(x)


def _state_values(m, state):
    """The initial-state Values of a recurrent layer: None, [h_0] or [h_0, c_0]."""
    if state is None:
        return None
    if m.mode == "LSTM":
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise OnnxExportError("export: an LSTM's example state must be a tuple (h_0, c_0).")
        return list(state)
    if not isinstance(state, Value):
        raise OnnxExportError(f"export: a {type(m).__name__}'s example state must be one array h_0.")
    return [state]


def _recurrent(tr, m, args, path, sequence_lens=""):
    if len(args) not in (1, 2):
        raise OnnxExportError(f"export: {type(m).__name__} takes (input) or (input, state); got {len(args)} inputs.")
    outs = tr.run(m, args, path)
    with tr.scoped(path):
        return convert_recurrent(tr.g, m, args[0], _state_values(m, args[1] if len(args) == 2 else None), outs,
                                 sequence_lens)


def _char_rnn(tr, m, args, path):
    if len(args) not in (1, 2):
        raise OnnxExportError(f"export: CharRNN takes (ids) or (ids, state); got {len(args)} inputs.")
    if args[0].data.dtype.kind not in "iu" or args[0].ndim != 2:
        raise OnnxExportError(f"export: CharRNN expects (N, T) integer character ids as the example input; got "
                              f"shape {args[0].shape}, dtype {args[0].data.dtype}.")
    emb = tr.trace(m.embedding, args[:1], _join(path, "embedding"))
    rnn_out = _recurrent(tr, m.rnn, [emb] + list(args[1:]), _join(path, "rnn"))
    out = tr.trace(m.drop, [rnn_out[0]], _join(path, "drop"))
    logits = tr.trace(m.decoder, [out], _join(path, "decoder"))
    return (logits,) + tuple(rnn_out[1:])


def _sequence_classifier(tr, m, args, path):
    from ..nn.rnn_utils import last_step, masked_mean

    if len(args) not in (1, 2):
        raise OnnxExportError(f"export: SequenceClassifier takes (x) or (x, lengths); got {len(args)} inputs.")
    g, x = tr.g, args[0]
    lengths = args[1] if len(args) == 2 else None
    if lengths is not None and (lengths.ndim != 1 or lengths.data.dtype.kind not in "iu"):
        raise OnnxExportError(f"export: SequenceClassifier's example lengths must be a 1-D integer array (N,); got "
                              f"shape {lengths.shape}, dtype {lengths.data.dtype}.")
    tr.run(m, [x] if lengths is None else [x, lengths.data], path)  # validates x and lengths together
    feats = x if m.embedding is None else tr.trace(m.embedding, [x], _join(path, "embedding"))
    with tr.scoped(_join(path, "rnn")):
        seq_lens = "" if lengths is None else g.op("Cast", [lengths.name], to=6, hint="sequence_lens")  # int32
    out, h_n = _recurrent(tr, m.rnn, [feats], _join(path, "rnn"), seq_lens)[:2]  # (N, T, H), (L, N, H)
    lens = np.full(x.shape[0], x.shape[1]) if lengths is None else lengths.data
    with tr.scoped(_join(path, "pool")):
        if m.pooling == "last":  # the last layer's final state = the output at step lengths - 1
            name = g.op("Gather", [h_n.name, g.initializer(np.array(-1), "last_layer", np.int64)], axis=0)
            pooled = last_step(Tensor(out.data), lens, batch_first=True)._array
        elif lengths is None:
            name = g.reduce("ReduceMean", out.name, [1], keepdims=False)
            pooled = masked_mean(Tensor(out.data), lens, batch_first=True)._array
        else:  # outputs after each length are zero (ONNX sequence_lens): sum over T / length
            total = g.reduce("ReduceSum", out.name, [1], keepdims=False)  # (N, H)
            denom = g.op("Unsqueeze", [g.op("Cast", [lengths.name], to=1), g.int64s([1], "axes")])  # (N, 1)
            name = g.op("Div", [total, denom])
            pooled = masked_mean(Tensor(out.data), lens, batch_first=True)._array
    pooled = Value(name, pooled, 0)
    pooled = tr.trace(m.drop, [pooled], _join(path, "drop"))
    return tr.trace(m.classifier, [pooled], _join(path, "classifier"))


_MODELS: dict = {}


def _model_exporter(module):
    from ..models.rnn import CharRNN, SequenceClassifier

    if not _MODELS:
        _MODELS.update({nn.Sequential: _sequential, nn.RNN: _recurrent, nn.LSTM: _recurrent, nn.GRU: _recurrent,
                        CharRNN: _char_rnn, SequenceClassifier: _sequence_classifier})
    for cls in type(module).__mro__:
        if cls in _MODELS:
            return _MODELS[cls] if type(module).forward is cls.forward else None
    return None


# ------------------------------------------------------------------- the inputs
def _leaves(example, owner="export"):
    """Flatten the example input: (structure, [arrays]); tuples/lists nest (an LSTM state (h_0, c_0))."""
    if isinstance(example, (tuple, list)):
        if not example:
            raise OnnxExportError(f"{owner}: example_input is an empty {type(example).__name__}; give an array.")
        parts = [_leaves(e, owner) for e in example]
        return tuple(p[0] for p in parts), [a for p in parts for a in p[1]]
    if isinstance(example, Tensor):
        arr = example._array
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


def _rebuild(structure, values):
    it = iter(values)

    def build(s):
        return next(it) if s is None else tuple(build(e) for e in s)
    return [build(s) for s in structure] if isinstance(structure, tuple) else [build(structure)]


def _default_names(model, n_in, n_out):
    from ..models.rnn import CharRNN, SequenceClassifier

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


def _input_batch_axes(model, structure, n):
    """The batch axis of each flattened input: time-major recurrent inputs and all states keep it in dim 1."""
    axes = [0] * n
    if isinstance(model, nn.RNNBase):
        axes = [0 if model.batch_first else 1] + [1] * (n - 1)
    else:
        from ..models.rnn import CharRNN
        if isinstance(model, CharRNN):
            axes = [0] + [1] * (n - 1)
    return axes


def _time_axes(model, n_in, n_out):
    """The time axis of each input and output of a recurrent model (None: no time axis); ValueError otherwise."""
    from ..models.rnn import CharRNN, SequenceClassifier

    if isinstance(model, nn.RNNBase) and type(model).forward is nn.RNNBase.forward:
        t = 1 if model.batch_first else 0
        return [t] + [None] * (n_in - 1), [t] + [None] * (n_out - 1)
    if isinstance(model, CharRNN):
        return [1] + [None] * (n_in - 1), [1] + [None] * (n_out - 1)
    if isinstance(model, SequenceClassifier):
        return [1] + [None] * (n_in - 1), [None] * n_out
    raise ValueError(f"export: dynamic_sequence=True is for recurrent models (nn.RNN/LSTM/GRU, CharRNN, "
                     f"SequenceClassifier); got {type(model).__name__}. Leave it False.")


def _names(given, default, what):
    if given is None:
        return default
    if isinstance(given, str) or not all(isinstance(s, str) and s for s in given):
        raise TypeError(f"export: {what} must be a list of non-empty strings; got {given!r}.")
    given = list(given)
    if len(given) != len(default):
        raise ValueError(f"export: {what} needs {len(default)} names ({', '.join(default)}); got {len(given)}: "
                         f"{given}.")
    if len(set(given)) != len(given):
        raise ValueError(f"export: {what} must be distinct; got {given}.")
    return given


def _flat_outputs(result):
    if isinstance(result, Value):
        return [result]
    out = []
    for r in result:
        out += _flat_outputs(r)
    return out


def _rename_outputs(g, values, names, graph_inputs):
    """Give the final Values the requested names: rename the producing node's output, or add an Identity."""
    producers = {o: node for node in g.nodes for o in node[2]}
    taken = set()
    for v, name in zip(values, names):
        node = producers.get(v.name)
        if node is None or v.name in taken or v.name in graph_inputs:
            g.op("Identity", [v.name], outputs=[name])
        else:
            old = v.name
            node[2][node[2].index(old)] = name
            for other in g.nodes:
                other[1][:] = [name if i == old else i for i in other[1]]
            producers[name] = node
            taken.add(old)
        taken.add(name)


# ------------------------------------------------------------------------ export
def export(model, example_input, path, *, opset: int = DEFAULT_OPSET, input_names=None, output_names=None,
           dynamic_batch: bool = True, dynamic_sequence: bool = False, doc_string: str | None = None,
           check: bool = True):
    """Export an nnbasics model to an ONNX file (needs the ``onnx`` package: ``pip install nnbasics[onnx]``).

    The model is exported in eval mode (dropout removed, batch norm with its running
    statistics; each module's mode is restored afterwards), its weights stored as float32
    initializers named after the state-dict keys. Supported: ``nn.Sequential`` of Linear,
    Conv1d/Conv2d, MaxPool2d/AvgPool2d/AdaptiveAvgPool2d/GlobalAvgPool2d, BatchNorm1d/2d,
    LayerNorm, Embedding, Flatten/Unflatten, Dropout, Identity and every activation module;
    nn.RNN/LSTM/GRU; the zoo's CharRNN (char-lstm, char-gru, char-rnn) and SequenceClassifier.

    Args:
        model: the Module to export.
        example_input: what the model is called with: a Tensor or NumPy array (floats become
            float32, integer ids int64), or a tuple for several inputs: ``(x, h_0)``,
            ``(x, (h_0, c_0))`` for recurrent models, ``(x, lengths)`` for SequenceClassifier.
            Only its shapes (and dtype) matter, plus its values for a validity run.
        path: the .onnx file to write (str or PathLike).
        opset: the ONNX opset, 13 to the installed onnx's newest (default 17). Below 17
            LayerNorm, below 18 Mish and below 20 GELU are written as their formulas.
        input_names, output_names: graph input/output names; defaults ``["input"]`` and
            ``["output"]`` (``h_0``, ``c_0``, ``h_n``, ``c_n``, ``lengths``, ``logits`` where
            the model has them).
        dynamic_batch: the batch dim is symbolic (``"batch"``), so the file runs on any batch
            size; False fixes it to the example's.
        dynamic_sequence: recurrent models only (nn.RNN/LSTM/GRU, CharRNN, SequenceClassifier):
            the time dim of the sequence input and output is symbolic (``"sequence"``) too, so
            one file reads any length (a character model: the prime, then one step at a time).
        doc_string: the model's description (default: its class and repr).
        check: run ``onnx.checker.check_model(path, full_check=True)`` on the written file.

    Returns:
        onnx.ModelProto: the saved model.

    Raises:
        TypeError: ``model`` is not a Module, or the example input is not a Tensor/array of
            floats or integers.
        UnsupportedModuleError: a module with no converter (the message lists the supported types).
        OnnxExportError: the example input does not fit the model, or a layer's settings have
            no ONNX equivalent (the message says which and what to do).
        ValueError: a bad ``opset`` or names.
        ImportError: the onnx package is not installed (the message says how to install it).

    Example:
        >>> import nnbasics as nb, nnbasics.nn as nn, nnbasics.onnx, tempfile, os
        >>> net = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
        >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
        >>> proto = nnbasics.onnx.export(net, nb.randn(2, 4, rng=0), path)
        >>> [n.op_type for n in proto.graph.node]
        ['Gemm', 'Relu', 'Gemm']
    """
    try:
        import onnx  # absolute: the top-level onnx package, not this subpackage
        from onnx import TensorProto, helper
    except ImportError as e:
        raise ImportError("export: writing ONNX needs the onnx package, which is not installed. Install the "
                          "onnx extra: pip install \"nnbasics[onnx]\" (onnx, and onnxruntime to run the "
                          "file), or pip install onnx.") from e

    from .. import __version__

    if not isinstance(model, nn.Module):
        raise TypeError(f"export: model must be an nnbasics Module; got {type(model).__name__}.")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset must be an int from {MIN_OPSET} to {newest} (the installed onnx's newest); "
                         f"got {opset!r}.")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export: path must be a str or os.PathLike; got {type(path).__name__}.")
    if dynamic_sequence:
        _time_axes(model, 1, 1)  # refuses a non-recurrent model before any work
    structure, arrays = _leaves(example_input)
    in_names, _ = _default_names(model, len(arrays), 1)
    in_names = _names(input_names, in_names, "input_names")
    axes = _input_batch_axes(model, structure, len(arrays))

    g = GraphBuilder(int(opset))
    for name in in_names:
        g.reserve(name)
    inputs = [Value(name, arr, ax) for name, arr, ax in zip(in_names, arrays, axes)]
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            result = _Tracer(g).trace(model, _rebuild(structure, inputs), "")
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    outs = _flat_outputs(result)
    _, out_names = _default_names(model, len(arrays), len(outs))
    out_names = _names(output_names, out_names, "output_names")
    clash = set(out_names) & set(in_names)
    if clash:
        raise ValueError(f"export: output_names and input_names must differ; both have {sorted(clash)}.")
    _rename_outputs(g, outs, out_names, set(in_names))

    t_in, t_out = _time_axes(model, len(arrays), len(outs)) if dynamic_sequence else ([None] * len(arrays),
                                                                                      [None] * len(outs))

    def info(name, arr, batch_axis, time_axis):
        dims = list(arr.shape)
        if dynamic_batch and batch_axis is None:  # the batch was merged into another dim: leave the dims open
            dims = [None] * arr.ndim
        elif dynamic_batch:
            dims[batch_axis] = "batch"
        if time_axis is not None:
            dims[time_axis] = "sequence"
        elem = TensorProto.INT64 if arr.dtype.kind in "iu" else TensorProto.FLOAT
        return helper.make_tensor_value_info(name, elem, dims)

    graph_in = [info(v.name, v.data, v.batch_axis, t) for v, t in zip(inputs, t_in)]
    graph_out = [info(n, v.data, v.batch_axis, t) for v, n, t in zip(outs, out_names, t_out)]
    desc = doc_string if doc_string is not None else f"{type(model).__name__} exported by nnbasics {__version__}:\n" \
                                                     f"{model!r}"
    graph = g.to_onnx(type(model).__name__, graph_in, graph_out)
    opsets = [helper.make_opsetid("", int(opset))]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="nnbasics", producer_version=__version__,
                              doc_string=desc)
    proto.ir_version = helper.find_min_ir_version_for(opsets, True)
    helper.set_model_props(proto, {"nnbasics.class": type(model).__name__, "nnbasics.version": __version__})
    onnx.save(proto, os.fspath(path))
    if check:
        onnx.checker.check_model(os.fspath(path), full_check=True)
    return proto
