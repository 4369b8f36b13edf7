"""Export a playground run: checkpoint, ONNX, TOML spec, Python script.

=============  =====================  ===========================================================
format         file                   loads with
=============  =====================  ===========================================================
checkpoint     ``model.safetensors``  ``nnbasics evaluate model.safetensors DATASET``;
                                      ``nnbasics.training.load_checkpoint(path)``; PyTorch:
                                      ``load_state_dict`` of ``safetensors.torch.load_file(path)``
                                      without the ``optimizer/...`` entries (docs/playground.md)
onnx           ``model.onnx``         onnxruntime (any ONNX runtime); a single network only
toml           ``model.toml``         ``nnbasics train DATASET --spec model.toml``; the header
                                      comment gives the playground's training flags
script         ``train_playground.py``  ``python train_playground.py``: rebuilds the data, the
                                      network and the optimizer and trains from the seeded start
=============  =====================  ===========================================================

Every file holds the exported network: the running one without its p = 0 dropouts (same
weights). The checkpoint also holds the optimizer's state (a single network) and, under
``extra["playground"]``, the setup, the data's note, class names and the CSV
standardization (inputs must be standardized the same way).
"""

from __future__ import annotations

import json
import math
import os
import tempfile

from .. import nn
from ..creation import as_tensor
from ..training.checkpoint import checkpoint_bytes
from ..training.ensemble import Ensemble
from .config import ConfigError
from .network import export_model, export_spec
from .trainer import make_optimizer

__all__ = ["FORMATS", "export_run", "to_toml"]

#: format -> (file name, media type)
FORMATS = {
    "checkpoint": ("model.safetensors", "application/octet-stream"),
    "onnx": ("model.onnx", "application/octet-stream"),
    "toml": ("model.toml", "application/toml"),
    "script": ("train_playground.py", "text/x-python; charset=utf-8"),
}
#: Datasets ``nnbasics train`` knows by the same name.
CATALOG = ("xor", "spiral", "circles", "moons", "blobs", "shapes", "fashion-mnist", "mnist")


def _extra(run) -> dict:
    d = run.data
    return {"playground": {"config": run.cfg, "step": run.step, "data": d.note, "dataset": d.name,
                           "task": d.task, "class_names": d.class_names, "feature_names": d.feature_names,
                           "standardize": d.standardize}}


def checkpoint(run) -> bytes:
    """A checkpoint (safetensors) of the network with its optimizer; an ensemble's members and their vote."""
    if run.ensemble is not None:
        members = [export_model(m) for m in run.models]
        model = Ensemble(members, combine="vote")
        model.spec = {"model": "ensemble", "members": [m.spec for m in members], "combine": "vote"}
        return checkpoint_bytes(model, extra=_extra(run))
    model = export_model(run.models[0])
    opt = make_optimizer(run.cfg, model.parameters())
    opt.load_state_dict(run.optimizers[0].state_dict())
    return checkpoint_bytes(model, opt, extra=_extra(run))


def onnx_model(run) -> bytes:
    """The network as ONNX (checked by onnx.checker in the exporter)."""
    if run.ensemble is not None:
        raise ConfigError("ONNX export takes one network, not an ensemble's vote: set members to 1, or export the "
                          "checkpoint (it holds every member).")
    try:
        from .. import onnx as nb_onnx

        model = export_model(run.models[0])
        plain = nn.Sequential(*model.children())  # the exporter follows a Sequential child by child
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            nb_onnx.export(plain, as_tensor(run.data.X_test[:2]), path)
            with open(path, "rb") as f:
                return f.read()
    except ModuleNotFoundError as e:
        raise ConfigError(f"ONNX export needs the onnx package ({e.name} is missing): pip install 'nnbasics[onnx]'.") \
            from None


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML has no {v}")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(e) for e in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(spec: dict, header: str = "") -> str:
    """A layer-list spec as TOML text (``read_toml`` gives ``spec`` back)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"{k} = {_toml_value(v)}" for k, v in spec.items() if k != "layers"]
    for layer in spec["layers"]:
        lines += ["", "[[layers]]"] + [f"{k} = {_toml_value(v)}" for k, v in layer.items()]
    return "\n".join(lines) + "\n"


def train_command(run) -> str:
    """The ``nnbasics train`` command line closest to the run's settings (or a note why there is none)."""
    cfg, d = run.cfg, run.data
    if d.name not in CATALOG:
        return (f"'{d.name}' data are not a dataset `nnbasics train` knows; train on them with the Python script "
                "export, or pick a dataset from `nnbasics datasets` and adapt in_features/out_features")
    opt = {"momentum": "sgd", "nesterov": "sgd"}.get(cfg["optimizer"], cfg["optimizer"])
    flags = [f"--optimizer {opt}", f"--lr {cfg['lr']:g}", f"--batch-size {cfg['batch_size']}"]
    if cfg["optimizer"] in ("momentum", "nesterov"):
        flags.append(f"--momentum {cfg['momentum']:g}")
    if cfg["l2"]:
        flags.append(f"--weight-decay {cfg['l2']:g}")
    n_train = len(d.y_train)
    epochs = max(1, math.ceil(run.step * min(cfg["batch_size"], n_train) / n_train))
    flags += [f"--seed {cfg['seed']}", f"--epochs {epochs}"]
    if d.kind == "image":
        flags.append(f"--n-train {n_train}")
    return f"nnbasics train {d.name} --spec model.toml " + " ".join(flags)


def toml_spec(run) -> str:
    spec = export_spec(run.spec)
    header = (f"nnbasics playground export: {run.data.note}; trained {run.step} steps.\n"
              f"Train this network from the command line:\n  {train_command(run)}\n"
              "(`nnbasics train` generates its own copy of a generated dataset (its size and noise) and trains "
              "with\nits own loop: the same network and settings, not the same run. The Python script export "
              "reproduces\nthe run exactly.)")
    if run.cfg["loss"] == "mse" or run.cfg["schedule"] != "constant" or run.cfg["optimizer"] == "nesterov":
        header += ("\nNot expressible as flags here: "
                   + ", ".join(x for x in (f"loss {run.cfg['loss']}" if run.cfg["loss"] == "mse" else "",
                                           f"schedule {run.cfg['schedule']}" if run.cfg["schedule"] != "constant"
                                           else "", "nesterov" if run.cfg["optimizer"] == "nesterov" else "") if x)
                   + ".")
    return to_toml(spec, header)


def export_run(run, fmt: str):
    """``(file name, bytes, media type)`` of ``run`` in format ``fmt`` (a key of :data:`FORMATS`).

    Raises:
        ConfigError: an unknown format, or one the run cannot be written in (ONNX of an ensemble).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    name, media = FORMATS[fmt]
    if fmt == "checkpoint":
        body = checkpoint(run)
    elif fmt == "onnx":
        body = onnx_model(run)
    elif fmt == "toml":
        body = toml_spec(run).encode("utf-8")
    else:
        from .script import training_script

        body = training_script(run).encode("utf-8")
    return name, body, media
