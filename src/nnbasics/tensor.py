"""Tensor: an ndarray with a gradient and a link to the op that made it.

Shapes follow NumPy; names and semantics follow PyTorch (``dim``/``keepdim``, ``permute``,
``unsqueeze``, ``.data``, in-place ``add_``...). NumPy's ``axis``/``keepdims`` are accepted
as aliases. The functions that make tensors (``tensor``, ``zeros``, ``randn``...) live in
:mod:`nnbasics.creation`; the in-place machinery (PyTorch's rules, version counters) in
:mod:`nnbasics.inplace`.

Example:
    >>> import nnbasics as nb
    >>> x = nb.tensor([3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.item()
    6.0
"""

from __future__ import annotations

from .backend import xp
from .device import DeviceError, check_device
from .tensor_base import TYPE_NAMES, TensorBase, dtype_of, legacy_array, parse_to
from .tensor_math import TensorMath

__all__ = ["Tensor"]


class Tensor(TensorBase, TensorMath):
    """An n-dimensional array that can record the ops applied to it.

    ``Tensor(...)`` follows PyTorch's ``torch.Tensor``: it makes **float32** tensors
    (``Tensor([1, 2])`` is ``[1., 2.]``; ``Tensor(2, 3)`` is a (2, 3) tensor of zeros; a float32
    ndarray is shared, any other converted). Use :func:`nnbasics.tensor` (``torch.tensor``:
    keeps ints as int64, copies) or :func:`nnbasics.as_tensor` / :func:`nnbasics.from_numpy`
    (share memory, keep the dtype) to choose the dtype.

    Args:
        *args: a sequence, an ndarray, a Tensor (aliased: same memory and graph), or sizes.
        requires_grad: record ops on this tensor so ``backward`` can fill ``.grad``
            (an nnbasics extension; PyTorch's constructor has no such argument).
        dtype: the dtype instead of float32 (an nnbasics extension).
        device: ``'cpu'`` or None (see :mod:`nnbasics.device`).

    Attributes:
        data (Tensor): PyTorch's ``.data``: the same values as a tensor cut from the graph
            (shares memory; assign a Tensor to replace them). See :attr:`data`.
        grad (Tensor | None): d(loss)/d(self) after ``backward`` (leaves, or
            non-leaves that called :meth:`retain_grad`). Treat it as read-only.
        requires_grad (bool)

    The raw ndarray lives in ``_array`` (internal: ops and layers read and write it
    directly); users reach it with :meth:`numpy` (or ``.detach().numpy()``). ``_vc`` is the
    version counter (a one-element list shared with views and :meth:`detach`).
    """

    __slots__ = ()
    __hash__ = object.__hash__  # == is elementwise, identity hashing is kept

    def __init__(self, *args, requires_grad: bool = False, dtype=None, device=None):
        check_device(device)
        if len(args) == 1 and isinstance(args[0], Tensor) and dtype in (None, args[0].dtype):
            src = args[0]  # PyTorch: an alias, same memory and (when it requires grad) same graph
            alias = _ops.movement.alias(src)
            self._init(alias._array, alias.requires_grad or requires_grad, alias._ctx, alias._vc)
            return
        arr = legacy_array(args, dtype)
        self._init(arr, requires_grad, None, [0])

    @classmethod
    def _make(cls, data, requires_grad, ctx):
        """A Tensor over ndarray ``data`` as is (no checks, no copy): the constructor of ops."""
        t = object.__new__(Tensor)
        t._array = data
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = ctx
        t._edge = None
        t._hooks = None
        t._retains_grad = False
        t._vc = [0]
        t._base = None
        return t

    # ------------------------------------------------------------ autograd API
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Accumulate gradients of this tensor into the ``.grad`` of every leaf.

        Args:
            gradient: d(loss)/d(self); omit for a one-element tensor.
            retain_graph: keep the graph so a second backward is possible.
            create_graph, inputs: PyTorch's higher-order options; not supported (refused).
        """
        if create_graph or inputs is not None:
            raise NotImplementedError(
                "backward(create_graph=..., inputs=...): nnbasics computes first-order gradients only; "
                "call backward() without them."
            )
        _autograd.backward(self, gradient, bool(retain_graph))

    def clone(self) -> Tensor:
        """A copy with its own memory, differentiable (the gradient passes through)."""
        return _ops.elementwise.clone(self)

    def contiguous(self) -> Tensor:
        """This tensor when it is C-contiguous, else a C-ordered differentiable copy."""
        return self if self._array.flags.c_contiguous else _ops.elementwise.clone(self, contiguous=True)

    # ---------------------------------------------------------- dtype, device
    def to(self, *args, **kwargs) -> Tensor:
        """PyTorch's ``to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``.

        Returns this tensor when nothing changes (unless ``copy=True``); a dtype change is
        differentiable between floating dtypes. Only the CPU exists: ``'cuda'`` raises
        :class:`~nnbasics.device.DeviceError`. A dtype may also be named by a string
        (``to('float64')``; PyTorch would read it as a device name).
        """
        dev, dtype, copy = parse_to(args, kwargs)
        check_device(dev)
        out = self if dtype is None else _ops.elementwise.cast(self, dtype)
        return _ops.elementwise.clone(out) if copy and out is self else out

    def cpu(self) -> Tensor:
        """This tensor (it is on the CPU already)."""
        return self

    def cuda(self, device=None, non_blocking=False) -> Tensor:
        """Refused: nnbasics has no GPU backend (the message says why and what to use)."""
        check_device("cuda" if device is None else device)
        raise DeviceError(f"cuda(): device {device!r} is not a GPU; there is nothing to move.")

    def type(self, dtype=None) -> Tensor | str:
        """No argument: PyTorch's type name (``'torch.FloatTensor'``); with one, convert like :meth:`to`."""
        if dtype is None:
            return TYPE_NAMES.get(self._array.dtype.name, f"torch.{self._array.dtype.name}")
        return self.to(dtype_of(dtype))

    def type_as(self, other) -> Tensor:
        return self.to(other.dtype)

    def astype(self, dtype) -> Tensor:
        """Convert to ``dtype`` (NumPy's name); differentiable between floating types."""
        return _ops.elementwise.cast(self, dtype)

    def float(self):
        return self.astype(xp.float32)

    def double(self):
        return self.astype(xp.float64)

    def half(self):
        return self.astype(xp.float16)

    def long(self):
        return self.astype(xp.int64)

    def int(self):
        return self.astype(xp.int32)

    def byte(self):
        return self.astype(xp.uint8)

    def bool(self):
        return self.astype(xp.bool_)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        return _creation.tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        return _creation.zeros(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        return _creation.ones(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        return _creation.full(size, fill_value, dtype=self.dtype if dtype is None else dtype,
                              requires_grad=requires_grad)

    # ------------------------------------------------------ in-place (PyTorch's rules: nnbasics.inplace)
    def add_(self, other, *, alpha=1):
        return _inplace.binary_(self, "add_", _ops.add, other, alpha)

    def sub_(self, other, *, alpha=1):
        return _inplace.binary_(self, "sub_", _ops.sub, other, alpha)

    def mul_(self, other):
        return _inplace.binary_(self, "mul_", _ops.mul, other)

    def div_(self, other):
        return _inplace.binary_(self, "div_", _ops.div, other)

    def pow_(self, exponent):
        return _inplace.binary_(self, "pow_", _ops.pow, exponent)

    def clamp_(self, min=None, max=None):
        return _inplace.apply_(self, "clamp_", lambda t: _ops.clip(t, min, max))

    clip_ = clamp_

    def neg_(self):
        return _inplace.apply_(self, "neg_", _ops.neg)

    def abs_(self):
        return _inplace.apply_(self, "abs_", _ops.abs)

    def exp_(self):
        return _inplace.apply_(self, "exp_", _ops.exp)

    def log_(self):
        return _inplace.apply_(self, "log_", _ops.log)

    def sqrt_(self):
        return _inplace.apply_(self, "sqrt_", _ops.sqrt)

    def sigmoid_(self):
        return _inplace.apply_(self, "sigmoid_", _ops.sigmoid)

    def tanh_(self):
        return _inplace.apply_(self, "tanh_", _ops.tanh)

    def relu_(self):
        return _inplace.apply_(self, "relu_", _ops.relu)

    def zero_(self):
        """Fill with zeros in place (PyTorch's in-place rules: see :mod:`nnbasics.inplace`)."""
        return _inplace.fill_(self, "zero_", 0)

    def fill_(self, value):
        return _inplace.fill_(self, "fill_", value)

    def copy_(self, src, non_blocking=False):
        """Copy ``src``'s values (broadcast to this shape, cast to this dtype) into this tensor."""
        return _inplace.copy_(self, src)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _inplace.random_(self, "normal_", lambda g, s: g.normal(mean, std, s), generator)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        return _inplace.random_(self, "uniform_", lambda g, s: g.uniform(a, b, s), generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        return _inplace.random_(self, "bernoulli_", lambda g, s: g.random(s) < p, generator)

    def masked_fill_(self, mask, value):
        return _inplace.apply_(self, "masked_fill_", lambda t: _ops.masked_fill(t, mask, value))

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return _inplace.apply_(self, "scatter_", lambda t: _ops.scatter(t, dim, index, src, value=value,
                                                                          reduce=reduce), src)

    def scatter_add_(self, dim, index, src):
        return _inplace.apply_(self, "scatter_add_", lambda t: _ops.scatter_add(t, dim, index, src), src)

    def __setitem__(self, index, value):
        _inplace.setitem_(self, index, value)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

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

    def __floordiv__(self, other):
        return _ops.elementwise.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.elementwise.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.elementwise.remainder(self, other)

    def __rmod__(self, other):
        return _ops.elementwise.remainder(other, self)

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

    def __invert__(self):
        return _ops.elementwise.logical("invert", self)

    def __and__(self, other):
        return _ops.elementwise.logical("and", self, other)

    __rand__ = __and__

    def __or__(self, other):
        return _ops.elementwise.logical("or", self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return _ops.elementwise.logical("xor", self, other)

    __rxor__ = __xor__

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

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    def equal(self, other) -> bool:
        """True when ``other`` has the same shape and values (``torch.equal``)."""
        other = other._array if isinstance(other, Tensor) else xp.asarray(other)
        return self._array.shape == other.shape and bool((self._array == other).all())

    # --------------------------------------------------------- method mirrors
    def add(self, other, *, alpha=1):
        return _ops.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return _ops.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        return _ops.mul(self, other)

    def div(self, other):
        return _ops.div(self, other)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def mm(self, other):
        return _ops.matmul(self, other)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def neg(self):
        return _ops.neg(self)

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

    def masked_fill(self, mask, value):
        return _ops.masked_fill(self, mask, value)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return _ops.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return _ops.scatter_add(self, dim, index, src)

    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return _ops.sum(self if dtype is None else self.to(dtype), dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return _ops.mean(self if dtype is None else self.to(dtype), dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """No ``dim``: the largest value (0-d). With ``dim``: ``(values, indices)``. A tensor: :func:`maximum`."""
        return _sel.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _sel.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Largest values over ``dim`` (int, tuple; all dims by default); ties share the gradient."""
        return _ops.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def sort(self, dim=-1, descending=False, stable=False):
        return _sel.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return _sel.argsort(self, dim, descending, stable=stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _sel.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return _sel.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim=False):
        return _sel.median(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return _sel.mode(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        return _F.var(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        return _F.std(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def softmax(self, dim):
        return _ops.softmax(self, dim)

    def log_softmax(self, dim):
        return _ops.log_softmax(self, dim)

    def argmax(self, dim=None, keepdim=False):
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _ops.argmin(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _F.discrete.any_all("any", self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return _F.discrete.any_all("all", self, dim, keepdim)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def view(self, *shape):
        """The same memory with a new shape (one dim may be -1), as PyTorch's ``view``.

        Refused, as in PyTorch, when the memory layout does not allow it (after a transpose):
        use :meth:`reshape` (which copies then) or ``.contiguous().view(...)``.
        """
        return _ops.movement.view(self, *shape)

    def view_as(self, other):
        return self.view(*other.shape)

    def reshape_as(self, other):
        return self.reshape(*other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, dim0=None, dim1=None):
        return _ops.transpose(self, dim0, dim1)

    def t(self):
        """Transpose of a matrix (a tensor of at most 2 dims), as ``torch.t``."""
        if self._array.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self._array.ndim}D; "
                               "use transpose(dim0, dim1) or .mT.")
        return _ops.transpose(self) if self._array.ndim == 2 else self

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

    def expand_as(self, other):
        return _ops.expand(self, *other.shape)

    def broadcast_to(self, shape):
        return _ops.expand(self, *shape) if isinstance(shape, (tuple, list)) else _ops.expand(self, shape)

    def repeat(self, *sizes):
        return _ops.movement.repeat(self, *sizes)

    def squeeze(self, dim=None):
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _ops.unsqueeze(self, dim)

    def split(self, split_size_or_sections, dim=0):
        return _ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return _ops.movement.chunk(self, chunks, dim)

    def gather(self, dim, index):
        return _ops.gather(self, dim, index)

    def take_along_axis(self, indices, axis):
        return _ops.take_along_axis(self, indices, axis)

    def pad(self, pad_width, value=0.0):
        return _ops.pad(self, pad_width, value)


from . import autograd as _autograd
from . import creation as _creation
from . import functional as _F
from . import inplace as _inplace
from . import ops as _ops
from .creation import (  # noqa: F401  (the factories lived here; still importable from here)
    arange,
    as_tensor,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .functional import selection as _sel
