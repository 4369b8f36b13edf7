"""``torch.onnx.export``'s signature for nnbasics models, for PyTorch scripts run on nnbasics.

:func:`torch_export` takes PyTorch's arguments and follows its semantics where they apply to a
traced nnbasics model: the example is ``args`` (a tuple of positional arguments, or one
tensor); every dim is fixed unless ``dynamic_axes`` (or ``dynamic_shapes``) names it;
``input_names``/``output_names`` may name only the first inputs/outputs; the model is exported
in eval mode (``training=TrainingMode.EVAL``, PyTorch's default). With ``dynamo=True`` (the
default of PyTorch 2.9 and later) it returns an :class:`ONNXProgram` with ``save(path)`` and
``model_proto``; with ``dynamo=False``, None. Options about PyTorch's own pipeline
(``do_constant_folding``, ``optimize``, ``operator_export_type``...) are accepted and have
no effect; options that would change the file in a way nnbasics cannot honour
(``export_params=False``, training mode, keyword arguments) are refused with a message.
"""

from __future__ import annotations

import inspect
import os

from .errors import OnnxExportError
from .exporter import DEFAULT_OPSET, export
from .inputs import NamePrefix, default_names, leaves

__all__ = ["ONNXProgram", "torch_export"]


class ONNXProgram:
    """What ``torch.onnx.export(..., dynamo=True)`` returns: the exported model, to save or inspect.

    Attributes:
        model_proto: the ``onnx.ModelProto``.
    """

    def __init__(self, model_proto):
        self.model_proto = model_proto

    def save(self, destination, **kwargs) -> None:
        """Write the model to ``destination`` (a path, written atomically as by :func:`export`, or a binary file)."""
        from ..io.safetensors import atomic_write_bytes

        data = self.model_proto.SerializeToString()
        if hasattr(destination, "write"):
            destination.write(data)
            return
        atomic_write_bytes(os.fspath(destination), data)  # a failed or interrupted save keeps an existing file

    def __repr__(self):
        g = self.model_proto.graph
        return f"ONNXProgram({len(g.node)} nodes, inputs {[i.name for i in g.input]}, outputs {[o.name for o in g.output]})"


def _mode_name(training):
    return getattr(training, "name", str(training) if training is not None else "EVAL").upper().split(".")[-1]


def _positional(model, args, kwargs):
    if kwargs:
        raise OnnxExportError(f"export: keyword arguments ({sorted(kwargs)}) are not supported; pass every input "
                              f"positionally in args.")
    if isinstance(args, tuple):
        if args and isinstance(args[-1], dict):  # torch's convention: a trailing dict holds keyword arguments
            if args[-1]:
                return _positional(model, args[:-1], args[-1])
            args = args[:-1]
        return args
    return (args,)


def _dynamic_shapes(model, args, dynamic_shapes, in_names):
    """``dynamic_shapes`` (torch.export's form) as ``dynamic_axes``: {input name: {axis: dim name}}."""
    if isinstance(dynamic_shapes, dict):
        params = [p for p in inspect.signature(model.forward).parameters if p != "self"]
        specs = [dynamic_shapes.get(p) for p in params[:len(args)]]
    else:
        specs = list(dynamic_shapes)
    axes = {}
    for k, spec in enumerate(specs):
        if spec is None or k >= len(in_names):
            continue
        items = spec.items() if isinstance(spec, dict) else ((a, None) for a in spec)
        axes[in_names[k]] = {int(a): _dim_name(d, in_names[k], a) for a, d in items}
    return axes


def _dim_name(dim, input_name, axis):
    name = dim if isinstance(dim, str) else getattr(dim, "__name__", None)
    return name if name and name not in ("AUTO", "DYNAMIC") else f"{input_name}_dim_{axis}"


def torch_export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
                 opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None,
                 custom_translation_table=None, report=False, optimize=True, verify=False, profile=False,
                 dump_exported_program=False, artifacts_dir=".", export_params=True,
                 keep_initializers_as_inputs=False, dynamic_axes=None, training=None, operator_export_type=None,
                 do_constant_folding=True, custom_opsets=None, export_modules_as_functions=False,
                 autograd_inlining=True):
    """Export an nnbasics model with ``torch.onnx.export``'s arguments (see the module docstring).

    Args:
        model: the nnbasics Module.
        args: the example: a tuple of positional arguments (tensors or tuples of them), or one tensor.
        f: the file to write (path or binary file); may be None with ``dynamo=True`` (save later).
        input_names, output_names: names of the first graph inputs/outputs.
        opset_version: the ONNX opset (default 17).
        dynamic_axes: ``{name: {axis: dim name}}`` or ``{name: [axes]}``, as in PyTorch.
        dynamic_shapes: torch.export's form: per positional argument (a tuple) or per forward
            parameter name (a dict), ``{axis: name or Dim}``.
        dynamo: return an :class:`ONNXProgram` (True, PyTorch's default) or None.
        verbose: print the graph.
        export_params, training, kwargs: only their defaults are supported (refused otherwise).

    Returns:
        ONNXProgram or None.

    Example:
        >>> import nnbasics as nb, nnbasics.nn as nn, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
        >>> program = torch_export(nn.Linear(3, 2, rng=0), (nb.randn(4, 3, rng=0),), path, input_names=["x"],
        ...                        dynamic_axes={"x": {0: "batch"}})
        >>> [i.name for i in program.model_proto.graph.input]
        ['x']
    """
    if not export_params:
        raise OnnxExportError("export: export_params=False is not supported: the file always holds the weights.")
    mode = _mode_name(training)
    if mode == "TRAINING" or (mode == "PRESERVE" and getattr(model, "training", False)):
        raise OnnxExportError("export: only eval-mode export is supported (dropout off, batch norm with running "
                              "statistics); call model.eval() or use training=TrainingMode.EVAL.")
    args = _positional(model, args, kwargs)
    n_in = len(leaves(args)[1]) if args else 0
    input_names = None if input_names is None else NamePrefix(input_names)  # torch: the first inputs' names
    output_names = None if output_names is None else NamePrefix(output_names)
    if dynamic_shapes is not None and dynamic_axes is None:
        ins = default_names(model, n_in, 1)[0]
        given = list(input_names or [])
        dynamic_axes = _dynamic_shapes(model, args, dynamic_shapes, given + ins[len(given):])
    target = f if f is not None else _Discard()
    proto = export(model, args if len(args) != 1 else args[0], target, opset=opset_version or DEFAULT_OPSET,
                   input_names=input_names, output_names=output_names,
                   dynamic_batch=False, dynamic_axes=dynamic_axes or None)
    if verbose:
        from onnx import helper

        print(helper.printable_graph(proto.graph))
    return ONNXProgram(proto) if dynamo else None


class _Discard:
    """A binary 'file' that drops what is written (``f=None``: the program is saved later)."""

    def write(self, data):
        return len(data)
