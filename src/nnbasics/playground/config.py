"""A playground setup: one flat dict of JSON values, validated here and nowhere else.

The page sends a setup as JSON and keeps it in its URL; :func:`normalize` checks every key
(unknown keys and bad values raise :class:`ConfigError` with a message that says what to
change) and fills in the defaults. :func:`change_kind` says what a change needs:

* ``"data"``: new data (dataset, noise, size, split, classes, data seed, standardization),
  then a reset;
* ``"reset"``: a new network from the seeded start (sizes, activations, batch norm, init,
  seed, ensemble members, loss on regression data) -- "change one thing and rerun";
* ``"live"``: applied to the running network without losing its weights (learning rate,
  schedule, optimizer, batch size, L2, dropout rates, loss, speed).

Example:
    >>> cfg = normalize({"dataset": "xor", "layers": [{"units": 4, "activation": "tanh"}]})
    >>> cfg["layers"][0]["dropout"], cfg["init"], cfg["lr"]
    (0.0, 'lecun', 0.03)
    >>> change_kind(cfg, {**cfg, "lr": 0.1}), change_kind(cfg, {**cfg, "init": "he"})
    ('live', 'reset')
"""

from __future__ import annotations

import copy
import math
import numbers

from .._validate import is_real

__all__ = [
    "ACTIVATIONS", "DATASETS", "DEFAULTS", "IMAGE_DATASETS", "INITS", "LIMITS", "LOSSES", "OPTIMIZERS",
    "SCHEDULES", "TWO_D_DATASETS", "ConfigError", "change_kind", "normalize", "options",
]


class ConfigError(ValueError):
    """A setup value the playground cannot use; the message names the key and the valid values."""


#: The generated 2-D sets (``gaussian`` is TensorFlow Playground's two Gaussian clusters).
TWO_D_DATASETS = ("xor", "spiral", "circles", "moons", "blobs", "gaussian")
#: Image sets: ``shapes`` is generated offline; the others are read from files when present.
IMAGE_DATASETS = ("shapes", "fashion-mnist", "mnist")
DATASETS = TWO_D_DATASETS + ("csv",) + IMAGE_DATASETS

#: Hidden-layer activations (every one of ``nnbasics.nn``'s elementwise ones); ``linear`` means none.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
               "softplus", "softsign", "hardtanh", "relu6", "hardsigmoid", "prelu", "step", "linear")
#: Init schemes (names of :data:`nnbasics.models.mlp.INIT_SCHEMES`): zeros, N(0,1), N(0,0.01^2),
#: LeCun (the lecture's "Xavier"), Glorot, He, orthogonal, and PyTorch's default.
INITS = ("zeros", "normal", "small", "lecun", "xavier", "he", "orthogonal", "default")
LOSSES = ("cross_entropy", "mse")
#: ``momentum`` is SGD with the ``momentum`` setting; ``nesterov`` the same with Nesterov's look-ahead.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup")

#: Bounds of the numeric settings: (low, high) inclusive.
LIMITS = {
    "noise": (0.0, 2.0), "n": (20, 10000), "test_fraction": (0.1, 0.9), "classes": (2, 8),
    "data_seed": (0, 2**31 - 1), "units": (1, 1024), "layers": (0, 32), "dropout": (0.0, 0.95),
    "lr": (1e-6, 10.0), "momentum": (0.0, 0.999), "schedule_steps": (1, 10**6), "batch_size": (1, 4096),
    "l2": (0.0, 1.0), "seed": (0, 2**31 - 1), "members": (1, 10), "speed": (1, 1000),
}
#: Most weights a network may have (a 2-core machine must update the page 10+ times a second).
MAX_WEIGHTS = 2_000_000

DEFAULTS = {
    "dataset": "spiral", "noise": 0.2, "n": 400, "test_fraction": 0.5, "classes": 3, "data_seed": 0,
    "standardize": True,
    "layers": [{"units": 8, "activation": "tanh", "dropout": 0.0}, {"units": 8, "activation": "tanh", "dropout": 0.0}],
    "batch_norm": False, "init": "lecun", "loss": "cross_entropy",
    "optimizer": "adam", "lr": 0.03, "momentum": 0.9, "schedule": "constant", "schedule_steps": 1000,
    "batch_size": 16, "l2": 0.0, "seed": 0, "members": 1, "speed": 5,
}

_DATA_KEYS = ("dataset", "noise", "n", "test_fraction", "classes", "data_seed", "standardize")
_RESET_KEYS = ("batch_norm", "init", "seed", "members")
_LIVE_KEYS = ("loss", "optimizer", "lr", "momentum", "schedule", "schedule_steps", "batch_size", "l2", "speed")


def _where(key):
    return f"setting {key!r}"


def _number(cfg, key, integral):
    v = cfg[key]
    lo, hi = LIMITS[key]
    if not is_real(v) or (integral and not float(v).is_integer()):
        kind = "a whole number" if integral else "a number"
        raise ConfigError(f"{_where(key)} must be {kind} from {lo} to {hi}; got {v!r}.")
    v = int(v) if integral else float(v)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ConfigError(f"{_where(key)} must be from {lo} to {hi}; got {v!r}.")
    cfg[key] = v


def _choice(cfg, key, choices):
    v = cfg[key]
    if not isinstance(v, str) or v.strip().lower().replace("-", "_") not in [c.replace("-", "_") for c in choices]:
        raise ConfigError(f"{_where(key)} must be one of {', '.join(choices)}; got {v!r}.")
    v = v.strip().lower().replace("-", "_")
    cfg[key] = next(c for c in choices if c.replace("-", "_") == v)


def _layer(i, entry):
    if isinstance(entry, (bool, numbers.Integral)):  # a bare width
        entry = {"units": entry}
    if not isinstance(entry, dict):
        raise ConfigError(f"layers[{i}] must be an object such as {{\"units\": 8, \"activation\": \"relu\"}}; "
                          f"got {entry!r:.60}.")
    unknown = sorted(set(entry) - {"units", "activation", "dropout"})
    if unknown:
        raise ConfigError(f"layers[{i}]: unknown key {unknown[0]!r}; a layer has units, activation and dropout.")
    out = {"units": entry.get("units", 8), "activation": entry.get("activation", "relu"),
           "dropout": entry.get("dropout", 0.0)}
    try:
        _number(out, "units", True)
        _choice(out, "activation", ACTIVATIONS)
        _number(out, "dropout", False)
    except ConfigError as e:
        raise ConfigError(f"layers[{i}]: {e}") from None
    return out


def normalize(config=None, base=None) -> dict:
    """A complete, checked setup: ``base`` (default :data:`DEFAULTS`) updated with ``config``.

    Args:
        config: dict of settings (JSON values); missing keys come from ``base``.
        base: a normalized setup to update (the current one, for a partial change).

    Returns:
        dict: a new dict with every key of :data:`DEFAULTS`, values canonical.

    Raises:
        ConfigError: an unknown key or a bad value (the message names it and the valid range).
    """
    if config is not None and not isinstance(config, dict):
        raise ConfigError(f"a setup must be a JSON object of settings; got {type(config).__name__}.")
    cfg = copy.deepcopy(base if base is not None else DEFAULTS)
    for key, value in (config or {}).items():
        if key not in DEFAULTS:
            raise ConfigError(f"unknown setting {key!r}; valid settings: {', '.join(DEFAULTS)}.")
        cfg[key] = copy.deepcopy(value)
    for key in ("dataset", "init", "loss", "optimizer", "schedule"):
        _choice(cfg, key, {"dataset": DATASETS, "init": INITS, "loss": LOSSES, "optimizer": OPTIMIZERS,
                           "schedule": SCHEDULES}[key])
    for key in ("n", "classes", "data_seed", "schedule_steps", "batch_size", "seed", "members", "speed"):
        _number(cfg, key, True)
    for key in ("noise", "test_fraction", "lr", "momentum", "l2"):
        _number(cfg, key, False)
    for key in ("standardize", "batch_norm"):
        if not isinstance(cfg[key], bool):
            raise ConfigError(f"{_where(key)} must be true or false; got {cfg[key]!r}.")
    layers = cfg["layers"]
    if not isinstance(layers, list) or len(layers) > LIMITS["layers"][1]:
        raise ConfigError(f"{_where('layers')} must be a list of at most {LIMITS['layers'][1]} hidden layers; "
                          f"got {layers!r:.60}.")
    cfg["layers"] = [_layer(i, e) for i, e in enumerate(layers)]
    if cfg["batch_norm"] and cfg["batch_size"] < 2:
        raise ConfigError("batch norm needs batches of at least 2 samples (it divides by the batch's spread); "
                          "raise the batch size or turn batch norm off.")
    return cfg


def change_kind(old: dict, new: dict):
    """What going from setup ``old`` to ``new`` needs: ``"data"``, ``"reset"``, ``"live"`` or None (no change).

    Both must be normalized. Layer sizes and activations reset; dropout rates are live.
    """
    if any(old[k] != new[k] for k in _DATA_KEYS):
        return "data"
    shape = [(layer["units"], layer["activation"]) for layer in old["layers"]]
    if shape != [(layer["units"], layer["activation"]) for layer in new["layers"]]:
        return "reset"
    if any(old[k] != new[k] for k in _RESET_KEYS):
        return "reset"
    if old != new:
        return "live"
    return None


def options() -> dict:
    """The choices and bounds, for the page's controls."""
    return {"datasets": list(DATASETS), "two_d": list(TWO_D_DATASETS), "images": list(IMAGE_DATASETS),
            "activations": list(ACTIVATIONS), "inits": list(INITS), "losses": list(LOSSES),
            "optimizers": list(OPTIMIZERS), "schedules": list(SCHEDULES),
            "limits": {k: list(v) for k, v in LIMITS.items()}, "defaults": copy.deepcopy(DEFAULTS)}
