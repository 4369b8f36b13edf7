"""A registry of named models: the CLI, the lab and checkpoints build models by name.

A factory is any callable ``factory(**kwargs) -> Module``. ``build_model`` records what it
built on the model (``model.spec``), so a checkpoint can say exactly how to rebuild it.

Example:
    >>> from nnbasics.models.registry import register_model, build_model
    >>> @register_model("tiny-mlp", description="2-4-1 MLP")
    ... def tiny_mlp(*, hidden=4, rng=None):
    ...     import nnbasics.nn as nn
    ...     return nn.Sequential(nn.Linear(2, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, 1, rng=rng))
    >>> build_model("tiny-mlp", hidden=3, rng=0).spec
    {'name': 'tiny-mlp', 'hidden': 3}
"""

from __future__ import annotations

import difflib

__all__ = ["register_model", "build_model", "available_models", "get_factory", "UnknownModelError"]

_REGISTRY: dict = {}  # name -> (factory, description)


class UnknownModelError(KeyError, ValueError):
    """Raised for a model name that is not registered; the message lists the valid names."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0])


def register_model(name: str, *, description: str = ""):
    """Decorator: register ``factory`` under ``name`` (lower-case, no spaces).

    Args:
        name: the name users type (``nnbasics train --model NAME``).
        description: one line shown by ``available_models()`` and the CLI.

    Raises:
        ValueError: the name is already taken by another factory.
    """
    if not isinstance(name, str) or not name or name != name.strip() or " " in name:
        raise ValueError(f"model name must be a non-empty string without spaces. Got {name!r}.")

    def decorator(factory):
        old = _REGISTRY.get(name)
        if old is not None and old[0] is not factory and getattr(old[0], "__qualname__", None) != getattr(
            factory, "__qualname__", ""
        ):
            raise ValueError(f"model name {name!r} is already registered to {old[0]!r}.")
        _REGISTRY[name] = (factory, description or (factory.__doc__ or "").strip().split("\n")[0])
        return factory

    return decorator


def _ensure_builtin_models():
    # The built-in zoo registers itself when its modules are imported; import lazily so that
    # importing nnbasics does nothing (STYLE rule 14).
    import importlib

    for mod in ("nnbasics.models.mlp", "nnbasics.models.cnn", "nnbasics.models.rnn"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a zoo module not written yet
            if e.name != mod:
                raise


def get_factory(name: str):
    """The factory registered under ``name``; UnknownModelError lists the valid names."""
    _ensure_builtin_models()
    try:
        return _REGISTRY[name][0]
    except KeyError:
        names = sorted(_REGISTRY)
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}.{hint} Valid names: {', '.join(names)}.") from None


def build_model(name, **kwargs):
    """Build a registered model and record its spec on it.

    Args:
        name: a registered name, or a dict ``{"name": NAME, **kwargs}``.
        **kwargs: passed to the factory (override the dict's entries). ``rng`` is passed
            through but not recorded in the spec.

    Returns:
        Module: the model, with ``model.spec`` = ``{"name": NAME, **kwargs}`` (JSON-able).
    """
    if isinstance(name, dict):
        spec = dict(name)
        try:
            name = spec.pop("name")
        except KeyError:
            raise ValueError(f"a model spec dict needs a 'name' entry. Got keys {sorted(spec)}.") from None
        kwargs = {**spec, **kwargs}
    factory = get_factory(name)
    model = factory(**kwargs)
    model.spec = {"name": name, **{k: v for k, v in kwargs.items() if k != "rng"}}
    return model


def available_models() -> dict:
    """``{name: one-line description}`` of every registered model, sorted by name."""
    _ensure_builtin_models()
    return {k: _REGISTRY[k][1] for k in sorted(_REGISTRY)}
