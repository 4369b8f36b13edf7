"""``export(model, example_input, path)``: trace the forward pass, emit ONNX nodes, save, check.

The steps:

1. **Trace** (:mod:`.trace`): run ``model(*example)`` once in eval mode with a recorder that
   sees every primitive op. Any module with its own ``forward`` is fine; Python control flow
   is recorded as the path this example took.
2. **Dynamic dims** (:mod:`.symbolic`): trace again with the batch (and any other dynamic dim)
   one and two larger, and fit every traced integer (reshape targets, slice bounds, shapes of
   tensors made in ``forward``) to the dims, so ``view(x.size(0), -1)`` stays dynamic. If
   that is impossible (a number that follows no rule, control flow that changes with the
   size), warn with the line of code and export with the example's fixed sizes instead.
3. **Emit** (:mod:`.emit`): one ONNX node, or a small fixed subgraph, per op; parameters are
   initializers named by their state-dict keys.
4. **Check** with ``onnx.checker.check_model(full_check=True)``, then **save** atomically
   (:func:`nnbasics.io.safetensors.atomic_write_bytes`: a temporary file renamed over ``path``).
"""

from __future__ import annotations

import os
import warnings

from .. import nn
from .._validate import is_int
from ..tensor import as_tensor
from .converters import find_converter
from .emit import Emitter
from .errors import OnnxExportError, OnnxExportWarning
from .graph import GraphBuilder, onnx_elem_type
from .inputs import NamePrefix, default_names, dim_sources, leaves, output_axes, rebuild, resized
from .symbolic import Divergence, align, design, static_program
from .trace import trace

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "export"]

#: The default opset: 17 is the first with LayerNormalization and is read by every current runtime.
DEFAULT_OPSET = 17
#: The oldest opset the mappings write (Softmax over one axis, Squeeze/Unsqueeze axes as inputs: 13).
MIN_OPSET = 13


# ------------------------------------------------------------------------- tracing
def _run(model, structure, arrays):
    tensors = [as_tensor(a) for a in arrays]
    return trace(model, rebuild(structure, tensors), tensors, opaque=lambda m: find_converter(m) is not None)


def _first_trace(model, structure, arrays):
    try:
        return _run(model, structure, arrays)
    except (ValueError, TypeError, IndexError) as e:
        if isinstance(e, OnnxExportError):
            raise
        scope = getattr(e, "nnbasics_scope", "")
        layer = dict(model.named_modules()).get(scope)
        where = f"layer '{scope}' ({type(layer).__name__})" if scope else type(model).__name__
        raise OnnxExportError(f"export: the example input does not fit {where}: {e} Give an example input the "
                              f"model accepts.") from e


def _program(model, structure, arrays, sources, other_sources=None):
    """The resolved trace: dynamic dims fitted, or the example's sizes with a warning saying why.

    ``other_sources``: a second reading of which dims are the batch, tried when the first fails.
    """
    tr0 = _first_trace(model, structure, arrays)
    for where, how in dict.fromkeys(tr0.value_reads):
        if how == "a random draw":
            warnings.warn(f"export: at {where}: forward draws random numbers (a dropout called with training=True, "
                          f"randn/rand/bernoulli...); the file keeps this example's draw as a constant. Export runs in "
                          f"eval mode: pass training=self.training to F.dropout, or draw outside forward.",
                          OnnxExportWarning, stacklevel=3)
            continue
        warnings.warn(f"export: at {where}: {how} read a value computed from the input; the file keeps what this "
                      f"example gave (a Python `if` takes the example's branch, a number stays this number). "
                      f"Keep such decisions out of forward, or use nb.where to choose per element.",
                      OnnxExportWarning, stacklevel=3)
    if not sources:
        return static_program(tr0)
    prog, failure = _fitted(model, structure, arrays, sources, tr0)
    if failure is not None and other_sources:
        prog2, failure2 = _fitted(model, structure, arrays, other_sources, tr0)
        if failure2 is None:
            prog, failure, sources = prog2, None, other_sources
    base = {s: arrays[k].shape[a] for s, ((k, a), *_) in sources.items()}
    if failure is not None:
        _warn_static(sources, base, *failure)
        return static_program(tr0)
    for where, what in prog.warnings:
        warnings.warn(f"export: at {where}: {what}.", OnnxExportWarning, stacklevel=3)
    return prog


def _fitted(model, structure, arrays, sources, tr0):
    """(Program, None) with every number fitted, or (None, (reasons, advice)) when the dims cannot stay dynamic."""
    base = {s: arrays[k].shape[a] for s, ((k, a), *_) in sources.items()}
    d = design(base)
    traces = [tr0]
    try:
        for i, env in enumerate(d.envs[1:]):
            traces.append(_run(model, structure, resized(arrays, sources, env, shift=1 + i)))
        prog = align(traces, d, {s: places[0] for s, places in sources.items()})
    except Divergence as e:
        return None, ([f"the model takes another path at another input size: {e}"], _FLOW)
    except Exception as e:  # noqa: BLE001 - any failure at another size means: keep the example's
        where = getattr(e, "nnbasics_where", "")
        reason = f"the model fails at another input size{' at ' + where if where else ''} ({type(e).__name__}: {e})"
        return None, ([reason], _SHAPES)
    if prog.problems:
        return None, ([f"at {where}: {what}" for where, what in prog.problems], _SHAPES)
    return prog, None


_SHAPES = ("Compute shapes from the input's (x.size(0), zeros(x.size(0), h), reshape(x.size(0), -1)), or pass "
           "dynamic_batch=False to export for this size without this warning.")
_FLOW = ("Python control flow is traced as the path the example takes; make the path the same for every size, "
         "or pass dynamic_batch=False to export for this size without this warning.")


def _warn_static(sources, base, reasons, advice=_SHAPES):
    dims = ", ".join(f"{s} = {base[s]}" for s in sources)
    warnings.warn(f"export: the dims {sorted(sources)} cannot stay dynamic, so the file is exported for the "
                  f"example's sizes only ({dims}): " + "; ".join(reasons) + ". " + advice, OnnxExportWarning,
                  stacklevel=4)


# ------------------------------------------------------------------------- outputs
def _flat_refs(out):
    if out is None:
        return []
    if isinstance(out, tuple) and out and not isinstance(out[0], str):
        return [r for e in out for r in _flat_refs(e)]
    return [out]


def _rename_outputs(g, names, wanted, fixed):
    """Give the final values the requested names: rename the producing node's output, or add an Identity."""
    producers = {o: node for node in g.nodes for o in node[2]}
    taken = set()
    for name, new in zip(names, wanted):
        node = producers.get(name)
        if node is None or name in taken or name in fixed:
            g.op("Identity", [name], outputs=[new])
        else:
            node[2][node[2].index(name)] = new
            for other in g.nodes:
                other[1][:] = [new if i == name else i for i in other[1]]
            producers[new] = node
            taken.add(name)
        taken.add(new)


def _value_info(name, arr, dims, asked=None):
    from onnx import helper

    shape = []
    for i, d in enumerate(dims):
        if d is not None and d.is_static:
            shape.append(d.value)
        elif d is not None and d.symbol is not None:
            shape.append(d.symbol)
        else:
            shape.append((asked or {}).get(i))
    return helper.make_tensor_value_info(name, onnx_elem_type(arr.dtype), shape)


def _names(given, default, what):
    if given is None:
        return default
    if isinstance(given, str) or not all(isinstance(s, str) and s for s in given):
        raise TypeError(f"export: {what} must be a list of non-empty strings; got {given!r}.")
    if isinstance(given, NamePrefix) and len(given) <= len(default):
        given = list(given) + [d if d not in given else f"{d}_{i}" for i, d in enumerate(default) if i >= len(given)]
    given = list(given)
    if len(given) != len(default):
        raise ValueError(f"export: {what} needs {len(default)} names ({', '.join(default)}); got {len(given)}: "
                         f"{given}.")
    if len(set(given)) != len(given):
        raise ValueError(f"export: {what} must be distinct; got {given}.")
    return given


# -------------------------------------------------------------------------- export
def _check_args(model, opset, path, newest):
    if not isinstance(model, nn.Module):
        raise TypeError(f"export: model must be an nnbasics Module; got {type(model).__name__}.")
    if not is_int(opset) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset must be an int from {MIN_OPSET} to {newest} (the installed onnx's newest); "
                         f"got {opset!r}.")
    if not isinstance(path, (str, os.PathLike)) and not hasattr(path, "write"):
        raise TypeError(f"export: path must be a str, an os.PathLike or a binary file; got {type(path).__name__}.")


def _import_onnx():
    try:
        import onnx  # absolute: the top-level onnx package, not this subpackage
    except ImportError as e:
        raise ImportError("export: writing ONNX needs the onnx package, which is not installed. Install the "
                          "onnx extra: pip install \"nnbasics[onnx]\" (onnx, and onnxruntime to run the "
                          "file), or pip install onnx.") from e
    return onnx


def _save(onnx, proto, path, check):
    """Check ``proto``, then write it to ``path`` atomically (a failed export leaves an existing file as it was)."""
    if check:
        onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    if hasattr(path, "write"):
        path.write(data)
        return
    from ..io.safetensors import atomic_write_bytes

    atomic_write_bytes(path, data)


def export(model, example_input, path, *, opset: int = DEFAULT_OPSET, input_names=None, output_names=None,
           dynamic_batch: bool = True, dynamic_sequence: bool = False, doc_string: str | None = None,
           check: bool = True, dynamic_axes=None):
    """Export any nnbasics model to an ONNX file by tracing its forward pass (needs ``pip install nnbasics[onnx]``).

    The model runs once on ``example_input`` in eval mode (dropout off, batch norm with its
    running statistics; each module's mode is restored afterwards) and every primitive op it
    runs becomes ONNX nodes. Any ``forward`` works, including models with their own; Python
    ``if``/``for`` are recorded as the path the example took (see docs/onnx.md). Weights become
    float32 initializers named after the state-dict keys.

    Args:
        model: the Module to export.
        example_input: what the model is called with: a Tensor or NumPy array (floats become
            float32, integer ids int64), or a tuple for several arguments: ``(x, h_0)``,
            ``(x, (h_0, c_0))``, ``(x, lengths)``...
        path: the .onnx file to write (str, PathLike, or a binary file object). Written to a
            temporary file first: a failed export leaves an existing file as it was.
        opset: the ONNX opset, 13 to the installed onnx's newest (default 17). Below 17
            LayerNorm and below 20 GELU are written as their formulas.
        input_names, output_names: graph input/output names; defaults ``["input"]`` and
            ``["output"]`` (``h_0``, ``c_0``, ``h_n``, ``c_n``, ``lengths``, ``logits`` for the
            recurrent models), then ``input_1``, ``output_1``...
        dynamic_batch: the batch dim (dim 0 of the first input, and the dim of that size in
            dim 0 or 1 of the others) is the symbolic ``"batch"``, and every traced number that
            follows it (``view(x.size(0), -1)``) is computed from it at run time. False fixes it.
        dynamic_sequence: the time dim of the first input is symbolic (``"sequence"``) too:
            for models containing a recurrent layer; dim 1 (batch first) unless the model is a
            time-major nn.RNN/LSTM/GRU.
        doc_string: the model's description (default: its class and repr).
        check: run ``onnx.checker.check_model(full_check=True)`` on the written file.
        dynamic_axes: PyTorch's form, ``{input or output name: {axis: dim name}}`` (or a list
            of axes); replaces ``dynamic_batch``/``dynamic_sequence`` when given.

    Returns:
        onnx.ModelProto: the saved model.

    Raises:
        TypeError: ``model`` is not a Module, or the example input is not a Tensor/array of
            floats or integers.
        UnsupportedModuleError: an op with no ONNX form (the message names it and the line of
            your code that called it).
        OnnxExportError: the example input does not fit the model (the message names the layer).
        ValueError: a bad ``opset`` or names.
        ImportError: the onnx package is not installed (the message says how to install it).

    Warns:
        OnnxExportWarning: a dynamic dim had to be fixed, or a traced value depends on the
            input's data (the message names the line).

    Example:
        >>> import nnbasics as nb, nnbasics.nn as nn, nnbasics.onnx, tempfile, os
        >>> net = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
        >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
        >>> proto = nnbasics.onnx.export(net, nb.randn(2, 4, rng=0), path)
        >>> [n.op_type for n in proto.graph.node]
        ['Gemm', 'Relu', 'Gemm']
    """
    onnx = _import_onnx()
    _check_args(model, opset, path, onnx.defs.onnx_opset_version())
    structure, arrays = leaves(example_input)
    in_names = _names(input_names, default_names(model, len(arrays), 1)[0], "input_names")
    sources = dim_sources(model, arrays, in_names, dynamic_batch, dynamic_sequence, dynamic_axes)
    other = dim_sources(model, arrays, in_names, dynamic_batch, dynamic_sequence, dynamic_axes, second_choice=True)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        prog = _program(model, structure, arrays, sources, other)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    return _write(onnx, model, prog, arrays, in_names, output_names, dynamic_axes, int(opset), path, doc_string, check)


def _write(onnx, model, prog, arrays, in_names, output_names, dynamic_axes, opset, path, doc_string, check):
    from onnx import helper

    from .. import __version__

    g = GraphBuilder(opset)
    for name in in_names:
        g.reserve(name)
    em = Emitter(prog, g, in_names)
    em.run()
    refs = _flat_refs(prog.trace.outputs)
    if not refs:
        raise OnnxExportError(f"export: {type(model).__name__} returned no tensors; nothing to export.")
    out_names = _names(output_names, default_names(model, len(arrays), len(refs))[1], "output_names")
    clash = set(out_names) & set(in_names)
    if clash:
        raise ValueError(f"export: output_names and input_names must differ; both have {sorted(clash)}.")
    for name in out_names:
        g.reserve(name)
    names = [em.name(r) for r in refs]
    _rename_outputs(g, names, out_names, set(in_names) | set(g.initializers))
    g.prune(out_names)
    asked = output_axes(dynamic_axes, out_names)
    graph_in = [_value_info(n, a, prog.shapes[("input", k)]) for k, (n, a) in enumerate(zip(in_names, arrays))]
    graph_out = [_value_info(n, em.arr(r), em.shape(r), asked.get(i)) for i, (n, r) in enumerate(zip(out_names, refs))]
    desc = doc_string if doc_string is not None else f"{type(model).__name__} exported by nnbasics {__version__}:\n" \
                                                     f"{model!r}"
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(g.to_onnx(type(model).__name__, graph_in, graph_out), opset_imports=opsets,
                              producer_name="nnbasics", producer_version=__version__, doc_string=desc)
    proto.ir_version = helper.find_min_ir_version_for(opsets, True)
    helper.set_model_props(proto, {"nnbasics.class": type(model).__name__, "nnbasics.version": __version__})
    _save(onnx, proto, path, check)
    return proto
