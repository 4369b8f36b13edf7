"""Turn a resolved trace (:class:`~.symbolic.Program`) into graph nodes, one mapping per primitive.

The :class:`Emitter` walks the records in order and calls each op's mapping (registered with
:func:`~.mapping.maps` in the ``ops_*`` modules). A mapping reads its inputs' graph names,
example arrays, dtypes and shapes through the emitter, writes nodes into ``e.g`` and returns
its output name(s). Parameters become initializers named by their state-dict keys the first
time a node uses them; constants made inside ``forward`` become initializers, or ``Expand``/
``Range`` nodes over a dynamic shape when they follow the input's size. Integers that follow
a dynamic dim (a :class:`~.symbolic.Sym`) are computed in the graph from ``Shape`` of the input
that carries that dim.
"""

from __future__ import annotations

import numpy as np

from . import (  # noqa: F401
    ops_discrete,
    ops_elementwise,
    ops_layers,
    ops_loss,
    ops_math,
    ops_movement,
    ops_recurrent,
    ops_reduce,
)
from .errors import OnnxExportError
from .graph import GraphBuilder, onnx_dtype
from .mapping import lookup
from .symbolic import Sym
from .trace import ArrayRef

__all__ = ["Emitter"]


class Emitter:
    """Emits a Program into a :class:`GraphBuilder`.

    Args:
        prog: the resolved trace.
        g: the graph builder.
        input_names: the graph input names, one per flattened example input.
    """

    def __init__(self, prog, g: GraphBuilder, input_names):
        self.prog, self.g = prog, g
        self.trace = prog.trace
        self.names = {("input", k): name for k, name in enumerate(input_names)}
        self._ints = {}  # cache: Sym -> name of its 1-D int64 value
        self._shape_of = {}  # input index -> name of Shape(input)

    # ------------------------------------------------------------------ values
    def arr(self, ref) -> np.ndarray:
        """The example (trace 0) array of a reference."""
        kind = ref[0]
        if kind == "input":
            return _array(self.trace.inputs[ref[1]])
        if kind == "out":
            return _array(self.trace.records[ref[1]].outs[ref[2]])
        if kind == "param":
            return self.trace.params[ref[1]]
        return self.trace.consts[ref[1]]

    def dtype(self, ref) -> np.dtype:
        """The graph dtype (float32, int64 or bool) of a reference."""
        return onnx_dtype(self.arr(ref).dtype)

    def known(self, ref):
        """The value of a parameter or fixed constant (known when exporting), else None."""
        if ref[0] == "param":
            return self.trace.params[ref[1]]
        if ref[0] == "const" and self.prog.consts[ref[1]].kind == "static":
            return self.trace.consts[ref[1]]
        return None

    def shape(self, ref):
        """The dims of a reference as Syms (None where no rule fits)."""
        if ref[0] in ("input", "out"):
            return self.prog.shapes[ref]
        return tuple(Sym.const(n) for n in self.arr(ref).shape)

    def name(self, ref) -> str:
        """The graph name of a reference, creating the initializer or constant nodes on first use."""
        if isinstance(ref, ArrayRef):
            if ref.shape is not None:
                return self.g.op("Expand", [self.name(ref.ref), self.ints(ref.shape)])
            ref = ref.ref
        got = self.names.get(ref)
        if got is None:
            got = self.names[ref] = self._materialize(ref)
        return got

    def _materialize(self, ref):
        if ref[0] == "param":
            return self.g.initializer(self.trace.params[ref[1]], ref[1], exact_name=True)
        info = self.prog.consts[ref[1]]
        if info.kind == "static":
            return self.g.initializer(info.array, "const")
        dt = onnx_dtype(info.array.dtype)
        shape = self.ints(info.shape, "const_shape")
        if info.kind == "fill":
            fill = info.fill
            value = self.g.cast(self.scalar(fill), np.int64, dt) if isinstance(fill, Sym) else \
                self.g.initializer(np.array(fill, dtype=dt), "fill")
            return self.g.op("Expand", [value, shape], hint="const")
        n = self.scalar(info.shape[info.axis])
        zero, one = (self.g.initializer(np.array(v, dtype=dt), "range") for v in (0, 1))
        rng = self.g.op("Range", [zero, self.g.cast(n, np.int64, dt), one])
        return self.g.op("Reshape", [rng, shape], hint="const")

    def inp(self, r, i, dtype=None) -> str:
        """The graph name of record ``r``'s input ``i``, cast to the graph dtype of ``dtype`` if given."""
        name = self.name(r.inputs[i])
        return name if dtype is None else self.g.cast(name, self.dtype(r.inputs[i]), dtype)

    def param_as(self, ref, fn, suffix):
        """An initializer holding ``fn(value)`` of a known parameter/constant (None if not known).

        Named ``key + suffix`` for a parameter (``fc.weight_t``), so transformed weights keep
        their state-dict key visible.
        """
        value = self.known(ref)
        if value is None:
            return None
        if ref[0] == "param":
            return self.g.initializer(fn(np.asarray(value)), ref[1] + suffix, exact_name=True)
        return self.g.initializer(fn(np.asarray(value)), "const" + suffix)

    # -------------------------------------------------------------------- ints
    def size(self, symbol) -> str:
        """1-D int64 [1]: the runtime size of a dynamic dim, read from the input that carries it."""
        k, axis = self.prog.symbols[symbol]
        shape = self._shape_of.get(k)
        if shape is None:
            shape = self._shape_of[k] = self.g.op("Shape", [self.names[("input", k)]], hint=f"{symbol}_shape")
        return self.g.op("Gather", [shape, self.g.int64s([axis], "axis")], axis=0, hint=symbol)

    def sym(self, s: Sym) -> str:
        """1-D int64 [1] holding the value of ``s`` at run time."""
        got = self._ints.get(s)
        if got is not None:
            return got
        total = None
        saved, self.g.scope = self.g.scope, ""
        try:
            for mono, c in s.terms:
                if not mono:
                    term = self.g.int64s([c], "const")
                else:
                    term = self.size(mono[0])
                    for other in mono[1:]:
                        term = self.g.op("Mul", [term, self.size(other)])
                    if c != 1:
                        term = self.g.op("Mul", [term, self.g.int64s([c], "const")])
                total = term if total is None else self.g.op("Add", [total, term])
        finally:
            self.g.scope = saved
        self._ints[s] = total
        return total

    def scalar(self, s) -> str:
        """0-d int64 holding ``s`` (an int or a Sym)."""
        if not isinstance(s, Sym) or s.is_static:
            return self.g.initializer(np.array(int(s if not isinstance(s, Sym) else s.value)), "n", np.int64)
        return self.g.op("Reshape", [self.sym(s), self.g.int64s([], "scalar")])

    def ints(self, values, hint="shape") -> str:
        """A 1-D int64 tensor of ``values`` (ints or Syms): an initializer, or a Concat when any is dynamic."""
        vals = [v.value if isinstance(v, Sym) and v.is_static else v for v in values]
        if all(not isinstance(v, Sym) for v in vals):
            return self.g.int64s([int(v) for v in vals], hint)
        parts, run = [], []
        for v in vals:
            if isinstance(v, Sym):
                if run:
                    parts.append(self.g.int64s(run, hint))
                    run = []
                parts.append(self.sym(v))
            else:
                run.append(int(v))
        if run:
            parts.append(self.g.int64s(run, hint))
        return parts[0] if len(parts) == 1 else self.g.op("Concat", parts, axis=0, hint=hint)

    def static(self, r, p):
        """``p`` after checking that no number in it follows a dynamic dim (ops whose settings must be fixed)."""
        if _has_sym(p):
            raise OnnxExportError(f"export: {r.op_name} at {r.where} has a setting that changes with the input size "
                                  f"({p}); ONNX needs it fixed. Export with dynamic_batch=False.")
        return p

    # -------------------------------------------------------------------- run
    def run(self):
        """Emit every record; returns nothing (names are in ``self.names``)."""
        for j, r in enumerate(self.trace.records):
            fn = lookup(r)
            self.g.scope = r.scope
            try:
                outs = fn(self, r, self.prog.params[j])
            finally:
                self.g.scope = ""
            outs = [outs] if isinstance(outs, str) else list(outs)
            for slot, name in enumerate(outs):
                self.names[("out", j, slot)] = name


def _array(t):
    from .trace import array_of

    return array_of(t)


def _has_sym(v):
    if isinstance(v, Sym):
        return not v.is_static
    if isinstance(v, dict):
        return any(_has_sym(e) for e in v.values())
    if isinstance(v, (tuple, list)):
        return any(_has_sym(e) for e in v)
    if isinstance(v, slice):
        return any(_has_sym(e) for e in (v.start, v.stop, v.step))
    return False
