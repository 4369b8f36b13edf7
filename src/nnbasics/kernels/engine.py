"""The backward walk without the copies a leaf's gradient rarely needs.

The reference walk (:func:`nnbasics.autograd.propagate`) copies the first gradient each leaf
receives, so that ``.grad`` owns its memory. Most of those arrays are owned by nobody else
already — ``W.grad`` of ``x @ W.T`` is a fresh GEMM result — and copying a 784x256 weight
gradient costs about as much as computing it. This walk keeps, next to each gradient, whether
that array may also be held elsewhere, and copies only those:

* the caller's ``grad=`` array and a hook's result (the caller may keep them);
* an upstream gradient passed through unchanged (``Add``, ``Clone``: ``ig is g``);
* one array returned for two inputs;
* a view (``W.grad`` from the transpose in ``x @ W.T``) unless CPython's reference count
  shows that nothing but the view holds its base — then the base was made by a backward
  for this gradient alone (PyTorch's AccumulateGrad steals a gradient whose use count is 1 in
  the same way; :mod:`nnbasics.kernels.refcount`). Where counts are unreliable (PyPy,
  free-threaded CPython) views are always copied.

The flag travels with the array (ids of dead arrays are reused, so no set of ids). Values are
the reference walk's, bit for bit; only fewer copies are made.
"""

from __future__ import annotations

from .. import autograd
from ..anomaly import check_backward, is_anomaly_enabled
from ..backend import xp
from ..dispatch import register
from ..tensor import Tensor
from .refcount import sole_view

_ndarray = xp.ndarray
_make = Tensor._make


@register(autograd.propagate)
def propagate(order, root, grad, retain_graph):
    """:func:`nnbasics.autograd.propagate`, copying a leaf's gradient only where it may be shared."""
    grads = {id(root): (grad, True)}  # id(tensor) -> (gradient so far, may it be held elsewhere?)
    pop = grads.pop
    anomaly = is_anomaly_enabled()
    for t in reversed(order):
        entry = pop(id(t), None)
        if entry is None:
            continue
        g, g_shared = entry
        if t._hooks:  # a hook may keep the gradient it is shown, or return one it keeps
            g, g_shared = autograd.run_hooks(t, g), True
        fn = t._ctx
        if fn is None or t._retains_grad:
            _accumulate_leaf(t, g, g_shared)
            if fn is None:
                continue
        if retain_graph:
            fn.retaining = True
        in_grads = fn.backward(g)
        if anomaly:
            check_backward(fn, g, in_grads)
        n = len(in_grads)
        twice = n > 1 and (in_grads[0] is in_grads[1] if n == 2 else len({id(ig) for ig in in_grads}) < n)
        for inp, ig in zip(fn.inputs, in_grads):
            if ig is None or not inp.requires_grad:
                continue
            dtype = inp.dtype  # an edge's own: its _array may have to be rebuilt
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
        if maybe_shared or (g.base is not None and not sole_view(g)):
            g = g.copy()
        t.grad = _make(g, False, None)
    else:
        t.grad = _make(xp.asarray(t.grad._array + g), False, None)
