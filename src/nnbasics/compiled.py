"""The optional compiled kernels (Numba): off unless asked for; NumPy stays the default and the reference.

A few kernels of :mod:`nnbasics.kernels` have a compiled twin for the passes NumPy can only do
as several strided sweeps over memory (the 2x2 max-pool of every CNN block: one loop reads each
input once where the NumPy tournament makes six passes over strided quarters); the tile transforms
of Winograd's 3x3 convolutions (:mod:`nnbasics.kernels.conv_winograd`) run as compiled loops, so
that narrower layers take them (4 input channels and more, where NumPy's transforms pay from
16 -> 32 channels); the pieces of split matrix products run on native threads instead of
Python's (:mod:`nnbasics.kernels.native_threads`: no GIL in the hand-off, so smaller products are
split); and on a CPU with AVX-512 the float32 matrix products themselves run as compiled code
(:mod:`nnbasics.kernels.gemm_compiled`: a register-tiled product at about the core's peak, ~2x
NumPy's BLAS where ``OPENBLAS_CORETYPE`` holds it to AVX2 kernels); once that product loads,
glibc's heap thresholds are raised once as glibc itself raises them (one 4 MiB block freed), so
that a step's freed arrays are reused by the next instead of faulted in afresh (:mod:`nnbasics.kernels.heap`:
never over a user's ``MALLOC_*`` setting; ``NNBASICS_HEAP=0`` leaves the heap alone).
They are an *extra*: ``pip install "nnbasics[numba]"``, then

* ``NNBASICS_COMPILED=numba`` in the environment (read by the first kernel that asks; importing
  nnbasics imports no Numba), or
* :func:`compiled_kernels` for a block of code (a context manager, also a decorator).

The compiled max-pool gives the NumPy kernel's values and gradients to the bit; Winograd's
convolutions add in another order than im2col's (float32: within ~1e-6 relative of the
reference, as a convolution on another library would be), and a layer the compiled transforms
make worth it may run on im2col without them; the compiled products add in another order than
BLAS (float32: ~1e-6 relative); the native pieces are smaller than
Python's threads' pieces, so on two or more threads products can differ from the NumPy kernels'
in their last bits (as on another thread count). Nothing depends on the timing.
Tests in tests/kernels compare both with the references, and CI runs both. The first call of
each compiles it (about a second; Numba keeps the machine code in a cache beside the module, or
in the user's cache directory where that is read-only). Reference mode (:func:`nnbasics.reference_mode`) switches the
compiled kernels off with all the others.

Where the environment asks for them and Numba cannot be imported, nnbasics warns once and runs
the NumPy kernels; :func:`compiled_kernels` raises instead (the caller asked in code).

Example:
    >>> import nnbasics as nb
    >>> nb.is_compiled()  # NNBASICS_COMPILED unset
    False
"""

from __future__ import annotations

import functools
import os
import threading
import warnings

__all__ = ["ENV", "compiled_kernels", "is_compiled", "jit_helpers", "numba"]

#: The environment variable that turns the compiled kernels on: ``numba`` (or 1, true, yes, on); 0 or unset: off.
ENV = "NNBASICS_COMPILED"
_ON = ("numba", "1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off")

_lock = threading.Lock()
_wanted = None  # None: the environment not read yet; else True / False
_numba = None  # the numba module once imported
_why = None  # why Numba could not be imported (the message), once it failed


def numba():
    """The ``numba`` module, imported on the first call.

    Raises:
        ImportError: Numba is not installed or does not load here; the message says what to do.
    """
    global _numba, _why
    if _numba is not None:
        return _numba
    if _why is not None:
        raise ImportError(_why)
    with _lock:
        if _numba is None and _why is None:
            try:
                import numba as nb_module
            except (ImportError, OSError) as exc:  # not installed, refusing this NumPy, or LLVM's library not loading
                _why = (f"the compiled kernels need Numba, which does not load here ({type(exc).__name__}: {exc}); "
                        f"install it with: pip install \"nnbasics[numba]\" (or run without {ENV})")
            else:
                _numba = nb_module
    if _numba is None:
        raise ImportError(_why)
    return _numba


def jit_helpers(namespace: dict, names):
    """Numba's ``njit(nogil=True, cache=True)``, once the functions ``names`` of a module's
    ``namespace`` (its ``globals()``) are compiled in place: the compiled loops of that module find
    the compiled helpers they call there (until then they are plain Python functions, which the
    tests also run). Returns the decorator for the loops themselves."""
    jit = numba().njit(nogil=True, cache=True)
    for name in names:
        namespace[name] = jit(namespace[name])
    return jit


def _from_environment() -> bool:
    value = os.environ.get(ENV, "").strip().lower()
    if value in _OFF:
        return False
    if value not in _ON:
        warnings.warn(f"{ENV}={value!r} is not a setting: use {ENV}=numba for the compiled kernels, or 0; "
                      "running the NumPy kernels.", RuntimeWarning, stacklevel=3)
        return False
    try:
        numba()
    except ImportError as exc:
        warnings.warn(f"{ENV}={value}: {exc}; running the NumPy kernels.", RuntimeWarning, stacklevel=3)
        return False
    return True


def is_compiled() -> bool:
    """True while the compiled kernels are on (the environment, or :func:`compiled_kernels`)."""
    global _wanted
    if _wanted is None:
        _wanted = _from_environment()
    return _wanted


class compiled_kernels:
    """Context manager (and decorator): the compiled kernels on inside (``enabled=False``: off).

    The setting found on entry is restored on exit, also when an exception escapes.
    Process-wide: other threads switch too.

    Raises:
        ImportError: on entry with ``enabled=True`` where Numba cannot be imported (nothing changes).

    Example::

        with nb.compiled_kernels():
            loss = model(x).cross_entropy(y)   # the 2x2 max-pools run compiled
            loss.backward()
    """

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)
        self.prev = []

    def __enter__(self):
        global _wanted
        if self.enabled:
            numba()
        self.prev.append(is_compiled())
        _wanted = self.enabled
        return self

    def __exit__(self, *exc):
        global _wanted
        _wanted = self.prev.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with compiled_kernels(self.enabled):
                return func(*args, **kwargs)

        return wrapper
