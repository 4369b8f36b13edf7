"""Models from a declarative spec: a dict, a TOML/JSON file or TOML text. Data only, never code.

Two forms:

1. A registered model and its arguments (see ``nnbasics models`` / :func:`available_models`)::

       {"model": "mlp", "in_features": 784, "hidden": [256, 256], "out_features": 10,
        "activation": "relu", "init": "he", "dropout": 0.2}

2. A layer list, for any CNN or RNN stack: each entry names an ``nnbasics.nn`` layer by
   ``type`` (case-insensitive, ``_``/``-`` ignored: ``conv2d``, ``max_pool2d``, ``leaky_relu``,
   ``lstm``...) and gives its constructor arguments (PyTorch's names; sizes are explicit)::

       {"layers": [{"type": "conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3},
                   {"type": "relu"}, {"type": "flatten"},
                   {"type": "linear", "in_features": 5408, "out_features": 10}],
        "init": "he"}

   The stack is a :class:`SpecSequential` (state-dict keys ``0.weight``... as a torch
   ``nn.Sequential``); a layer returning a tuple (``out, h_n = rnn(x)``) passes on ``out``,
   and ``{"type": "last_step"}`` keeps the last time step of a batch-first sequence.
   Optional top-level keys: ``init`` (a scheme of :mod:`nnbasics.models.mlp`, applied after
   building) and ``description`` (free text).

The same in TOML::

    model = "mlp"
    hidden = [256, 256]
    activation = "relu"

    # or
    init = "he"
    [[layers]]
    type = "conv2d"
    in_channels = 1
    out_channels = 8
    kernel_size = 3

:func:`build_from_spec` validates (errors name the offending key and list the valid choices),
builds, and records on the model (``model.spec``) the complete spec as JSON data: building
from ``model.spec`` again gives the same architecture. Only registered factories and
``nnbasics.nn`` layer classes can be built; nothing in a spec is evaluated.

Example:
    >>> m = build_from_spec({"model": "mlp", "in_features": 2, "hidden": [4], "out_features": 3}, rng=0)
    >>> m.spec["activation"], m.spec["init"]
    ('relu', 'default')
    >>> build_from_spec(m.spec, rng=1).spec == m.spec
    True
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
import os
from pathlib import Path

from .. import nn
from ..rng import as_generator
from .registry import available_models, build_model, to_json_data

__all__ = [
    "LastStep",
    "SpecError",
    "SpecSequential",
    "build_from_spec",
    "check_size",
    "layer_types",
    "load_spec",
    "read_toml",
    "validate_spec",
]


class SpecError(ValueError):
    """A spec that cannot be built; the message names the key and lists the valid choices."""


# --------------------------------------------------------------------- TOML
def _tomllib():
    try:
        import tomllib  # Python >= 3.11
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "reading TOML on Python 3.10 needs the 'tomli' package (tomllib is in the standard library "
                "from 3.11): pip install tomli"
            ) from None
    return tomllib


def read_toml(source) -> dict:
    """Parse TOML from a path (``str``/``Path`` ending in ``.toml``, or an existing file) or from text.

    Raises:
        SpecError: invalid TOML (the parser's message, with the file name).
        FileNotFoundError: a ``.toml`` path that does not exist.
    """
    tomllib = _tomllib()
    path = _as_path(source, (".toml",))
    try:
        if path is not None:
            with open(path, "rb") as f:
                return tomllib.load(f)
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"invalid TOML in {path or 'the given text'}: {e}") from None
    except UnicodeDecodeError as e:
        raise SpecError(f"invalid TOML in {path}: not UTF-8 text ({e}).") from None
    except RecursionError:
        raise SpecError(f"invalid TOML in {path or 'the given text'}: arrays or tables nested too deeply.") from None


def _as_path(source, suffixes):
    """``source`` as a Path when it names a file (a Path, or one-line text ending in a suffix or existing)."""
    if isinstance(source, Path):
        path = source
    elif isinstance(source, str) and "\n" not in source and "=" not in source:
        path = Path(source)
    else:
        return None
    if not path.exists() and path.suffix.lower() in suffixes + (".json", ".toml"):
        raise FileNotFoundError(f"spec file {str(path)!r} does not exist.")
    if not path.exists():
        return None
    return path


def load_spec(source) -> dict:
    """A spec as a new dict, from a dict, a ``.toml``/``.json`` file, or TOML text.

    Args:
        source: dict (deep-copied), ``Path``/``str`` path, or TOML text (``'model = "mlp"'``).

    Returns:
        dict: the raw spec (not validated; see :func:`validate_spec`).

    Raises:
        FileNotFoundError, SpecError (bad TOML/JSON), TypeError (another type).
    """
    if isinstance(source, dict):
        _check_depth(source)  # before deepcopy, which recurses
        return copy.deepcopy(source)
    if not isinstance(source, (str, Path, os.PathLike)):
        raise TypeError(f"load_spec: expected a dict, a path to a .toml/.json file or TOML text; "
                        f"got {type(source).__name__}.")
    source = Path(source) if isinstance(source, os.PathLike) else source
    path = _as_path(source, (".toml", ".json"))
    if path is not None and path.suffix.lower() == ".json":
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SpecError(f"invalid JSON in {path}: {e}") from None
        except RecursionError:
            raise SpecError(f"invalid JSON in {path}: nested too deeply.") from None
    else:
        spec = read_toml(path if path is not None else source)
    if not isinstance(spec, dict):
        raise SpecError(f"a spec must be a table/object at the top level; got {type(spec).__name__}.")
    _check_depth(spec)
    return spec


#: How deeply a spec's tables and lists may nest (a layer list needs 4; each nested ensemble adds 3).
MAX_DEPTH = 64


def _check_depth(spec) -> None:
    """Refuse a spec nested deeper than :data:`MAX_DEPTH`, walking it without recursion."""
    stack = [(spec, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(f"spec: tables and lists nested more than {MAX_DEPTH} deep (an ensemble of ensembles of "
                            "...?); is the spec damaged?")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


# ------------------------------------------------------------------- layers
class SpecSequential(nn.Sequential):
    """``nn.Sequential`` that passes on the first element of a tuple output (``out`` of ``out, h = rnn(x)``).

    State-dict keys are a torch ``nn.Sequential``'s: ``0.weight``, ``1.weight_ih_l0``...

    Shape:
        whatever the first layer takes -> whatever the last returns.
    """

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
            if isinstance(x, tuple):
                x = x[0]
        return x


class LastStep(nn.Module):
    """The last time step of a batch-first sequence: ``x[:, -1]``.

    Shape:
        (N, T, H) -> (N, H).
    """

    def forward(self, x):
        if x.ndim != 3:
            raise ValueError(f"LastStep expected a batch-first sequence (N, T, H); got shape {tuple(x.shape)}.")
        return x[:, -1]


def normalize_layer_name(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


_NOT_LAYERS = {"module", "sequential", "modulelist", "moduledict", "parameter", "perceptron"}


def layer_table() -> dict:
    """normalized type -> class: every Module class of ``nnbasics.nn`` that is a layer, plus extras."""
    table = {}
    for attr in dir(nn):
        cls = getattr(nn, attr)
        if (isinstance(cls, type) and issubclass(cls, nn.Module) and normalize_layer_name(attr) not in _NOT_LAYERS
                and not attr.endswith("Loss") and not attr.endswith("Base")):
            table[normalize_layer_name(attr)] = cls
    table["laststep"] = LastStep
    table["swish"] = table.get("silu")
    return {k: v for k, v in table.items() if v is not None}


def layer_types() -> list:
    """Names accepted as a layer ``type`` (lower-case class names of ``nnbasics.nn`` and ``last_step``)."""
    return sorted({cls.__name__.lower() if cls is not LastStep else "last_step" for cls in layer_table().values()})


def _type_name(cls) -> str:
    return "last_step" if cls is LastStep else cls.__name__.lower()


def layer_params(cls):
    sig = inspect.signature(cls.__init__)
    params = [p for p in list(sig.parameters.values())[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return params


def _validate_layer(i, entry, table):
    where = f"layers[{i}]"
    if not isinstance(entry, dict):
        raise SpecError(f"spec: {where} must be a table such as {{type = \"relu\"}}; got {entry!r}.")
    if "type" not in entry:
        raise SpecError(f"spec: {where} needs a 'type' key (one of: {', '.join(layer_types())}); "
                        f"got keys {sorted(entry)}.")
    kind = entry["type"]
    if not isinstance(kind, str) or normalize_layer_name(kind) not in table:
        close = difflib.get_close_matches(str(kind).lower(), layer_types(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"spec: {where}.type: unknown layer type {kind!r}.{hint} Valid types: "
                        f"{', '.join(layer_types())}.")
    cls = table[normalize_layer_name(kind)]
    params = layer_params(cls)
    names = [p.name for p in params if p.name != "rng"]
    args = {k: v for k, v in entry.items() if k != "type"}
    unknown = [k for k in args if k not in names]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(k, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"spec: {where} ({_type_name(cls)}): unknown key {k!r}.{hint} "
                        f"Valid keys: {', '.join(names) or 'none'}.")
    missing = [p.name for p in params if p.default is p.empty and p.name not in args and p.name != "rng"]
    if missing:
        raise SpecError(f"spec: {where} ({_type_name(cls)}): missing required key(s) "
                        f"{', '.join(map(repr, missing))}. Valid keys: {', '.join(names)}.")
    record = {"type": _type_name(cls)}
    for k, v in args.items():
        record[k] = to_json_data(v, f"{where}.{k}")
    return cls, record


def _tuples(v):
    return tuple(_tuples(e) for e in v) if isinstance(v, list) else v


# --------------------------------------------------------------------- specs
_LAYER_KEYS = ("layers", "init", "description")


def check_size(spec: dict, limit: int | None = None, why: str = "") -> int:
    """The numbers ``spec``'s model holds (:func:`~nnbasics.models.size.spec_size`), refused above ``limit``.

    Counted over the whole model before anything is allocated. ``limit`` defaults to
    :data:`~nnbasics.models.size.MAX_PARAMETERS`; a checkpoint passes the numbers its file holds.
    Specs that cannot be counted exactly (a model registered by the user) are estimated.

    Raises:
        SpecError: the model would be bigger than ``limit``, with both numbers.
    """
    from . import size

    _check_depth(spec)  # the counters recurse
    n = size.spec_size(spec)
    if n is None:
        n = size.rough_size(spec)
    cap = size.MAX_PARAMETERS if limit is None else min(limit, size.MAX_PARAMETERS)
    if n > cap:
        what = why or (f"more than nnbasics.models.size.MAX_PARAMETERS = {size.MAX_PARAMETERS:,} "
                       f"({size.MAX_PARAMETERS * 4 / 2**30:g} GiB of float32)")
        raise SpecError(f"spec: the model would hold {n:,} numbers, {what}; is the spec damaged? Use smaller sizes "
                        "(or raise nnbasics.models.size.MAX_PARAMETERS for a model this big on purpose).")
    return n


def validate_spec(spec) -> dict:
    """Check a spec and return it complete, as JSON data (what ``model.spec`` records).

    For a ``model`` spec the factory's defaults are filled in; for a ``layers`` spec each
    layer's ``type`` becomes its lower-case class name. Builds nothing, except for a
    ``model`` spec, whose arguments only the factory can check fully (see :func:`build_from_spec`).

    Raises:
        SpecError: what is wrong, with the key and the valid choices.
    """
    spec = load_spec(spec)
    if "model" in spec and "layers" in spec:
        raise SpecError("spec: give either 'model' (a registered name) or 'layers' (a list of layers), not both.")
    if "name" in spec and "model" not in spec and "layers" not in spec:
        spec["model"] = spec.pop("name")  # the registry's older key
    if "model" in spec:
        name = spec["model"]
        models = available_models()
        if not isinstance(name, str) or name not in models:
            close = difflib.get_close_matches(str(name), list(models), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SpecError(f"spec: model: unknown model {name!r:.80}.{hint} Valid models: {', '.join(models)}.")
        out = {k: to_json_data(v, k) for k, v in spec.items()}
        check_size(out)
        return out
    if "layers" not in spec:
        raise SpecError(
            f"spec: needs a 'model' key (a registered model: {', '.join(available_models())}) or a 'layers' "
            f"list ([{{type = 'conv2d', ...}}, ...]); got keys {sorted(spec) or 'none'}."
        )
    unknown = [k for k in spec if k not in _LAYER_KEYS]
    if unknown:
        raise SpecError(f"spec: unknown key {unknown[0]!r} in a layer-list spec. Valid keys: {', '.join(_LAYER_KEYS)}.")
    layers = spec["layers"]
    if not isinstance(layers, list) or not layers:
        raise SpecError(f"spec: layers must be a non-empty list of tables; got {layers!r}.")
    table = layer_table()
    out = {"layers": [_validate_layer(i, e, table)[1] for i, e in enumerate(layers)]}
    if "init" in spec:
        from .mlp import canonical_init

        try:
            out["init"] = canonical_init(spec["init"], "spec: init")
        except (TypeError, ValueError) as e:
            raise SpecError(str(e)) from None
    if "description" in spec:
        if not isinstance(spec["description"], str):
            raise SpecError(f"spec: description must be a string; got {spec['description']!r}.")
        out["description"] = spec["description"]
    check_size(out)
    return out


def build_from_spec(spec, rng=None, **overrides):
    """Build the model a spec describes and record the complete spec on it (``model.spec``).

    Args:
        spec: dict, ``.toml``/``.json`` path or TOML text (see the module docstring).
        rng: Generator, int seed or None: draws every weight (layers in order), then drives
            dropout.
        **overrides: entries that replace or complete the spec's (e.g. ``in_features`` and
            ``out_features`` taken from a dataset); for a ``model`` spec only.

    Returns:
        Module, with ``model.spec`` (JSON data; ``build_from_spec(model.spec)`` rebuilds it).

    Raises:
        SpecError (a ValueError): unknown model/layer type/key or missing key, listing the
            valid ones; errors of the layer constructors (bad values) pass through.
        TypeError: a value that is not JSON data.

    Example:
        >>> net = build_from_spec('layers = [{type = "linear", in_features = 3, out_features = 2}, {type = "tanh"}]')
        >>> net.spec["layers"][1]
        {'type': 'tanh'}
    """
    spec = load_spec(spec)
    if overrides:
        if "layers" in spec:
            raise SpecError(f"build_from_spec: overrides {sorted(overrides)} apply to 'model' specs only; "
                            "a layer list gives every size explicitly.")
        spec.update(overrides)
    spec = validate_spec(spec)
    gen = as_generator(rng)
    if "model" in spec:
        try:
            return build_model(dict(spec), rng=gen)
        except SpecError:
            raise
        except ValueError as e:  # the registry's key checks and the factory's value checks
            raise SpecError(f"spec: {e}") from e
        except TypeError as e:  # the factory's type checks (hidden = null...), named like a layer's
            raise TypeError(f"spec: {e}") from e
    table = layer_table()
    layers = []
    for i, entry in enumerate(spec["layers"]):
        cls = table[normalize_layer_name(entry["type"])]
        kwargs = {k: _tuples(v) for k, v in entry.items() if k != "type"}
        if any(p.name == "rng" for p in layer_params(cls)):
            kwargs["rng"] = gen
        try:
            layers.append(cls(**kwargs))
        except (ValueError, TypeError) as e:
            raise type(e)(f"spec: layers[{i}] ({entry['type']}): {e}") from e
    model = SpecSequential(*layers)
    if "init" in spec:
        from .mlp import apply_init

        apply_init(model, spec["init"], gen)
    model.spec = spec
    return model
