"""ONNX mappings of the reductions (``ops/reduce.py``): sum, mean, max, min, logsumexp, softmax, argmax."""

from __future__ import annotations

import numpy as np

from ..ops import reduce as rd
from .mapping import maps
from .ops_elementwise import out_dtype

__all__ = []

_REDUCE = {rd.Sum: "ReduceSum", rd.Mean: "ReduceMean", rd.Max: "ReduceMax", rd.Min: "ReduceMin"}


@maps(*_REDUCE)
def _reduce(e, r, p):
    dt = out_dtype(r)
    x = e.inp(r, 0, dt)
    if not p["axes"]:  # nothing to reduce (a 0-d input)
        return e.g.op("Identity", [x])
    return e.g.reduce(_REDUCE[r.op], x, p["axes"], p["keep"])


@maps(rd.LogSumExp)
def _logsumexp(e, r, p):
    """m + log(sum(exp(x - m))) with m the max (0 where it is infinite), as nnbasics computes it."""
    g, axes, keep = e.g, p["axes"], p["keep"]
    x = e.inp(r, 0, np.float32)
    if not axes:
        return g.op("Identity", [x])
    m = g.reduce("ReduceMax", x, axes, True)
    m = g.op("Where", [g.op("IsInf", [m]), g.const(0.0), m])
    s = g.reduce("ReduceSum", g.op("Exp", [g.op("Sub", [x, m])]), axes, keep)
    if not keep:
        m = g.op("Squeeze", [m, g.int64s(axes, "axes")])
    return g.op("Add", [g.op("Log", [s]), m])


@maps(rd.Softmax)
def _softmax(e, r, p):
    return e.g.op("Softmax", [e.inp(r, 0, np.float32)], axis=int(p["dim"]))


@maps(rd.LogSoftmax)
def _log_softmax(e, r, p):
    return e.g.op("LogSoftmax", [e.inp(r, 0, np.float32)], axis=int(p["dim"]))


@maps("argmax", "argmin")
def _arg(e, r, p):
    g = e.g
    op = "ArgMax" if r.op == "argmax" else "ArgMin"
    x = e.inp(r, 0)
    if e.dtype(r.inputs[0]) == np.bool_:
        x = g.cast(x, np.bool_, np.int64)
    dim, keep = p["dim"], p["keepdim"]
    if dim is not None:
        return g.op(op, [x], axis=int(dim), keepdims=int(keep), select_last_index=0)
    flat = g.op(op, [g.op("Reshape", [x, g.int64s([-1])])], axis=0, keepdims=0, select_last_index=0)  # 0-d
    ndim = len(e.shape(r.inputs[0]))
    return g.op("Reshape", [flat, g.int64s([1] * ndim)]) if keep else flat
