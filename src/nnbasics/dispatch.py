"""The seam between the reference code and the kernels that make it fast.

Every derivative of nnbasics is written once, in :mod:`nnbasics.ops`, as plainly as the maths
(the *reference*). Speed techniques — reused buffers, threads, blocked GEMMs, fused passes —
live in :mod:`nnbasics.kernels`, each registered here as a faster implementation of one
reference, for the inputs it handles:

* a reference op, a :class:`~nnbasics.autograd.Function` subclass: the kernel is a subclass
  of it with the same name that overrides ``forward`` and ``backward``;
  :meth:`Function.apply <nnbasics.autograd.Function.apply>` runs the first registered kernel
  whose ``when(*arrays, **params)`` holds (``when=None``: always), else the reference;
* a reference function marked :func:`dispatchable` (the backward walk of
  :mod:`nnbasics.autograd`, the dropout mask): the kernel is a function with its signature.

Registration is the whole interface: nothing outside :mod:`nnbasics.kernels` imports it, and a
CuPy or compiled backend would plug in the same way. A kernel must give the reference's
values and gradients (tests run both and compare; tolerances in tests/kernels).

**Reference mode** runs everything on the reference path: ``NNBASICS_REFERENCE=1`` in the
environment (read once, when nnbasics is imported), or :func:`reference_mode` for a block of
code. It is process-wide (every thread), like the environment variable.

Example:
    >>> import nnbasics as nb
    >>> from nnbasics.ops.elementwise import ReLU
    >>> x = nb.tensor([-1.0, 2.0], requires_grad=True)
    >>> with nb.reference_mode():
    ...     y = nb.relu(x)
    >>> type(y._ctx) is ReLU, y.tolist()
    (True, [0.0, 2.0])
"""

from __future__ import annotations

import functools
import os
import threading

__all__ = ["ENV", "dispatchable", "is_reference_mode", "kernels_of", "reference_mode", "register"]

#: The environment variable that turns reference mode on for the whole process ("1", "true", "yes", "on").
ENV = "NNBASICS_REFERENCE"

_registered: dict = {}  # reference -> [(when, kernel)], in registration order (active or not)
_reference = os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")
_lock = threading.Lock()


def dispatchable(reference):
    """Mark ``reference`` (a function) as one that a kernel may replace.

    Returns a function of the same signature that calls the first registered kernel whose
    ``when`` holds for the arguments, else ``reference`` (always ``reference`` in reference
    mode). The reference stays reachable as ``.reference``.
    """

    @functools.wraps(reference)
    def call(*args, **kwargs):
        for when, kernel in call.kernels:
            if when is None or when(*args, **kwargs):
                return kernel(*args, **kwargs)
        return reference(*args, **kwargs)

    call.kernels = ()
    call.reference = reference
    return call


def _is_op(reference) -> bool:
    from .autograd import Function

    return isinstance(reference, type) and issubclass(reference, Function)


def _publish(reference) -> None:
    """Make ``reference``'s kernels the ones its dispatch reads (none in reference mode)."""
    reference.kernels = () if _reference else tuple(_registered.get(reference, ()))


def register(reference, when=None, first=False):
    """Class or function decorator: register a kernel as the fast implementation of ``reference``.

    Args:
        reference: a :class:`~nnbasics.autograd.Function` subclass of :mod:`nnbasics.ops`, or a
            function marked :func:`dispatchable`.
        when: None (every call), or a predicate called with the op's input arrays and
            parameters (``when(*arrays, **params)``), or with the function's arguments; the
            kernel runs only where it returns True. Kernels registered earlier are tried first.
        first: try this kernel before every kernel registered so far (a narrower kernel that
            refines one it builds on, such as a compiled one: it is imported after it).

    Raises:
        TypeError: ``reference`` is neither; for an op, the kernel is not a subclass of it or
            does not keep its name (error messages and anomaly reports name the op).

    Example (the shape of nnbasics/kernels/elementwise.py)::

        @register(ops.elementwise.ReLU, when=lambda a: a.dtype.kind == "f")
        class ReLU(ops.elementwise.ReLU):
            def forward(self, a): ...
            def backward(self, g): ...
    """
    if not (_is_op(reference) or hasattr(reference, "reference")):
        raise TypeError(f"register: {reference!r} is neither a Function subclass nor a @dispatchable function.")

    def decorate(kernel):
        if _is_op(reference) and not (isinstance(kernel, type) and issubclass(kernel, reference)
                                      and kernel.__name__ == reference.__name__):
            raise TypeError(f"register: a kernel of {reference.__name__} must be a subclass of it named "
                            f"{reference.__name__!r}; got {kernel!r}.")
        with _lock:
            kernels = _registered.setdefault(reference, [])
            kernels.insert(0 if first else len(kernels), (when, kernel))
            _publish(reference)
        return kernel

    return decorate


def kernels_of(reference) -> list:
    """The kernels registered for ``reference`` (active or not), in the order they are tried."""
    return [kernel for _, kernel in _registered.get(reference, ())]


def is_reference_mode() -> bool:
    """True while every op runs its reference implementation."""
    return _reference


def _set_reference(on: bool) -> None:
    global _reference
    with _lock:
        _reference = on
        for reference in _registered:
            _publish(reference)


class reference_mode:
    """Context manager (and decorator): run every op on its reference path inside, or with
    ``enabled=False`` on its kernels (also when ``NNBASICS_REFERENCE=1``).

    The mode found on entry is restored on exit, also when an exception escapes. Process-wide:
    other threads switch too.

    Example:
        >>> import nnbasics as nb
        >>> with nb.reference_mode():
        ...     nb.is_reference_mode()
        True
    """

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)
        self.prev = []

    def __enter__(self):
        self.prev.append(_reference)
        _set_reference(self.enabled)
        return self

    def __exit__(self, *exc):
        _set_reference(self.prev.pop())
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with reference_mode(self.enabled):
                return func(*args, **kwargs)

        return wrapper
