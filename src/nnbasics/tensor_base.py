"""TensorBase: the state of a tensor and everything about it that needs no op.

:class:`~nnbasics.tensor.Tensor` extends it with what records ops (arithmetic, views,
in-place changes, ``backward``). Here: the slots (the ndarray ``_array``, ``requires_grad``,
``grad``, the producing op ``_ctx``, the version counter ``_vc``), PyTorch's legacy
constructor rules, conversion to Python and NumPy, ``.data``, ``detach``, hooks, printing.
"""

from __future__ import annotations

import numbers

from .backend import default_float, is_float_dtype, xp
from .device import CPU, is_device_spec

__all__ = ["TensorBase", "is_tensor", "numel"]

_ndarray = xp.ndarray

#: PyTorch's legacy type names (``t.type()``), by NumPy dtype.
TYPE_NAMES = {
    "float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
    "int64": "torch.LongTensor", "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
    "int8": "torch.CharTensor", "uint8": "torch.ByteTensor", "bool": "torch.BoolTensor",
}


def to_array(data, dtype=None, copy=False):
    """Convert user data to an array (``torch.tensor``'s rules): Python floats become float32, ints int64.

    ndarrays and NumPy scalars keep their dtype; the result is always an ndarray (0-d for a number).
    """
    if isinstance(data, TensorBase):
        data = data._array
    if isinstance(data, _ndarray):
        arr = data
    elif isinstance(data, xp.generic):
        arr = xp.asarray(data)
    else:
        arr = xp.asarray(data)
        if arr.dtype == xp.float64:  # a Python float or a list of them
            arr = arr.astype(default_float)
        elif arr.dtype.kind in "iu" and arr.dtype != xp.int64:
            arr = arr.astype(xp.int64)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor: cannot make a tensor from {type(data).__name__} (dtype {arr.dtype}); "
            "give numbers, nested lists of numbers or a numeric ndarray."
        )
    if dtype is not None:
        arr = arr.astype(xp.dtype(dtype), copy=copy)
    elif copy:
        arr = arr.copy()
    return arr


def check_grad_dtype(arr):
    if not is_float_dtype(arr.dtype):
        raise TypeError(
            f"only floating-point tensors can require gradients; this one is {arr.dtype}. "
            "Convert it first with .float() (or .double() for gradient checks)."
        )


def legacy_array(args, dtype):
    """The array of ``Tensor(*args)``, PyTorch's legacy constructor: float32 unless ``dtype`` says otherwise.

    ``Tensor()`` is empty, ``Tensor(2, 3)`` has shape (2, 3) (zeros; PyTorch leaves them
    uninitialized), ``Tensor(sequence)`` converts to float32, ``Tensor(ndarray)`` shares a float32
    array and converts any other.
    """
    dt = default_float if dtype is None else xp.dtype(dtype)
    if not args:
        return xp.zeros((0,), dtype=dt)
    if all(isinstance(a, numbers.Integral) and not isinstance(a, (bool, xp.bool_)) for a in args):
        if any(a < 0 for a in args):
            raise ValueError(f"Tensor(*size): sizes must be non-negative; got {args}.")
        return xp.zeros(tuple(int(a) for a in args), dtype=dt)
    if len(args) > 1:
        raise TypeError(f"Tensor(): give one sequence or array, or the sizes as ints; got {len(args)} arguments.")
    data = args[0]
    if isinstance(data, _ndarray):
        return data if data.dtype == dt else to_array(data, dt)
    if isinstance(data, (numbers.Number, xp.generic)):
        raise TypeError(
            f"Tensor(): data must be a sequence (got {type(data).__name__}), as in PyTorch; "
            f"use nnbasics.tensor({data!r}) for a 0-d tensor."
        )
    return to_array(data, dt)


def _read_value(t, how):
    """Tell an ONNX trace that Python read ``t``'s value (``if x.sum() > 0:``, ``x.item()``): the graph cannot
    follow a Python decision, and the exporter warns with the line, as torch's tracer does."""
    from . import autograd  # NOTE: at call time: autograd imports this module's subclass

    if autograd._RECORDING:
        autograd.read_value(t, how)


class TensorBase:
    """The state of a :class:`~nnbasics.tensor.Tensor` and its op-free methods (see that class)."""

    __slots__ = (
        "__weakref__",
        "_array",
        "_base",
        "_ctx",
        "_edge",
        "_hooks",
        "_past",
        "_retains_grad",
        "_vc",
        "_view_index",
        "_views",
        "grad",
        "requires_grad",
    )
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def _init(self, arr, requires_grad, ctx, vc):
        if requires_grad:
            check_grad_dtype(arr)
        self._array = arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = ctx
        self._edge = None
        self._hooks = None
        self._retains_grad = False
        self._vc = vc
        self._base = None

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

    @property
    def device(self):
        """Always ``device('cpu')``: nnbasics computes with NumPy (see :mod:`nnbasics.device`)."""
        return CPU

    is_cuda = False

    def size(self, dim=None):
        """Shape, or the length of dimension ``dim`` (PyTorch's ``size``)."""
        return self._array.shape if dim is None else self._array.shape[dim]

    def numel(self) -> int:
        """Number of elements."""
        return self._array.size

    nelement = numel

    def dim(self) -> int:
        """Number of dimensions (PyTorch's ``dim()``; same as ``ndim``)."""
        return self._array.ndim

    def element_size(self) -> int:
        """Bytes per element."""
        return self._array.itemsize

    def is_contiguous(self) -> bool:
        """True when the values are laid out in C order without gaps."""
        return bool(self._array.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self._array.dtype.kind == "f"

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (parameters, inputs)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The op that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has had (PyTorch's ``_version``)."""
        return self._vc[0]

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        _read_value(self, "bool()")
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
        return int(self._array.item())

    def __array__(self, dtype=None, copy=None):
        """NumPy's conversion protocol: ``np.asarray(t)`` shares memory, ``np.array(t)`` copies.

        NOTE: NumPy >= 2 passes ``copy=True`` for ``np.array`` and trusts the result to be new
        memory; returning ``_array`` itself made ``np.array(t)`` an alias of the tensor.
        """
        arr = self._array
        if dtype is not None and xp.dtype(dtype) != arr.dtype:
            if copy is False:
                raise ValueError(f"cannot convert a {arr.dtype} tensor to {xp.dtype(dtype)} without a copy")
            return arr.astype(dtype)
        return arr.copy() if copy else arr

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

    def __format__(self, format_spec):
        """A 0-d tensor formats as its number (``f'{loss:.4f}'``), as in PyTorch; others as ``str``."""
        if self._array.ndim == 0:
            return self._array.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def item(self):
        """The single value as a Python number."""
        if self._array.size != 1:
            raise ValueError(f"item(): the tensor has {self._array.size} elements, not 1.")
        _read_value(self, "item()")
        return self._array.item()

    def tolist(self):
        """The values as (nested) Python lists; a 0-d tensor gives a number."""
        _read_value(self, "tolist()")
        return self._array.tolist()

    def numpy(self, force: bool = False):
        """The values as an ndarray sharing this tensor's memory (no copy), as PyTorch's ``numpy()``.

        Writing into the array changes the tensor. A tensor that requires grad is refused
        (its values belong to the graph): call ``.detach().numpy()``, or pass ``force=True``
        (a detached copy, as PyTorch).

        Example:
            >>> from nnbasics import Tensor
            >>> t = Tensor([1.0, 2.0])
            >>> t.numpy()[0] = 5.0
            >>> t.tolist()
            [5.0, 2.0]
        """
        if force:
            return self._array.copy() if self.requires_grad else self._array
        if self.requires_grad:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; "
                "use tensor.detach().numpy() instead."
            )
        return self._array

    @property
    def data(self):
        """PyTorch's ``.data``: a tensor over the same memory, cut from the graph.

        No copy is made and ``requires_grad`` is False. Changes made through it (``p.data.add_(u)``,
        ``p.data[0] = 1``) change this tensor and are invisible to autograd, as in PyTorch: unlike
        :meth:`detach`, they do not count as in-place changes of this tensor (its version counter
        is its own), so a gradient that used the old values is computed with the new ones without
        an error. Prefer ``with no_grad():`` and :meth:`detach` in new code.

        Assigning ``t.data = other`` (a Tensor, or an array) makes ``t`` use ``other``'s memory,
        whatever its shape; ``t`` keeps its identity, ``requires_grad`` and ``grad``.

        Example:
            >>> from nnbasics import Tensor
            >>> w = Tensor([1.0, 2.0], requires_grad=True)
            >>> w.data.fill_(3.0)
            tensor([3., 3.])
            >>> w.tolist()
            [3.0, 3.0]
        """
        return self._make(self._array, False, None)

    @data.setter
    def data(self, value) -> None:
        arr = value._array if isinstance(value, TensorBase) else to_array(value)
        if self.requires_grad:
            check_grad_dtype(arr)
        self._array = arr

    # ---------------------------------------- rounding and predicates (nnbasics.functional.discrete)
    def round(self, decimals: int = 0):
        return _discrete().round(self, decimals=decimals)

    def floor(self):
        return _discrete().floor(self)

    def ceil(self):
        return _discrete().ceil(self)

    def trunc(self):
        return _discrete().trunc(self)

    def isnan(self):
        return _discrete().isnan(self)

    def isinf(self):
        return _discrete().isinf(self)

    def isfinite(self):
        return _discrete().isfinite(self)

    def nonzero(self, *, as_tuple: bool = False):
        return _discrete().nonzero(self, as_tuple=as_tuple)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        return _discrete().allclose(self, other, rtol, atol, equal_nan)

    def detach(self):
        """A tensor sharing the memory and the version counter, cut from the graph (``requires_grad=False``).

        In-place changes through it count as changes of this tensor: a gradient that needed
        the old values raises at backward instead of being silently wrong (PyTorch's rule).
        """
        t = self._make(self._array, False, None)
        t._vc = self._vc
        t._base = self if self._base is None else self._base  # so an edit through t marks the op that made self
        return t

    def detach_(self):
        """Cut this tensor from the graph in place (it becomes a leaf without grad)."""
        self._ctx = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True):
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if requires_grad:
            check_grad_dtype(self._array)
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


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def dtype_of(spec):
    """A NumPy dtype from a dtype, a dtype name, PyTorch's type name (``'torch.FloatTensor'``) or an
    object with a ``dtype`` attribute (the compatibility layer's ``FloatTensor``)."""
    if isinstance(spec, str) and spec.startswith("torch."):
        for name, type_name in TYPE_NAMES.items():
            if type_name == spec:
                return xp.dtype(name)
    try:
        return xp.dtype(spec)
    except TypeError:
        inner = getattr(spec, "dtype", None)
        if inner is not None and inner is not spec:
            return dtype_of(inner)
        raise TypeError(f"not a dtype: {spec!r}. Give nnbasics.float32, 'float64', a NumPy dtype or a "
                        "tensor.") from None


def parse_to(args, kwargs):
    """(device, dtype, copy) from the arguments of ``Tensor.to`` (and ``Module.to``)."""
    dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}.")
    for a in args:
        if isinstance(a, TensorBase):
            dtype = a.dtype
        elif is_device_spec(a) or (isinstance(a, int) and not isinstance(a, bool)):
            dev = a
        elif isinstance(a, bool):  # to(dtype, non_blocking, copy) given positionally
            continue
        else:
            dtype = a
    return dev, (None if dtype is None else dtype_of(dtype)), copy


def is_tensor(obj) -> bool:
    """True for an nnbasics Tensor (or a Parameter), as ``torch.is_tensor``."""
    return isinstance(obj, TensorBase)


def numel(input) -> int:
    """Number of elements of a tensor (``torch.numel``)."""
    return input.numel()


def _discrete():
    from .functional import discrete  # NOTE: at call time: functional imports the tensor modules

    return discrete
