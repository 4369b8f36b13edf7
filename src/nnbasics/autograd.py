"""Reverse-mode automatic differentiation: the Function base and the backward engine.

A :class:`Function` is one primitive op. Its ``forward`` takes arrays and returns
an array; its ``backward`` takes the gradient of the loss with respect to the
output and returns one gradient per input (None where an input needs none).
Calling ``SomeOp.apply(*tensors)`` runs forward and, when gradients are being
recorded, links the output to the op so that :func:`backward` can walk back.

The engine (:func:`backward`) orders the graph with an explicit stack (no
recursion, so a chain of 100,000 ops is fine), adds gradients that reach a
tensor along several paths (``x*x`` at 3 gives 6), and frees each op's saved
arrays once it has been used unless ``retain_graph=True``.
"""

from __future__ import annotations

import contextvars
import functools
import sys
import threading

from . import versions as _versions
from .backend import xp

# NumPy < 2 promotes 0-d float32 (op) Python float to float64 (value-based casting);
# Function.apply undoes that so float32 stays float32 on NumPy 1.26 as on 2.x (NEP 50).
_LEGACY_PROMOTION = int(xp.__version__.split(".")[0]) < 2
_ndarray = xp.ndarray

__all__ = [
    "Function",
    "backward",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "recording",
    "record_op",
]


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()

# Anomaly mode (nnbasics.anomaly): a plain global, read once per op and per backward call.
_ANOMALY = False

# Op recording (nnbasics.onnx traces a forward pass): _RECORDING counts the recorders installed
# in any thread; Function.apply reads it once per op, so recording costs nothing when off. The
# recorder itself is context-local: ops run by other threads (or contexts) are not reported to it.
_RECORDING = 0
_recording_lock = threading.Lock()
_recorder = contextvars.ContextVar("nnbasics_recorder", default=None)


class recording:
    """Context manager: report every op run in this context to ``recorder``.

    ``recorder(op, inputs, params, out)`` is called after each op with the op (a
    :class:`Function` subclass, or the name of a primitive that is not one, such as
    ``"compare"``), its input Tensors, its non-tensor parameters and its output Tensor,
    whether or not gradients are being recorded. Recorders do not nest: the innermost one
    receives the ops. Other threads' ops are not reported.

    Example:
        >>> import nnbasics as nb
        >>> seen = []
        >>> with recording(lambda op, inputs, params, out: seen.append(op.__name__)):
        ...     _ = nb.ones(2) * 3.0
        >>> seen
        ['Mul']
    """

    def __init__(self, recorder):
        self.recorder = recorder
        self.token = None

    def __enter__(self):
        global _RECORDING
        self.token = _recorder.set(self.recorder)
        with _recording_lock:
            _RECORDING += 1
        return self

    def __exit__(self, *exc):
        global _RECORDING
        _recorder.reset(self.token)
        with _recording_lock:
            _RECORDING -= 1
        return False


def record_op(op, inputs, params, out):
    """Report a primitive that is not a :class:`Function` (a comparison, an integer cast) to the recorder.

    Call it as ``if autograd._RECORDING: autograd.record_op(...)`` so that it costs nothing
    when no recorder is installed.
    """
    rec = _recorder.get()
    if rec is not None:
        rec(op, inputs, params, out)


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default); False inside :class:`no_grad`."""
    return _mode.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off.

    The previous mode is restored on exit, also when an exception escapes.

    Example:
        >>> with set_grad_enabled(False):
        ...     pass
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = None

    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return func(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """Disable graph recording: ops inside return tensors with ``requires_grad=False``.

    Use it for evaluation and for in-place parameter updates.

    Example:
        >>> import nnbasics as nb
        >>> x = nb.ones(3, requires_grad=True)
        >>> with nb.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Re-enable graph recording, e.g. inside a :class:`no_grad` block."""

    def __init__(self):
        super().__init__(True)


class Function:
    """Base class of every primitive op.

    Subclasses implement::

        def forward(self, *arrays, **params) -> array
        def backward(self, grad) -> tuple  # one entry per input, None allowed

    ``forward`` may keep on ``self`` whatever ``backward`` needs. Before
    ``forward`` runs, ``self.needs_grad`` holds one bool per input so that ops
    can skip saving or computing what no gradient needs.
    Gradients returned by ``backward`` may broadcast-differ from the input
    shape only if the op undoes it with :func:`nnbasics.ops.util.sum_to`.
    """

    #: One bool per input (does it need a gradient?), set before ``forward`` when the op is recorded;
    #: None when it is not (then ``forward`` need keep nothing for backward).
    needs_grad = None
    #: True once backward has run without retain_graph and saved arrays are freed.
    released = False
    #: True for ops whose output dtype is chosen by a parameter (Cast), not by promotion.
    changes_dtype = False
    #: The error to raise at backward when an in-place change overwrote what this op kept (nnbasics.versions).
    clobbered = None

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors and link the output into the graph.

        Args:
            *inputs: Tensors (already converted by the calling function).
            **params: non-differentiable settings forwarded to ``forward``.

        Returns:
            Tensor: the output, with ``requires_grad`` set when any input
            requires grad and recording is enabled.
        """
        fn = cls()
        # NOTE: this runs for every op: unrolled for the usual 1 or 2 inputs (~0.25 us less)
        n = len(inputs)
        if n == 2:
            a, b = inputs
            needs, arrays = (a.requires_grad, b.requires_grad), (a._array, b._array)
        elif n == 1:
            needs, arrays = (inputs[0].requires_grad,), (inputs[0]._array,)
        else:
            needs, arrays = tuple([t.requires_grad for t in inputs]), [t._array for t in inputs]
        record = _mode.enabled and True in needs
        if record:
            fn.needs_grad = needs
            # the inputs' versions, checked by backward (nnbasics.versions)
            fn.versions = (a._vc[0], b._vc[0]) if n == 2 else tuple([t._vc[0] for t in inputs])
        try:
            out = fn.forward(*arrays, **params)
        except ValueError as e:
            shapes = " and ".join(str(tuple(t.shape)) for t in inputs)
            raise ValueError(f"{cls.__name__.lower()}: cannot apply to shapes {shapes}: {e}") from None
        if type(out) is not _ndarray:  # NumPy gives a scalar for some 0-d results; a Tensor holds an array
            out = xp.asarray(out)
        if _LEGACY_PROMOTION and out.dtype == xp.float64 and not cls.changes_dtype:
            out = _undo_legacy_promotion(out, arrays)
        if _ANOMALY:
            _anomaly.check_forward(fn, arrays, out, record)
        if record:
            fn.inputs = inputs
            result = _make(out, True, fn)
        else:
            result = _make(out, False, None)
        if _RECORDING:
            record_op(cls, inputs, params, result)
        return result

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    def release(self):
        """Free saved arrays and inputs; a later backward through it raises."""
        self.__dict__.clear()
        self.released = True

    def __repr__(self):
        return f"<{type(self).__name__}{' (released)' if self.released else ''}>"


def _undo_legacy_promotion(out, arrays):
    """NumPy 1.x: cast a float64 result back to the inputs' own float dtype when no input was float64."""
    dtypes = [a.dtype for a in arrays if hasattr(a, "dtype")]
    if not dtypes or any(d == xp.float64 for d in dtypes):
        return out
    dt = xp.result_type(*dtypes)
    # NOTE: never to an integer dtype: an op that promotes int inputs to float keeps float64, as on NumPy 2
    return xp.asarray(out, dtype=dt) if dt.kind == "f" else out


_RELEASED_MSG = (
    "Trying to backward through the graph a second time: its saved arrays were "
    "freed by the first backward. Call .backward(retain_graph=True) the first "
    "time if you need to backward twice, or recompute the forward pass."
)


def _topological_order(root):
    """Tensors reachable from ``root`` that require grad, inputs before outputs.

    Iterative post-order depth-first search: no recursion limit.
    """
    order = []
    visited = set()
    stack = [(root, False)]
    pop, push, emit, visit = stack.pop, stack.append, order.append, visited.add
    while stack:
        t, expanded = pop()
        if expanded:
            emit(t)
            continue
        if id(t) in visited:
            continue
        visit(id(t))
        fn = t._ctx
        if fn is None:  # a leaf: nothing to expand
            emit(t)
            continue
        if fn.released:
            raise RuntimeError(_RELEASED_MSG)
        inputs = fn.inputs
        # NOTE: the version check, once per op: the inputs' versions now against those apply() noted
        if len(inputs) == 2:
            now = (inputs[0]._vc[0], inputs[1]._vc[0])
        else:
            now = tuple([i._vc[0] for i in inputs])
        if now != fn.versions or fn.clobbered is not None:
            _versions.check_inputs(fn)  # raises, or points fn at the tensors as they were
            inputs = fn.inputs
        push((t, True))
        for inp in inputs:
            if inp.requires_grad and id(inp) not in visited:
                push((inp, False))
    return order


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into the ``.grad`` of every leaf that requires grad.

    Args:
        root: the Tensor to differentiate (usually a scalar loss).
        grad: d(loss)/d(root), same shape as ``root``; may be omitted only
            when ``root`` has one element (it is then 1).
        retain_graph: keep the graph's saved arrays so backward can run again.

    Raises:
        RuntimeError: ``root`` does not require grad, a non-scalar root has no
            ``grad``, or the graph was already freed by an earlier backward.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph. Create the "
            "inputs with requires_grad=True (and not inside no_grad())."
        )
    if grad is None:
        if root._array.size != 1:
            raise RuntimeError(
                f"backward: grad can be implied only for a tensor with one element; this one "
                f"has shape {tuple(root.shape)}. Reduce it first (e.g. loss.sum()) or pass "
                f"grad= an array of that shape."
            )
        g0 = xp.ones_like(root._array)
    else:
        g0 = grad._array if isinstance(grad, _Tensor) else xp.asarray(grad)
        if g0.shape != root._array.shape:
            raise ValueError(
                f"backward: grad has shape {g0.shape}, expected {root._array.shape} (the tensor's shape)."
            )
        g0 = g0.astype(root._array.dtype, copy=False)

    order = _topological_order(root)
    # id(tensor) -> (gradient so far, whether that array may also be held elsewhere: the
    # caller's grad, a hook's result, an upstream gradient passed through, an array an op
    # returned for two inputs). Shared arrays are copied before a leaf keeps them. The flag
    # travels with the array (ids of dead arrays are reused, so no set of ids).
    grads = {id(root): (g0, True)}
    pop = grads.pop
    anomaly = _ANOMALY
    for t in reversed(order):
        entry = pop(id(t), None)
        if entry is None:
            continue
        g, g_shared = entry
        if t._hooks:
            for hook in t._hooks:
                r = hook(_make(g, False, None))
                if r is not None:
                    g = (r._array if isinstance(r, _Tensor) else xp.asarray(r)).astype(t._array.dtype, copy=False)
                    g_shared = True
        fn = t._ctx
        if fn is None or t._retains_grad:
            _accumulate_leaf(t, g, g_shared)
            if fn is None:
                continue
        in_grads = fn.backward(g)
        if anomaly:
            _anomaly.check_backward(fn, g, in_grads)
        n = len(in_grads)
        twice = n > 1 and (in_grads[0] is in_grads[1] if n == 2 else len({id(ig) for ig in in_grads}) < n)
        for inp, ig in zip(fn.inputs, in_grads):
            if ig is None or not inp.requires_grad:
                continue
            dtype = inp._array.dtype
            if ig.dtype is not dtype and ig.dtype != dtype:
                ig = ig.astype(dtype)
            key = id(inp)
            prev = grads.get(key)
            if prev is None:
                grads[key] = (ig, ig is g or (twice and sum(o is ig for o in in_grads) > 1))
            else:
                grads[key] = (prev[0] + ig, False)
        if not retain_graph:
            fn.release()


def _accumulate_leaf(t, g, maybe_shared):
    if type(g) is not _ndarray:  # a NumPy scalar from a 0-d backward: .grad holds a 0-d array
        g = xp.asarray(g)
    if t.grad is None:
        if maybe_shared or (g.base is not None and not _sole_view(g)):
            g = g.copy()
        t.grad = _make(g, False, None)
    else:
        t.grad = _make(xp.asarray(t.grad._array + g), False, None)


_getrefcount = getattr(sys, "getrefcount", None)
_sole_count = None  # what _getrefcount(view.base) reads when only the view holds its base


def _sole_view_count():
    """Measure, once, the count of a base held by one view alone (2 on CPython 3.10-3.13)."""
    global _sole_count
    if _sole_count is None:
        view = xp.empty((2, 3), dtype=xp.float32).T
        _sole_count = _getrefcount(view.base)
    return _sole_count


def _sole_view(a) -> bool:
    """True when view ``a`` may be kept as a leaf's grad without a copy.

    That is when it is writeable (not a broadcast), spans all of its base array, and
    nothing but ``a`` references that base: then the base was made by a backward for
    this gradient alone (``W.grad`` from the transpose in ``x @ W.T``), and copying it
    would only cost time. The count is CPython's, as PyTorch's AccumulateGrad steals a
    gradient whose use count is 1, compared with the count of a base known to be held by
    one view alone; where ``sys.getrefcount`` is missing (PyPy) views are always copied.
    """
    base = a.base
    if _getrefcount is None or type(base) is not xp.ndarray or not a.flags.writeable or a.nbytes != base.nbytes:
        return False
    del base
    return _getrefcount(a.base) <= _sole_view_count()


from .tensor import Tensor as _Tensor  # noqa: E402  (tensor.py imports this module)

_make = _Tensor._make

from . import anomaly as _anomaly  # (at the end: anomaly.py imports this module)
