"""The one array namespace of nnbasics.

Every op, layer and helper gets its arrays from here, never by importing NumPy
directly, so that another array library with NumPy's API (CuPy) can be slotted
in later by changing this module alone.

    >>> from nnbasics.backend import xp
    >>> xp.zeros((2, 3), dtype=xp.float32).shape
    (2, 3)
"""

from __future__ import annotations

import numpy as xp

__all__ = ["default_float", "is_float_dtype", "is_int_dtype", "to_numpy", "xp"]

#: dtype of tensors made from Python floats, and of every layer's parameters.
default_float = xp.float32


def is_float_dtype(dtype) -> bool:
    """True for floating-point dtypes (the only ones that can carry gradients)."""
    if isinstance(dtype, xp.dtype) and dtype.isbuiltin == 1:  # NumPy's own, in native order: by its kind
        return dtype.kind == "f"  # (xp.issubdtype costs ~1.5 us, a few % of a small model's op)
    return xp.issubdtype(dtype, xp.floating)


def is_int_dtype(dtype) -> bool:
    """True for signed and unsigned integer dtypes (indices and labels)."""
    if isinstance(dtype, xp.dtype) and dtype.isbuiltin == 1:
        return dtype.kind in "iu"
    return xp.issubdtype(dtype, xp.integer)


def to_numpy(array):
    """Return ``array`` as a NumPy ndarray (a no-op for the NumPy backend)."""
    return xp.asarray(array)
