"""The graph under construction: nodes, float32 initializers and the values flowing between them.

A :class:`Value` is one tensor of the ONNX graph: its name, the array nnbasics computed for it
on the example input (so every converter knows the static shapes) and which axis holds the
batch (None once the batch is merged into another dim). Converters never bake the example's
batch size into the graph: reshapes copy the batch dim (0) or infer it (-1).

Nothing here imports onnx: the builder collects plain tuples, and :meth:`GraphBuilder.to_onnx`
turns them into protobufs with the ``onnx`` module it is handed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["GraphBuilder", "Value"]


@dataclasses.dataclass
class Value:
    """One tensor of the graph.

    Attributes:
        name: its name in the ONNX graph.
        data: the NumPy array nnbasics computed for it on the example input.
        batch_axis: the axis holding the batch, or None (merged away, or no batch at all).
    """

    name: str
    data: np.ndarray
    batch_axis: int | None = 0

    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def ndim(self):
        return self.data.ndim


class GraphBuilder:
    """Collects nodes and initializers; names are unique and carry the module path.

    Args:
        opset: the default-domain opset the graph targets.
    """

    def __init__(self, opset: int):
        self.opset = int(opset)
        self.nodes = []  # (op_type, inputs, outputs, name, attrs)
        self.initializers = {}  # name -> float32/int64 array
        self._used = set()
        self.scope = ""  # the module path of the converter that is running

    # ------------------------------------------------------------------ names
    def fresh(self, hint: str) -> str:
        """A graph-unique name built from the current scope and ``hint``."""
        base = f"{self.scope}.{hint}" if self.scope else hint  # "0.weight": the state-dict key
        name, k = base, 1
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Mark a graph input/output name as taken."""
        self._used.add(name)

    # ----------------------------------------------------------- constants
    def initializer(self, array, hint: str, dtype=np.float32) -> str:
        """Store ``array`` (cast to ``dtype``, float32 by default) as an initializer; returns its name."""
        name = self.fresh(hint)
        self.initializers[name] = np.array(array, dtype=dtype, order="C")  # NOTE: ascontiguousarray makes 0-D 1-D
        return name

    def const(self, value, hint: str = "const", dtype=np.float32) -> str:
        """A small constant (scalar or vector) as an initializer."""
        return self.initializer(np.asarray(value, dtype=dtype), hint, dtype)

    def int64s(self, values, hint: str = "shape") -> str:
        """A 1-D int64 initializer (shapes, axes, pads)."""
        return self.initializer(np.asarray(values, dtype=np.int64).reshape(-1), hint, np.int64)

    # ---------------------------------------------------------------- nodes
    def op(self, op_type: str, inputs, n_out: int = 1, hint: str | None = None, outputs=None, **attrs):
        """Append one node; returns its output name (or the list of them when ``n_out > 1``).

        Args:
            op_type: the ONNX operator, e.g. ``"Gemm"``.
            inputs: input names ("" for an omitted optional input).
            n_out: number of outputs.
            hint: name stem of the outputs (default: the op type).
            outputs: explicit output names (a graph output, for example).
            **attrs: the node's attributes.
        """
        stem = hint or op_type
        outs = list(outputs) if outputs is not None else [self.fresh(stem if n_out == 1 else f"{stem}_{i}")
                                                          for i in range(n_out)]
        self.nodes.append((op_type, list(inputs), outs, self.fresh(f"{op_type}_node"), attrs))
        return outs[0] if n_out == 1 else outs

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, hint: str | None = None) -> str:
        """ReduceMean/ReduceMax/ReduceSum over ``axes``: an attribute before opset 18, an input from 18
        (ReduceSum: from 13)."""
        axes = [int(a) for a in axes]
        as_input = self.opset >= 18 or op_type == "ReduceSum"
        if as_input:
            return self.op(op_type, [x, self.int64s(axes, "axes")], hint=hint, keepdims=int(keepdims))
        return self.op(op_type, [x], hint=hint, axes=axes, keepdims=int(keepdims))

    def reshape(self, x: Value, target: np.ndarray, out_batch_axis: int | None) -> str:
        """Reshape ``x`` to the example array ``target``'s shape without fixing the batch size.

        The output dim that holds the batch is written 0 (copy) when it is the input's batch
        dim at the same position, else -1 (inferred); every other dim is its static size.
        ``out_batch_axis``: the output dim that holds (or absorbs) the batch, None when the
        input has no batch axis.
        """
        dims = list(target.shape)
        if x.batch_axis is not None and out_batch_axis is not None:
            same = out_batch_axis == x.batch_axis and dims[out_batch_axis] == x.shape[x.batch_axis]
            dims[out_batch_axis] = 0 if same else -1
        return self.op("Reshape", [x.name, self.int64s(dims, "shape")])

    # --------------------------------------------------------------- output
    def to_onnx(self, name, inputs, outputs, doc_string: str = ""):
        """The ``GraphProto``: ``inputs``/``outputs`` are ``ValueInfoProto`` lists."""
        from onnx import helper, numpy_helper

        nodes = [helper.make_node(op, ins, outs, name=nm, **attrs) for op, ins, outs, nm, attrs in self.nodes]
        inits = [numpy_helper.from_array(arr, name) for name, arr in self.initializers.items()]
        return helper.make_graph(nodes, name, inputs, outputs, initializer=inits, doc_string=doc_string)
