"""Anomaly detection: find the op and layer where a NaN or Inf first appears.

Inside ``with detect_anomaly():`` (or after ``set_detect_anomaly(True)``) every op checks
its forward output, and every backward function the gradients it returns, for NaN and
Inf. The first non-finite value raises :class:`AnomalyError`, whose message names

* the op (its Function class, e.g. ``Log``) and the phase (forward or backward),
* the layer being run when the op was created, as a path from the outermost module
  (``'1' (Linear) in Sequential``), when the op ran inside a Module call,
* the shape, dtype, range and NaN/Inf counts of the op's inputs (and of the incoming
  gradient in backward), and
* for backward anomalies, the traceback of the forward call that created the op
  (as PyTorch's anomaly mode prints it), since the backward stack says nothing useful.

When the mode is off (the default) the only cost is one check of a global flag per op
and per Module call. When on, every op is checked (a pass over its output) and every
recorded op saves a traceback: expect training to run several times slower. Use it to
find a bug, not to train.

Decision: the mode is global (process-wide), as in PyTorch, not per thread like
``no_grad``: it is a debugging switch, and a thread pool running the model should be
checked too.

Example:
    >>> import nnbasics as nb
    >>> x = nb.tensor([1.0, -1.0], requires_grad=True)
    >>> with nb.detect_anomaly():
    ...     try:
    ...         nb.log(x)
    ...     except nb.AnomalyError as e:
    ...         print(e.op, e.phase)
    Log forward
"""

from __future__ import annotations

import functools
import itertools
import sys
import threading
import traceback

from . import autograd as _autograd
from .backend import xp

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly"]

class _RunningModules(threading.local):
    """Per thread: the modules whose forward is running, outermost first (pushed by
    Module.__call__ in anomaly mode). Per thread, so that models run in parallel threads
    (an Executor of threads, a web server) each name their own layer."""

    def __init__(self):
        self.stack = []


_running = _RunningModules()


class AnomalyError(RuntimeError, FloatingPointError):
    """A NaN or Inf appeared in an op's output (forward) or in a gradient (backward).

    A RuntimeError (as PyTorch raises) and a FloatingPointError (as NumPy raises under
    ``np.errstate(all="raise")``), so either ``except`` catches it.

    Attributes:
        op (str): the Function class name, e.g. ``"Log"``.
        phase (str): ``"forward"`` or ``"backward"``.
        module (str | None): the layer path, e.g. ``"'1' (Linear) in Sequential"``, or None
            when the op ran outside any Module.
    """

    def __init__(self, message, op=None, phase=None, module=None):
        super().__init__(message)
        self.op, self.phase, self.module = op, phase, module


def is_anomaly_enabled() -> bool:
    """True inside :class:`detect_anomaly` (or after ``set_detect_anomaly(True)``)."""
    return _autograd._ANOMALY


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off for the whole process.

    Args:
        mode: True to check every op and gradient for NaN/Inf.

    Example:
        >>> set_detect_anomaly(True); set_detect_anomaly(False)
    """
    if not isinstance(mode, (bool, int)) or isinstance(mode, float):
        raise TypeError(f"set_detect_anomaly: mode must be True or False. Got {mode!r}.")
    _autograd._ANOMALY = bool(mode)
    if not mode:
        _running.stack.clear()


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on, or off with ``mode=False``.

    The previous mode is restored on exit, also when an exception escapes, so blocks nest.

    Args:
        mode: True (default) to check every op for NaN/Inf; False to switch checks off inside.

    Example:
        >>> import nnbasics as nb
        >>> with nb.detect_anomaly():
        ...     y = nb.ones(3) * 2
    """

    def __init__(self, mode: bool = True):
        if not isinstance(mode, (bool, int)) or isinstance(mode, float):
            raise TypeError(f"detect_anomaly: mode must be True or False. Got {mode!r}.")
        self.mode = bool(mode)
        self.prev = None

    def __enter__(self):
        self.prev = _autograd._ANOMALY
        _autograd._ANOMALY = self.mode
        return self

    def __exit__(self, *exc):
        _autograd._ANOMALY = self.prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.mode):
                return func(*args, **kwargs)

        return wrapper


# ------------------------------------------------------------------ module path
def call_module(module, args, kwargs):
    """Run ``module.forward`` with ``module`` on the stack of running layers (anomaly mode only)."""
    stack = _running.stack
    stack.append(module)
    try:
        return module.forward(*args, **kwargs)
    finally:
        stack.pop()


def _module_path(stack) -> str | None:
    """``"'1.0' (Linear) in Sequential"`` for the innermost of the running modules, or None."""
    if not stack:
        return None
    parts = []
    for parent, child in itertools.pairwise(stack):
        name = next((k for k, m in getattr(parent, "_modules", {}).items() if m is child), None)
        parts.append(name if name is not None else type(child).__name__)
    root = type(stack[0]).__name__
    if not parts:
        return f"the top-level {root}"
    return f"{'.'.join(parts)!r} ({type(stack[-1]).__name__}) in {root}"


# ------------------------------------------------------------------ the checks
def _arrays(obj):
    if isinstance(obj, (tuple, list)):
        return [a for a in obj if hasattr(a, "dtype")]
    return [obj] if hasattr(obj, "dtype") else []


def _bad(a) -> bool:
    """True when float/complex array ``a`` holds a NaN or Inf."""
    return a.dtype.kind in "fc" and a.size > 0 and not bool(xp.isfinite(a).all())


def _stats(a) -> str:
    shape = tuple(getattr(a, "shape", ()))
    if not hasattr(a, "dtype") or a.dtype.kind not in "fc" or a.size == 0:
        return f"shape {shape}, dtype {getattr(a, 'dtype', type(a).__name__)}"
    finite = xp.isfinite(a)
    n_nan = int(xp.isnan(a).sum())
    n_inf = int(a.size - finite.sum()) - n_nan
    rng = f"range [{a[finite].min():.4g}, {a[finite].max():.4g}]" if finite.any() else "no finite values"
    return f"shape {shape}, dtype {a.dtype}, {rng}, {n_nan} NaN, {n_inf} Inf"


def _what(a) -> str:
    return "NaN" if bool(xp.isnan(a).any()) else "Inf"


def check_forward(fn, arrays, out, record) -> None:
    """Raise AnomalyError when ``out`` holds NaN/Inf; remember where ``fn`` was created for backward."""
    stack = tuple(_running.stack)
    for i, a in enumerate(_arrays(out)):
        if _bad(a):
            op = type(fn).__name__
            where = _module_path(stack)
            ins = "\n".join(f"  input {j}: {_stats(x)}" for j, x in enumerate(arrays))
            upstream = any(_bad(x) for x in arrays if hasattr(x, "dtype"))
            cause = (" Its inputs already held non-finite values (they came from outside the checked graph)."
                     if upstream else " Its inputs were finite: this op made the first non-finite value.")
            raise AnomalyError(
                f"detect_anomaly: {op} produced {_what(a)} in its forward output {i}"
                f"{' in layer ' + where if where else ' (outside any Module)'}.{cause}\n{ins}\n"
                f"  output: {_stats(a)}",
                op=op, phase="forward", module=where,
            )
    if record:
        fn._anomaly_where = stack
        # NOTE: frames only (no source lines read) now, formatted if an anomaly is found: ~10x cheaper
        stack_summary = traceback.StackSummary.extract(traceback.walk_stack(sys._getframe(2)), lookup_lines=False)
        stack_summary.reverse()
        fn._anomaly_trace = stack_summary


def check_backward(fn, grad, in_grads) -> None:
    """Raise AnomalyError when a gradient returned by ``fn.backward`` holds NaN/Inf."""
    for i, g in enumerate(in_grads):
        if g is None or not hasattr(g, "dtype") or not _bad(g):
            continue
        op = type(fn).__name__
        where = _module_path(getattr(fn, "_anomaly_where", ()))
        inputs = [getattr(t, "_array", t) for t in getattr(fn, "inputs", ())]
        ins = "\n".join(f"  forward input {j}: {_stats(x)}" for j, x in enumerate(inputs))
        summary = getattr(fn, "_anomaly_trace", None)
        trace = "".join(summary.format()) if summary else "  (created before anomaly mode was on)\n"
        raise AnomalyError(
            f"detect_anomaly: {op}.backward returned {_what(g)} in its gradient for input {i}"
            f"{' (op created in layer ' + where + ')' if where else ''}.\n"
            f"  incoming gradient: {_stats(grad)}\n{ins}\n  returned gradient {i}: {_stats(g)}\n"
            f"Traceback of the forward call that created the {op}:\n{trace}",
            op=op, phase="backward", module=where,
        )
