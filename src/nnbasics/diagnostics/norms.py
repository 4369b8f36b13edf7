"""Per-layer weight-gradient norms from one forward/backward pass: the vanishing/exploding meter."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import enable_grad
from ..nn.module import Module
from ..tensor import Tensor, as_tensor
from .layers import first_tensor, kept_as_found, resolve_layers, weight_params

__all__ = ["as_input", "as_target", "gradient_norms", "gradient_ratio", "weight_grad_norm"]


def weight_grad_norm(module: Module) -> float:
    """sqrt(sum of squared weight-gradient entries) of ``module`` (see :func:`weight_params`); NaN without grads."""
    total, seen = 0.0, False
    for p in weight_params(module):
        if p.grad is not None:
            g = np.asarray(p.grad._array, dtype=np.float64)
            total += float(np.vdot(g, g))
            seen = True
    return math.sqrt(total) if seen else math.nan


def _float_dtype(model):
    for p in model.parameters():
        if np.issubdtype(p.dtype, np.floating):
            return p.dtype
    return np.float32


def as_input(x, model, owner):
    """``x`` as a Tensor; float arrays take the dtype of the model's parameters."""
    if isinstance(x, Tensor):
        return x
    a = np.asarray(x)
    if a.dtype == object:
        raise TypeError(f"{owner}: x must be a numeric array or a Tensor; got an object array.")
    if np.issubdtype(a.dtype, np.floating):
        a = a.astype(_float_dtype(model), copy=False)
    return as_tensor(a)


def as_target(y, owner):
    if isinstance(y, Tensor):
        return y
    a = np.asarray(y)
    if a.dtype == object:
        raise TypeError(f"{owner}: y must be a numeric array or a Tensor; got an object array.")
    return as_tensor(a)


def gradient_norms(model: Module, x, y, loss="cross_entropy", *, modules=None, train=None) -> dict:
    """Weight-gradient norm of every parameter layer after one forward/backward at the current weights.

    The model's gradients and train/eval modes are restored as found (the pass does not touch the
    optimizer or the weights).

    Args:
        model: an nnbasics Module.
        x: an input batch (array or Tensor).
        y: the targets for ``loss``.
        loss: a loss name of :func:`nnbasics.training.fit` (``'cross_entropy'``, ``'mse'``...),
            a callable ``(outputs, targets) -> Tensor`` or an nn loss module.
        modules: restrict to these submodules (names, Modules or classes); default every leaf
            module with parameters.
        train: True/False runs the pass in train/eval mode; None keeps the model's current modes.

    Returns:
        dict: ``{layer name: ||dL/dW||_2}`` ordered input -> output (the order in which the
        layers were called), NaN for a layer that got no gradient.

    Example:
        >>> import numpy as np
        >>> from nnbasics.models.mlp import mlp
        >>> net = mlp(in_features=4, hidden=[8, 8], out_features=3, activation="sigmoid", init="lecun", rng=0)
        >>> norms = gradient_norms(net, np.ones((5, 4), np.float32), np.array([0, 1, 2, 0, 1]))
        >>> list(norms)
        ['0', '2', '4']
        >>> gradient_ratio(norms) < 1
        True
    """
    owner = "gradient_norms"
    from ..training.fit import resolve_loss

    loss_fn = resolve_loss(loss)
    layers = [(n, m) for n, m in resolve_layers(model, modules, owner) if weight_params(m)]
    if not layers:
        raise ValueError(f"{owner}: no selected module has parameters; nothing has a weight gradient.")
    xt, yt = as_input(x, model, owner), as_target(y, owner)
    order = []

    def seen(name):
        def hook(module, args, out):
            if name not in order:
                order.append(name)
        return hook

    with kept_as_found(model) as handles:
        if train is not None:
            model.train(bool(train))
        for n, m in layers:
            handles.append(m.register_forward_hook(seen(n)))
        for p in model.parameters():
            p.grad = None
        with enable_grad():
            out = first_tensor(model(xt))
            if out is None:
                raise TypeError(f"{owner}: the model returned no Tensor; cannot compute a loss.")
            value = loss_fn(out, yt)
            value.backward()
        norms = {n: weight_grad_norm(m) for n, m in layers}
    names = order + [n for n, _ in layers if n not in order]
    return {n: norms[n] for n in names}


def gradient_ratio(norms) -> float:
    """First layer's gradient norm over the last (output) layer's: << 1 vanishing, >> 1 exploding.

    Args:
        norms: a dict from :func:`gradient_norms` (or any ordered ``{name: norm}``, or a sequence).

    Returns:
        float: ``norms[first] / norms[last]`` (inf when the last is 0 and the first is not, NaN when both are).
    """
    values = list(norms.values()) if isinstance(norms, dict) else list(norms)
    if len(values) < 1:
        raise ValueError("gradient_ratio: norms is empty; pass the dict returned by gradient_norms(...).")
    first, last = float(values[0]), float(values[-1])
    if last == 0.0:
        return math.nan if first == 0.0 else math.inf
    return first / last
