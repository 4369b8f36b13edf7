"""Module: the base class of every layer and model.

Parameters, buffers and sub-modules register themselves by attribute
assignment into ordered registries, so ``named_parameters()`` has a fixed,
reproducible order and dotted names that match PyTorch's state-dict keys.
"""

from __future__ import annotations

from collections import OrderedDict

from ..tensor import Tensor
from .parameter import Parameter

__all__ = ["Module"]


class Module:
    """Base class for layers and models.

    Subclasses call ``super().__init__()`` first, assign Parameters, buffers
    (via :meth:`register_buffer`) and sub-Modules as attributes, and implement
    ``forward``. Call the module, not ``forward``, so hooks run.

    Example:
        >>> import nnbasics as nb
        >>> class Affine(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.weight = Parameter(nb.ones(2, 3).data)
        ...         self.bias = None  # a missing bias is registered as None
        ...     def forward(self, x):
        ...         return x @ self.weight.T
        >>> [n for n, _ in Affine().named_parameters()]
        ['weight']
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registries
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() has run; call super().__init__() first."
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            self._drop(name)
            params[name] = value
        elif isinstance(value, Module):
            self._drop(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r}: use nn.Parameter(...) or None."
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to sub-module {name!r}: use a Module or None.")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor or None; got {type(value).__name__}.")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _drop(self, name):
        for reg in (self._parameters, self._modules, self._buffers):
            reg.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter or None) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None; got {type(param).__name__}.")
        self._drop(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a non-trainable Tensor (e.g. batch-norm running statistics) saved in the state dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None; got {type(tensor).__name__}.")
        self._drop(name)
        self._buffers[name] = tensor
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name: str, module) -> None:
        """Register a sub-module under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None; got {type(module).__name__}.")
        self._drop(name)
        self._modules[name] = module

    # ------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = ""):
        """Yield (dotted name, module) for this module and every descendant, depth first."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{n}" if name else n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        """Yield this module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Yield (name, module) for direct sub-modules."""
        for n, m in self._modules.items():
            if m is not None:
                yield n, m

    def children(self):
        """Yield direct sub-modules."""
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """Yield (dotted name, Parameter) in registration order; shared parameters once."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for n, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{n}" if mname else n), p

    def parameters(self, recurse: bool = True):
        """Yield every Parameter (in :meth:`named_parameters` order)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = ""):
        """Yield (dotted name, buffer) for every registered buffer."""
        for mname, m in self.named_modules(prefix):
            for n, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{n}" if mname else n), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    # ----------------------------------------------------------------- modes
    def train(self, mode: bool = True):
        """Set training mode on this module and all descendants; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode (dropout off, batch norm uses running statistics); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------------ call
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward().")

    def __call__(self, *args, **kwargs):
        for hook in self._forward_pre_hooks.values():
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks.values():
            r = hook(self, args, out)
            if r is not None:
                out = r
        return out

    def extra_repr(self) -> str:
        """Arguments shown inside this module's repr, e.g. ``in_features=3, out_features=2``."""
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n" + "\n".join(lines) + "\n)"
