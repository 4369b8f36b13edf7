"""ONNX mappings of the everyday math primitives (``ops/unary.py``, ``ops/scan.py``).

Trigonometric and hyperbolic functions map one to one; ``log1p`` and ``expm1`` are written as
``Log(1 + x)`` and ``Exp(x) - 1`` (ONNX has neither; the float32 graph loses their extra accuracy
near 0). ``cumsum`` is ONNX's CumSum (opset 11), ``prod`` ReduceProd; ``cumprod`` has no ONNX
operator and is refused.
"""

from __future__ import annotations

import numpy as np

from ..ops import scan, unary
from .mapping import maps, refuses
from .ops_elementwise import out_dtype

__all__ = []

_UNARY = {unary.Sin: "Sin", unary.Cos: "Cos", unary.Tan: "Tan", unary.Asin: "Asin", unary.Acos: "Acos",
          unary.Atan: "Atan", unary.Sinh: "Sinh", unary.Cosh: "Cosh"}


@maps(*_UNARY)
def _unary(e, r, p):
    return e.g.op(_UNARY[r.op], [e.inp(r, 0, out_dtype(r))])


@maps(unary.Log1p)
def _log1p(e, r, p):
    x = e.inp(r, 0, out_dtype(r))
    return e.g.op("Log", [e.g.op("Add", [x, e.g.const(1.0)])])


@maps(unary.Expm1)
def _expm1(e, r, p):
    x = e.inp(r, 0, out_dtype(r))
    return e.g.op("Sub", [e.g.op("Exp", [x]), e.g.const(1.0)])


@maps(scan.CumSum)
def _cumsum(e, r, p):
    axis = e.g.initializer(np.asarray(int(p["axis"]), dtype=np.int64), "axis", np.int64)  # a 0-d tensor
    return e.g.op("CumSum", [e.inp(r, 0, out_dtype(r)), axis])


@maps(scan.Prod)
def _prod(e, r, p):
    x = e.inp(r, 0, out_dtype(r))
    if p["axis"] is None:  # no axes: ReduceProd reduces every dim (attribute or input left out)
        return e.g.op("ReduceProd", [x], keepdims=0)
    return e.g.reduce("ReduceProd", x, [int(p["axis"])], bool(p["keepdims"]))


refuses(scan.CumProd, "ONNX has no cumulative-product operator; compute it before export or write it as "
                      "exp(cumsum(log(x))) for positive x")
