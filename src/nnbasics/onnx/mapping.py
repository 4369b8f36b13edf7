"""The table from primitives to ONNX: a mapping or a deliberate refusal for every op.

A mapping is ``fn(e, r, p) -> name | [names]``: ``e`` the :class:`~.emit.Emitter`, ``r`` the
:class:`~.trace.Record`, ``p`` its parameters with dynamic numbers resolved. :func:`maps`
registers one for Function subclasses (matched exactly: a subclass computes something else
until it is mapped itself) or for the names of primitives that are not Functions
(``"compare"``, ``"cast"``, ``"argmax"``, ``"argmin"``). :func:`refuses` records why an op has
no ONNX form; :func:`lookup` raises then, naming the op and the user's line that called it.
``tests/onnx/test_onnx_coverage.py`` checks that every primitive is in one table or the other.
"""

from __future__ import annotations

from .errors import UnsupportedModuleError
from .trace import ModuleCall

__all__ = ["MAPPINGS", "REFUSALS", "lookup", "maps", "refuses"]

MAPPINGS: dict = {}
REFUSALS: dict = {}


def maps(*ops):
    """Decorator: register ``fn`` as the mapping of each op in ``ops``."""
    def register(fn):
        for op in ops:
            MAPPINGS[op] = fn
        return fn
    return register


def refuses(op, reason: str) -> None:
    """Record that ``op`` has no ONNX mapping, and why (shown to the user with the op's source line)."""
    REFUSALS[op] = reason


def lookup(r):
    """The mapping of record ``r``'s op; OnnxExportError (naming the op, its layer and line) when refused."""
    if isinstance(r.op, ModuleCall):
        from .converters import module_mapping

        return module_mapping
    fn = MAPPINGS.get(r.op)
    if fn is not None:
        return fn
    reason = REFUSALS.get(r.op, "no ONNX mapping is written for it yet")
    layer = f" in layer '{r.scope}'" if r.scope else ""
    raise UnsupportedModuleError(f"export: {_op_label(r.op)}{layer} at {r.where} cannot be exported to ONNX: {reason}")


def _op_label(op):
    if isinstance(op, str):
        return f"the primitive '{op}'"
    return f"the op {op.__name__} ({op.__module__})"
