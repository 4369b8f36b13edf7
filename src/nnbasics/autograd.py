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

This is the reference engine. Faster implementations of an op (and of :func:`propagate`,
the backward walk) are registered by :mod:`nnbasics.kernels` through :mod:`nnbasics.dispatch`;
:meth:`Function.apply` runs the first one that takes its inputs, or the op's own
``forward``/``backward`` in reference mode (``NNBASICS_REFERENCE=1``).
"""

from __future__ import annotations

import contextvars
import functools
import threading
import weakref

from . import versions as _versions
from .backend import xp
from .dispatch import dispatchable

# NumPy < 2 promotes 0-d float32 (op) Python float to float64 (value-based casting);
# Function.apply undoes that so float32 stays float32 on NumPy 1.26 as on 2.x (NEP 50).
_LEGACY_PROMOTION = int(xp.__version__.split(".")[0]) < 2
_ndarray = xp.ndarray

__all__ = [
    "AccumulateGrad",
    "Function",
    "backward",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "record_op",
    "recording",
    "set_grad_enabled",
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


def read_value(t, how: str):
    """Tell the recorder that Python read tensor ``t``'s value (``how``: ``"bool()"``, ``"item()"``...).

    A recorder without a ``read_value`` method ignores it. Call it as ``if autograd._RECORDING:``.
    """
    rec = _recorder.get()
    if rec is not None and hasattr(rec, "read_value"):
        rec.read_value(t, how)


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
    """Turn graph recording on or off: as a call, a context manager or a decorator (as PyTorch's).

    ``set_grad_enabled(False)`` as a plain call switches recording off right away (it stays off
    until switched back); as a ``with`` block the previous mode is restored on exit, also when
    an exception escapes. :class:`no_grad` and :class:`enable_grad` act only when entered.

    Example:
        >>> with set_grad_enabled(False):
        ...     pass
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _mode.enabled
        # NOTE: torch's set_grad_enabled sets the mode when constructed; its subclasses here do not
        self._at_once = type(self) is set_grad_enabled
        if self._at_once:
            _mode.enabled = self.mode

    def __enter__(self):
        if not self._at_once:
            self.prev = _mode.enabled
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False

    def __call__(self, func):
        if self._at_once:  # used as @set_grad_enabled(False): decorating changes nothing now
            _mode.enabled = self.prev

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
    #: True once a backward with ``retain_graph=True`` has reached the op: its saved arrays must
    #: outlive ``backward`` then (a kernel may otherwise hand big ones back to its workspace as
    #: soon as it has used them, before ``release``).
    retaining = False
    #: True for ops whose output dtype is chosen by a parameter (Cast), not by promotion.
    changes_dtype = False
    #: The error to raise at backward when an in-place change overwrote what this op kept (nnbasics.versions).
    clobbered = None

    #: Fast implementations registered by :mod:`nnbasics.kernels` as ``(when, kernel)`` pairs
    #: (:func:`nnbasics.dispatch.register`); empty in reference mode. Never inherited.
    kernels = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.kernels = ()  # NOTE: a kernel registered for an op is not one of its subclasses' (nor its own kernel's)

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
        arrays = [t._array for t in inputs]
        needs = tuple([t.requires_grad for t in inputs])
        impl = cls  # the reference, or the first registered kernel that takes these inputs
        for when, kernel in cls.kernels:
            if when is None or when(*arrays, **params):
                impl = kernel
                break
        fn = impl()
        record = _mode.enabled and any(needs)
        if record:
            fn.needs_grad = needs
            fn.versions = tuple([t._vc[0] for t in inputs])  # checked by backward (nnbasics.versions)
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
            fn.inputs = tuple([t if t._ctx is None else edge(t) for t in inputs])
        result = _make(out, record, fn if record else None)
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

    def name(self) -> str:
        """The op's name (PyTorch's ``grad_fn.name()``)."""
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        """``((node, 0), ...)``, one per input, as PyTorch's ``grad_fn.next_functions``: the op that made
        the input, an :class:`AccumulateGrad` for a leaf that requires grad, ``None`` otherwise;
        ``()`` once backward has freed the graph."""
        inputs = self.__dict__.get("inputs")
        if inputs is None:
            return ()
        return tuple((t._ctx if t._ctx is not None else AccumulateGrad(t) if t.requires_grad else None, 0)
                     for t in inputs)


class AccumulateGrad:
    """The graph node of a leaf that requires grad (where backward adds into ``.grad``), as in PyTorch.

    Attributes:
        variable: the leaf tensor.
    """

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __repr__(self):
        return "<AccumulateGrad>"


class Edge:
    """What the graph keeps of a non-leaf input: its place in the graph, not its values.

    An op's record (``fn.inputs``) holds its leaf inputs (parameters: their ``.grad`` is written)
    and, for every input made by another op, this edge: the producing op, the version counter,
    the hooks, and a weak reference to the tensor. The tensor's array is therefore freed when
    the last Python reference to the tensor goes, unless an op kept the array for its backward
    (ReLU keeps a mask, not its input; pooling keeps where the maxima were): as in PyTorch, whose
    graph holds ``grad_fn`` edges, not tensors. All consumers of a tensor share its edge, so
    gradients from several paths add up under one key. An in-place change gives the tensor a new
    history (``_ctx``) and later consumers a new edge; earlier consumers keep the old one, whose
    op is the history they used.

    While the tensor is alive, reads go to it (``_array`` for the version check, ``grad`` and
    ``_retains_grad`` for :meth:`~nnbasics.Tensor.retain_grad`, also called after the tensor was
    used). Afterwards ``_array`` is the array itself while anything holds it (an op that saved it,
    a ``detach()`` alias that may change it in place), else an array of the right shape and dtype
    that takes no memory.
    """

    __slots__ = ("__weakref__", "_aref", "_ctx", "_dtype", "_hooks", "_ref", "_shape", "_vc")
    requires_grad = True  # only tensors made by a recorded op have an edge
    _base = None

    def __init__(self, t):
        self._ctx, self._vc, self._ref, self._aref = t._ctx, t._vc, weakref.ref(t), weakref.ref(t._array)
        if t._hooks is None:
            t._hooks = []  # shared: hooks registered on the tensor later are seen here
        self._hooks = t._hooks
        self._shape, self._dtype = t._array.shape, t._array.dtype

    @property
    def _array(self):
        t = self._ref()
        if t is not None:
            return t._array
        a = self._aref()  # an op kept it, or a detach() alias holds it: the version check needs it
        if a is not None:
            return a
        return xp.broadcast_to(xp.empty((), dtype=self._dtype), self._shape)  # values gone, none needed

    @property
    def grad_fn(self):
        """The op that made the tensor (the history this edge stands for)."""
        return self._ctx

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self):
        return self._shape

    @property
    def _retains_grad(self):
        t = self._ref()
        return t is not None and t._retains_grad and t._ctx is self._ctx

    @property
    def grad(self):
        t = self._ref()
        return None if t is None else t.grad

    @grad.setter
    def grad(self, value):
        t = self._ref()
        if t is not None:
            t.grad = value


def edge(t):
    """The :class:`Edge` of non-leaf tensor ``t`` for its current history (made once, then shared)."""
    e = t._edge
    if e is None or e._ctx is not t._ctx:
        e = t._edge = Edge(t)
    return e


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
        # the version check: the inputs' versions now against those apply() noted
        if tuple([i._vc[0] for i in inputs]) != fn.versions or fn.clobbered is not None:
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

    propagate(_topological_order(root), root, g0, retain_graph)


@dispatchable
def propagate(order, root, grad, retain_graph: bool) -> None:
    """Send ``grad`` = d(root)/d(root) back through ``order`` (:func:`_topological_order`'s), into the leaves.

    Each tensor's gradient is complete once every op that used it has sent its share (the
    order guarantees it); it then goes through the tensor's hooks, into ``.grad`` for a leaf
    (or a tensor that retains its grad), and through the tensor's op to its inputs, where the
    shares of several paths add up. A leaf's first gradient is copied, so that ``.grad`` owns
    its memory (an op may pass one array to several inputs). Each op's saved arrays are freed
    after its backward unless ``retain_graph``.
    """
    grads = {id(root): grad}  # id(tensor) -> d(root)/d(tensor) so far
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:  # no path from the root reaches t
            continue
        if t._hooks:
            g = run_hooks(t, g)
        fn = t._ctx
        if fn is None or t._retains_grad:
            _accumulate_leaf(t, g)
        if fn is None:
            continue
        if retain_graph:
            fn.retaining = True
        in_grads = fn.backward(g)
        if _ANOMALY:
            _anomaly.check_backward(fn, g, in_grads)
        for inp, ig in zip(fn.inputs, in_grads):
            if ig is None or not inp.requires_grad:
                continue
            if ig.dtype != inp.dtype:  # an op on mixed dtypes: each input gets its own dtype back
                ig = ig.astype(inp.dtype)
            prev = grads.get(id(inp))
            grads[id(inp)] = ig if prev is None else prev + ig
        if not retain_graph:
            fn.release()


def run_hooks(t, g):
    """``g`` passed through ``t``'s hooks in order; a hook that returns a value replaces it."""
    for hook in t._hooks:
        r = hook(_make(g, False, None))
        if r is not None:
            g = (r._array if isinstance(r, _Tensor) else xp.asarray(r)).astype(t._array.dtype, copy=False)
    return g


def _accumulate_leaf(t, g):
    """``t.grad += g``; the first gradient is a copy that ``t.grad`` owns."""
    g = xp.asarray(g)  # NOTE: a 0-d backward may give a NumPy scalar; .grad holds an array
    if t.grad is None:
        t.grad = _make(g.copy(), False, None)
    else:
        t.grad = _make(xp.asarray(t.grad._array + g), False, None)


from .tensor import Tensor as _Tensor

_make = _Tensor._make

from . import anomaly as _anomaly  # (at the end: anomaly.py imports this module)
