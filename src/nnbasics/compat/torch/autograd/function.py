"""``torch.autograd.Function``: torch's custom-op API on top of nnbasics' :class:`~nnbasics.autograd.Function`.

A script's op is written as in torch::

    class MyReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            return grad_output * (x > 0).float()

    y = MyReLU.apply(x)

``apply`` runs one nnbasics op (:class:`_Bridge`) whose forward calls the script's ``forward`` on
tensors (without recording) and whose backward calls the script's ``backward``; the graph,
gradient accumulation and ``retain_graph`` are nnbasics'. ``forward`` must return one tensor.

Example:
    >>> import nnbasics as nb
    >>> class Square(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         x, = ctx.saved_tensors
    ...         return 2 * x * g
    >>> x = nb.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).sum().backward(); x.grad.tolist()
    [6.0]
"""

from __future__ import annotations

import numpy as np

from ....autograd import Function as _NbFunction
from ....autograd import no_grad
from ....tensor import Tensor, as_tensor
from ...unsupported import UnsupportedTorchAPI

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` of a custom Function: ``save_for_backward``, ``saved_tensors``, ``needs_input_grad``."""

    def __init__(self, needs_input_grad=()):
        self.needs_input_grad = tuple(needs_input_grad)
        self._saved = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self._saved = tuple(tensors)

    @property
    def saved_tensors(self):
        return self._saved

    def mark_dirty(self, *tensors):
        """Accepted (nnbasics' forward returns a new tensor)."""

    def mark_non_differentiable(self, *tensors):
        """Accepted; such outputs still get a (zero) gradient path."""

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class _Bridge(_NbFunction):
    """One nnbasics op running a torch-style Function's static forward and backward."""

    def forward(self, *arrays, user=None, layout=None, others=None):
        needs = getattr(self, "needs_grad", (False,) * len(arrays))
        args, it_arr, it_need, flags = [], iter(arrays), iter(needs), []
        for is_tensor, other in zip(layout, others):
            if is_tensor:
                args.append(as_tensor(next(it_arr)))
                flags.append(bool(next(it_need)))
            else:
                args.append(other)
                flags.append(False)
        self.ctx = FunctionCtx(flags)
        self.user, self.layout = user, layout
        with no_grad():
            out = user.forward(self.ctx, *args)
        if isinstance(out, (tuple, list)):
            raise UnsupportedTorchAPI(f"{user.__name__}.forward returning {len(out)} outputs",
                                      "nnbasics runs custom Functions with one output tensor; split it into "
                                      "several Functions or return one tensor", kind="call")
        return np.asarray(out)

    def backward(self, grad):
        with no_grad():
            grads = self.user.backward(self.ctx, as_tensor(grad))
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) < len(self.layout):
            raise RuntimeError(f"function {self.user.__name__}Backward returned an incorrect number of gradients "
                               f"(expected {len(self.layout)}, got {len(grads)})")
        out = []
        for is_tensor, g in zip(self.layout, grads):
            if is_tensor:
                out.append(None if g is None else np.asarray(g))
        return tuple(out)


class Function:
    """Base class of a script's custom op (see the module docstring)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args):
        """Run the op: tensors among ``args`` are differentiable inputs, anything else is passed as is."""
        layout = tuple(isinstance(a, Tensor) for a in args)
        tensors = [a for a in args if isinstance(a, Tensor)]
        others = tuple(None if t else a for t, a in zip(layout, args))
        return _Bridge.apply(*tensors, user=cls, layout=layout, others=others)


def once_differentiable(fn):
    """Accepted decorator (nnbasics never differentiates a backward)."""
    return fn
