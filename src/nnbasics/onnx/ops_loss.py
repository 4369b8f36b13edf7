"""ONNX mappings of the fused losses (``ops/loss.py``), written as their formulas.

A model rarely returns a loss, but one that does (a forward computing ``cross_entropy`` for
an evaluation graph) exports with the same per-element values nnbasics computes: unreduced,
as the ops return them (the reduction that follows is traced as ``mean``/``sum``).
"""

from __future__ import annotations

import numpy as np

from ..ops import loss as ls
from .mapping import maps

__all__ = []


def _f(g, v):
    return g.const(v)


@maps(ls.SoftmaxCrossEntropy)
def _cross_entropy(e, r, p):
    """keep * [(1 - eps) w[y] (-log_softmax(x)[y]) + eps / C * sum_c w_c (-log_softmax(x)_c)], class axis 1 (0 if 1-D)."""
    g = e.g
    ndim = len(e.shape(r.inputs[0]))
    ca = 0 if ndim == 1 else 1
    c = e.arr(r.inputs[0]).shape[ca]
    s = g.op("LogSoftmax", [e.inp(r, 0, np.float32)], axis=ca)
    y = e.inp(r, 1, np.int64)
    keep = g.op("Not", [g.op("Equal", [y, g.int64s([p["ignore_index"]])])])
    ysafe = g.op("Where", [keep, y, g.int64s([0])])
    axes = g.int64s([ca], "axes")
    nll = g.op("Neg", [g.op("Squeeze", [g.op("GatherElements", [s, g.op("Unsqueeze", [ysafe, axes])], axis=ca),
                                          axes])])
    eps = float(p["label_smoothing"])
    w = None if p["weight"] is None else g.cast(e.name(p["weight"]), e.dtype(p["weight"].ref), np.float32)
    loss = nll if w is None else g.op("Mul", [nll, g.op("Gather", [w, ysafe], axis=0)])
    if eps:
        wb = s if w is None else g.op("Mul", [s, g.op("Reshape", [w, g.int64s([c] + [1] * (ndim - 2))])
                                              if ndim > 2 else w])
        smooth = g.op("Neg", [g.reduce("ReduceSum", wb, [ca], False)])
        loss = g.op("Add", [g.op("Mul", [loss, _f(g, 1.0 - eps)]), g.op("Mul", [smooth, _f(g, eps / c)])])
    return g.op("Mul", [loss, g.cast(keep, np.bool_, np.float32)])


@maps(ls.BinaryCrossEntropy)
def _bce(e, r, p):
    """-(y max(log x, -100) + (1 - y) max(log(1 - x), -100))."""
    g = e.g
    x, y = e.inp(r, 0, np.float32), e.inp(r, 1, np.float32)
    lx = g.op("Max", [g.op("Log", [x]), _f(g, -100.0)])
    l1x = g.op("Max", [g.op("Log", [g.op("Sub", [_f(g, 1.0), x])]), _f(g, -100.0)])
    one_minus_y = g.op("Sub", [_f(g, 1.0), y])
    return g.op("Neg", [g.op("Add", [g.op("Mul", [y, lx]), g.op("Mul", [one_minus_y, l1x])])])


@maps(ls.BinaryCrossEntropyWithLogits)
def _bce_logits(e, r, p):
    """(1 - y) x + (1 + (pos_weight - 1) y) softplus(-x), softplus(-x) = max(-x, 0) + log(1 + exp(-|x|))."""
    g = e.g
    x, y = e.inp(r, 0, np.float32), e.inp(r, 1, np.float32)
    sp = g.op("Add", [g.op("Relu", [g.op("Neg", [x])]),
                      g.op("Log", [g.op("Add", [_f(g, 1.0), g.op("Exp", [g.op("Neg", [g.op("Abs", [x])])])])])])
    linear = g.op("Mul", [g.op("Sub", [_f(g, 1.0), y]), x])
    if p["pos_weight"] is not None:
        pw = g.cast(e.name(p["pos_weight"]), e.dtype(p["pos_weight"].ref), np.float32)
        sp = g.op("Mul", [sp, g.op("Add", [_f(g, 1.0), g.op("Mul", [g.op("Sub", [pw, _f(g, 1.0)]), y])])])
    return g.op("Add", [linear, sp])
