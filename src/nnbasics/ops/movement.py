"""Movement primitives: reshape, permute, expand, getitem, concatenate, pad, gather.

``squeeze``, ``unsqueeze``, ``flatten``, ``transpose``, ``stack`` and ``split``
are composed from these (no backward of their own).
"""

from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import is_int_dtype, xp
from ..tensor import Tensor
from ..views import register
from .util import as_operand, normalize_dim, retype, sum_to

__all__ = ["alias", "as_index", "cat", "chunk", "concatenate", "expand", "flatten", "gather", "getitem", "pad",
           "permute", "repeat", "reshape", "split", "squeeze", "stack", "take_along_axis", "transpose", "unsqueeze",
           "view"]


class Reshape(Function):
    """z = x viewed with a new shape.  dx = g reshaped back."""

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)


class Permute(Function):
    """z = x with its dims reordered by ``dims``.  dx = g with the inverse order."""

    def forward(self, x, dims):
        self.inv = tuple(sorted(range(len(dims)), key=dims.__getitem__))  # argsort, without NumPy's overhead
        return x.transpose(dims)

    def backward(self, g):
        return (g.transpose(self.inv),)


class Expand(Function):
    """z = x broadcast to ``shape`` (a read-only view).  dx = g summed over the stretched dims."""

    def forward(self, x, shape):
        self.shape = x.shape
        return xp.broadcast_to(x, shape)

    def backward(self, g):
        return (sum_to(g, self.shape),)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, numbers.Integral)) for i in items)


def as_index(index):
    """Turn Tensors inside an index into arrays, and refuse float indices with a clear message."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            i = i._array
        elif isinstance(i, list):
            i = xp.asarray(i)
        if isinstance(i, float) or (hasattr(i, "dtype") and not (is_int_dtype(i.dtype) or i.dtype == xp.bool_)):
            raise TypeError(
                f"index must be an int, a slice, or an integer/bool tensor; got "
                f"{getattr(i, 'dtype', type(i).__name__)}. Convert float indices with .long()."
            )
        out.append(i)
    return tuple(out) if isinstance(index, tuple) else out[0]


class GetItem(Function):
    """z = x[index].  dx = zeros with g added at ``index`` (scatter-add: repeated indices accumulate)."""

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, g):
        return (scatter_index(xp.zeros(self.shape, dtype=g.dtype), self.index, g),)


def scatter_index(out, index, g):
    """``out[index] += g`` where positions may repeat (integer arrays); ``out`` returned."""
    if _is_basic(index) or (not isinstance(index, tuple) and getattr(index, "dtype", None) == xp.bool_):
        out[index] = g  # no position repeats: plain assignment
    else:
        xp.add.at(out, index, g)
    return out


class Concatenate(Function):
    """z = inputs joined along ``dim``.  Each input's gradient is its slice of g."""

    def forward(self, *xs, dim):
        self.dim = dim
        self.bounds = xp.cumsum([x.shape[dim] for x in xs])[:-1]
        return xp.concatenate(xs, axis=dim)

    def backward(self, g):
        return tuple(xp.split(g, self.bounds, axis=self.dim))


class Pad(Function):
    """z = x padded with a constant.  dx = the centre slice of g."""

    def forward(self, x, widths, value):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return xp.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return (g[self.slices],)


class TakeAlongAxis(Function):
    """z = take_along_axis(x, idx, axis).  dx: g scattered (added) back to the picked positions."""

    def forward(self, x, idx, axis):
        self.shape, self.idx, self.axis = x.shape, idx, axis
        return xp.take_along_axis(x, idx, axis=axis)

    def backward(self, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        if hasattr(xp, "put_along_axis") and self.idx.shape[self.axis] == 1:
            xp.put_along_axis(out, self.idx, g, axis=self.axis)  # one pick per row: no repeats
        else:
            full_idx = list(xp.indices(self.idx.shape, sparse=True))
            full_idx[self.axis] = self.idx
            xp.add.at(out, tuple(full_idx), g)
        return (out,)


# ----------------------------------------------------------------- functions
def _as_view(out, x):
    """Mark ``out`` as a view of ``x`` when its array is one (NumPy did not copy): they share the version
    counter, so an in-place change through either is seen by backward (nnbasics.versions)."""
    xa, base = x._array, out._array.base
    if base is not None and (base is xa or base is xa.base):
        out._vc = x._vc
        out._base = x if x._base is None else x._base
        register(out, out._base)  # its history follows in-place changes of the base (nnbasics.views)
    return out


def _shape_tuple(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x, *shape) -> Tensor:
    """View with a new shape (one dim may be -1). ``reshape(x, 2, 3)`` or ``reshape(x, (2, 3))``."""
    x = as_operand(x)
    shape = _shape_tuple(shape)
    if shape == x.shape:
        return x
    try:
        return _as_view(Reshape.apply(x, shape=shape), x)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x._array.size} elements) into {shape}."
        ) from None


def view(x, *shape) -> Tensor:
    """PyTorch's ``view``: :func:`reshape` that never copies, sharing ``x``'s memory.

    Refused, as in PyTorch, for a tensor made non-contiguous by the user (a transpose, permute,
    expand or strided slice of another tensor) when the new shape needs a copy. An op's output is
    contiguous as far as PyTorch code can tell even where nnbasics keeps it in another layout
    (convolutions and pooling work channels-last): such a tensor is first put in C order in place.
    """
    x = as_operand(x)
    out = reshape(x, *shape)
    if out._vc is x._vc or not x._array.size:  # shares memory: a view
        return out
    if x._base is not None:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape {x.shape} after a transpose "
            f"or permute is not contiguous in memory). Use .reshape(...) instead (it copies when it must), or "
            f".contiguous().view(...)."
        )
    x._array = xp.ascontiguousarray(x._array)  # NOTE: same values; what backward kept is untouched
    return reshape(x, *shape)


def alias(x) -> Tensor:
    """A new tensor over the same memory and, when ``x`` records, the same graph (``Tensor(x)``)."""
    x = as_operand(x)
    return _as_view(Reshape.apply(x, shape=x.shape), x)


def flatten(x, start_dim=0, end_dim=-1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one. Shape (N, C, H, W) -> (N, C*H*W) for start_dim=1."""
    x = as_operand(x)
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = normalize_dim(start_dim, x.ndim), normalize_dim(end_dim, x.ndim)
    return reshape(x, *x.shape[:s], -1, *x.shape[e + 1:])


def permute(x, *dims) -> Tensor:
    """Reorder dimensions; ``dims`` is a permutation of range(ndim)."""
    x = as_operand(x)
    given = _shape_tuple(dims)
    dims = tuple([normalize_dim(d, x.ndim) for d in given])
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {given} is not a permutation of the {x.ndim} dims of shape {x.shape}.")
    if dims == tuple(range(x.ndim)):
        return x
    return _as_view(Permute.apply(x, dims=dims), x)


def transpose(x, dim0=None, dim1=None) -> Tensor:
    """Swap ``dim0`` and ``dim1``; with no dims, reverse all (a 2-D matrix transpose)."""
    x = as_operand(x)
    if dim0 is None and dim1 is None:
        return permute(x, *reversed(range(x.ndim)))
    order = list(range(x.ndim))
    a, b = normalize_dim(dim0, x.ndim), normalize_dim(dim1, x.ndim)
    order[a], order[b] = order[b], order[a]
    return permute(x, *order)


def expand(x, *shape) -> Tensor:
    """Broadcast to ``shape`` without copying (-1 keeps a dim)."""
    x = as_operand(x)
    shape = _shape_tuple(shape)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if shape == x.shape:
        return x
    try:
        return _as_view(Expand.apply(x, shape=shape), x)
    except ValueError:
        raise ValueError(f"expand: cannot broadcast shape {x.shape} to {shape}.") from None


broadcast_to = expand


def squeeze(x, dim=None) -> Tensor:
    """Remove size-1 dims (all, or just ``dim`` when it has size 1)."""
    x = as_operand(x)
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        dims = {normalize_dim(d, x.ndim) for d in dims}
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return reshape(x, shape)


def unsqueeze(x, dim) -> Tensor:
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the result)."""
    x = as_operand(x)
    d = normalize_dim(dim, x.ndim, extra=1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def getitem(x, index) -> Tensor:
    """``x[index]`` with slices, ints, None, Ellipsis, integer arrays and bool masks.

    The backward adds gradients at repeated integer indices (scatter-add).
    """
    x = as_operand(x)
    index = as_index(index)
    try:
        out = _as_view(GetItem.apply(x, index=index), x)
    except IndexError as e:
        raise IndexError(f"getitem: index out of range for shape {x.shape}: {e}") from None
    if out._base is x:  # a view of x itself: an in-place change of it can be written as x[index] = ...
        out._view_index = index
    return out


def concatenate(tensors, dim=0) -> Tensor:
    """Join tensors along an existing dim; all other dims must match."""
    ts = [as_operand(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: needs at least one tensor.")
    d = normalize_dim(dim, ts[0].ndim)
    for t in ts[1:]:
        if t.ndim != ts[0].ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if i != d):
            raise ValueError(
                f"concatenate: shapes {[tuple(t.shape) for t in ts]} differ outside dim {d}."
            )
    dtypes = {t.dtype for t in ts}
    if len(dtypes) > 1:  # PyTorch's rule: the floats' dtype (NumPy would give float64 for float32 with int64)
        floats = [dt for dt in dtypes if dt.kind == "f"]
        dt = xp.result_type(*(floats or dtypes))
        ts = [t if t.dtype == dt else retype(t, dt) for t in ts]
    return Concatenate.apply(*ts, dim=d)


cat = concatenate


def stack(tensors, dim=0) -> Tensor:
    """Join same-shape tensors along a new dim ``dim``."""
    ts = [as_operand(t) for t in tensors]
    if not ts:
        raise ValueError("stack: needs at least one tensor.")
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: all tensors need the same shape; got {[tuple(t.shape) for t in ts]}.")
    d = normalize_dim(dim, ts[0].ndim, extra=1)
    return concatenate([unsqueeze(t, d) for t in ts], dim=d)


def split(x, split_size_or_sections, dim=0) -> list:
    """Split along ``dim`` into chunks of ``split_size`` (last may be smaller), or of the listed sizes.

    Follows ``torch.split``: an int is a chunk size, a list gives each chunk's size.
    """
    x = as_operand(x)
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive; got {step}.")
        sizes = [min(step, n - i) for i in range(0, n, step)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {d} has size {n}.")
    out, start = [], 0
    for s in sizes:
        idx = (slice(None),) * d + (slice(start, start + s),)
        out.append(getitem(x, idx))
        start += s
    return out


def chunk(x, chunks, dim=0) -> list:
    """PyTorch's ``chunk``: at most ``chunks`` pieces of ceil(size / chunks) along ``dim`` (the last may be smaller)."""
    x = as_operand(x)
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int; got {chunks!r}.")
    n = x.shape[normalize_dim(dim, x.ndim)]
    return split(x, max(-(-n // int(chunks)), 1), dim)


def repeat(x, *sizes) -> Tensor:
    """PyTorch's ``repeat`` (NumPy's ``tile``): ``sizes[i]`` copies along dim i; extra sizes add leading dims.

    Composed from reshape and expand: (s0, s1) -> (1, s0, 1, s1) -> (r0, s0, r1, s1) -> (r0*s0, r1*s1).
    """
    x = as_operand(x)
    sizes = _shape_tuple(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: give at least one size per dim ({x.ndim}); got {sizes}.")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    inter = tuple(v for s in shape for v in (1, s))
    wide = tuple(v for r, s in zip(sizes, shape) for v in (r, s))
    return reshape(expand(reshape(x, inter), wide), tuple(r * s for r, s in zip(sizes, shape)))


def pad(x, pad_width, value=0.0) -> Tensor:
    """Pad with a constant. ``pad_width`` is NumPy's: ((before, after), ...) per dim, or one int for all."""
    x = as_operand(x)
    if isinstance(pad_width, numbers.Integral):
        widths = ((int(pad_width), int(pad_width)),) * x.ndim
    else:
        widths = tuple((int(a), int(b)) for a, b in pad_width)
    if len(widths) != x.ndim or any(a < 0 or b < 0 for a, b in widths):
        raise ValueError(f"pad: need one non-negative (before, after) pair per dim of shape {x.shape}; got {widths}.")
    return Pad.apply(x, widths=widths, value=value)


def take_along_axis(x, indices, axis) -> Tensor:
    """NumPy's ``take_along_axis``: pick along ``axis`` with an integer index array of the same rank."""
    x = as_operand(x)
    idx = indices._array if isinstance(indices, Tensor) else xp.asarray(indices)
    if not is_int_dtype(idx.dtype):
        raise TypeError(f"take_along_axis: indices must be integers; got {idx.dtype}. Use .long().")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices have {idx.ndim} dims, the tensor {x.ndim} ({x.shape}).")
    axis = normalize_dim(axis, x.ndim)
    # NOTE: NumPy broadcasts x and indices outside ``axis``; do it here so the backward sees equal shapes.
    other = lambda s: s[:axis] + (1,) + s[axis + 1:]  # noqa: E731
    try:
        shape = xp.broadcast_shapes(other(x.shape), other(idx.shape))
    except ValueError:
        raise ValueError(
            f"take_along_axis: indices of shape {idx.shape} do not broadcast against {x.shape} outside axis {axis}."
        ) from None
    x_shape = shape[:axis] + (x.shape[axis],) + shape[axis + 1:]
    if x_shape != x.shape:
        x = expand(x, x_shape)
    idx = xp.broadcast_to(idx, shape[:axis] + (idx.shape[axis],) + shape[axis + 1:])
    return TakeAlongAxis.apply(x, idx=idx, axis=axis)


def gather(x, dim, index) -> Tensor:
    """PyTorch's ``gather``: out[i][j] = x[i][index[i][j]] for dim=1.

    As in PyTorch (and unlike NumPy's take_along_axis, which broadcasts), ``index`` may be
    smaller than ``x`` outside ``dim``: the output has the shape of ``index``.
    """
    x = as_operand(x)
    idx = index._array if isinstance(index, Tensor) else xp.asarray(index)
    if idx.ndim == x.ndim:
        d = normalize_dim(dim, x.ndim)
        if any(i != d and s > n for i, (s, n) in enumerate(zip(idx.shape, x.shape))):
            raise ValueError(f"gather: index of shape {idx.shape} is larger than x {x.shape} outside dim {d}.")
        if any(i != d and s < n for i, (s, n) in enumerate(zip(idx.shape, x.shape))):
            x = getitem(x, tuple(slice(None) if i == d else slice(0, s) for i, s in enumerate(idx.shape)))
    return take_along_axis(x, idx, dim)
