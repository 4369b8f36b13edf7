"""Which traced numbers follow the dynamic dims: traces at several sizes, compared.

A trace records the integers of one forward pass: reshape targets, slice bounds, the shapes of
tensors made inside ``forward`` (``zeros(x.size(0), H)``). Whether such a number came from
``x.shape`` cannot be seen from the number. So the model is traced again with the dynamic
dims (the batch, a sequence length) one and two larger, and every number is fitted as

    n = c + sum_s a_s * s + sum_{s<t} a_st * s * t        (integer coefficients)

from the traces at the base sizes, each symbol + 1 and each pair + 1, then checked against
the traces at + 2 (and all symbols + 2 together). A number that fits is written into the
graph as that expression of the input's runtime shape (``Shape``/``Gather``/``Mul``/``Add``);
one that stays the same is a constant; one that changes in any other way (``x.size(0) // 2``,
a value read from the input's data) cannot stay dynamic, and the caller is told where it was
made. The rule holds for any program, not just for ``view(x.size(0), -1)``: a dim that equals
the batch size by coincidence (3 channels, batch 3) does not change with the batch, so it
stays a constant.

:func:`align` compares the traces op by op; when they differ (Python control flow that
depends on the batch size or on the values), it raises :class:`Divergence` naming the first
difference.
"""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import numpy as np

from .trace import ArrayRef

__all__ = ["ConstInfo", "Divergence", "Program", "Sym", "align", "design", "static_program"]


class Sym:
    """An integer polynomial of degree <= 2 (no squares) in the symbolic dims; immutable.

    Example:
        >>> str(Sym.of("batch") * 4 + 1)
        '4*batch + 1'
    """

    __slots__ = ("terms",)

    def __init__(self, terms):
        self.terms = tuple(sorted((m, int(c)) for m, c in dict(terms).items() if c))

    @classmethod
    def const(cls, value):
        return cls({(): int(value)})

    @classmethod
    def of(cls, symbol):
        return cls({(symbol,): 1})

    @property
    def is_static(self) -> bool:
        return all(m == () for m, _ in self.terms)

    @property
    def value(self) -> int:
        """The constant term (the whole value when static)."""
        return dict(self.terms).get((), 0)

    @property
    def symbol(self):
        """The symbol name if this is exactly one symbol, else None."""
        if len(self.terms) == 1 and self.terms[0][1] == 1 and len(self.terms[0][0]) == 1:
            return self.terms[0][0][0]
        return None

    def evaluate(self, env) -> int:
        total = 0
        for m, c in self.terms:
            for s in m:
                c = c * env[s]
            total += c
        return total

    def __add__(self, other):
        other = other if isinstance(other, Sym) else Sym.const(other)
        d = dict(self.terms)
        for m, c in other.terms:
            d[m] = d.get(m, 0) + c
        return Sym(d)

    def __mul__(self, k: int):
        return Sym({m: c * int(k) for m, c in self.terms})

    def __eq__(self, other):
        if isinstance(other, int) and not isinstance(other, bool):
            return self.is_static and self.value == other
        return isinstance(other, Sym) and self.terms == other.terms

    def __hash__(self):
        return hash(self.terms)

    def __repr__(self):
        if not self.terms:
            return "0"
        parts = [("*".join(m) if c == 1 else f"{c}*{'*'.join(m)}") if m else str(c) for m, c in self.terms[::-1]]
        return " + ".join(parts).replace("+ -", "- ")


# ------------------------------------------------------------------------ design
@dataclasses.dataclass
class Design:
    """The traces to run: ``envs[i]`` maps each symbol to its size in trace i."""

    symbols: list
    envs: list
    fit_rows: list  # indices of the traces the coefficients are solved from
    check_rows: list  # indices of the traces the fit must predict
    basis: list  # monomials
    inverse: list  # (basis x fit) matrix of Fractions


def design(base: dict) -> Design:
    """The envs for symbols with base sizes ``base`` (symbol -> size); see the module docstring."""
    symbols = list(base)
    envs, fit_rows, check_rows = [dict(base)], [0], []
    basis = [()] + [(s,) for s in symbols] + list(itertools.combinations(symbols, 2))
    for s in symbols:
        envs.append({**base, s: base[s] + 1})
        fit_rows.append(len(envs) - 1)
    for s, t in itertools.combinations(symbols, 2):
        envs.append({**base, s: base[s] + 1, t: base[t] + 1})
        fit_rows.append(len(envs) - 1)
    for s in symbols:
        envs.append({**base, s: base[s] + 2})
        check_rows.append(len(envs) - 1)
    if len(symbols) > 1:
        envs.append({s: v + 2 for s, v in base.items()})
        check_rows.append(len(envs) - 1)
    matrix = [[Fraction(Sym({m: 1}).evaluate(envs[r])) for m in basis] for r in fit_rows]
    return Design(symbols, envs, fit_rows, check_rows, basis, _invert(matrix))


def _invert(a):
    """Inverse of a small square matrix of Fractions (Gauss-Jordan)."""
    n = len(a)
    m = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(a)]
    for col in range(n):
        piv = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[piv] = m[piv], m[col]
        p = m[col][col]
        m[col] = [v / p for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [v - f * w for v, w in zip(m[r], m[col])]
    return [row[n:] for row in m]


def fit(values, d: Design):
    """The Sym through ``values`` (one int per trace of ``d``), or None when none fits."""
    if all(v == values[0] for v in values):
        return Sym.const(values[0])
    coef = [sum(row[i] * values[r] for i, r in enumerate(d.fit_rows)) for row in d.inverse]
    if any(c.denominator != 1 for c in coef):
        return None
    s = Sym({m: int(c) for m, c in zip(d.basis, coef)})
    if any(s.evaluate(d.envs[r]) != values[r] for r in d.check_rows):
        return None
    return s


# ----------------------------------------------------------------------- program
@dataclasses.dataclass
class ConstInfo:
    """How a constant is written: ``kind`` 'static' (the array), 'fill' (a constant value over a
    symbolic shape) or 'range' (0, 1, ..., n-1 along ``axis`` of a symbolic shape)."""

    kind: str
    array: np.ndarray  # trace 0's value
    shape: tuple = ()  # Syms ('fill', 'range')
    fill: object = None  # a number or a Sym ('fill')
    axis: int = 0  # ('range')


@dataclasses.dataclass
class Program:
    """Trace 0 with every traced number resolved: what the exporter emits."""

    trace: object
    params: list  # per record: its params with varying ints replaced by Syms
    shapes: dict  # reference -> tuple of Sym (None: a dim no expression fits)
    consts: list  # ConstInfo per constant
    symbols: dict  # symbol -> (input index, axis) it is read from
    problems: list  # (where, what): numbers that cannot stay dynamic
    warnings: list  # (where, what): values that depend on the input's data


class Divergence(Exception):
    """The traces at different sizes took different paths (message: the first difference)."""


def static_program(tr) -> Program:
    """The Program of one trace: every number as traced."""
    shapes = {}
    for k, t in enumerate(tr.inputs):
        shapes[("input", k)] = tuple(Sym.const(n) for n in t.shape)
    for j, r in enumerate(tr.records):
        for slot, t in enumerate(r.outs):
            shapes[("out", j, slot)] = tuple(Sym.const(n) for n in t.shape)
    consts = [ConstInfo("static", a) for a in tr.consts]
    return Program(tr, [r.params for r in tr.records], shapes, consts, {}, [], [])


def _where(tr, j):
    return tr.records[j].where if j < len(tr.records) else "the model's output"


def align(traces, d: Design, sources) -> Program:
    """Fit every number of ``traces`` (run at ``d.envs``); ``sources``: symbol -> (input, axis)."""
    tr = traces[0]
    _check_structure(traces)
    prog = static_program(tr)
    prog.symbols = dict(sources)
    for j, r in enumerate(tr.records):
        prog.params[j] = _fit_params([t.records[j].params for t in traces], d, prog, r.where)
        for slot in range(len(r.outs)):
            prog.shapes[("out", j, slot)] = _fit_shape([t.records[j].outs[slot].shape for t in traces], d)
    for k in range(len(tr.inputs)):
        prog.shapes[("input", k)] = _fit_shape([t.inputs[k].shape for t in traces], d)
    for c in range(len(tr.consts)):
        prog.consts[c] = _fit_const([t.consts[c] for t in traces], d, prog, _where(tr, tr.const_where[c]))
    return prog


def _check_structure(traces):
    base = traces[0]
    for t in traces[1:]:
        for j, (a, b) in enumerate(zip(base.records, t.records)):
            if a.op != b.op or a.inputs != b.inputs or _skeleton(a.params) != _skeleton(b.params):
                raise Divergence(f"{a.op_name} at {a.where} became {b.op_name} at {b.where}")
        if len(base.records) != len(t.records):
            n = min(len(base.records), len(t.records))
            longer = base if len(base.records) > n else t
            raise Divergence(f"the op count differs ({len(base.records)} vs {len(t.records)}); the first extra op "
                             f"is {longer.records[n].op_name} at {longer.records[n].where}")
        if base.outputs != t.outputs or len(base.consts) != len(t.consts):
            raise Divergence("the outputs or the constants differ")


def _skeleton(v):
    """``v`` with every int replaced by a marker: what must be equal across traces."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, np.integer)):
        return int
    if isinstance(v, float):
        return float
    if isinstance(v, dict):
        return {k: _skeleton(e) for k, e in v.items()}
    if isinstance(v, (tuple, list)):
        return (type(v),) + tuple(_skeleton(e) for e in v)
    if isinstance(v, slice):
        return (slice, _skeleton(v.start), _skeleton(v.stop), _skeleton(v.step))
    if isinstance(v, ArrayRef):
        return (ArrayRef, v.ref, None if v.shape is None else _skeleton(v.shape))
    return v


def _fit_params(versions, d, prog, where):
    v0 = versions[0]
    if isinstance(v0, bool) or v0 is None:
        return v0
    if isinstance(v0, (int, np.integer)):
        s = fit([int(v) for v in versions], d)
        if s is None:
            prog.problems.append((where, (f"the number {int(v0)} changes with the input size as "
                                         f"{[int(v) for v in versions]} (no linear rule)")))
            return int(v0)
        return int(v0) if s.is_static else s
    if isinstance(v0, float):
        if any(v != v0 for v in versions):
            prog.warnings.append((where, (f"the number {v0!r} is different for other inputs: it was computed from "
                                         f"the input's values and is exported as traced")))
        return v0
    if isinstance(v0, dict):
        return {k: _fit_params([v[k] for v in versions], d, prog, where) for k in v0}
    if isinstance(v0, (tuple, list)):
        out = [_fit_params([v[i] for v in versions], d, prog, where) for i in range(len(v0))]
        return type(v0)(out)
    if isinstance(v0, slice):
        parts = [_fit_params([getattr(v, a) for v in versions], d, prog, where) for a in ("start", "stop", "step")]
        return slice(*parts)
    if isinstance(v0, ArrayRef) and v0.shape is not None:
        return ArrayRef(v0.ref, tuple(_fit_params([v.shape for v in versions], d, prog, where)))
    return v0


def _fit_shape(shapes, d):
    return tuple(fit([s[i] for s in shapes], d) for i in range(len(shapes[0])))


def _fit_const(arrays, d, prog, where) -> ConstInfo:
    a0 = arrays[0]
    if all(a.shape == a0.shape for a in arrays) and all(np.array_equal(a, a0, equal_nan=True) for a in arrays):
        return ConstInfo("static", a0)
    fill = _fitted_fill(arrays, d)
    if all(a.shape == a0.shape for a in arrays):
        if fill is not None and not isinstance(fill, (int, float)):  # x / x.size(0): a number that follows a dim
            return ConstInfo("fill", a0, tuple(Sym.const(n) for n in a0.shape), fill)
        prog.warnings.append((where, (f"a tensor of shape {a0.shape} made inside forward has other values for "
                                     f"other inputs (it was computed from the input's values); it is exported "
                                     f"with the example's values")))
        return ConstInfo("static", a0)
    shape = _fit_shape([a.shape for a in arrays], d) if all(a.ndim == a0.ndim for a in arrays) else None
    if shape is None or any(s is None for s in shape):
        prog.problems.append((where, (f"a tensor made inside forward has shape {a0.shape} here, "
                                     f"{arrays[1].shape} at another input size (no linear rule)")))
        return ConstInfo("static", a0)
    if fill is not None:
        return ConstInfo("fill", a0, shape, fill)
    axis = _range_axis(arrays, shape)
    if axis is not None:
        return ConstInfo("range", a0, shape, axis=axis)
    prog.problems.append((where, (f"a tensor made inside forward has shape {a0.shape} here and "
                                 f"{arrays[1].shape} at another input size, with values that are neither one "
                                 f"number nor 0, 1, 2, ... (build it from the input with nnbasics ops, e.g. "
                                 f"zeros_like)")))
    return ConstInfo("static", a0)


def _fitted_fill(arrays, d):
    """The one value every array is filled with: a number, a Sym (an integer that follows the dims), or None."""
    if not all(a.size and (a == a.flat[0]).all() for a in arrays):
        return None
    fills = [a.flat[0].item() for a in arrays]
    if all(f == fills[0] for f in fills):
        return fills[0]
    if all(float(f).is_integer() for f in fills):
        return fit([int(f) for f in fills], d)
    return None


def _range_axis(arrays, shape):
    """The one symbolic axis along which every array is 0, 1, ..., n-1 (all other dims 1), or None."""
    axes = [i for i, n in enumerate(shape) if not n.is_static]
    if len(axes) != 1 or any(n.is_static and n.value != 1 for n in shape) or arrays[0].dtype.kind not in "iuf":
        return None
    for a in arrays:
        if not np.array_equal(a.reshape(-1), np.arange(a.size)):
            return None
    return axes[0]
