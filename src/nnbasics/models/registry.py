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
    {'model': 'tiny-mlp', 'hidden': 3}
    >>> build_model({"model": "tiny-mlp"}, rng=0).spec  # defaults are recorded too
    {'model': 'tiny-mlp', 'hidden': 4}
"""

from __future__ import annotations

import difflib
import inspect
import numbers

__all__ = [
    "REQUIRED",
    "UnknownModelError",
    "available_models",
    "build_model",
    "get_factory",
    "model_parameters",
    "register_model",
]


class _Required:
    def __repr__(self):
        return "REQUIRED"


#: Marks a factory argument without a default in :func:`model_parameters`.
REQUIRED = _Required()

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

    for mod in ("nnbasics.models.mlp", "nnbasics.models.cnn", "nnbasics.models.rnn", "nnbasics.models.ensemble"):
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


def model_parameters(name) -> dict:
    """``{argument: default}`` of the factory registered as ``name`` (required arguments map to
    :data:`REQUIRED`); ``rng`` is left out. Used to validate and complete specs."""
    factory = get_factory(name)
    params = {}
    for p in inspect.signature(factory).parameters.values():
        if p.name == "rng" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params[p.name] = REQUIRED if p.default is p.empty else p.default
    return params


def _takes_any_keyword(factory) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())


def to_json_data(value, where: str):
    """``value`` as plain JSON data (tuples -> lists, NumPy scalars -> Python); TypeError otherwise.

    ``where`` names the spec key in the error message.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [to_json_data(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"model spec: the keys of {where} must be strings; got {k!r}.")
            out[k] = to_json_data(v, f"{where}.{k}")
        return out
    if type(value).__name__ == "dtype":  # numpy dtype
        return str(value)
    raise TypeError(
        f"model spec: {where} must be JSON data (number, string, bool, list, dict or null) so the spec can be "
        f"saved and rebuilt; got {type(value).__name__} {value!r}."
    )


def build_model(name, **kwargs):
    """Build a registered model, checking its arguments, and record its complete spec on it.

    Args:
        name: a registered name, or a dict ``{"model": NAME, **kwargs}`` (``"name"`` is
            accepted for ``"model"``), or a layer-list spec ``{"layers": [...]}`` (built by
            :func:`nnbasics.models.spec.build_from_spec`), so any recorded ``model.spec`` rebuilds.
        **kwargs: passed to the factory (override the dict's entries). ``rng`` is passed
            through but not recorded in the spec.

    Returns:
        Module: the model, with ``model.spec`` = ``{"model": NAME, **every argument}``: the
        given arguments plus the factory's defaults, as JSON data, so that
        ``build_model(model.spec)`` builds the same architecture even if defaults change.

    Raises:
        UnknownModelError: ``name`` is not registered (the valid names are listed).
        ValueError: an argument the factory does not take, or a missing required one (the
            valid arguments are listed).
        TypeError: an argument value that is not JSON data.
    """
    if isinstance(name, dict) and "layers" in name:  # a layer-list spec (nnbasics.models.spec)
        from .spec import build_from_spec

        return build_from_spec(name, **kwargs)
    if isinstance(name, dict):
        spec = dict(name)
        keys = [k for k in ("model", "name") if k in spec]
        if len(keys) != 1:
            raise ValueError(
                "a model spec dict needs exactly one 'model' entry (the registered name, e.g. 'mlp'); "
                f"got keys {sorted(spec)}."
            )
        name = spec.pop(keys[0])
        kwargs = {**spec, **kwargs}
    factory = get_factory(name)
    rng = kwargs.pop("rng", None)
    params = model_parameters(name)
    if not _takes_any_keyword(factory):
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, list(params), n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ValueError(
                f"model {name!r}: unknown key(s) {', '.join(hints)}. Valid keys: {', '.join(params)}."
            )
    missing = [k for k, v in params.items() if v is REQUIRED and k not in kwargs]
    if missing:
        raise ValueError(
            f"model {name!r}: missing required key(s) {', '.join(map(repr, missing))}. "
            f"Valid keys: {', '.join(params)}."
        )
    recorded = {"model": name}
    for k, v in {**params, **kwargs}.items():
        recorded[k] = to_json_data(v, k)
    from .spec import check_size  # the whole model's size, before its factory allocates anything

    check_size(recorded)
    model = factory(rng=rng, **kwargs)
    model.spec = recorded
    return model


def available_models() -> dict:
    """``{name: one-line description}`` of every registered model, sorted by name."""
    _ensure_builtin_models()
    return {k: _REGISTRY[k][1] for k in sorted(_REGISTRY)}
