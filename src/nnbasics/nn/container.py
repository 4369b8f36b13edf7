"""Containers: Sequential, ModuleList and ModuleDict.

They hold sub-modules in the ordered registry under string keys ("0", "1", ... for
the list-like ones), so parameter names and state-dict keys match PyTorch's
(``0.weight``, ``layers.2.bias``).
"""

from __future__ import annotations

from collections import OrderedDict

from .._validate import is_int
from .module import Module

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


def _check_module(m, owner):
    if not isinstance(m, Module):
        raise TypeError(f"{owner} holds Modules only; got {type(m).__name__}. Wrap functions in a Module.")
    return m


class _IndexedModules(Module):
    """Shared list behaviour: modules stored under keys "0", "1", ... in order."""

    def _items(self):
        return list(self._modules.values())

    def _index(self, idx):
        if not is_int(idx):
            raise TypeError(f"{type(self).__name__} indices must be ints or slices, not {type(idx).__name__}.")
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {n}.")
        return idx % n

    def _renumber(self, modules):
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._items())

    def __setitem__(self, idx, module):
        key = list(self._modules)[self._index(idx)]
        self._modules[key] = _check_module(module, type(self).__name__)

    def __delitem__(self, idx):
        items = self._items()
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[self._index(idx)]
        self._renumber(items)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self._modules[str(len(self._modules))] = _check_module(module, type(self).__name__)
        return self

    def extend(self, modules):
        """Append every module of an iterable; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module) -> None:
        """Insert ``module`` before position ``index`` (as ``list.insert``)."""
        items = self._items()
        items.insert(index, _check_module(module, type(self).__name__))
        self._renumber(items)

    def index(self, module) -> int:
        """Position of ``module`` (by identity)."""
        for i, m in enumerate(self._items()):
            if m is module:
                return i
        raise ValueError(f"{type(module).__name__} is not in this {type(self).__name__}.")

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_IndexedModules):
    """Modules applied one after the other: ``Sequential(a, b)(x) == b(a(x))``.

    Args:
        *modules: the modules in order, or a single OrderedDict of name -> module
            (the names then become the parameter-name prefixes).

    Shape:
        whatever the first module takes -> whatever the last returns.

    Example:
        >>> import nnbasics as nb, nnbasics.nn as nn
        >>> net = nn.Sequential(nn.Linear(3, 5, rng=0), nn.Linear(5, 2, rng=1))
        >>> [n for n, _ in net.named_parameters()]
        ['0.weight', '0.bias', '1.weight', '1.bias']
        >>> net[0:1]
        Sequential(
          (0): Linear(in_features=3, out_features=5, bias=True)
        )
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(str(name), _check_module(m, "Sequential"))
        else:
            for m in modules:
                self.append(m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return self._items()[self._index(idx)]

    def append(self, module):
        """Add ``module`` at the end (under the next free integer name); returns self."""
        key = len(self._modules)
        while str(key) in self._modules:
            key += 1
        self._modules[str(key)] = _check_module(module, "Sequential")
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_IndexedModules):
    """A list of modules whose parameters are registered (a plain list's would be invisible).

    It has no ``forward``: iterate over it in the owner's forward.

    Args:
        modules: an optional iterable of modules.

    Example:
        >>> import nnbasics.nn as nn
        >>> layers = nn.ModuleList([nn.Linear(3, 3, rng=i) for i in range(2)])
        >>> len(list(layers.parameters()))
        4
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(self._items()[idx])
        return self._items()[self._index(idx)]

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it: `for layer in self.layers: ...`.")


class ModuleDict(Module):
    """A dict of modules (insertion ordered) whose parameters are registered under the keys.

    Args:
        modules: an optional mapping or iterable of (name, module) pairs.

    Example:
        >>> import nnbasics.nn as nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3, rng=0), "box": nn.Linear(4, 2, rng=1)})
        >>> list(heads.keys())
        ['cls', 'box']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str):
        if key not in self._modules:
            raise KeyError(f"{key!r} is not in this ModuleDict; keys: {list(self._modules)}.")
        return self._modules[key]

    def __setitem__(self, key: str, module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise ValueError(f"ModuleDict keys must be non-empty strings without '.'. Got {key!r}.")
        self.add_module(key, _check_module(module, "ModuleDict"))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str):
        m = self[key]
        del self._modules[key]
        return m

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        """Add (name, module) pairs from a mapping or an iterable of pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, m in pairs:
            self[key] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); index it: `self.heads['cls'](x)`.")
