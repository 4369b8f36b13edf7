"""dtypes, devices and the legacy tensor types of the compat ``torch`` namespace.

* dtypes are NumPy dtypes (``torch.float32 is numpy.dtype('float32')``), so ``x.dtype == torch.float``
  holds and a dtype passes straight to nnbasics. ``torch.dtype`` is :class:`numpy.dtype`.
* :class:`device` is :class:`nnbasics.device` (torch's device object); only ``cpu`` can hold
  tensors (:func:`check_device` refuses ``cuda``/``mps`` with a message naming the call).
* ``FloatTensor``, ``LongTensor``... build tensors of their dtype (``torch.FloatTensor([1, 2])``,
  ``torch.LongTensor(3)`` -> 3 zeros) and answer ``isinstance(x, torch.FloatTensor)`` by dtype.

Example:
    >>> import numpy as np
    >>> from nnbasics.compat.torch import device, float32
    >>> float32 == np.float32, str(device("cpu")), device("cuda:1").index, device("cpu") == "cpu"
    (True, 'cpu', 1, False)
"""

from __future__ import annotations

import numbers

import numpy as np

from ...device import CPU, DeviceError, device
from ...device import check_device as _nb_check_device
from ...tensor import Tensor, as_tensor
from ..unsupported import NO_GPU, unsupported_call

__all__ = [
    "DTYPES", "LEGACY_TYPES", "Size", "check_device", "device", "dtype", "finfo", "get_default_dtype", "iinfo",
    "is_floating_point", "is_tensor", "legacy_type_name", "resolve_dtype", "set_default_dtype",
]

dtype = np.dtype

#: torch's dtype names -> NumPy dtypes (the aliases share one object).
DTYPES = {
    "float32": np.dtype("float32"), "float": np.dtype("float32"),
    "float64": np.dtype("float64"), "double": np.dtype("float64"),
    "float16": np.dtype("float16"), "half": np.dtype("float16"),
    "int64": np.dtype("int64"), "long": np.dtype("int64"),
    "int32": np.dtype("int32"), "int": np.dtype("int32"),
    "int16": np.dtype("int16"), "short": np.dtype("int16"),
    "int8": np.dtype("int8"), "uint8": np.dtype("uint8"),
    "bool": np.dtype("bool"),
}

_UNSUPPORTED_DTYPES = ("bfloat16", "complex64", "complex128", "cfloat", "cdouble", "float8_e4m3fn", "float8_e5m2",
                       "qint8", "quint8", "uint16", "uint32", "uint64")

_default = {"dtype": np.dtype("float32")}


def resolve_dtype(value, what: str = "dtype"):
    """A torch-style dtype argument (a dtype, a legacy type, a Python type, a name) as a NumPy dtype or None."""
    if value is None:
        return None
    if isinstance(value, type) and issubclass(value, _LegacyTensor):
        return value.dtype
    if value is float:
        return get_default_dtype()
    if value is int:
        return np.dtype("int64")
    if value is bool:
        return np.dtype("bool")
    if isinstance(value, str) and value.startswith("torch."):
        value = value[len("torch."):]
        if value in LEGACY_TYPES:
            return LEGACY_TYPES[value].dtype
    try:
        return np.dtype(value)
    except TypeError:
        raise TypeError(f"{what}: expected a dtype such as torch.float32 or torch.long; got {value!r}.") from None


def get_default_dtype():
    """The dtype of ``torch.tensor([1.0])`` and of the constructors (float32 unless changed)."""
    return _default["dtype"]


def set_default_dtype(d) -> None:
    """Set the default floating dtype (float32 or float64) of the compat constructors."""
    d = resolve_dtype(d, "set_default_dtype")
    if d.kind != "f" or d == np.float16:
        raise TypeError(f"set_default_dtype: only torch.float32 or torch.float64; got {d}.")
    _default["dtype"] = d


def is_floating_point(x) -> bool:
    return isinstance(x, Tensor) and x.dtype.kind == "f"


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def finfo(d=None):
    """``numpy.finfo`` of a floating dtype (``.eps``, ``.max``, ``.min``, ``.tiny`` as torch)."""
    return np.finfo(resolve_dtype(d) if d is not None else get_default_dtype())


def iinfo(d):
    return np.iinfo(resolve_dtype(d))


class Size(tuple):
    """``torch.Size``: a tuple of ints (``x.shape`` is a plain tuple in nnbasics; they compare equal)."""

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"torch.Size({list(self)})"


# ---------------------------------------------------------------------- devices
# NOTE: ``torch.device`` is nnbasics' device class (equal to another device, never to a string, as torch's).
_ = CPU


def check_device(value, api: str) -> None:
    """Accept None, ``"cpu"`` or ``torch.device("cpu")``; anything else stops with the no-GPU advice.

    Raises:
        UnsupportedTorchAPI (a RuntimeError): for cuda/mps/other devices, naming ``api``.
    """
    try:
        _nb_check_device(value)
    except DeviceError:
        shown = device("cuda", value) if isinstance(value, numbers.Integral) else device(value)
        raise unsupported_call(f"{api} (device='{shown}')", NO_GPU) from None


# -------------------------------------------------------------- legacy types
class _LegacyMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and np.asarray(obj).dtype == cls.dtype

    def __call__(cls, *args, device=None):
        check_device(device, f"torch.{cls.__name__}")
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            src = args[0]
            if isinstance(src, Tensor):
                src = np.asarray(src)
            arr = np.array(src, dtype=cls.dtype)
        else:
            for a in args:
                if isinstance(a, bool) or not isinstance(a, numbers.Integral) or a < 0:
                    raise TypeError(f"torch.{cls.__name__}(*sizes): sizes must be non-negative ints; got {args}.")
            # NOTE: torch leaves the memory uninitialized; zeros are one valid "uninitialized" content.
            arr = np.zeros(tuple(int(a) for a in args), dtype=cls.dtype)
        return as_tensor(arr)

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"


class _LegacyTensor(metaclass=_LegacyMeta):
    dtype = np.dtype("float32")


def _legacy(name, dt):
    return _LegacyMeta(name, (_LegacyTensor,), {"dtype": np.dtype(dt), "__module__": "torch",
                                                  "__doc__": f"torch.{name}: builds a {dt} tensor."})


#: ``FloatTensor`` -> the class; these are the CPU types of torch.
LEGACY_TYPES = {name: _legacy(name, dt) for name, dt in (
    ("FloatTensor", "float32"), ("DoubleTensor", "float64"), ("HalfTensor", "float16"),
    ("LongTensor", "int64"), ("IntTensor", "int32"), ("ShortTensor", "int16"), ("CharTensor", "int8"),
    ("ByteTensor", "uint8"), ("BoolTensor", "bool"),
)}

_TYPE_NAMES = {t.dtype: f"torch.{name}" for name, t in LEGACY_TYPES.items()}


def legacy_type_name(dt) -> str:
    """``float32`` -> ``'torch.FloatTensor'`` (what ``x.type()`` returns in torch)."""
    return _TYPE_NAMES.get(np.dtype(dt), f"torch.{np.dtype(dt).name}")


def unsupported_dtype_names():
    return _UNSUPPORTED_DTYPES
