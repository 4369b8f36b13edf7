"""Module hooks: the handle that removes a hook, and the machinery of full backward hooks.

:meth:`Module.register_full_backward_hook <nnbasics.nn.Module.register_full_backward_hook>` is built
from tensor hooks: :class:`BackwardHookCall` wraps one module call, passes the inputs that require
grad through an identity node (so their gradient is this call's share only), hooks the outputs, and
calls the module's hooks with ``(grad_input, grad_output)`` once both are known.
"""

from __future__ import annotations

import itertools

from ..tensor import Tensor

__all__ = ["BackwardHookCall", "RemovableHandle", "output_tensors"]


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook.

    Also a context manager: the hook is removed on leaving the ``with`` block.
    """

    _ids = itertools.count()

    def __init__(self, registry):
        self._registry = registry
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self._registry.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def output_tensors(out) -> list:
    """The Tensors in a module's output (a Tensor, or tuples, lists and dicts of them), in order."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in output_tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in output_tensors(o)]
    return []


class BackwardHookCall:
    """Collects grad_input / grad_output of one module call for its full backward hooks."""

    def __init__(self, module, args):
        self.module = module
        wrapped = []
        self.pending_in = set()
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad:
                a = a * 1  # NOTE: identity node, so the hook sees this module's share of the gradient only
                a.register_hook(self._input_hook(i))
                self.pending_in.add(i)
            wrapped.append(a)
        self.inputs = tuple(wrapped)
        self.n_in = len(args)
        self._reset()

    def _reset(self):
        self.grad_input = [None] * self.n_in
        self.todo_in = set(self.pending_in)
        self.grad_output = None
        self.todo_out = None

    def watch_outputs(self, out):
        """Hook the output tensors; returns ``out`` with any input passed straight through re-wrapped."""
        passed = {id(t) for t in self.inputs if isinstance(t, Tensor)}

        def rewrap(o):
            if isinstance(o, Tensor):
                return o * 1 if id(o) in passed else o  # its own node: output hook before input hook
            if isinstance(o, tuple) and hasattr(o, "_fields"):  # namedtuple
                return type(o)(*(rewrap(e) for e in o))
            if isinstance(o, (tuple, list)):
                return type(o)(rewrap(e) for e in o)
            return o

        if passed:
            out = rewrap(out)
        outs = output_tensors(out)
        self.n_out = len(outs)
        self.out_needs = {j for j, t in enumerate(outs) if t.requires_grad}
        for j in self.out_needs:
            outs[j].register_hook(self._output_hook(j))
        return out

    def _output_hook(self, j):
        def hook(g):
            if self.grad_output is None:
                self.grad_output = [None] * self.n_out
                self.todo_out = set(self.out_needs)
            self.grad_output[j] = g
            self.todo_out.discard(j)
            if not self.pending_in and not self.todo_out:
                self._fire()

        return hook

    def _input_hook(self, i):
        def hook(g):
            self.grad_input[i] = g
            self.todo_in.discard(i)
            if not self.todo_in:
                self._fire()

        return hook

    def _fire(self):
        grad_output = tuple(self.grad_output) if self.grad_output is not None else (None,) * self.n_out
        grad_input = tuple(self.grad_input)
        self._reset()
        for hook in list(self.module._backward_hooks.values()):
            r = hook(self.module, grad_input, grad_output)
            if r is not None:
                raise TypeError(
                    f"a full backward hook of {type(self.module).__name__} returned {type(r).__name__}; "
                    "it must return None (use Tensor.register_hook to change gradients)."
                )
