"""Tensor constructors with torch's signatures: ``torch.tensor``, ``zeros``, ``randn``, ``arange``...

Each takes torch's keywords (``dtype``, ``device``, ``requires_grad``, ``generator`` for the random
ones) and builds an :class:`nnbasics.Tensor`. Random draws come from the global generator
(:mod:`._random`, reseeded by ``torch.manual_seed``). Python floats become the default dtype
(float32), Python ints int64, bools bool; NumPy arrays keep their dtype, as in torch.

Example:
    >>> zeros(2, 3).shape, arange(5).dtype.name, tensor([1.5]).dtype.name
    ((2, 3), 'int64', 'float32')
"""

from __future__ import annotations

import numbers

import numpy as np

from ...tensor import Tensor
from ...tensor import as_tensor as _wrap  # nnbasics' own: keeps the dtype, shares memory
from . import _random
from ._dtypes import check_device, get_default_dtype, resolve_dtype
from ._out import accepts_out

__all__ = [
    "arange", "as_tensor", "bernoulli", "empty", "empty_like", "eye", "from_numpy", "full",
    "full_like", "linspace", "logspace", "multinomial", "normal", "ones", "ones_like", "rand", "rand_like",
    "randint", "randint_like", "randn", "randn_like", "randperm", "tensor", "zeros", "zeros_like",
]


def _array(x):
    return np.asarray(x) if isinstance(x, Tensor) else x


def _finish(arr, requires_grad, device, api):
    check_device(device, api)
    t = _wrap(np.ascontiguousarray(arr) if arr.ndim else np.asarray(arr))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size, api):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise TypeError(f"{api}: sizes must be non-negative ints; got {size}.")
        out.append(int(s))
    return tuple(out)


def _from_data(data, dtype):
    """torch.tensor's dtype rules on NumPy."""
    if isinstance(data, Tensor):
        arr = np.array(np.asarray(data))
    elif isinstance(data, np.ndarray):
        arr = np.array(data)
    else:
        arr = np.array(_unwrap_nested(data))
        if dtype is None:
            if arr.dtype.kind == "f":
                arr = arr.astype(get_default_dtype())
            elif arr.dtype.kind in "iu":
                arr = arr.astype(np.int64)
            elif arr.dtype.kind not in "b":
                raise TypeError(f"torch.tensor: cannot build a tensor from {type(data).__name__} holding "
                                f"{arr.dtype} values; give numbers, nested lists of numbers or an ndarray.")
    if dtype is not None:
        arr = arr.astype(resolve_dtype(dtype, "torch.tensor"))
    return arr


def _unwrap_nested(data):
    if isinstance(data, Tensor):
        return np.asarray(data)
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(d) for d in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """``torch.tensor``: a new tensor holding a copy of ``data``."""
    return _finish(_from_data(data, dtype), requires_grad, device, "torch.tensor")


def as_tensor(data, dtype=None, device=None):
    """``torch.as_tensor``: shares memory with an ndarray or Tensor of the right dtype, else copies."""
    check_device(device, "torch.as_tensor")
    d = resolve_dtype(dtype, "torch.as_tensor")
    if isinstance(data, Tensor) and (d is None or data.dtype == d):
        return data
    if isinstance(data, np.ndarray):
        return _wrap(data if d is None else data.astype(d, copy=False))
    return _wrap(_from_data(data, d))


def from_numpy(array):
    """``torch.from_numpy``: a tensor over the same memory as ``array`` (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"torch.from_numpy: expected an np.ndarray; got {type(array).__name__}.")
    return _wrap(array)


def _dtype_or_default(dtype):
    d = resolve_dtype(dtype)
    return get_default_dtype() if d is None else d


@accepts_out
def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _finish(np.zeros(_size(size, "torch.zeros"), _dtype_or_default(dtype)), requires_grad, device,
                   "torch.zeros")


@accepts_out
def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _finish(np.ones(_size(size, "torch.ones"), _dtype_or_default(dtype)), requires_grad, device, "torch.ones")


@accepts_out
def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None):
    # NOTE: torch leaves the memory uninitialized; zeros are one valid content, and reproducible.
    return _finish(np.zeros(_size(size, "torch.empty"), _dtype_or_default(dtype)), requires_grad, device,
                   "torch.empty")


@accepts_out
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, numbers.Integral)
                 else get_default_dtype())
    size = _size((size,) if isinstance(size, numbers.Integral) else (tuple(size),), "torch.full")
    return _finish(np.full(size, _array(fill_value), resolve_dtype(dtype)), requires_grad, device, "torch.full")


def _like(name, fill):
    def like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
        a = np.asarray(input)
        d = resolve_dtype(dtype) or a.dtype
        return _finish(fill(a.shape, d), requires_grad, device, f"torch.{name}")

    like.__name__ = like.__qualname__ = name
    like.__doc__ = f"``torch.{name}``: a new tensor of ``input``'s shape (and dtype unless given)."
    return like


zeros_like = _like("zeros_like", lambda s, d: np.zeros(s, d))
ones_like = _like("ones_like", lambda s, d: np.ones(s, d))
empty_like = _like("empty_like", lambda s, d: np.zeros(s, d))
rand_like = _like("rand_like", lambda s, d: _random.generator().random(s).astype(d))
randn_like = _like("randn_like", lambda s, d: _random.generator().standard_normal(s).astype(d))


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    a = np.asarray(input)
    return _finish(np.full(a.shape, _array(fill_value), resolve_dtype(dtype) or a.dtype), requires_grad, device,
                   "torch.full_like")


@accepts_out
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None):
    """``torch.arange``: int64 for integer arguments, the default float dtype otherwise."""
    if end is None:
        start, end = 0, start
    start, end, step = (_array(v).item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    d = resolve_dtype(dtype)
    if d.kind == "f":  # NOTE: torch counts ceil((end - start) / step) points in double precision
        n = int(np.ceil((end - start) / step))
        arr = (start + step * np.arange(max(n, 0), dtype=np.float64)).astype(d)
    else:
        arr = np.arange(start, end, step).astype(d)
    return _finish(arr, requires_grad, device, "torch.arange")


@accepts_out
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(np.linspace(float(start), float(end), int(steps)).astype(_dtype_or_default(dtype)),
                   requires_grad, device, "torch.linspace")


@accepts_out
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(np.logspace(float(start), float(end), int(steps), base=base).astype(_dtype_or_default(dtype)),
                   requires_grad, device, "torch.logspace")


@accepts_out
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(np.eye(int(n), None if m is None else int(m), dtype=_dtype_or_default(dtype)), requires_grad,
                   device, "torch.eye")


@accepts_out
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Uniform on [0, 1) from the global generator (or ``generator``)."""
    g = _random.resolve(generator)
    return _finish(g.random(_size(size, "torch.rand")).astype(_dtype_or_default(dtype)), requires_grad, device,
                   "torch.rand")


@accepts_out
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Standard normal from the global generator (or ``generator``)."""
    g = _random.resolve(generator)
    return _finish(g.standard_normal(_size(size, "torch.randn")).astype(_dtype_or_default(dtype)), requires_grad,
                   device, "torch.randn")


@accepts_out
def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """``torch.randint(high, size)`` or ``torch.randint(low, high, size)``: int64 in [low, high)."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("torch.randint: give size, e.g. torch.randint(0, 10, (3,)).")
    if high is None:
        low, high = 0, low
    g = _random.resolve(generator)
    arr = g.integers(int(low), int(high), _size((tuple(size),), "torch.randint"))
    return _finish(arr.astype(resolve_dtype(dtype) or np.int64), requires_grad, device, "torch.randint")


def randint_like(input, low, high=None, *, dtype=None, device=None):
    if high is None:
        low, high = 0, low
    a = np.asarray(input)
    return _finish(_random.generator().integers(int(low), int(high), a.shape).astype(resolve_dtype(dtype) or a.dtype),
                   False, device, "torch.randint_like")


@accepts_out
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """A random permutation of ``0 .. n-1`` (int64)."""
    g = _random.resolve(generator)
    return _finish(g.permutation(int(n)).astype(resolve_dtype(dtype) or np.int64), requires_grad, device,
                   "torch.randperm")


@accepts_out
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """``torch.normal``: tensors or floats for ``mean``/``std`` (broadcast), or floats and ``size``."""
    g = _random.resolve(generator)
    m, s = _array(mean), _array(std)
    shape = _size((tuple(size),), "torch.normal") if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    d = resolve_dtype(dtype) or (np.asarray(m).dtype if isinstance(mean, Tensor) else
                                 np.asarray(s).dtype if isinstance(std, Tensor) else get_default_dtype())
    return _finish((m + s * g.standard_normal(shape)).astype(d), requires_grad, device, "torch.normal")


@accepts_out
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 draws with probabilities ``input`` (or the scalar ``p``), in ``input``'s dtype."""
    a = np.asarray(input)
    probs = a if p is None else np.full(a.shape, p)
    g = _random.resolve(generator)
    return _wrap((g.random(a.shape) < probs).astype(a.dtype))


@accepts_out
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn with probabilities proportional to the rows of ``input`` ((C,) or (N, C)); int64."""
    a = np.asarray(input, np.float64)
    g = _random.resolve(generator)
    rows = a[None] if a.ndim == 1 else a
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    out = []
    for r in rows:
        if r.min() < 0 or not np.isfinite(r).all() or r.sum() <= 0:
            raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
        out.append(g.choice(len(r), size=int(num_samples), replace=bool(replacement), p=r / r.sum()))
    res = np.asarray(out, np.int64)
    return _wrap(res[0] if a.ndim == 1 else res)
