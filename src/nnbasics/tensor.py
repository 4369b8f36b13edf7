"""Tensor: an ndarray with a gradient and a link to the op that made it.

Shapes follow NumPy; names follow PyTorch (``dim``/``keepdim``, ``permute``,
``unsqueeze``...). NumPy's ``axis``/``keepdims`` are accepted as aliases.

Example:
    >>> import nnbasics as nb
    >>> x = nb.tensor([3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.item()
    6.0
"""

from __future__ import annotations

import numbers

from .backend import default_float, is_float_dtype, xp
from .rng import as_generator

__all__ = [
    "Tensor",
    "tensor",
    "as_tensor",
    "zeros",
    "ones",
    "full",
    "arange",
    "randn",
    "rand",
    "zeros_like",
    "ones_like",
]


def _to_array(data, dtype=None, copy=False):
    """Convert user data to an array: Python floats become float32, ints int64."""
    if isinstance(data, Tensor):
        data = data._array
    if isinstance(data, xp.ndarray):
        arr = data
    else:
        arr = xp.asarray(data)
        if arr.dtype == xp.float64:  # a Python float or a list of them
            arr = arr.astype(default_float)
        elif arr.dtype.kind in "iu" and arr.dtype != xp.int64:
            arr = arr.astype(xp.int64)
        elif arr.dtype.kind not in "biuf":
            raise TypeError(
                f"tensor: cannot make a tensor from {type(data).__name__} (dtype {arr.dtype}); "
                "give numbers, nested lists of numbers or a numeric ndarray."
            )
    if dtype is not None:
        arr = arr.astype(xp.dtype(dtype), copy=copy)
    elif copy:
        arr = arr.copy()
    return arr


def _check_grad_dtype(arr):
    if not is_float_dtype(arr.dtype):
        raise TypeError(
            f"only floating-point tensors can require gradients; this one is {arr.dtype}. "
            "Convert it first with .float() (or .double() for gradient checks)."
        )


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    Args:
        data: an ndarray (used without copying), a Tensor, or numbers / nested
            lists (Python floats become float32, ints int64).
        requires_grad: record ops on this tensor so ``backward`` can fill ``.grad``.
            Only floating-point tensors can require gradients.
        dtype: convert the data to this dtype.

    Attributes:
        data (Tensor): PyTorch's ``.data``: the same values as a tensor cut from the graph
            (shares memory; assign a Tensor to replace them). See :attr:`data`.
        grad (Tensor | None): d(loss)/d(self) after ``backward`` (leaves, or
            non-leaves that called :meth:`retain_grad`). Treat it as read-only.
        requires_grad (bool)

    The raw ndarray lives in ``_array`` (internal: ops and layers read and write it
    directly); users reach it with :meth:`numpy` (or ``.detach().numpy()``).
    """

    __slots__ = ("_array", "requires_grad", "grad", "_ctx", "_hooks", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators
    __hash__ = object.__hash__  # == is elementwise, identity hashing is kept

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        arr = _to_array(data, dtype)
        if requires_grad:
            _check_grad_dtype(arr)
        self._array = arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self._hooks = None
        self._retains_grad = False

    @classmethod
    def _make(cls, data, requires_grad, ctx):
        t = object.__new__(Tensor)
        t._array = data
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = ctx
        t._hooks = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple:
        return self._array.shape

    @property
    def dtype(self):
        return self._array.dtype

    @property
    def ndim(self) -> int:
        return self._array.ndim

    def size(self, dim=None):
        """Shape, or the length of dimension ``dim`` (PyTorch's ``size``)."""
        return self._array.shape if dim is None else self._array.shape[dim]

    def numel(self) -> int:
        """Number of elements."""
        return self._array.size

    def dim(self) -> int:
        """Number of dimensions (PyTorch's ``dim()``; same as ``ndim``)."""
        return self._array.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (parameters, inputs)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The op that produced this tensor, or None for a leaf."""
        return self._ctx

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        if self._array.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self._array.size} elements is ambiguous; "
                "use .any() or .all()."
            )
        return bool(self._array)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if not xp.issubdtype(self._array.dtype, xp.integer) or self._array.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self._array)

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)

    def __repr__(self):
        body = xp.array2string(self._array, separator=", ", prefix="tensor(")
        extra = ""
        if self._array.dtype != default_float and self._array.dtype != xp.int64:
            extra += f", dtype={self._array.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def item(self):
        """The single value as a Python number."""
        if self._array.size != 1:
            raise ValueError(f"item(): the tensor has {self._array.size} elements, not 1.")
        return self._array.item()

    def tolist(self):
        return self._array.tolist()

    def numpy(self):
        """The values as an ndarray sharing this tensor's memory (no copy), as PyTorch's ``numpy()``.

        Writing into the array changes the tensor. A tensor that requires grad is refused
        (its values belong to the graph): call ``.detach().numpy()``.

        Example:
            >>> t = tensor([1.0, 2.0])
            >>> t.numpy()[0] = 5.0
            >>> t.tolist()
            [5.0, 2.0]
        """
        if self.requires_grad:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; "
                "use tensor.detach().numpy() instead."
            )
        return self._array

    @property
    def data(self) -> Tensor:
        """PyTorch's ``.data``: a tensor over the same memory, cut from the graph.

        No copy is made and ``requires_grad`` is False. Changes made through it (``p.data.add_(u)``,
        ``p.data[0] = 1``) change this tensor and are invisible to autograd, as in PyTorch: unlike
        :meth:`detach`, they do not count as in-place changes of this tensor, so a gradient that
        used the old values is computed with the new ones without an error. Prefer
        ``with no_grad():`` and :meth:`detach` in new code.

        Assigning ``t.data = other`` (a Tensor, or an array) makes ``t`` use ``other``'s memory,
        whatever its shape; ``t`` keeps its identity, ``requires_grad`` and ``grad``.

        Example:
            >>> w = tensor([1.0, 2.0], requires_grad=True)
            >>> w.data.fill_(3.0)
            tensor([3., 3.])
            >>> w.tolist()
            [3.0, 3.0]
        """
        return Tensor._make(self._array, False, None)

    @data.setter
    def data(self, value) -> None:
        arr = value._array if isinstance(value, Tensor) else _to_array(value)
        if self.requires_grad:
            _check_grad_dtype(arr)
        self._array = arr

    # ------------------------------------------------------------ autograd API
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate gradients of this tensor into the ``.grad`` of every leaf.

        Args:
            grad: d(loss)/d(self); omit for a one-element tensor.
            retain_graph: keep the graph so a second backward is possible.
        """
        _autograd.backward(self, grad, retain_graph)

    def detach(self) -> "Tensor":
        """A tensor sharing the data, cut from the graph (``requires_grad=False``)."""
        return Tensor._make(self._array, False, None)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if requires_grad:
            _check_grad_dtype(self._array)
        elif self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf: use .detach() instead.")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): the tensor does not require grad.")
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when the gradient w.r.t. this tensor is computed.

        The hook may return a Tensor that replaces the gradient. Returns a
        handle whose ``remove()`` unregisters it.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook(): cannot register a hook on a tensor that does not require grad.")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def zero_(self) -> "Tensor":
        """Fill with zeros in place (allowed on leaves or under no_grad)."""
        self._check_inplace()
        self._array[...] = 0
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace()
        self._array[...] = value
        return self

    def copy_(self, src) -> "Tensor":
        """Copy values from ``src`` (broadcast to this shape) in place."""
        self._check_inplace()
        src = _to_array(src)
        try:
            self._array[...] = src
        except ValueError:
            raise ValueError(f"copy_: cannot copy shape {src.shape} into shape {self._array.shape}.") from None
        return self

    def _check_inplace(self):
        if self.requires_grad and _autograd.is_grad_enabled():
            raise RuntimeError(
                "an in-place change to a tensor that requires grad would corrupt the graph; "
                "do it inside `with nnbasics.no_grad():`."
            )

    def __setitem__(self, index, value):
        self._check_inplace()
        self._array[_ops.movement.as_index(index)] = _to_array(value) if not isinstance(value, numbers.Number) else value

    # ----------------------------------------------------------------- dtypes
    def astype(self, dtype) -> "Tensor":
        """Convert to ``dtype``; differentiable between floating types."""
        return _ops.elementwise.cast(self, dtype)

    to = astype

    def float(self):
        return self.astype(xp.float32)

    def double(self):
        return self.astype(xp.float64)

    def long(self):
        return self.astype(xp.int64)

    def int(self):
        return self.astype(xp.int32)

    def bool(self):
        return self.astype(xp.bool_)

    # -------------------------------------------------------------- operators
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __lt__(self, other):
        return _ops.compare(self, other, "lt")

    def __le__(self, other):
        return _ops.compare(self, other, "le")

    def __gt__(self, other):
        return _ops.compare(self, other, "gt")

    def __ge__(self, other):
        return _ops.compare(self, other, "ge")

    def __eq__(self, other):
        return _ops.compare(self, other, "eq")

    def __ne__(self, other):
        return _ops.compare(self, other, "ne")

    # --------------------------------------------------------- method mirrors
    def add(self, other):
        return _ops.add(self, other)

    def sub(self, other):
        return _ops.sub(self, other)

    def mul(self, other):
        return _ops.mul(self, other)

    def div(self, other):
        return _ops.div(self, other)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def sign(self):
        return _ops.sign(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min, max)

    clamp = clip

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.sum(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    amax = max
    amin = min

    def var(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None):
        return _F.var(self, dim, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def std(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None):
        return _F.std(self, dim, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def softmax(self, dim=-1):
        return _ops.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return _ops.log_softmax(self, dim)

    def argmax(self, dim=None, keepdim=False):
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _ops.argmin(self, dim, keepdim)

    def any(self, dim=None):
        return Tensor._make(xp.asarray(self._array.any(axis=dim)), False, None)

    def all(self, dim=None):
        return Tensor._make(xp.asarray(self._array.all(axis=dim)), False, None)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, dim0=None, dim1=None):
        return _ops.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _ops.permute(self, *dims)

    @property
    def T(self):
        """All dimensions reversed (NumPy's ``.T``)."""
        return _ops.permute(self, *reversed(range(self._array.ndim)))

    @property
    def mT(self):
        """The last two dimensions swapped (batched matrix transpose)."""
        return _ops.transpose(self, -2, -1)

    def expand(self, *shape):
        return _ops.expand(self, *shape)

    def broadcast_to(self, shape):
        return _ops.expand(self, *shape) if isinstance(shape, (tuple, list)) else _ops.expand(self, shape)

    def squeeze(self, dim=None):
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _ops.unsqueeze(self, dim)

    def split(self, split_size_or_sections, dim=0):
        return _ops.split(self, split_size_or_sections, dim)

    def gather(self, dim, index):
        return _ops.gather(self, dim, index)

    def take_along_axis(self, indices, axis):
        return _ops.take_along_axis(self, indices, axis)

    def pad(self, pad_width, value=0.0):
        return _ops.pad(self, pad_width, value)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# ------------------------------------------------------------------ constructors
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"shape must be non-negative ints; got {shape}.")
    return tuple(int(s) for s in shape)


def _dtype_arg(dtype):
    return default_float if dtype is None else xp.dtype(dtype)


def _new(arr, requires_grad):
    if requires_grad:
        _check_grad_dtype(arr)
    return Tensor._make(arr, bool(requires_grad), None)


def tensor(data, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Python floats become float32 and Python ints int64; ndarrays keep their dtype.

    Example:
        >>> tensor([[1.0, 2.0]]).shape
        (1, 2)
    """
    return _new(_to_array(data, dtype, copy=True), requires_grad)


def as_tensor(data, dtype=None) -> Tensor:
    """Wrap ``data`` as a Tensor without copying where possible; Tensors pass through."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == xp.dtype(dtype)):
        return data
    return Tensor._make(_to_array(data, dtype), False, None)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Tensor of zeros. ``zeros(2, 3)`` and ``zeros((2, 3))`` are the same."""
    return _new(xp.zeros(_shape_arg(shape), dtype=_dtype_arg(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Tensor of ones."""
    return _new(xp.ones(_shape_arg(shape), dtype=_dtype_arg(dtype)), requires_grad)


def full(shape, fill_value, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """Tensor of ``shape`` filled with ``fill_value``."""
    shape = _shape_arg((shape,) if isinstance(shape, numbers.Integral) else tuple(shape))
    return _new(xp.full(shape, fill_value, dtype=_dtype_arg(dtype)), requires_grad)


def zeros_like(t, *, dtype=None, requires_grad: bool = False) -> Tensor:
    d = _to_array(t)
    return _new(xp.zeros(d.shape, dtype=d.dtype if dtype is None else dtype), requires_grad)


def ones_like(t, *, dtype=None, requires_grad: bool = False) -> Tensor:
    d = _to_array(t)
    return _new(xp.ones(d.shape, dtype=d.dtype if dtype is None else dtype), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to, not including, ``end``.

    Integer arguments give int64 (as PyTorch); any float argument gives float32.
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = xp.int64 if ints else default_float
    return _new(xp.arange(start, end, step).astype(dtype), requires_grad)


def randn(*shape, rng=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples, drawn from ``rng`` (Generator, int seed or None)."""
    arr = as_generator(rng).standard_normal(_shape_arg(shape), dtype=xp.float64).astype(_dtype_arg(dtype))
    return _new(arr, requires_grad)


def rand(*shape, rng=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1), drawn from ``rng`` (Generator, int seed or None)."""
    arr = as_generator(rng).random(_shape_arg(shape), dtype=xp.float64).astype(_dtype_arg(dtype))
    return _new(arr, requires_grad)


from . import autograd as _autograd  # noqa: E402  (circular: autograd needs Tensor)
from . import functional as _F  # noqa: E402
from . import ops as _ops  # noqa: E402
