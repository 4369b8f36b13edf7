"""The network a setup describes, as a layer-list spec of :mod:`nnbasics.models.spec`.

Each hidden layer is ``Linear -> [BatchNorm1d] -> activation -> Dropout(p)``, then a Linear
gives the logits (an image first goes through ``Flatten``). The running network keeps a
Dropout after every hidden layer, even at p = 0 (the identity, which draws no random
numbers), so a dropout rate can change mid-run; :func:`export_spec` drops the p = 0 ones for
the files the page exports. Both specs build the same weights from the same seed.

The network is built by :func:`nnbasics.models.spec.build_from_spec` with the Generator
``default_rng([seed, 1, member])``: the same seed gives the same initial weights, and the
initial weights of an ensemble's member 0 are the single network's.

Example:
    >>> from nnbasics.playground.config import normalize
    >>> cfg = normalize({"layers": [{"units": 4, "activation": "relu"}], "init": "he"})
    >>> spec = network_spec(cfg, in_shape=(2,), n_out=3)
    >>> [e["type"] for e in spec["layers"]], spec["init"]
    (['linear', 'relu', 'dropout', 'linear'], 'he')
    >>> [e["type"] for e in export_spec(spec)["layers"]]
    ['linear', 'relu', 'linear']
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..models.spec import build_from_spec
from .config import MAX_WEIGHTS, ConfigError

__all__ = [
    "block_of",
    "build_member",
    "export_model",
    "export_spec",
    "network_spec",
    "set_dropout",
    "weights_rng",
]


def network_spec(cfg: dict, in_shape: tuple, n_out: int) -> dict:
    """The running network's layer-list spec for setup ``cfg`` on inputs of shape ``in_shape``.

    Raises:
        ConfigError: more than :data:`~nnbasics.playground.config.MAX_WEIGHTS` weights.
    """
    layers = []
    if len(in_shape) > 1:
        layers.append({"type": "flatten"})
    fan_in = int(math.prod(in_shape))
    total = 0
    for layer in cfg["layers"]:
        units = layer["units"]
        layers.append({"type": "linear", "in_features": fan_in, "out_features": units})
        if cfg["batch_norm"]:
            layers.append({"type": "batchnorm1d", "num_features": units})
        if layer["activation"] != "linear":
            layers.append({"type": layer["activation"]})
        layers.append({"type": "dropout", "p": layer["dropout"]})
        total += (fan_in + 1) * units
        fan_in = units
    layers.append({"type": "linear", "in_features": fan_in, "out_features": n_out})
    total += (fan_in + 1) * n_out
    if total > MAX_WEIGHTS:
        raise ConfigError(f"the network would have {total:,} weights; at most {MAX_WEIGHTS:,} keep the page live "
                          "on a small machine. Use fewer or narrower layers.")
    spec = {"layers": layers}
    if cfg["init"] != "default":
        spec["init"] = cfg["init"]
    return spec


def export_spec(spec: dict) -> dict:
    """``spec`` without its p = 0 Dropout layers (what the exported files hold)."""
    out = copy.deepcopy(spec)
    out["layers"] = [e for e in out["layers"] if not (e["type"] == "dropout" and e.get("p", 0.5) == 0)]
    return out


def weights_rng(seed: int, member: int = 0) -> np.random.Generator:
    """The Generator that draws member ``member``'s initial weights (then its dropout masks)."""
    return np.random.default_rng([seed, 1, member])


def build_member(spec: dict, seed: int, member: int = 0):
    """Member ``member``'s network, at its seeded start."""
    return build_from_spec(spec, rng=weights_rng(seed, member))


def set_dropout(model, cfg: dict) -> None:
    """Set the running network's dropout rates to the setup's (a live change), in hidden-layer order."""
    drops = [m for m in model.modules() if type(m).__name__ == "Dropout"]
    for m, layer in zip(drops, cfg["layers"], strict=True):
        m.p = float(layer["dropout"])
    for e, layer in zip((e for e in model.spec["layers"] if e["type"] == "dropout"), cfg["layers"], strict=True):
        e["p"] = float(layer["dropout"])


def export_model(model):
    """A copy of the running network without its p = 0 dropouts, with the same weights and ``.spec``."""
    spec = export_spec(model.spec)
    clean = build_from_spec(spec, rng=0)
    values = list(model.state_dict().values())  # the same arrays in the same order: only p = 0 dropouts went
    clean.load_state_dict(dict(zip(clean.state_dict().keys(), values, strict=True)))
    clean.eval()
    return clean


def block_of(spec: dict) -> dict:
    """``{module name: "hidden k"}`` (or ``"output"``) for the spec's layers: which hidden layer each belongs to."""
    out, block = {}, 0
    linears = sum(e["type"] == "linear" for e in spec["layers"])
    for i, e in enumerate(spec["layers"]):
        if e["type"] == "linear":
            block += 1
        if e["type"] == "flatten":
            out[str(i)] = "input"
        else:
            out[str(i)] = "output" if block == linears else f"hidden {block}"
    return out
