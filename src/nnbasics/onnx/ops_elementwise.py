"""ONNX mappings of the elementwise primitives (``ops/elementwise.py``, ``ops/activation.py``).

Binary ops broadcast as ONNX does (NumPy's rules), so they map one to one. NumPy promotes
mixed dtypes (an int tensor times a float) where ONNX does not: every input is cast to the
graph dtype of the op's output first (no node when it already has it).
"""

from __future__ import annotations

import math

import numpy as np

from ..ops import activation as act
from ..ops import elementwise as ew
from .graph import onnx_dtype
from .mapping import maps
from .trace import array_of

__all__ = []


def out_dtype(r, slot=0):
    """The graph dtype of record ``r``'s output."""
    return onnx_dtype(array_of(r.outs[slot]).dtype)


def _f(g, value, hint="const"):
    return g.const(value, hint)


# ------------------------------------------------------------------ arithmetic
_BINARY = {ew.Add: "Add", ew.Sub: "Sub", ew.Mul: "Mul", ew.Div: "Div", ew.Pow: "Pow", ew.Maximum: "Max",
           ew.Minimum: "Min"}
_BOOL_BINARY = {ew.Add: "Or", ew.Mul: "And", ew.Maximum: "Or", ew.Minimum: "And"}


@maps(*_BINARY)
def _binary(e, r, p):
    dt = out_dtype(r)
    if dt == np.bool_ and r.op in _BOOL_BINARY:  # NumPy: bool + bool is "or", bool * bool is "and"
        return e.g.op(_BOOL_BINARY[r.op], [e.inp(r, 0, dt), e.inp(r, 1, dt)])
    if r.op is ew.Pow:  # ONNX Pow keeps the base's dtype; the exponent may differ
        return e.g.op("Pow", [e.inp(r, 0, dt), e.inp(r, 1)])
    return e.g.op(_BINARY[r.op], [e.inp(r, 0, dt), e.inp(r, 1, dt)])


@maps(ew.PowScalar)
def _pow_scalar(e, r, p):
    dt = out_dtype(r)
    x = e.inp(r, 0, dt)
    if p["p"] == 2:
        return e.g.op("Mul", [x, x])
    return e.g.op("Pow", [x, e.g.initializer(np.array(p["p"], dtype=dt), "exponent")])


_UNARY = {ew.Neg: "Neg", ew.Exp: "Exp", ew.Log: "Log", ew.Sqrt: "Sqrt", ew.Abs: "Abs", ew.Sign: "Sign",
          ew.Tanh: "Tanh", ew.Sigmoid: "Sigmoid", act.Erf: "Erf"}


@maps(*_UNARY)
def _unary(e, r, p):
    return e.g.op(_UNARY[r.op], [e.inp(r, 0, out_dtype(r))])


@maps(ew.ReLU)
def _relu(e, r, p):
    dt = out_dtype(r)
    if dt.kind != "f":  # Relu takes integers from opset 14, but onnxruntime runs it on floats only
        return e.g.op("Max", [e.inp(r, 0, dt), e.g.initializer(np.array(0, dt), "zero")])
    return e.g.op("Relu", [e.inp(r, 0, dt)])


@maps(ew.Where)
def _where(e, r, p):
    dt = out_dtype(r)
    cond = e.g.cast(e.name(p["cond"]), e.dtype(p["cond"].ref), np.bool_)
    return e.g.op("Where", [cond, e.inp(r, 0, dt), e.inp(r, 1, dt)])


@maps(ew.Clip)
def _clip(e, r, p):
    dt = out_dtype(r)
    bounds = ["" if v is None else e.g.initializer(np.array(v, dtype=dt), name) for v, name in
              ((p["lo"], "min"), (p["hi"], "max"))]
    return e.g.op("Clip", [e.inp(r, 0, dt)] + bounds)


@maps(ew.Cast)
def _cast_float(e, r, p):  # between floating dtypes: all are float32 in the graph
    return e.inp(r, 0, out_dtype(r))


@maps("cast")
def _cast(e, r, p):
    return e.inp(r, 0, out_dtype(r))


@maps(ew.Clone)
def _clone(e, r, p):  # a copy in its own memory: the same values in a graph
    return e.g.op("Identity", [e.inp(r, 0, out_dtype(r))])


_COMPARE = {"lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual", "eq": "Equal"}


@maps("compare")
def _compare(e, r, p):
    dt = np.result_type(e.dtype(r.inputs[0]), e.dtype(r.inputs[1]))
    if dt == np.bool_ and p["op"] not in ("eq", "ne"):
        dt = np.dtype(np.int64)  # ONNX orders numbers, not bools
    a, b = e.inp(r, 0, dt), e.inp(r, 1, dt)
    if p["op"] == "ne":
        return e.g.op("Not", [e.g.op("Equal", [a, b])])
    return e.g.op(_COMPARE[p["op"]], [a, b])


# ----------------------------------------------------------------- activations
@maps(act.Step)
def _step(e, r, p):
    g, x = e.g, e.inp(r, 0, np.float32)
    zero = _f(g, 0.0)
    inner = g.op("Where", [g.op("Equal", [x, zero]), _f(g, p["at_zero"]), zero])
    return g.op("Where", [g.op("Greater", [x, zero]), _f(g, 1.0), inner])


@maps(act.LeakyReLU)
def _leaky(e, r, p):
    return e.g.op("LeakyRelu", [e.inp(r, 0, np.float32)], alpha=float(p["slope"]))


@maps(act.ELU)
def _elu(e, r, p):
    """ELU, SELU and CELU are one kernel: scale * (x > 0 ? x : alpha * (exp(input_scale * x) - 1))."""
    g, x = e.g, e.inp(r, 0, np.float32)
    alpha, scale, k = float(p["alpha"]), float(p["scale"]), float(p["input_scale"])
    if scale == 1.0 and k == 1.0:
        return g.op("Elu", [x], alpha=alpha)
    if k == 1.0:
        return g.op("Selu", [x], alpha=alpha, gamma=scale)
    if scale == 1.0 and math.isclose(k * alpha, 1.0, rel_tol=1e-12):
        return g.op("Celu", [x], alpha=alpha)
    neg = g.op("Sub", [g.op("Exp", [g.op("Mul", [g.op("Min", [x, _f(g, 0.0)]), _f(g, k)])]), _f(g, 1.0)])
    pos = g.op("Relu", [x])
    return g.op("Mul", [g.op("Add", [pos, g.op("Mul", [neg, _f(g, alpha)])]), _f(g, scale)])


@maps(act.GELU)
def _gelu(e, r, p):
    g, x = e.g, e.inp(r, 0, np.float32)
    if g.opset >= 20:
        return g.op("Gelu", [x], approximate=p["approximate"])
    half = g.op("Mul", [x, _f(g, 0.5)])
    if p["approximate"] == "none":  # x/2 (1 + erf(x / sqrt 2))
        inner = g.op("Erf", [g.op("Mul", [x, _f(g, 1.0 / math.sqrt(2.0))])])
    else:  # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        poly = g.op("Add", [x, g.op("Mul", [cube, _f(g, 0.044715)])])
        inner = g.op("Tanh", [g.op("Mul", [poly, _f(g, math.sqrt(2.0 / math.pi))])])
    return g.op("Mul", [half, g.op("Add", [inner, _f(g, 1.0)])])


def softplus(g, x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and exactly x where beta x > threshold (nnbasics' and PyTorch's rule)."""
    bx = x if beta == 1 else g.op("Mul", [x, _f(g, beta)])
    sp = g.op("Softplus", [bx])
    if beta != 1:
        sp = g.op("Div", [sp, _f(g, beta)])
    return g.op("Where", [g.op("Greater", [bx, _f(g, threshold)]), x, sp])


@maps(act.Softplus)
def _softplus(e, r, p):
    return softplus(e.g, e.inp(r, 0, np.float32), float(p["beta"]), float(p["threshold"]))


@maps(act.Hardtanh)
def _hardtanh(e, r, p):
    return e.g.op("Clip", [e.inp(r, 0, np.float32), _f(e.g, p["lo"], "min"), _f(e.g, p["hi"], "max")])
