"""Functions that make tensors: ``tensor``, ``as_tensor``, ``from_numpy``, ``zeros``, ``randn``...

Names, arguments and dtypes follow PyTorch: ``tensor`` copies, ``as_tensor`` and
``from_numpy`` share memory where they can; Python floats give float32, Python ints
int64, bools bool, and an ndarray keeps its dtype. Every factory takes ``dtype=``,
``device=`` (only the CPU exists: see :mod:`nnbasics.device`) and ``requires_grad=``.
Random factories draw from ``rng`` (or PyTorch's name ``generator``): a Generator,
an int seed, or None for the default generator that :func:`nnbasics.manual_seed` seeds.
"""

from __future__ import annotations

import numbers
import warnings

from .backend import default_float, xp
from .device import check_device
from .rng import as_generator
from .tensor import Tensor
from .tensor_base import check_grad_dtype, to_array

__all__ = [
    "arange",
    "as_tensor",
    "empty",
    "empty_like",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "tensor",
    "zeros",
    "zeros_like",
]


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"shape must be non-negative ints; got {shape}.")
    return tuple(int(s) for s in shape)


def _dtype_arg(dtype):
    return default_float if dtype is None else xp.dtype(dtype)


def _new(arr, requires_grad, device=None):
    check_device(device)
    if requires_grad:
        check_grad_dtype(arr)
    return Tensor._make(arr, bool(requires_grad), None)


def _rng(rng, generator):
    if generator is not None:
        if rng is not None:
            raise TypeError("give rng= or generator= (PyTorch's name), not both.")
        return as_generator(generator)
    return as_generator(rng)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (``torch.tensor``).

    Python floats become float32, Python ints int64, bools bool; ndarrays keep their dtype.
    Copying a Tensor works but warns, as PyTorch does: use ``t.clone().detach()``.

    Example:
        >>> tensor([[1.0, 2.0]]).shape
        (1, 2)
        >>> tensor([1, 2]).dtype
        dtype('int64')
    """
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, use sourceTensor.clone().detach() (or "
            ".clone().detach().requires_grad_(True)) rather than tensor(sourceTensor).",
            UserWarning, stacklevel=2,
        )
    return _new(to_array(data, dtype, copy=True), requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Wrap ``data`` as a Tensor without copying where possible (``torch.as_tensor``).

    A Tensor of the right dtype is returned as is; an ndarray of the right dtype is shared
    (writes show through both ways); anything else is converted.
    """
    check_device(device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == xp.dtype(dtype)):
        return data
    return Tensor._make(to_array(data, dtype), False, None)


def from_numpy(ndarray) -> Tensor:
    """A tensor sharing the memory of a NumPy array, keeping its dtype (``torch.from_numpy``).

    Example:
        >>> import numpy as np
        >>> a = np.zeros(2); t = from_numpy(a); a[0] = 5.0
        >>> t.tolist(), t.dtype
        ([5.0, 0.0], dtype('float64'))
    """
    if not isinstance(ndarray, xp.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray (got {type(ndarray).__name__}); "
                        "use nnbasics.tensor(data) for lists and numbers.")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: can't convert an array of dtype {ndarray.dtype}; "
                        "the supported kinds are float, int, uint and bool.")
    return Tensor._make(ndarray, False, None)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Tensor of zeros. ``zeros(2, 3)`` and ``zeros((2, 3))`` are the same."""
    return _new(xp.zeros(_shape_arg(size), dtype=_dtype_arg(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Tensor of ones."""
    return _new(xp.ones(_shape_arg(size), dtype=_dtype_arg(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.empty``: a tensor of ``size`` whose values are unspecified (here: zeros)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Tensor of ``size`` filled with ``fill_value``; the dtype is inferred from it as PyTorch does

    (a Python bool gives bool, an int int64, a float float32).
    """
    size = _shape_arg((size,) if isinstance(size, numbers.Integral) else tuple(size))
    if dtype is None:
        dtype = to_array(fill_value).dtype
    return _new(xp.full(size, fill_value, dtype=xp.dtype(dtype)), requires_grad, device)


def _like(t, dtype):
    d = to_array(t)
    return d.shape, (d.dtype if dtype is None else xp.dtype(dtype))


def zeros_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return _new(xp.zeros(shape, dtype=dt), requires_grad, device)


def ones_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return _new(xp.ones(shape, dtype=dt), requires_grad, device)


empty_like = zeros_like


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return _new(xp.full(shape, fill_value, dtype=dt), requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to, not including, ``end``.

    Integer arguments give int64 (as PyTorch); any float argument gives float32.
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = xp.int64 if ints else default_float
    return _new(xp.arange(start, end, step).astype(dtype), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default)."""
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int; got {steps!r}.")
    return _new(xp.linspace(start, end, int(steps)).astype(_dtype_arg(dtype)), requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The (n, m) identity matrix (m = n by default)."""
    return _new(xp.eye(n, n if m is None else m, dtype=_dtype_arg(dtype)), requires_grad, device)


def randn(*size, rng=None, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples, drawn from ``rng`` (Generator, int seed or None: the default generator)."""
    gen = _rng(rng, generator)
    arr = gen.standard_normal(_shape_arg(size), dtype=xp.float64).astype(_dtype_arg(dtype))
    return _new(arr, requires_grad, device)


def rand(*size, rng=None, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1), drawn from ``rng`` (Generator, int seed or None: the default generator)."""
    arr = _rng(rng, generator).random(_shape_arg(size), dtype=xp.float64).astype(_dtype_arg(dtype))
    return _new(arr, requires_grad, device)


def randint(low, high=None, size=None, *, rng=None, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on [low, high) of shape ``size`` (int64); ``randint(high, size)`` starts at 0."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: give the size, e.g. randint(0, 10, (3,)) or randint(10, (3,)).")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    arr = _rng(rng, generator).integers(low, high, _shape_arg(tuple(size)), dtype=xp.int64)
    return _new(arr.astype(xp.int64 if dtype is None else dtype), requires_grad, device)


def randperm(n, *, rng=None, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    arr = _rng(rng, generator).permutation(int(n))
    return _new(arr.astype(xp.int64 if dtype is None else dtype), requires_grad, device)


def rand_like(input, *, rng=None, generator=None, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return rand(*shape, rng=rng, generator=generator, dtype=dt, device=device, requires_grad=requires_grad)


def randn_like(input, *, rng=None, generator=None, dtype=None, device=None,
               requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return randn(*shape, rng=rng, generator=generator, dtype=dt, device=device, requires_grad=requires_grad)
