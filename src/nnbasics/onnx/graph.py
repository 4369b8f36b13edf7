"""The graph under construction: nodes, initializers and the values flowing between them.

Nothing here imports onnx: the builder collects plain tuples, and :meth:`GraphBuilder.to_onnx`
turns them into protobufs. Element types are NumPy's: every floating dtype is written as
float32, every integer dtype as int64, bool as bool (:func:`onnx_dtype`).

A :class:`Value` is what a module converter (:func:`~.converters.register_converter`)
receives: a graph tensor's name, the array nnbasics computed for it on the example input and
the axis holding the batch.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["GraphBuilder", "Value", "onnx_dtype", "onnx_elem_type"]

# TensorProto element types (onnx.TensorProto.FLOAT, INT64, BOOL), without importing onnx
_ELEM = {"float32": 1, "int64": 7, "bool": 9}


def onnx_dtype(dtype) -> np.dtype:
    """The NumPy dtype a tensor of ``dtype`` has in the exported graph: float32, int64 or bool."""
    kind = np.dtype(dtype).kind
    if kind == "f":
        return np.dtype(np.float32)
    if kind in "iu":
        return np.dtype(np.int64)
    if kind == "b":
        return np.dtype(np.bool_)
    raise TypeError(f"export: tensors of dtype {np.dtype(dtype)} have no ONNX type here (float, int and bool do).")


def onnx_elem_type(dtype) -> int:
    """The ``onnx.TensorProto`` element type of ``dtype``'s graph dtype."""
    return _ELEM[onnx_dtype(dtype).name]


@dataclasses.dataclass
class Value:
    """One tensor of the graph, as a module converter sees it.

    Attributes:
        name: its name in the ONNX graph.
        data: the NumPy array nnbasics computed for it on the example input.
        batch_axis: the axis holding the batch, or None.
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
        self.initializers = {}  # name -> array (float32, int64 or bool)
        self._used = set()
        self.scope = ""  # the module path of the op being emitted

    # ------------------------------------------------------------------ names
    def fresh(self, hint: str) -> str:
        """A graph-unique name built from the current scope and ``hint``."""
        base = f"{self.scope}.{hint}" if self.scope else hint
        name, k = base, 1
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Mark a graph input/output name as taken."""
        self._used.add(name)

    # ----------------------------------------------------------- constants
    def initializer(self, array, hint: str, dtype=None, exact_name: bool = False) -> str:
        """Store ``array`` as an initializer (in its graph dtype, or ``dtype``); returns its name.

        ``exact_name``: use ``hint`` itself (a state-dict key), not a scoped fresh name.
        """
        arr = np.asarray(array)
        dt = onnx_dtype(arr.dtype) if dtype is None else np.dtype(dtype)
        if exact_name and hint not in self._used:
            name = hint
            self._used.add(name)
        else:
            saved, self.scope = self.scope, "" if exact_name else self.scope
            name = self.fresh(hint)
            self.scope = saved
        self.initializers[name] = np.array(arr, dtype=dt, order="C")  # NOTE: ascontiguousarray makes 0-D 1-D
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
        while inputs and inputs[-1] == "":
            inputs = inputs[:-1]
        self.nodes.append((op_type, list(inputs), outs, self.fresh(f"{op_type}_node"), attrs))
        return outs[0] if n_out == 1 else outs

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, hint: str | None = None) -> str:
        """ReduceMean/ReduceMax/... over ``axes``: an attribute before opset 18, an input from 18
        (ReduceSum: from 13)."""
        axes = [int(a) for a in axes]
        if self.opset >= 18 or op_type == "ReduceSum":
            return self.op(op_type, [x, self.int64s(axes, "axes")], hint=hint, keepdims=int(keepdims))
        return self.op(op_type, [x], hint=hint, axes=axes, keepdims=int(keepdims))

    def cast(self, x: str, from_dtype, to_dtype) -> str:
        """``x`` converted to the graph dtype of ``to_dtype`` (no node when the graph dtypes agree)."""
        src, dst = onnx_dtype(from_dtype), onnx_dtype(to_dtype)
        if src == dst:
            return x
        return self.op("Cast", [x], to=onnx_elem_type(dst))

    def reshape(self, x: Value, target: np.ndarray, out_batch_axis: int | None) -> str:
        """Reshape ``x`` to the example array ``target``'s shape without fixing the batch size.

        The output dim that holds the batch is written 0 (copy) when it is the input's batch
        dim at the same position, else -1 (inferred); every other dim is its static size.
        """
        dims = list(target.shape)
        if x.batch_axis is not None and out_batch_axis is not None:
            same = out_batch_axis == x.batch_axis and dims[out_batch_axis] == x.shape[x.batch_axis]
            dims[out_batch_axis] = 0 if same else -1
        return self.op("Reshape", [x.name, self.int64s(dims, "shape")])

    def prune(self, outputs) -> None:
        """Drop the nodes and initializers no graph output depends on (an LSTM's unused final states...)."""
        needed = set(outputs)
        kept = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node[2]):
                kept.append(node)
                needed.update(i for i in node[1] if i)
        self.nodes = kept[::-1]
        self.initializers = {k: v for k, v in self.initializers.items() if k in needed}

    # --------------------------------------------------------------- output
    def to_onnx(self, name, inputs, outputs, doc_string: str = ""):
        """The ``GraphProto``: ``inputs``/``outputs`` are ``ValueInfoProto`` lists."""
        from onnx import helper, numpy_helper

        nodes = [helper.make_node(op, ins, outs, name=nm, **attrs) for op, ins, outs, nm, attrs in self.nodes]
        inits = [numpy_helper.from_array(arr, name) for name, arr in self.initializers.items()]
        return helper.make_graph(nodes, name, inputs, outputs, initializer=inits, doc_string=doc_string)
