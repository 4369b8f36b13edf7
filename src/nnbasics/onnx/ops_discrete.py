"""ONNX mappings of the primitives without a gradient that compute a tensor from the input's values.

``~mask``, ``a & b``, ``x // y``, ``any``/``all``, ``floor``/``round``/``isnan``..., ``one_hot`` and the indices of
``sort``/``topk``/``kthvalue``/``median`` are not :class:`~nnbasics.autograd.Function` s: they
report themselves with ``autograd.record_op`` (``"logical"``, ``"floor_divide"``, ``"discrete"``,
``"sort_index"``). Without that report a trace would keep their result as a constant of the
example's values: a padding mask ``~(x == 0)`` of an example without padding would be exported as
"no padding, ever". ``"data_index"`` (``mode``, ``median`` over values with NaN) has no ONNX form.
"""

from __future__ import annotations

import numpy as np

from .mapping import maps, refuses
from .ops_elementwise import out_dtype

__all__ = []

_BOOL = {"and": "And", "or": "Or", "xor": "Xor", "invert": "Not"}
_BITS = {"and": "BitwiseAnd", "or": "BitwiseOr", "xor": "BitwiseXor", "invert": "BitwiseNot"}


@maps("logical")
def _logical(e, r, p):
    """Bool tensors: And/Or/Xor/Not; integer tensors: the Bitwise ops (opset 18)."""
    dt = out_dtype(r)
    ins = [e.inp(r, i, dt) for i in range(len(r.inputs))]
    if dt == np.bool_:
        return e.g.op(_BOOL[p["op"]], ins)
    if e.g.opset < 18:
        from .errors import UnsupportedModuleError

        raise UnsupportedModuleError(
            f"export: bitwise {p['op']} of integer tensors at {r.where} needs opset 18 or newer (ONNX's "
            f"Bitwise ops); pass opset=18, or compare first (x > 0) to work on bool tensors.")
    return e.g.op(_BITS[p["op"]], ins)


@maps("floor_divide")
def _floor_divide(e, r, p):
    """a // b rounded toward minus infinity: Floor(a / b) for floats; for integers Div (which truncates)
    minus 1 where the remainder is non-zero and the signs differ."""
    g, dt = e.g, out_dtype(r)
    a, b = e.inp(r, 0, dt), e.inp(r, 1, dt)
    if dt.kind == "f":
        return g.op("Floor", [g.op("Div", [a, b])])
    zero = g.const(0, "zero", dt)
    rem = g.op("Mod", [a, b], fmod=1)
    signs = g.op("Xor", [g.op("Less", [a, zero]), g.op("Less", [b, zero])])
    fix = g.op("And", [g.op("Not", [g.op("Equal", [rem, zero])]), signs])
    return g.op("Sub", [g.op("Div", [a, b]), g.cast(fix, np.bool_, dt)])


def _trunc(g, x):
    return g.op("Where", [g.op("Less", [x, g.const(0.0)]), g.op("Ceil", [x]), g.op("Floor", [x])])


def _round(g, x, decimals):
    if not decimals:
        return g.op("Round", [x])  # half to even, as NumPy and PyTorch
    scale = g.const(10.0 ** decimals, "scale")
    return g.op("Div", [g.op("Round", [g.op("Mul", [x, scale])]), scale])


@maps("discrete")
def _discrete(e, r, p):
    g, fn, dt = e.g, p["fn"], out_dtype(r)
    if fn == "one_hot":
        ids = g.op("Unsqueeze", [e.inp(r, 0, np.int64), g.int64s([-1], "axes")])
        hot = g.op("Equal", [ids, g.int64s(list(range(p["num_classes"])), "classes")])
        return g.cast(hot, np.bool_, np.int64)
    if fn in ("any", "all"):  # non-zero as 0/1, then the largest (any) or smallest (all)
        g = e.g
        x = e.inp(r, 0)
        nz = g.op("Not", [g.op("Equal", [x, g.const(0, "zero", e.dtype(r.inputs[0]))])]) \
            if e.dtype(r.inputs[0]) != np.bool_ else x
        axes = p["axes"] if p["axes"] is not None else list(range(len(e.shape(r.inputs[0]))))
        if not axes:
            return nz
        y = g.reduce("ReduceMax" if fn == "any" else "ReduceMin", g.cast(nz, np.bool_, np.int64), list(axes),
                     p["keepdim"])
        return g.cast(y, np.int64, np.bool_)
    x = e.inp(r, 0, np.float32)
    if fn in ("isnan", "isinf"):
        return g.op("IsNaN" if fn == "isnan" else "IsInf", [x])
    if fn == "isfinite":
        return g.op("Not", [g.op("Or", [g.op("IsNaN", [x]), g.op("IsInf", [x])])])
    y = {"floor": lambda: g.op("Floor", [x]), "ceil": lambda: g.op("Ceil", [x]), "trunc": lambda: _trunc(g, x),
         "round": lambda: _round(g, x, p.get("decimals", 0))}[fn]()
    return g.cast(y, np.float32, dt)


@maps("sort_index")
def _sort_index(e, r, p):
    """Positions start:stop of the stable order along ``dim``: the indices of TopK (ties: lower index
    first, as the stable sort), sliced."""
    g, d = e.g, int(p["dim"])
    x = e.inp(r, 0)
    if e.dtype(r.inputs[0]) == np.bool_:
        x = g.cast(x, np.bool_, np.int64)
    _, idx = g.op("TopK", [x, e.ints([p["stop"]], "k")], n_out=2, axis=d, largest=int(p["descending"]), sorted=1)
    if p["start"] == 0:
        return idx
    return g.op("Slice", [idx, e.ints([p["start"]], "starts"), e.ints([p["stop"]], "ends"), g.int64s([d], "axes")])


refuses("data_index", "its indices are computed in NumPy from the values (nonzero, where(cond), mode, median over "
        "values with NaN) and nnbasics has no ONNX form for them; compute them after running the exported model")
