"""Which modules of a model the diagnostics watch, what kind each is, and which of its parameters are "weights".

Shared by :class:`~nnbasics.diagnostics.SignalMonitor`, :func:`~nnbasics.diagnostics.gradient_norms`,
:func:`~nnbasics.diagnostics.init_report` and :func:`~nnbasics.diagnostics.gradcheck_model`.

Kinds (``LayerStats.kind``): ``linear``, ``conv``, ``norm`` (batch/layer norm), ``embedding``,
``rnn``/``lstm``/``gru`` (and ``*cell``), the activation's lower-case class name (``sigmoid``,
``tanh``, ``relu``, ``relu6``, ``leakyrelu``, ``elu``, ``gelu``...), else the class name lower-cased.
"""

from __future__ import annotations

import contextlib

from ..nn import activation as _act
from ..nn.module import Module
from ..tensor import Tensor

__all__ = [
    "ACTIVATION_TYPES", "DEAD_KINDS", "SATURATING_KINDS", "default_layers", "first_tensor", "kept_as_found",
    "layer_kind", "resolve_layers", "weight_params",
]

#: Activation modules the monitor watches by default (Softmax/LogSoftmax are output normalizers, not activations).
ACTIVATION_TYPES = tuple(
    getattr(_act, n) for n in _act.__all__ if n not in ("Softmax", "LogSoftmax", "get_activation")
    and isinstance(getattr(_act, n), type)
)
#: Kinds whose saturation fraction is recorded (see ``SignalMonitor``).
SATURATING_KINDS = ("sigmoid", "tanh")
#: Kinds whose dead-unit fraction is recorded: outputs exactly 0 for negative inputs.
DEAD_KINDS = ("relu", "relu6")


def layer_kind(module: Module) -> str:
    """Short kind name of ``module`` (``'linear'``, ``'conv'``, ``'relu'``, ``'lstm'``...)."""
    name = type(module).__name__
    low = name.lower()
    if low == "linear":
        return "linear"
    if low.startswith("conv"):
        return "conv"
    if "batchnorm" in low or low == "layernorm":
        return "norm"
    return low


def _has_params(m: Module) -> bool:
    return any(p is not None for p in m._parameters.values())


def default_layers(model: Module) -> list:
    """``[(name, module)]``: every leaf module with parameters and every activation module, in module order.

    A model that is itself a single leaf layer is named ``''`` -> shown as its kind.
    """
    out = []
    for name, m in model.named_modules():
        leaf = not any(True for _ in m.children())
        if isinstance(m, ACTIVATION_TYPES) or (leaf and _has_params(m)):
            out.append((name or layer_kind(m), m))
    return out


def resolve_layers(model: Module, modules, owner: str) -> list:
    """``[(name, module)]`` from ``modules``: None (the default set), names, Module objects or Module classes."""
    if not isinstance(model, Module):
        raise TypeError(f"{owner}: model must be an nnbasics Module; got {type(model).__name__}.")
    if modules is None:
        layers = default_layers(model)
        if not layers:
            raise ValueError(f"{owner}: the model has no parameter layer and no activation module to watch; "
                             "pass modules=[...] naming the submodules to hook.")
        return layers
    named = list(model.named_modules())
    by_name = {n: m for n, m in named}
    by_id = {id(m): n for n, m in named}
    if isinstance(modules, (str, Module, type)):
        modules = [modules]
    out = []
    for item in modules:
        if isinstance(item, str):
            if item not in by_name:
                raise ValueError(f"{owner}: no submodule named {item!r}. Known names: "
                                 f"{', '.join(repr(n) for n in by_name if n) or '(none)'}.")
            out.append((item or layer_kind(model), by_name[item]))
        elif isinstance(item, Module):
            if id(item) not in by_id:
                raise ValueError(f"{owner}: module {type(item).__name__} is not a submodule of the model.")
            out.append((by_id[id(item)] or layer_kind(item), item))
        elif isinstance(item, type) and issubclass(item, Module):
            out.extend((n or layer_kind(m), m) for n, m in named if isinstance(m, item))
        else:
            raise TypeError(f"{owner}: modules must be names, Modules or Module classes; got {type(item).__name__}.")
    if not out:
        raise ValueError(f"{owner}: modules={modules!r} selected no submodule of the model.")
    return out


def weight_params(module: Module) -> list:
    """The parameters whose gradients are "the layer's weight gradient".

    ``weight`` for Linear/conv/norm/embedding; ``weight_ih_l0``, ``weight_hh_l0``... for recurrent
    layers (every parameter whose name starts with ``weight``); all parameters when none does.
    """
    params = [(n, p) for n, p in module._parameters.items() if p is not None]
    w = [p for n, p in params if n.startswith("weight")]
    return w or [p for _, p in params]


def first_tensor(out):
    """The first Tensor in a module's output (an LSTM returns ``(output, (h_n, c_n))``), else None."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            t = first_tensor(o)
            if t is not None:
                return t
    return None


@contextlib.contextmanager
def kept_as_found(model: Module):
    """Run a probe on ``model`` and leave it as found.

    Yields a list for the probe's hook handles; on exit (also on an exception) the hooks are
    removed and every parameter's ``.grad`` and every module's train/eval mode are restored.
    """
    params = list(model.parameters())
    saved = [p.grad for p in params]
    modes = [(m, m.training) for m in model.modules()]
    handles = []
    try:
        yield handles
    finally:
        for h in handles:
            h.remove()
        for p, g in zip(params, saved, strict=True):
            p.grad = g
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
