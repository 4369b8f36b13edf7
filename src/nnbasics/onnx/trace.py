"""Record one forward pass: every primitive op with its inputs, parameters, output and source line.

:func:`trace` runs ``model(*inputs)`` once under :class:`nnbasics.autograd.recording`, in
eval mode and without gradients. Each op reported by ``Function.apply`` (or by a primitive
that is not a Function: ``compare``, an integer ``cast``, ``argmax``/``argmin``) becomes a
:class:`Record`. Tensors are replaced by *references*:

* ``("input", k)`` -- the k-th (flattened) example input;
* ``("out", j, slot)`` -- output ``slot`` of record ``j``;
* ``("param", key)`` -- a parameter or buffer, by its state-dict key (an ONNX initializer);
* ``("const", c)`` -- anything else that was not computed by a recorded op (a tensor built
  inside ``forward`` from numbers, ``zeros(...)``, a NumPy array...): the c-th constant.

NumPy arrays among an op's parameters (``where``'s condition, index arrays of ``x[idx]``,
batch norm's running statistics, embedding ids) are matched to these references by identity,
so an index computed by an earlier op stays connected to it.

Python control flow is not recorded: the trace is the path this example took. Modules whose
type has a converter (:func:`~.converters.register_converter`) are recorded as one opaque
record whose inner ops are not reported. Each record remembers the module path it ran in and
the first line of user code (outside the nnbasics package) that led to it, for messages.
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import sys

import numpy as np

from ..autograd import no_grad, recording
from ..tensor import Tensor
from .errors import OnnxExportError

__all__ = ["ModuleCall", "Record", "Trace", "array_of", "trace"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def array_of(t):
    """The NumPy array under a Tensor."""
    return t._array


@dataclasses.dataclass(frozen=True)
class ModuleCall:
    """The op of an opaque record: a call of a module that has a registered converter."""

    module: object

    @property
    def __name__(self):  # read like an op class's name in messages
        return type(self.module).__name__


@dataclasses.dataclass
class Record:
    """One recorded op.

    Attributes:
        op: the Function subclass, a primitive's name (``"compare"``...) or a :class:`ModuleCall`.
        inputs: references of the input Tensors (see the module docstring).
        params: the op's parameters; known arrays replaced by references, others by constants.
        outs: the output Tensors (one for a primitive).
        scope: the dotted path of the module that was running ("" for the model itself).
        where: the user's source line that led to the op, e.g. ``"net.py:12 in forward: y = x.view(...)"``.
    """

    op: object
    inputs: list
    params: dict
    outs: list
    scope: str
    where: str

    @property
    def op_name(self) -> str:
        return self.op if isinstance(self.op, str) else self.op.__name__


@dataclasses.dataclass
class Trace:
    """A recorded forward pass: inputs, records, constants, parameters and the output structure."""

    inputs: list  # the example input Tensors (flattened)
    records: list
    consts: list  # arrays of the constants, by index
    const_where: list  # the record (index) that first used each constant
    params: dict  # state-dict key -> array
    outputs: object  # the model's output: a reference, or a (nested) tuple of them
    value_reads: list = dataclasses.field(default_factory=list)  # (where, how): Python read a value from the input


class _Recorder:
    """The callback of :class:`~nnbasics.autograd.recording`, plus module hooks for scopes and opaque calls."""

    def __init__(self, model, inputs, opaque):
        self.records, self.consts, self.const_where = [], [], []
        self.keep = []  # everything whose id() is a key below stays alive while the trace does
        self.by_tensor, self.by_array = {}, {}
        self.params = {}
        for key, t in list(model.named_parameters()) + list(model.named_buffers()):
            self._name(t, ("param", key))
            self.params.setdefault(key, t if isinstance(t, np.ndarray) else array_of(t))
        for k, t in enumerate(inputs):
            self._name(t, ("input", k))
        self.paths = {id(m): name for name, m in model.named_modules()}
        self.snapshots = []  # (record, copy of an output): in-place changes are found by comparing at the end
        self.stack = []  # module paths being run
        self.opaque = opaque  # module -> bool: record the call as one op
        self.depth = 0  # > 0 inside an opaque module call
        self.value_reads = []  # (where, how): Python read a value computed from the input
        self._from_input = {}  # record index -> whether an input of the model flows into it

    def _name(self, t, ref):
        self.keep.append(t)
        self.by_tensor[id(t)] = ref
        arr = array_of(t) if isinstance(t, Tensor) else t
        self.keep.append(arr)
        self.by_array[id(arr)] = ref

    # ------------------------------------------------------------------ references
    def ref(self, t):
        """The reference of Tensor ``t`` (a new constant if it is unknown)."""
        r = self.by_tensor.get(id(t))
        if r is None:
            r = self.by_array.get(id(array_of(t)))
        if r is None:
            r = self._const(array_of(t))
            self._name(t, r)
        return r

    def _const(self, arr):
        self.consts.append(np.array(arr, copy=True))  # NOTE: a copy: the model may change its array later
        self.const_where.append(len(self.records))
        return ("const", len(self.consts) - 1)

    def param(self, v):
        """An op parameter with arrays (and tensors) replaced by references."""
        if isinstance(v, Tensor):
            return self.ref(v)
        if isinstance(v, np.ndarray):
            r = self.by_array.get(id(v))
            if r is not None:
                return ArrayRef(r)
            view = self._view_of(v)
            if view is not None:
                return view
            r = self._const(v)
            self._name(v, r)
            return ArrayRef(r)
        if isinstance(v, tuple):
            return tuple(self.param(e) for e in v)
        if isinstance(v, list):
            return [self.param(e) for e in v]
        return v

    def _view_of(self, v):
        """``v`` as a known array seen through ``broadcast_to`` (what ``take_along_axis`` passes on), or None."""
        b = v.base
        while b is not None and id(b) not in self.by_array:
            b = b.base if isinstance(b, np.ndarray) else None
        if b is None or b.ndim > v.ndim or v.__array_interface__["data"][0] != b.__array_interface__["data"][0]:
            return None
        try:
            same = np.broadcast_to(b, v.shape).strides == v.strides
        except ValueError:
            return None
        if not same:
            return None
        ref = self.by_array[id(b)]
        return ArrayRef(ref) if v.shape == b.shape else ArrayRef(ref, tuple(v.shape))

    def depends_on_input(self, ref) -> bool:
        """Whether a model input flows into reference ``ref`` (parameters and constants do not)."""
        if ref[0] == "input":
            return True
        if ref[0] != "out":
            return False
        j = ref[1]
        if j not in self._from_input:
            self._from_input[j] = any(self.depends_on_input(r) for r in self.records[j].inputs)
        return self._from_input[j]

    def read_value(self, t, how):
        """Python read ``t``'s value: kept (with the user's line) when it came from the input."""
        if self.depth:
            return
        if t is None:  # a random draw (nnbasics.rng): whatever it feeds is frozen at this example's numbers
            self.value_reads.append((_where(), how))
            return
        r = self.by_tensor.get(id(t)) or self.by_array.get(id(array_of(t)))
        if r is not None and self.depends_on_input(r):
            self.value_reads.append((_where(), how))

    # --------------------------------------------------------------------- callbacks
    def __call__(self, op, inputs, params, out):
        if self.depth:
            return
        self._append(op, list(inputs), {k: self.param(v) for k, v in params.items()}, [out])

    def _append(self, op, inputs, params, outs):
        refs = [self.ref(t) for t in inputs]  # before the outputs are named (an op may return its input)
        j = len(self.records)
        self.records.append(Record(op, refs, params, outs, self.stack[-1] if self.stack else "", _where()))
        for slot, t in enumerate(outs):
            self._name(t, ("out", j, slot))
            self.snapshots.append((j, np.array(array_of(t), copy=True)))

    def check_unchanged(self):
        """Raise if a recorded output was changed in place after it was computed (the graph would not see it)."""
        for j, before in self.snapshots:
            r = self.records[j]
            if any(not np.array_equal(array_of(t), before, equal_nan=True) for t in r.outs if t.shape == before.shape):
                raise OnnxExportError(
                    f"export: the result of {r.op_name} at {r.where} was changed in place later in forward "
                    f"(x[...] = v, fill_, copy_...). An ONNX graph has no in-place assignment; build a new tensor "
                    f"instead (where, cat, pad).")

    def pre_hook(self, module, args):
        self.stack.append(self.paths.get(id(module), type(module).__name__))
        if self.opaque(module):
            self.depth += 1

    def post_hook(self, module, args, out):
        if self.opaque(module):
            self.depth -= 1
            if not self.depth:
                self._append(ModuleCall(module), _flat_tensors(args), {}, _flat_tensors(out))
        self.stack.pop()


@dataclasses.dataclass(frozen=True)
class ArrayRef:
    """A parameter array that is the data of a traced tensor (or a constant), broadcast to ``shape`` if given."""

    ref: tuple
    shape: tuple | None = None


def _flat_tensors(x):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for e in x for t in _flat_tensors(e)]
    return []


def _where() -> str:
    """The innermost frame of user code (outside the nnbasics package) that led to the current op."""
    f = sys._getframe(1)
    fallback = None
    while f is not None:
        code = f.f_code
        if code is _BOUNDARY:
            break
        path = os.path.abspath(code.co_filename)
        if not path.startswith(_PACKAGE_DIR):
            return _describe(f)
        if fallback is None and not _is_engine(path):
            fallback = f  # e.g. a zoo model's forward in nnbasics/models
        f = f.f_back
    return _describe(fallback) if fallback is not None else "inside nnbasics"


_ENGINE = ("autograd.py", "tensor.py", "ops" + os.sep, "functional" + os.sep, os.path.join("nn", ""))


def _is_engine(path):
    rel = path[len(_PACKAGE_DIR):]
    return rel.startswith(_ENGINE) or rel.startswith("onnx" + os.sep)


def _raised_at(tb) -> str:
    """The innermost line of user code in a traceback (where a model's forward failed)."""
    where = ""
    while tb is not None:
        if not os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_PACKAGE_DIR):
            where = _describe(tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return where


def _describe(f, lineno=None) -> str:
    code, lineno = f.f_code, f.f_lineno if lineno is None else lineno
    line = linecache.getline(code.co_filename, lineno).strip()
    return f"{os.path.basename(code.co_filename)}:{lineno} in {code.co_name}" + (f": {line}" if line else "")


def _structure(out, rec):
    if isinstance(out, Tensor):
        return rec.ref(out)
    if isinstance(out, (tuple, list)):
        return tuple(_structure(e, rec) for e in out)
    if isinstance(out, dict):  # flattened in order, as torch.onnx.export does
        return tuple(_structure(e, rec) for e in out.values())
    if out is None:
        return None
    raise TypeError(f"export: the model returned a {type(out).__name__}; export needs Tensors (or tuples, lists "
                    f"or dicts of them).")


def _call_model(model, args, rec):
    """Run the model with the hooks and the recorder installed (the frame where source lines stop)."""
    handles = []
    try:
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(rec.pre_hook))
            handles.append(m.register_forward_hook(rec.post_hook))
        with no_grad(), recording(rec):
            return model(*args)
    finally:
        for h in handles:
            h.remove()


_BOUNDARY = _call_model.__code__


def trace(model, args, flat_inputs, opaque=lambda m: False) -> Trace:
    """Run ``model(*args)`` once and record it.

    Args:
        model: the Module (already in eval mode).
        args: the call's arguments: Tensors or (nested) tuples of Tensors.
        flat_inputs: the Tensors of ``args``, flattened (their order numbers the inputs).
        opaque: ``opaque(module)`` is True for modules recorded as one op.

    Returns:
        Trace.

    Raises:
        Whatever the model raises; ``rec_stack`` on the exception names the module that raised.
    """
    rec = _Recorder(model, flat_inputs, opaque)
    try:
        out = _call_model(model, args, rec)
    except Exception as e:
        e.nnbasics_scope = rec.stack[-1] if rec.stack else ""
        e.nnbasics_where = _raised_at(e.__traceback__)
        raise
    rec.check_unchanged()
    outputs = _structure(out, rec)
    return Trace(list(flat_inputs), rec.records, rec.consts, rec.const_where, rec.params, outputs, rec.value_reads)
