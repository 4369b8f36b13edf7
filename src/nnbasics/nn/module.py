"""Module: the base class of every layer and model.

Parameters, buffers and sub-modules register themselves by attribute
assignment into ordered registries, so ``named_parameters()`` has a fixed,
reproducible order and dotted names that match PyTorch's state-dict keys.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import anomaly as _anomaly
from .. import autograd as _autograd
from ..autograd import is_grad_enabled, no_grad
from ..backend import is_float_dtype, xp
from ..device import check_device
from ..tensor import Tensor, as_tensor
from ..tensor_base import parse_to
from .hooks import BackwardHookCall, RemovableHandle
from .parameter import Parameter

__all__ = ["IncompatibleKeys", "Module", "RemovableHandle", "StateDictError"]

#: What ``load_state_dict`` returns: the keys it could not fill and the keys it did not use.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(ValueError, RuntimeError):
    """A state dict does not fit a module (missing, unexpected or wrong-shape entries).

    Both a ValueError (bad user input) and a RuntimeError (what PyTorch raises).
    """


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
        ...         self.weight = Parameter(nb.ones(2, 3))
        ...         self.register_parameter("bias", None)  # a missing bias is registered as None
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
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registries
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() has run; call super().__init__() first."
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        # NOTE: a reassigned parameter or submodule keeps its place in the registry, as in PyTorch
        # (model.conv1 = nn.Conv2d(...) then list(model.children()) still starts with conv1)
        if isinstance(value, Parameter):
            self._drop(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._drop(name, keep=modules)
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

    def _drop(self, name, keep=None):
        for reg in (self._parameters, self._modules, self._buffers):
            if reg is not keep:
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
        nonpersistent = self.__dict__.setdefault("_non_persistent", set())
        if persistent:
            nonpersistent.discard(name)
        else:
            nonpersistent.add(name)

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
        """Yield every registered buffer (in :meth:`named_buffers` order)."""
        for _, b in self.named_buffers():
            yield b

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path ``target`` (``""`` is this module), e.g. ``"encoder.0"``."""
        m = self
        if target == "":
            return m
        for part in target.split("."):
            child = m._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"{type(m).__name__} has no sub-module {part!r} (looking up {target!r}); "
                    f"its sub-modules are {list(m._modules)}."
                )
            m = child
        return m

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and then on self; returns self.

        Example:
            >>> import nnbasics.nn as nn
            >>> names = []
            >>> _ = nn.Sequential(nn.Linear(2, 3, rng=0)).apply(lambda m: names.append(type(m).__name__))
            >>> names
            ['Linear', 'Sequential']
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ state dict
    def _state_items(self, prefix: str = ""):
        """(dotted name, tensor) of every parameter and persistent buffer, PyTorch's order.

        Pre-order: a module's own parameters, then its buffers, then each child in turn.
        Shared tensors appear under every name (as in PyTorch).
        """
        stack = [(prefix, self)]
        while stack:
            pre, m = stack.pop()
            for n, p in m._parameters.items():
                if p is not None:
                    yield pre + n, p
            skip = m.__dict__.get("_non_persistent", ())
            for n, b in m._buffers.items():
                if b is not None and n not in skip:
                    yield pre + n, b
            stack.extend(reversed([(f"{pre}{n}.", c) for n, c in m._modules.items() if c is not None]))

    def state_dict(self, *, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Every parameter and persistent buffer by dotted name (PyTorch's keys and layouts).

        Args:
            prefix: prepended to every key.
            keep_vars: return the Parameters themselves instead of detached Tensors.

        Returns:
            OrderedDict[str, Tensor]: detached Tensors that share memory with the
            module (no copy: save or copy them before training further).

        Example:
            >>> import nnbasics.nn as nn
            >>> list(nn.Linear(3, 2, rng=0).state_dict())
            ['weight', 'bias']
        """
        return OrderedDict((k, v if keep_vars else v.detach()) for k, v in self._state_items(prefix))

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers, in place.

        Values may be nnbasics Tensors, NumPy arrays, or anything with
        ``.detach().cpu().numpy()`` (a torch tensor), so a PyTorch state dict
        loads directly. Values are cast to each parameter's dtype. Nothing is
        changed unless every entry fits.

        Args:
            state_dict: a mapping of dotted names to values, e.g. from :meth:`state_dict`.
            strict: require the keys to match exactly.

        Returns:
            IncompatibleKeys(missing_keys, unexpected_keys) (both empty when strict).

        Raises:
            StateDictError (a ValueError and RuntimeError): listing, in one message, every
            missing and unexpected key (when strict) and every shape mismatch (always).
            TypeError: ``state_dict`` is not a mapping, or a value is not numeric.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict expects a mapping of names to arrays (e.g. module.state_dict()); "
                f"got {type(state_dict).__name__}."
            )
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        arrays, wrong = {}, []
        for k, target in own.items():
            if k not in state_dict:
                continue
            arr = _value_as_array(state_dict[k], k)
            if arr.shape != target.shape:
                wrong.append(f"{k!r}: checkpoint {arr.shape}, module {tuple(target.shape)}")
            arrays[k] = arr
        if wrong or (strict and (missing or unexpected)):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            if strict and missing:
                lines.append("  missing keys: " + ", ".join(map(repr, missing)))
            if strict and unexpected:
                lines.append("  unexpected keys: " + ", ".join(map(repr, unexpected)))
            if wrong:
                lines.append("  wrong shapes: " + "; ".join(wrong))
            lines.append(
                "Check that the module was built with the same sizes as the one saved; "
                "strict=False ignores missing and unexpected keys (not wrong shapes)."
            )
            raise StateDictError("\n".join(lines))
        with no_grad():
            for k, arr in arrays.items():
                target = own[k]
                target._array[...] = arr.astype(target.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- dtype
    def to(self, *args, **kwargs):
        """PyTorch's ``Module.to``: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``.

        Floating-point parameters, their gradients and buffers are converted to ``dtype`` in place
        (the Parameter objects are kept, so optimizers holding them stay valid); integer buffers
        keep their dtype, as in PyTorch. The CPU is the only device: ``to('cpu')`` or
        ``to(torch.device('cpu'))`` changes nothing, ``to('cuda')`` raises
        :class:`~nnbasics.device.DeviceError`. A dtype may also be a string (``to('float64')``).
        Returns self.

        Example:
            >>> import nnbasics as nb, nnbasics.nn as nn
            >>> m = nn.Linear(3, 2, rng=0).to(nb.device("cpu"), "float64")
            >>> m.weight.dtype
            dtype('float64')
        """
        dev, dtype, _ = parse_to(args, dict(kwargs))
        check_device(dev)
        if dtype is None:
            return self
        if not is_float_dtype(dtype):
            raise TypeError(f"to(): parameters must stay floating point; got {dtype}. Use 'float32' or 'float64'.")
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None or not is_float_dtype(t.dtype):
                    continue
                t._array = t._array.astype(dtype)
                if t.grad is not None:
                    t.grad = as_tensor(t.grad._array.astype(dtype))
        return self

    def cpu(self):
        """Parameters and buffers on the CPU, where they always are; returns self (PyTorch's ``cpu()``)."""
        return self

    def cuda(self, device=None):
        """PyTorch's ``cuda()``: nnbasics has no GPU backend, so this raises :class:`~nnbasics.device.DeviceError`."""
        check_device("cuda" if device is None else (device if not isinstance(device, int) else f"cuda:{device}"))
        return self

    def double(self):
        """Convert floating-point parameters and buffers to float64 (for gradient checks); returns self."""
        return self.to(xp.float64)

    def float(self):
        """Convert floating-point parameters and buffers to float32 (the default); returns self."""
        return self.to(xp.float32)

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
        """Clear the gradients of every parameter (to None, or to zeros when ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = as_tensor(xp.zeros_like(p.grad._array))

    def requires_grad_(self, requires_grad: bool = True):
        """Set ``requires_grad`` on every parameter (False freezes them); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ----------------------------------------------------------------- hooks
    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, args)`` before ``forward``; a non-None return replaces ``args``.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.
        """
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after ``forward``; a non-None return replaces the output.

        Hooks run in registration order. Returns a :class:`RemovableHandle`.

        Example:
            >>> import nnbasics as nb, nnbasics.nn as nn
            >>> seen = []
            >>> h = nn.Linear(3, 2, rng=0).register_forward_hook(lambda m, a, o: seen.append(o.shape))
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when this call's input gradients are computed.

        ``grad_output`` holds d(loss)/d(each output Tensor) (None for outputs that
        got no gradient); ``grad_input`` holds d(loss)/d(each positional input)
        through this module only (None for inputs that do not require grad).
        Built from tensor hooks: the inputs that require grad pass through an
        identity (``x * 1``) so their gradient excludes other uses of the same
        tensor. The hook observes only: it must return None (use
        ``Tensor.register_hook`` to change gradients). It fires once all inputs
        that require grad have received their gradient, or, when none do, once
        every output that requires grad has.

        Returns:
            RemovableHandle
        """
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ call
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward().")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        watch = BackwardHookCall(self, args) if self._backward_hooks and is_grad_enabled() else None
        if watch is not None:
            args = watch.inputs
        # anomaly mode (nnbasics.anomaly) tracks the running layers to name them in its errors
        out = self.forward(*args, **kwargs) if not _autograd._ANOMALY else _anomaly.call_module(self, args, kwargs)
        for hook in list(self._forward_hooks.values()):
            r = hook(self, args, out)
            if r is not None:
                out = r
        if watch is not None:
            out = watch.watch_outputs(out)
        return out

    # --------------------------------------------------------------- summary
    def summary(self, input_shape, *, dtype=None, print_fn=print) -> str:
        """Print and return a table of layers, output shapes and parameter counts.

        Runs one forward pass on zeros under ``no_grad`` in eval mode (training flags
        are restored), recording each leaf module (and any module with parameters
        of its own) through forward hooks, in call order.

        Args:
            input_shape: the full input shape including the batch dim, e.g. ``(1, 784)``;
                a tuple of shapes for a module taking several inputs.
            dtype: input dtype (default: the dtype of the first parameter, else float32).
            print_fn: called with the table; ``None`` to only return it.

        Returns:
            str: the table, with total, trainable and non-trainable parameter counts.
        """
        from .summary import summary

        return summary(self, input_shape, dtype=dtype, print_fn=print_fn)

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


# ---------------------------------------------------------------- helpers
def _value_as_array(v, key):
    """A state-dict value as an ndarray: nnbasics Tensor, ndarray, or torch tensor (duck-typed)."""
    if isinstance(v, Tensor):
        return v._array
    if hasattr(v, "detach") and hasattr(v, "cpu") and hasattr(v, "numpy"):
        v = v.detach().cpu().numpy()
    arr = xp.asarray(v)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"load_state_dict: value for {key!r} is {type(v).__name__} (dtype {arr.dtype}), not numeric.")
    return arr
