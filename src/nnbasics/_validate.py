"""Argument checks at the public boundary: one place, one signature, messages that say how to fix it.

Every check is ``check_*(value, name, *, bounds...)`` and returns the value converted (``int``,
``float``, a pair of ints...) or raises ``ValueError`` (``TypeError`` for a dtype). ``name`` is
the argument as the message names it, with its owner: ``"in_features of Linear"`` for a
constructor's or a method's, ``"train_char_lm: steps"`` for a function's. So the messages read

    in_features of Linear must be a positive int. Got 2.5.
    train_char_lm: steps must be a positive int or None. Got 0.
    step_size of StepLR must be an int >= 1. Got 0.

A bool is never a number here: ``True`` is an ``int`` to Python but never a size, a count or a
rate a user meant. :func:`is_int` and :func:`is_real` are that test alone, for the checks whose
message is particular to their argument.

Example:
    >>> check_int(3, "n of f", low=1)
    3
    >>> check_int(True, "n of f", low=1)
    Traceback (most recent call last):
    ...
    ValueError: n of f must be an int >= 1. Got True.
    >>> pair(3, "kernel_size of Conv2d")
    (3, 3)
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_positive_int", "check_real", "float_dtype", "int_tuple", "is_int", "is_real",
           "pair"]


def is_int(value) -> bool:
    """An integer that is not a bool: ``3`` and ``np.int64(3)``; not ``True``, ``3.0`` or ``"3"``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A real number that is not a bool: ``0.5``, ``2``, ``np.float32(1)`` (NaN and inf included)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bounds(low, high, low_open, high_open) -> str:
    """``">= 0"``, ``"> 0"``, ``"<= 1"``, ``"in [0, 1)"``, or ``""`` without bounds."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def _within(value, low, high, low_open, high_open) -> bool:
    if low is not None and not (value > low if low_open else value >= low):
        return False
    return high is None or (value < high if high_open else value <= high)


def _fail(name, kind, low, high, low_open, high_open, optional, value):
    bounds = _bounds(low, high, low_open, high_open)
    what = f"{kind} {bounds}".strip() + (" or None" if optional else "")
    raise ValueError(f"{name} must be {what}. Got {value!r}.")


def check_int(value, name: str, *, low=None, high=None, low_open: bool = False, high_open: bool = False,
              optional: bool = False):
    """``value`` as an ``int`` within the bounds (None: unbounded); None passes when ``optional``.

    Raises:
        ValueError: ``"{name} must be an int >= {low}. Got {value!r}."`` (the bounds as given).
    """
    if optional and value is None:
        return None
    if not is_int(value) or not _within(value, low, high, low_open, high_open):
        _fail(name, "an int", low, high, low_open, high_open, optional, value)
    return int(value)


def check_positive_int(value, name: str, *, optional: bool = False):
    """``value`` as an ``int >= 1``; the message says "a positive int" (sizes, counts, steps)."""
    if optional and value is None:
        return None
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int{' or None' if optional else ''}. Got {value!r}.")
    return int(value)


def check_real(value, name: str, *, low=None, high=None, low_open: bool = False, high_open: bool = False,
               finite: bool = False, optional: bool = False):
    """``value`` as a ``float`` within the bounds, never NaN (nor infinite when ``finite``); None passes when
    ``optional``.

    Raises:
        ValueError: ``"{name} must be a number in [0, 1). Got 1.5."`` (the bounds as given; "a finite number").
    """
    if optional and value is None:
        return None
    if (not is_real(value) or math.isnan(value) or (finite and math.isinf(value))
            or not _within(value, low, high, low_open, high_open)):
        kind = "a finite number" if finite else "a number" if low is not None or high is not None else "a real number"
        _fail(name, kind, low, high, low_open, high_open, optional, value)
    return float(value)


def int_tuple(value, n: int, name: str, *, low: int = 1) -> tuple:
    """An int, or ``n`` ints (a tuple, list or 1-D array), as an ``n``-tuple of ints ``>= low`` (kernel sizes, strides).

    Raises:
        ValueError: ``"{name} must be an int >= 1 or a tuple of 3 of them. Got (2, 0)."`` ("a pair" for n = 2).
    """
    if is_int(value):
        values = (value,) * n
    elif isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        values = ()
    else:  # a tuple, a list, a 1-D array...
        values = tuple(value)
    if len(values) != n or not all(is_int(v) and v >= low for v in values):
        what = "a pair" if n == 2 else f"a tuple of {n}"
        raise ValueError(f"{name} must be an int >= {low} or {what} of them. Got {value!r}.")
    return tuple(int(v) for v in values)


def pair(value, name: str, *, low: int = 1) -> tuple:
    """An int or two ints as a pair ``(a, b)`` of ints ``>= low``: :func:`int_tuple` with ``n = 2``."""
    return int_tuple(value, 2, name, low=low)


def float_dtype(dtype, name: str):
    """The parameter dtype: the library's default float when ``dtype`` is None; a floating NumPy dtype.

    Raises:
        TypeError: ``"dtype of Linear must be floating point ('float32' or 'float64'). Got int64."``.
    """
    from .backend import default_float, is_float_dtype, xp

    dtype = default_float if dtype is None else xp.dtype(dtype)
    if not is_float_dtype(dtype):
        raise TypeError(f"{name} must be floating point ('float32' or 'float64'). Got {dtype}.")
    return dtype
