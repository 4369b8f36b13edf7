"""Module converters: your own ONNX nodes for a module type, instead of its traced ops.

The exporter traces every module's ops (:mod:`.trace`), so no converter is needed to export
a model. A converter is for a layer whose ops have no ONNX mapping (a forward that computes
with NumPy, say) or that ONNX has a better node for: :func:`register_converter` makes every
call of that module type one opaque record, emitted by ``fn(g, module, x, y) -> str | Value``
with ``g`` the :class:`~.graph.GraphBuilder`, ``x`` the input :class:`~.graph.Value` (its
graph name, the example array and its batch axis) and ``y`` the array the module returned
on the example. Returning a name means "same batch axis as the input". Keep the batch dim
out of the nodes (reshape with 0 or -1 there, or use ``g.reshape``), so the file runs on any
batch size.
"""

from __future__ import annotations

from .. import nn
from .errors import OnnxExportError
from .graph import Value

__all__ = ["find_converter", "register_converter", "supported_types"]

_CONVERTERS: dict = {}


def register_converter(cls, fn=None):
    """Register ``fn(g, module, x, y) -> str | Value`` as the converter of Module type ``cls``.

    Usable as a decorator: ``@register_converter(MyLayer)``. A later registration replaces
    an earlier one. See the module docstring for the arguments ``fn`` receives.

    Example:
        >>> import nnbasics.nn as nn
        >>> class Double(nn.Module):
        ...     def forward(self, x):
        ...         return x * 2.0
        >>> @register_converter(Double)
        ... def _double(g, m, x, y):
        ...     return g.op("Mul", [x.name, g.const(2.0)])
    """
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise TypeError(f"register_converter: cls must be an nnbasics Module class; got {cls!r}.")
    if fn is None:
        return lambda f: register_converter(cls, f)
    if not callable(fn):
        raise TypeError(f"register_converter: fn must be callable; got {type(fn).__name__}.")
    _CONVERTERS[cls] = fn
    return fn


def find_converter(module):
    """The converter for ``module``'s type, or None.

    A subclass of a registered type uses that type's converter only if it does not override
    ``forward``; a subclass with its own forward is traced (or needs its own converter).
    """
    for cls in type(module).__mro__:
        fn = _CONVERTERS.get(cls)
        if fn is not None:
            return fn if getattr(type(module), "forward", None) is getattr(cls, "forward", None) else None
    return None


def supported_types():
    """Names of the module types with a registered converter (sorted)."""
    return sorted(c.__name__ for c in _CONVERTERS)


def module_mapping(e, r, p):
    """Emit an opaque module call through its converter."""
    m = r.op.module
    fn = find_converter(m)
    if len(r.inputs) != 1 or len(r.outs) != 1:
        raise OnnxExportError(f"export: the converter of {type(m).__name__} (layer '{r.scope}') takes one input and "
                              f"one output; this call has {len(r.inputs)} inputs and {len(r.outs)} outputs.")
    ref = r.inputs[0]
    axes = [i for i, d in enumerate(e.shape(ref)) if d is not None and d.symbol is not None]
    x = Value(e.name(ref), e.arr(ref), axes[0] if axes else None)
    from .trace import array_of

    out = fn(e.g, m, x, array_of(r.outs[0]))
    return out.name if isinstance(out, Value) else out
