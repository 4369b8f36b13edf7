"""ONNX mappings of the movement primitives (``ops/movement.py``): reshape, permute, expand,
indexing, concatenation, padding and take_along_axis.

Integers in their settings (a reshape target, slice bounds, pad widths) may be
:class:`~.symbolic.Sym` expressions of the dynamic dims; :meth:`~.emit.Emitter.ints` turns
them into graph computations.
"""

from __future__ import annotations

import numpy as np

from ..ops import indexed as ix
from ..ops import movement as mv
from .errors import OnnxExportError
from .mapping import maps, refuses
from .ops_elementwise import out_dtype
from .symbolic import Sym
from .trace import ArrayRef

__all__ = []

_BIG = 2**62  # "to the end" for ONNX Slice (it clamps)


def _same(a, b) -> bool:
    """Two dims (int or Sym) known to be equal."""
    if a is None or b is None:
        return False
    a = Sym.const(a) if not isinstance(a, Sym) else a
    b = Sym.const(b) if not isinstance(b, Sym) else b
    return a == b


def _static_prod(dims):
    n = 1
    for d in dims:
        if d is None or not d.is_static:
            return None
        n *= d.value
    return n


@maps(mv.Reshape)
def _reshape(e, r, p):
    target = list(p["shape"])
    src = e.shape(r.inputs[0])
    x = e.inp(r, 0)
    if any(isinstance(t, int) and t == 0 for t in target):
        raise OnnxExportError(f"export: a reshape to a shape with a 0 dim ({tuple(target)}) at {r.where}: ONNX "
                              f"reads 0 as 'keep this dim'. Empty tensors cannot be exported.")
    if len(target) == 2 and len(src) >= 2:  # (N, *) -> (N, prod *): Flatten, whatever N is at run time
        rest = _static_prod(src[1:])
        if (_same(target[0], src[0]) and (target[1] == -1 or target[1] == rest)) or \
                (target[0] == -1 and rest is not None and target[1] == rest):
            return e.g.op("Flatten", [x], axis=1)
    return e.g.op("Reshape", [x, e.ints(target)])


@maps(mv.Permute)
def _permute(e, r, p):
    return e.g.op("Transpose", [e.inp(r, 0)], perm=[int(d) for d in e.static(r, p)["dims"]])


@maps(mv.Expand)
def _expand(e, r, p):
    return e.g.op("Expand", [e.inp(r, 0), e.ints(p["shape"])])


@maps(mv.Concatenate)
def _concat(e, r, p):
    dt = out_dtype(r)
    return e.g.op("Concat", [e.inp(r, i, dt) for i in range(len(r.inputs))], axis=int(e.static(r, p)["dim"]))


@maps(mv.Pad)
def _pad(e, r, p):
    dt = out_dtype(r)
    widths = p["widths"]
    pads = e.ints([w[0] for w in widths] + [w[1] for w in widths], "pads")
    value = e.g.initializer(np.array(p["value"], dtype=dt), "pad_value")
    return e.g.op("Pad", [e.inp(r, 0, dt), pads, value], mode="constant")


@maps(mv.TakeAlongAxis)
def _take_along_axis(e, r, p):
    idx = e.g.cast(e.name(p["idx"]), e.dtype(p["idx"].ref), np.int64)
    return e.g.op("GatherElements", [e.inp(r, 0), idx], axis=int(e.static(r, {"axis": p["axis"]})["axis"]))


# ------------------------------------------------------------------------- indexing
def _items(index, ndim, e):
    """The index as a list with Ellipsis expanded and missing trailing dims as full slices."""
    items = list(index) if isinstance(index, tuple) else [index]
    used = sum(_consumes(i, e) for i in items)
    if any(i is Ellipsis for i in items):
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (ndim - used)
    return items + [slice(None)] * (ndim - sum(_consumes(i, e) for i in items))


def _consumes(item, e):
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, ArrayRef) and e.arr(item.ref).dtype == np.bool_:
        return e.arr(item.ref).ndim
    return 1


def _slice_parts(s):
    step = 1 if s.step is None else s.step
    neg = isinstance(step, int) and step < 0
    start = (_BIG if neg else 0) if s.start is None else s.start
    stop = (-_BIG if neg else _BIG) if s.stop is None else s.stop
    return start, stop, step


def _basic(e, r, x, items):
    """Slices, ints and None (no arrays): Slice, then Gather for each int, then Unsqueeze for each None."""
    g = e.g
    starts, ends, axes, steps, ints, new = [], [], [], [], [], []
    axis = out_axis = 0
    for it in items:
        if it is None:
            new.append(out_axis)
            out_axis += 1
        elif isinstance(it, slice):
            if it != slice(None) and it != slice(None, None, 1):
                a, b, c = _slice_parts(it)
                starts.append(a), ends.append(b), axes.append(axis), steps.append(c)
            axis += 1
            out_axis += 1
        else:
            ints.append((axis, it))
            axis += 1
    if axes:
        x = g.op("Slice", [x, e.ints(starts, "starts"), e.ints(ends, "ends"), g.int64s(axes, "axes"),
                           e.ints(steps, "steps")])
    for a, i in reversed(ints):
        x = g.op("Gather", [x, e.scalar(i)], axis=a)
    if new:
        x = g.op("Unsqueeze", [x, g.int64s(new, "axes")])
    return x


def _index_arrays(e, r, items):
    """Advanced indices as (axis, name) pairs, int64; bool masks known at export become their positions."""
    out, axis = [], 0
    for it in items:
        if it is None:
            raise OnnxExportError(f"export: indexing with None together with index arrays at {r.where} is not "
                                  f"supported; index first, then unsqueeze.")
        if isinstance(it, ArrayRef) and e.arr(it.ref).dtype == np.bool_:
            mask = e.known(it.ref)
            if mask is None or it.shape is not None:
                raise OnnxExportError(f"export: a boolean mask computed from the input at {r.where} selects a "
                                      f"number of elements that depends on the data, which ONNX shapes cannot "
                                      f"follow. Use where(mask, x, 0) or integer indices.")
            for k, pos in enumerate(np.nonzero(mask)):
                out.append((axis + k, e.g.int64s(pos, "index")))
            axis += mask.ndim
        elif isinstance(it, ArrayRef):
            out.append((axis, e.g.cast(e.name(it), e.dtype(it.ref), np.int64)))
            axis += 1
        elif not isinstance(it, slice):
            out.append((axis, e.scalar(it)))
            axis += 1
        else:
            axis += 1
    return out


@maps(mv.GetItem)
def _getitem(e, r, p):
    g = e.g
    ndim = len(e.shape(r.inputs[0]))
    items = _items(p["index"], ndim, e)
    x = e.inp(r, 0)
    if not any(isinstance(i, ArrayRef) for i in items):
        return _basic(e, r, x, items)
    slices = []
    for i in items:
        slices += [i] if isinstance(i, slice) else [slice(None)] * _consumes(i, e)
    x = _basic(e, r, x, slices)  # the slices first: axes keep their numbers
    adv = _index_arrays(e, r, items)
    if len(adv) == 1:
        return g.op("Gather", [x, adv[0][1]], axis=adv[0][0])
    axes = [a for a, _ in adv]
    rest = [a for a in range(ndim) if a not in axes]
    xt = g.op("Transpose", [x], perm=axes + rest)
    dims = g.op("Shape", [xt])
    fixed = []
    for k, (a, name) in enumerate(adv):  # negative indices counted from the end (GatherND wants them >= 0)
        size = g.op("Gather", [dims, g.int64s([k])], axis=0)
        fixed.append(g.op("Where", [g.op("Less", [name, g.int64s([0])]), g.op("Add", [name, size]), name]))
    shape = fixed[0]
    for f in fixed[1:]:  # the broadcast shape of all index arrays
        shape = g.op("Add", [g.op("Mul", [shape, g.int64s([0])]), g.op("Mul", [f, g.int64s([0])])])
    bshape = g.op("Shape", [shape])
    stacked = g.op("Concat", [g.op("Unsqueeze", [g.op("Expand", [f, bshape]), g.int64s([-1])]) for f in fixed],
                   axis=-1)
    out = g.op("GatherND", [xt, stacked], batch_dims=0)  # (*S, *rest)
    if axes == list(range(axes[0], axes[0] + len(axes))) and axes[0] > 0:  # NumPy keeps S where the indices were
        s_nd = max(_index_ndim(e, i) for i in items if not isinstance(i, slice))
        lead = list(range(s_nd, s_nd + axes[0]))
        perm = lead + list(range(s_nd)) + list(range(s_nd + axes[0], s_nd + len(rest)))
        out = g.op("Transpose", [out], perm=perm)
    return out


def _index_ndim(e, item):
    """Dims an advanced index contributes to the broadcast index shape."""
    if not isinstance(item, ArrayRef):
        return 0
    if e.arr(item.ref).dtype == np.bool_:
        return 1
    return len(item.shape) if item.shape is not None else e.arr(item.ref).ndim


_WRITES = ("writes into a copy of a tensor at data-dependent places; ONNX's ScatterElements/ScatterND are not "
           "mapped yet. Build the result without it (one-hot: (labels.unsqueeze(1) == arange(C)).float(); "
           "masks: where(mask, value, x))")
for _op in (ix.Scatter, ix.ScatterAdd, ix.IndexPut):
    refuses(_op, _WRITES)
