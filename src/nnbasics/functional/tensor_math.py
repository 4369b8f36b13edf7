"""PyTorch's everyday tensor functions, composed from the primitives (gradients come from those).

Arithmetic: ``square``, ``reciprocal``, ``rsqrt``, ``exp2``, ``log2``, ``log10``, ``clamp_min``,
``clamp_max``, ``lerp``, ``logaddexp``, ``hypot``, ``frac``, ``deg2rad``, ``rad2deg``, ``xlogy``.
Reductions: ``norm``, ``dist``, ``std_mean``, ``var_mean``, ``diff``, ``count_nonzero``.
Products: ``dot``, ``mv``, ``outer``, ``bmm``, ``addmm``, ``trace``.
Structure: ``tril``, ``triu``, ``diag``, ``flip``, ``roll``, ``narrow``, ``index_select``,
``masked_select``, ``take``, ``unbind``, ``movedim``, ``swapaxes``, ``tile``, ``repeat_interleave``,
``tensor_split``, ``unflatten``.
Values only (no gradient, as in PyTorch): ``unique``, ``bincount``, ``histc``, ``argwhere``,
``nan_to_num``, ``isclose``, ``logical_and``/``or``/``xor``/``not``.

Each follows ``torch.<name>`` (arguments, defaults, result dtype); the parity tests are
``tests/engine/test_parity_tensor_math.py``.

Example:
    >>> import nnbasics as nb
    >>> x = nb.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> trace(x).item(), flip(x, 0).tolist(), tril(x).tolist()
    (5.0, [[3.0, 4.0], [1.0, 2.0]], [[1.0, 0.0], [3.0, 4.0]])
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from .. import ops as _ops
from ..ops.util import as_operand, normalize_dim
from ..tensor import Tensor, as_tensor

__all__ = [
    "addmm",
    "argwhere",
    "bincount",
    "bmm",
    "clamp_max",
    "clamp_min",
    "count_nonzero",
    "deg2rad",
    "diag",
    "diff",
    "dist",
    "dot",
    "exp2",
    "flip",
    "frac",
    "histc",
    "hypot",
    "index_select",
    "isclose",
    "lerp",
    "log2",
    "log10",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "masked_select",
    "movedim",
    "mv",
    "nan_to_num",
    "narrow",
    "norm",
    "outer",
    "rad2deg",
    "reciprocal",
    "repeat_interleave",
    "roll",
    "rsqrt",
    "square",
    "std_mean",
    "swapaxes",
    "take",
    "tensor_split",
    "tile",
    "trace",
    "tril",
    "triu",
    "unbind",
    "unflatten",
    "unique",
    "var_mean",
    "xlogy",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _t(x):
    return as_operand(x)


def _const(value, like):
    return Tensor._make(np.asarray(value, dtype=like.dtype if like.dtype.kind == "f" else np.float32), False, None)


# ------------------------------------------------------------------ arithmetic
def square(input):
    """x * x."""
    x = _t(input)
    return x * x


def reciprocal(input):
    """1 / x (integers become float32)."""
    x = _t(input)
    return 1.0 / (x if x.dtype.kind == "f" else x.float())


def rsqrt(input):
    """1 / sqrt(x)."""
    return reciprocal(_ops.sqrt(_t(input)))


def exp2(input):
    """2 ** x = e^(x ln 2)."""
    return _ops.exp(_t(input) * _LN2)


def log2(input):
    """ln x / ln 2."""
    return _ops.log(_t(input)) / _LN2


def log10(input):
    """ln x / ln 10."""
    return _ops.log(_t(input)) / _LN10


def clamp_min(input, min):
    """max(x, min)."""
    return _ops.clip(_t(input), min, None)


def clamp_max(input, max):
    """min(x, max)."""
    return _ops.clip(_t(input), None, max)


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    x = _t(input)
    return x + weight * (_t(end) - x)


def logaddexp(input, other):
    """ln(e^a + e^b), computed as max + ln(1 + e^-|a - b|)."""
    a, b = _t(input), _t(other)
    return _ops.maximum(a, b) + _ops.unary.log1p(_ops.exp(-(a - b).abs()))


def hypot(input, other):
    """sqrt(a^2 + b^2)."""
    a, b = _t(input), _t(other)
    return _ops.sqrt(a * a + b * b)


def frac(input):
    """x - trunc(x) (the sign of x kept)."""
    x = _t(input)
    return x - x.trunc()


def deg2rad(input):
    return _t(input) * (math.pi / 180.0)


def rad2deg(input):
    return _t(input) * (180.0 / math.pi)


def xlogy(input, other):
    """x * ln(y), and 0 where x == 0 (also when y is 0)."""
    x, y = _t(input), _t(other)
    # NOTE: only 0 * log(0) needs guarding: 0 * log(y) is already 0, with d/dx = log(y) as in torch
    safe_y = _ops.where((x == 0) & (y == 0), _const(1.0, y), y)
    return x * _ops.log(safe_y)


# ------------------------------------------------------------------ reductions
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over ``dim`` (all elements by default): (sum |x|^p)^(1/p); 'fro' is p=2; inf/-inf max/min |x|."""
    x = _t(input)
    if dtype is not None:
        x = x.to(dtype)
    if p in ("fro", None):
        p = 2
    if p == "nuc":
        raise ValueError("norm: p='nuc' (nuclear norm) is not supported; use numpy.linalg.norm on x.numpy().")
    if isinstance(dim, list):
        dim = tuple(dim)
    a = x.abs()
    if p == math.inf:
        return a.amax(dim, keepdim) if dim is not None else a.amax()
    if p == -math.inf:
        return a.amin(dim, keepdim) if dim is not None else a.amin()
    if p == 0:
        return (x != 0).to(x.dtype).sum(dim, keepdim) if dim is not None else (x != 0).to(x.dtype).sum()
    s = (a ** p).sum(dim, keepdim) if dim is not None else (a ** p).sum()
    if p == 1:
        return s
    # NOTE: d/ds s^(1/p) is inf at s = 0 and inf * 0 = nan; torch's norm has gradient 0 at 0
    zero = s == 0
    safe = _ops.where(zero, _const(1.0, s), s)
    return _ops.where(zero, _const(0.0, s), safe ** (1.0 / p))


def dist(input, other, p=2):
    """norm(input - other, p)."""
    return norm(_t(input) - _t(other), p)


def std_mean(input, dim=None, *, correction=1, keepdim=False):
    """(std, mean) over ``dim``."""
    x = _t(input)
    return x.std(dim, keepdim=keepdim, correction=correction), x.mean(dim, keepdim) if dim is not None else x.mean()


def var_mean(input, dim=None, *, correction=1, keepdim=False):
    """(var, mean) over ``dim``."""
    x = _t(input)
    return x.var(dim, keepdim=keepdim, correction=correction), x.mean(dim, keepdim) if dim is not None else x.mean()


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """n-th forward difference along ``dim``: out[i] = x[i + 1] - x[i]."""
    x = _t(input)
    d = normalize_dim(dim, x.ndim)
    if prepend is not None or append is not None:
        x = _ops.cat([t for t in (prepend, x, append) if t is not None], d)
    for _ in range(n):
        lo = narrow(x, d, 0, x.shape[d] - 1)
        hi = narrow(x, d, 1, x.shape[d] - 1)
        x = hi - lo if x.dtype.kind != "b" else (hi != lo)
    return x


def count_nonzero(input, dim=None):
    """Number of non-zero elements (int64), over ``dim``."""
    a = np.asarray(_t(input))
    return as_tensor(np.asarray(np.count_nonzero(a, axis=dim), dtype=np.int64))


# ------------------------------------------------------------------ products
def _check_dims(name, *pairs):
    for t, n in pairs:
        if t.ndim != n:
            raise RuntimeError(f"{name}: expected a {n}-D tensor, got {t.ndim}-D of shape {tuple(t.shape)}.")


def dot(input, other):
    """Inner product of two 1-D tensors."""
    a, b = _t(input), _t(other)
    _check_dims("dot", (a, 1), (b, 1))
    return _ops.matmul(a, b)


def mv(input, vec):
    """Matrix (n, m) times vector (m,)."""
    a, v = _t(input), _t(vec)
    _check_dims("mv", (a, 2), (v, 1))
    return _ops.matmul(a, v)


def outer(input, vec2):
    """(n,) x (m,) -> (n, m): a_i * b_j."""
    a, b = _t(input), _t(vec2)
    _check_dims("outer", (a, 1), (b, 1))
    return a.unsqueeze(1) * b.unsqueeze(0)


def bmm(input, mat2):
    """Batched matrix product (b, n, m) @ (b, m, p)."""
    a, b = _t(input), _t(mat2)
    _check_dims("bmm", (a, 3), (b, 3))
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {a.shape[0]} and {b.shape[0]}.")
    return _ops.matmul(a, b)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2)."""
    return beta * _t(input) + alpha * _ops.matmul(_t(mat1), _t(mat2))


def trace(input):
    """Sum of the main diagonal of a 2-D tensor."""
    x = _t(input)
    _check_dims("trace", (x, 2))
    return diag(x).sum()


# ------------------------------------------------------------------ structure
def _tri_mask(x, diagonal, lower):
    rows, cols = x.shape[-2], x.shape[-1]
    m = np.tri(rows, cols, k=diagonal, dtype=bool) if lower else ~np.tri(rows, cols, k=diagonal - 1, dtype=bool)
    return as_tensor(m)


def tril(input, diagonal=0):
    """The lower triangle (elements with j - i <= diagonal) of the last two dims; the rest 0."""
    x = _t(input)
    return _ops.where(_tri_mask(x, diagonal, True), x, _const(0, x).to(x.dtype))


def triu(input, diagonal=0):
    """The upper triangle (elements with j - i >= diagonal) of the last two dims; the rest 0."""
    x = _t(input)
    return _ops.where(_tri_mask(x, diagonal, False), x, _const(0, x).to(x.dtype))


def diag(input, diagonal=0):
    """1-D -> the square matrix with it on the ``diagonal``; 2-D -> that diagonal as 1-D."""
    x = _t(input)
    if x.ndim == 1:
        n = x.shape[0] + abs(diagonal)
        rows = np.arange(x.shape[0]) + max(-diagonal, 0)
        cols = np.arange(x.shape[0]) + max(diagonal, 0)
        eye = np.zeros((n, n, x.shape[0]), dtype=x.dtype)
        eye[rows, cols, np.arange(x.shape[0])] = 1
        return _ops.matmul(as_tensor(eye), x)
    if x.ndim == 2:
        r, c = x.shape
        start_r, start_c = max(-diagonal, 0), max(diagonal, 0)
        k = max(min(r - start_r, c - start_c), 0)
        return x[as_tensor(np.arange(k) + start_r), as_tensor(np.arange(k) + start_c)]
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor; got {x.ndim}-D.")


def flip(input, dims):
    """Reverse the order along each of ``dims``."""
    x = _t(input)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    index = [slice(None)] * x.ndim
    for d in dims:
        index[normalize_dim(d, x.ndim)] = slice(None, None, -1)
    return x[tuple(index)]


def roll(input, shifts, dims=None):
    """Shift elements circularly along ``dims`` (flattened when None), as ``torch.roll``."""
    x = _t(input)
    if dims is None:
        flat = x.reshape(-1)
        return roll(flat, shifts, 0).reshape(*x.shape)
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dims must have the same length; got {len(shifts)} and {len(dims)}.")
    for s, d in zip(shifts, dims):
        d = normalize_dim(d, x.ndim)
        n = x.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            x = _ops.cat([narrow(x, d, n - s, s), narrow(x, d, 0, n - s)], d)
    return x


def narrow(input, dim, start, length):
    """The slice ``start:start + length`` along ``dim`` (a view)."""
    x = _t(input)
    d = normalize_dim(dim, x.ndim)
    start = int(start) + (x.shape[d] if int(start) < 0 else 0)
    if start < 0 or length < 0 or start + length > x.shape[d]:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({x.shape[d]}).")
    index = [slice(None)] * x.ndim
    index[d] = slice(start, start + int(length))
    return x[tuple(index)]


def index_select(input, dim, index):
    """The entries at ``index`` (1-D int tensor) along ``dim``."""
    x = _t(input)
    idx = index if isinstance(index, Tensor) else as_tensor(np.asarray(index))
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise RuntimeError("index_select(): index must be a 1-D integer tensor.")
    d = normalize_dim(dim, max(x.ndim, 1))
    sel = [slice(None)] * x.ndim
    # NOTE: through recorded ops (reshape, cast): an index computed from the input stays computed in ONNX
    idx = idx if idx.ndim == 1 else idx.reshape(-1)
    sel[d] = idx if idx.dtype == np.int64 else idx.long()
    return x[tuple(sel)]


def masked_select(input, mask):
    """The elements where ``mask`` (broadcast to ``input``) is True, as a 1-D tensor."""
    x = _t(input)
    m = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
    return x[as_tensor(np.ascontiguousarray(m))]


def take(input, index):
    """The elements of the flattened input at ``index`` (result shaped like ``index``)."""
    x = _t(input)
    idx = np.asarray(index).astype(np.int64)
    return x.reshape(-1)[as_tensor(idx)]


def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple of tensors with that dim removed."""
    x = _t(input)
    d = normalize_dim(dim, x.ndim)
    index = [slice(None)] * x.ndim
    out = []
    for i in range(x.shape[d]):
        index[d] = i
        out.append(x[tuple(index)])
    return tuple(out)


def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination`` (ints or sequences)."""
    x = _t(input)
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    src = [normalize_dim(s, x.ndim) for s in src]
    dst = [normalize_dim(d, x.ndim) for d in dst]
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source and destination have different lengths ({len(src)} and {len(dst)}).")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return x.permute(*order)


def swapaxes(input, axis0, axis1):
    """``transpose(axis0, axis1)``."""
    return _t(input).transpose(axis0, axis1)


def tile(input, dims):
    """Repeat the whole tensor ``dims`` times per dimension (missing leading dims count as 1)."""
    x = _t(input)
    dims = tuple(dims)
    if len(dims) < x.ndim:
        dims = (1,) * (x.ndim - len(dims)) + dims
    return x.repeat(*dims)


def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times (an int or one count per element) along ``dim``."""
    x = _t(input)
    if dim is None:
        x, dim = x.reshape(-1), 0
    d = normalize_dim(dim, x.ndim)
    counts = np.asarray(repeats, dtype=np.int64)
    idx = np.repeat(np.arange(x.shape[d]), counts if counts.ndim else int(counts))
    return index_select(x, d, as_tensor(idx))


def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``n`` nearly equal parts (an int) or at the given indices, along ``dim``."""
    x = _t(input)
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(indices_or_sections, numbers.Integral):
        k = int(indices_or_sections)
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        bounds = np.cumsum([0] + sizes)
    else:
        bounds = [0] + [min(int(i), n) for i in indices_or_sections] + [n]
    return tuple(narrow(x, d, int(a), max(int(b) - int(a), 0)) for a, b in itertools.pairwise(bounds))


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    x = _t(input)
    d = normalize_dim(dim, x.ndim)
    return x.reshape(*x.shape[:d], *sizes, *x.shape[d + 1:])


# ------------------------------------------------------------------ values only
def _values(x):
    return np.asarray(_t(x))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with the inverse indices and the counts."""
    a = _values(input)
    res = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
    out = [as_tensor(res[0])]
    if return_inverse:
        out.append(as_tensor(res[1].reshape(a.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(as_tensor(res[2].astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Count of each non-negative int (weighted sums when ``weights`` is given)."""
    a = _values(input)
    w = None if weights is None else _values(weights)
    res = np.bincount(a, weights=w, minlength=minlength)
    return as_tensor(res.astype(np.int64) if w is None else res.astype(w.dtype if w.dtype.kind == "f" else np.float64))


def histc(input, bins=100, min=0, max=0):
    """Histogram of ``bins`` equal bins over [min, max] (the data's range when both are 0)."""
    a = _values(input).astype(np.float64)
    lo, hi = (float(a.min()), float(a.max())) if min == 0 and max == 0 and a.size else (float(min), float(max))
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(a[(a >= lo) & (a <= hi)], bins=int(bins), range=(lo, hi))
    return as_tensor(counts.astype(_values(input).dtype if _values(input).dtype.kind == "f" else np.float32))


def argwhere(input):
    """Indices of the non-zero elements, one row per element (int64, shape (n, ndim))."""
    return as_tensor(np.argwhere(_values(input)).astype(np.int64))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +inf/-inf -> ``posinf``/``neginf`` (default: the dtype's largest/smallest finite value)."""
    x = _t(input)
    a = x._array
    fixed = np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)
    keep = as_tensor(np.isfinite(a))
    return _ops.where(keep, x, as_tensor(fixed.astype(a.dtype)))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol * |b|, elementwise (bool)."""
    return as_tensor(np.isclose(_values(input), _values(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def _truth(x):
    """``x != 0`` as a bool tensor (bool tensors as they are), through ops an ONNX trace records."""
    x = _t(x)
    return x if x.dtype == np.bool_ else x != 0


def logical_and(input, other):
    return _ops.elementwise.logical("and", _truth(input), _truth(other))


def logical_or(input, other):
    return _ops.elementwise.logical("or", _truth(input), _truth(other))


def logical_xor(input, other):
    return _ops.elementwise.logical("xor", _truth(input), _truth(other))


def logical_not(input):
    return _ops.elementwise.logical("invert", _truth(input))
