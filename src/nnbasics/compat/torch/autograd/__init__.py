"""``torch.autograd``: ``Variable`` (deprecated, the identity), ``grad``, ``backward``, ``Function``, grad modes.

* ``Variable(t)`` returns ``t`` (``requires_grad=True`` sets it), as torch has since 0.4.
* ``Function`` (:class:`.function.Function`): torch's custom-op API -- static ``forward(ctx, ...)``
  and ``backward(ctx, grad)`` on tensors, ``ctx.save_for_backward``, ``.apply``.
* ``grad(outputs, inputs)`` returns the gradients without touching ``.grad``.
"""

from __future__ import annotations

import numpy as np

from ....anomaly import detect_anomaly, set_detect_anomaly
from ....autograd import enable_grad, no_grad, set_grad_enabled
from ....tensor import Tensor, as_tensor
from ...unsupported import module_getattr
from . import function  # noqa: F401
from .function import Function

__all__ = ["Function", "Variable", "backward", "detect_anomaly", "enable_grad", "grad", "no_grad",
           "set_detect_anomaly", "set_grad_enabled"]


def Variable(data, requires_grad=False, volatile=False):
    """Deprecated in torch 0.4: a Variable is a Tensor. Returns ``data`` (with ``requires_grad`` set if asked)."""
    t = data if isinstance(data, Tensor) else as_tensor(np.asarray(data))
    if requires_grad and not t.requires_grad:
        t.requires_grad_(True)
    return t


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``torch.autograd.backward``: ``t.backward(g)`` for each tensor."""
    ts = _as_list(tensors)
    gs = _as_list(grad_tensors) if grad_tensors is not None else [None] * len(ts)
    for t, g in zip(ts, gs):  # NOTE: create_graph / inputs passed on: nnbasics refuses them, never ignores
        t.backward(g, retain_graph=bool(retain_graph), create_graph=create_graph, inputs=inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``; ``.grad`` of every tensor is left as it was."""
    if create_graph:
        from ...unsupported import UnsupportedTorchAPI

        raise UnsupportedTorchAPI("torch.autograd.grad(create_graph=True)", "nnbasics' backward does not build a "
                                  "graph of the gradient (no second derivatives)", kind="call")
    outs, ins = _as_list(outputs), _as_list(inputs)
    gos = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outs)
    saved = [(t, t.grad, t._retains_grad) for t in ins]
    try:
        for t in ins:
            t.grad = None
            if not t.is_leaf:
                t.retain_grad()
        for o, g in zip(outs, gos):
            o.backward(g, retain_graph=bool(retain_graph))
        result = []
        for t in ins:
            if t.grad is None and not (allow_unused or materialize_grads):
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
            g = t.grad
            if g is None and materialize_grads:
                g = as_tensor(np.zeros(t.shape, t.dtype))
            result.append(g)
        return tuple(result)
    finally:
        for t, g, keep in saved:
            t.grad = g
            t._retains_grad = keep


__getattr__ = module_getattr(__name__)
