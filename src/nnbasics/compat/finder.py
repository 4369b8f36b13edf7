"""The import hook of ``nnbasics run``: ``import torch`` / ``import torchvision`` give nnbasics' packages.

:class:`TorchFinder` is a :data:`sys.meta_path` finder. For a name under one of the aliased
top-level packages (``torch``, ``torch.nn.functional``, ``torchvision.transforms``...) it imports
the matching module of :mod:`nnbasics.compat` (``nnbasics.compat.torch.nn.functional``) and
hands that same module object to the import system, so ``torch.nn is nnbasics.compat.torch.nn``
and a class is one class whichever name imported it.

A name the compat package does not have (``import torch.distributed``) raises
:class:`~nnbasics.compat.unsupported.UnsupportedTorchAPI` (an ImportError) naming what to use
instead, rather than falling through to a real torch installed beside nnbasics: one process
never mixes the two.

The finder is installed only by :func:`install` (``nnbasics run`` calls it in its own process);
importing this module changes nothing.

Example:
    >>> finder = install()            # doctest: +SKIP
    >>> import torch                  # doctest: +SKIP
    >>> torch.__name__                # doctest: +SKIP
    'nnbasics.compat.torch'
    >>> uninstall(finder)             # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

__all__ = ["ALIASES", "TorchFinder", "install", "uninstall"]

#: top-level name a script imports -> the nnbasics package that serves it.
ALIASES = {"torch": "nnbasics.compat.torch", "torchvision": "nnbasics.compat.torchvision"}


class _AliasLoader(importlib.abc.Loader):
    """Returns an already-imported module for the aliased name; executes nothing."""

    def __init__(self, module):
        self.module = module
        self.spec = getattr(module, "__spec__", None)

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        # NOTE: the import system stamped the alias spec ("torch") on the module; the module keeps
        # its own, so relative imports and reloads inside nnbasics still see "nnbasics.compat.torch".
        if self.spec is not None:
            module.__spec__ = self.spec


def _module_attribute(name: str):
    """A module object held as an attribute of its parent (``torch.backends.cudnn``), or None."""
    parent, _, attr = name.rpartition(".")
    holder = sys.modules.get(parent)
    value = getattr(holder, attr, None) if holder is not None and attr in vars(holder) else None
    return value if isinstance(value, types.ModuleType) else None


class TorchFinder(importlib.abc.MetaPathFinder):
    """Serve ``torch...`` and ``torchvision...`` imports from :mod:`nnbasics.compat`.

    Args:
        aliases: ``{top-level name: nnbasics package}``; default :data:`ALIASES`.
    """

    def __init__(self, aliases=None):
        self.aliases = dict(ALIASES if aliases is None else aliases)
        self.shadowed = {}  # real modules taken out of sys.modules by install(), put back by uninstall()

    def target(self, fullname: str):
        """The nnbasics module name serving ``fullname``, or None when ``fullname`` is not aliased."""
        top, _, rest = fullname.partition(".")
        base = self.aliases.get(top)
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def find_spec(self, fullname, path=None, target=None):
        name = self.target(fullname)
        if name is None:
            return None
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # a real missing dependency inside an existing module
                raise
            module = _module_attribute(name)
            if module is None:
                from .unsupported import UnsupportedTorchAPI, missing_module_hint

                raise UnsupportedTorchAPI(fullname, missing_module_hint(fullname), kind="module") from None
        is_pkg = hasattr(module, "__path__")
        spec = importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=is_pkg)
        if is_pkg:
            spec.submodule_search_locations = list(module.__path__)
        return spec


def install(aliases=None) -> TorchFinder:
    """Put a :class:`TorchFinder` first on :data:`sys.meta_path` and forget already-imported real torch.

    Modules already imported under an aliased name (a real ``torch`` in a test process) are taken
    out of :data:`sys.modules` so the next import resolves through the finder;
    :func:`uninstall` puts them back.

    Returns:
        the finder (give it to :func:`uninstall`).
    """
    finder = TorchFinder(aliases)
    for name in list(sys.modules):
        if finder.target(name) is not None:
            finder.shadowed[name] = sys.modules.pop(name)
    sys.meta_path.insert(0, finder)
    return finder


def uninstall(finder: TorchFinder) -> None:
    """Remove ``finder`` from :data:`sys.meta_path`, drop the aliased names and restore the shadowed modules."""
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    for name in list(sys.modules):
        if finder.target(name) is not None:
            del sys.modules[name]
    sys.modules.update(finder.shadowed)
    finder.shadowed = {}
