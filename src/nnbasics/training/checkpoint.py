"""Checkpoints: one safetensors file holding the weights, the optimizer and everything needed to resume.

Layout of a checkpoint file (format ``nnbasics.checkpoint``, version 1):

* arrays: the model's state dict under its own keys (``"0.weight"``, ``"0.bias"``... exactly
  PyTorch's names, so ``safetensors.torch.load_file`` + ``load_state_dict(strict=False)`` reads
  the weights), and the optimizer's per-parameter arrays under
  ``"optimizer/state/<param index>/<name>"`` (``exp_avg``, ``momentum_buffer``...). State-dict
  keys never contain ``/``, so the two cannot collide. One file, so one atomic rename
  saves the weights and the optimizer together: they can never be out of step.
* header metadata: one entry, ``"nnbasics"``, a JSON string with ``format``,
  ``format_version``, ``nnbasics_version``, ``numpy_version``, ``model`` (class name, spec
  from :func:`nnbasics.models.build_model` or None), ``optimizer`` (class, param groups with
  their hyperparameters, per-parameter scalar state such as Adam's ``step``), ``epoch`` (the
  number of epochs completed), ``history``, ``rng_states`` (``bit_generator.state`` of every
  Generator found on the model's modules, as ``"model.<module path>.<attribute>"``, plus
  those given, such as the DataLoader's as ``"loader"``), ``extra`` (JSON given by the
  caller; ``ModelCheckpoint`` stores callback states there) and ``sha256``, a digest of
  every array's name, dtype, shape and bytes, checked on load to catch corrupted data.

Loading reads JSON and raw array bytes only: nothing is unpickled or evaluated.

Example:
    >>> import os, tempfile
    >>> import nnbasics.nn as nn
    >>> from nnbasics.optim import Adam
    >>> model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=0))
    >>> opt = Adam(model.parameters(), lr=0.01)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> _ = save_checkpoint(path, model, opt, epoch=3)
    >>> twin = nn.Sequential(nn.Linear(3, 4, rng=1), nn.ReLU(), nn.Linear(4, 2, rng=1))
    >>> ckpt = load_checkpoint(path, twin, Adam(twin.parameters()))
    >>> ckpt.epoch, bool((twin[0].weight == model[0].weight).all())
    (3, True)
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass, field

import numpy as np

from ..io.safetensors import SafetensorsError, atomic_write_bytes, load_bytes, save_bytes
from ..tensor import Tensor
from .checkpoint_check import CheckpointError, check_meta, check_spec_size, decode_rng_states, optimizer_state
from .history import History

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_bytes",
    "load_checkpoint",
    "module_generators",
    "prepare_checkpoint",
    "read_checkpoint_metadata",
    "save_checkpoint",
]

FORMAT = "nnbasics.checkpoint"
FORMAT_VERSION = 1
_META_KEY = "nnbasics"
_OPT = "optimizer/state/"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes:
        path (str): the file.
        model: the model loaded into (given, or built from the spec).
        optimizer: the optimizer restored, or None.
        epoch (int | None): epochs completed when saved (``fit(initial_epoch=epoch)`` resumes).
        history (History | None): the training history saved with it.
        rng_states (dict): name -> ``bit_generator.state`` of every saved random stream.
        extra (dict | None): the caller's JSON extra (``extra["callbacks"]`` for ModelCheckpoint files).
        metadata (dict): the whole decoded metadata.
        state_dict (dict): the model's arrays as saved (name -> ndarray, in the state dict's order).
    """

    path: str
    model: object = None
    optimizer: object = None
    epoch: int | None = None
    history: History | None = None
    rng_states: dict = field(default_factory=dict)
    extra: dict | None = None
    metadata: dict = field(default_factory=dict)
    state_dict: dict = field(default_factory=dict)


# ---------------------------------------------------------------- RNG states
def module_generators(model) -> dict:
    """``{"model.<module path>.<attr>": Generator}`` for every ``np.random.Generator`` attribute of the model's modules.

    E.g. ``Dropout.rng`` of ``model[1]`` is ``"model.1.rng"``; the root's is ``"model.rng"``.
    """
    out = {}
    for mname, m in model.named_modules():
        for attr, v in vars(m).items():
            if isinstance(v, np.random.Generator):
                out[".".join(p for p in ("model", mname, attr) if p)] = v
    return out


def _as_generator_or_state(name, value):
    if isinstance(value, np.random.Generator):
        return value
    gen = getattr(value, "generator", None)  # a DataLoader
    if isinstance(gen, np.random.Generator):
        return gen
    if isinstance(value, np.random.BitGenerator):
        return np.random.Generator(value)
    if isinstance(value, dict) and "bit_generator" in value:
        return value
    raise TypeError(
        f"rng_states[{name!r}] must be a numpy Generator, an object with a .generator (a DataLoader) or a "
        f"bit_generator.state dict. Got {type(value).__name__}."
    )


def encode_rng_state(obj):
    """``bit_generator.state`` -> JSON-able (arrays tagged; big ints stay ints, JSON has no limit)."""
    if isinstance(obj, dict):
        return {k: encode_rng_state(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# ---------------------------------------------------------------- saving
def _json_default(path_hint):
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, (tuple, set)):
            return list(o)
        raise CheckpointError(
            f"{path_hint}: cannot store a {type(o).__name__} in the checkpoint's JSON metadata; metadata (extra, "
            "optimizer hyperparameters) must be JSON-able: numbers, strings, lists, dicts."
        )

    return default


def _digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = arrays[k]
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)  # the bytes as stored
        h.update(f"{k}|{a.dtype.str}|{tuple(a.shape)}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _optimizer_parts(optimizer, arrays: dict) -> dict:
    sd = optimizer.state_dict()
    scalars = {}
    for idx, state in sd["state"].items():
        for k, v in state.items():
            if isinstance(v, Tensor):
                v = v._array
            if isinstance(v, np.ndarray):
                arrays[f"{_OPT}{int(idx)}/{k}"] = v
            else:
                scalars.setdefault(str(int(idx)), {})[k] = v.item() if isinstance(v, np.generic) else v
    steps = [s["step"] for s in scalars.values() if isinstance(s.get("step"), (int, float))]
    return {
        "class": type(optimizer).__name__,
        "module": type(optimizer).__module__,
        "param_groups": sd["param_groups"],
        "scalar_state": scalars,
        "step": max(steps) if steps else 0,
    }


def checkpoint_bytes(model, optimizer=None, *, epoch=None, history=None, rng_states=None, extra=None) -> bytes:
    """The bytes of a checkpoint file (see :func:`save_checkpoint`); for writing several copies at once."""
    from .. import __version__

    if not hasattr(model, "state_dict") or not hasattr(model, "named_modules"):
        raise TypeError(f"save_checkpoint: model must be an nnbasics Module. Got {type(model).__name__}.")
    arrays = {}
    for k, v in model.state_dict().items():
        arrays[k] = v._array if isinstance(v, Tensor) else np.asarray(v)
        if "/" in k:
            raise CheckpointError(f"save_checkpoint: state-dict key {k!r} contains '/', reserved for optimizer state.")
    opt_meta = None
    if optimizer is not None:
        if not hasattr(optimizer, "state_dict") or not hasattr(optimizer, "param_groups"):
            raise TypeError(f"save_checkpoint: optimizer must be an nnbasics Optimizer. Got {type(optimizer).__name__}.")
        opt_meta = _optimizer_parts(optimizer, arrays)
    states = {name: gen.bit_generator.state for name, gen in module_generators(model).items()}
    for name, value in (rng_states or {}).items():
        if not isinstance(name, str) or not name or name.startswith("model."):
            raise ValueError(f"save_checkpoint: rng_states names must be strings not starting with 'model.'. Got {name!r}.")
        value = _as_generator_or_state(name, value)
        states[name] = value.bit_generator.state if isinstance(value, np.random.Generator) else value
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0):
        raise ValueError(f"save_checkpoint: epoch must be an int >= 0 (epochs completed) or None. Got {epoch!r}.")
    if history is not None and not isinstance(history, History):
        raise TypeError(f"save_checkpoint: history must be a History (what fit returns). Got {type(history).__name__}.")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnbasics_version": __version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        # safetensors lays arrays out by dtype and name: "keys" keeps the state dict's order.
        "model": {"class": type(model).__name__, "spec": getattr(model, "spec", None),
                  "keys": [k for k in arrays if not k.startswith(_OPT)]},
        "epoch": None if epoch is None else int(epoch),
        "history": None if history is None else history.to_dict(),
        "optimizer": opt_meta,
        "rng_states": {k: encode_rng_state(v) for k, v in states.items()},
        "extra": extra,
        "sha256": _digest(arrays),
    }
    text = json.dumps(meta, default=_json_default("save_checkpoint"))
    return save_bytes(arrays, {_META_KEY: text})


def save_checkpoint(path, model, optimizer=None, *, epoch=None, history=None, rng_states=None, extra=None) -> str:
    """Save a model (and optionally its optimizer and training state) to one ``.safetensors`` file, atomically.

    Args:
        path: the file (its directory must exist). Written to a temporary file beside it, fsynced,
            then renamed over ``path``: a crash leaves the previous file intact.
        model: the Module; its state dict keys name the arrays. Its ``spec`` (set by
            :func:`nnbasics.models.build_model`) is recorded so :func:`load_checkpoint` can
            rebuild it, and every ``np.random.Generator`` on its modules (dropout masks) is saved.
        optimizer: an Optimizer whose state (moments, momentum buffers, step counts,
            hyperparameters) is saved with the weights.
        epoch: epochs completed (``fit(initial_epoch=epoch)`` continues from there).
        history: the :class:`History` so far.
        rng_states: other random streams to save, ``{name: Generator | DataLoader | state dict}``,
            e.g. ``{"loader": train_loader}`` for the shuffling order.
        extra: any JSON-able value, returned as ``Checkpoint.extra``.

    Returns:
        str: ``path``.

    Raises:
        TypeError/ValueError: a bad argument; CheckpointError: ``extra`` or a hyperparameter is not JSON-able.
    """
    data = checkpoint_bytes(model, optimizer, epoch=epoch, history=history, rng_states=rng_states, extra=extra)
    return atomic_write_bytes(path, data)


# ---------------------------------------------------------------- loading
def _read(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file (e.g. {os.path.join(path, 'last.safetensors')}).")
    with open(path, "rb") as f:
        data = f.read()
    try:
        arrays, header = load_bytes(data, source=path)
    except SafetensorsError as e:
        raise CheckpointError(str(e)) from None
    if _META_KEY not in header:
        raise CheckpointError(
            f"{path}: a safetensors file but not an nnbasics checkpoint (no {_META_KEY!r} metadata). For bare weights use "
            "nnbasics.io.load_file(path) and model.load_state_dict(arrays)."
        )
    try:
        meta = json.loads(header[_META_KEY])
    except ValueError as e:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata (not JSON): {e}.") from None
    except RecursionError:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata: JSON nested too deeply.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path}: not an nnbasics checkpoint (metadata format {found!r}, expected {FORMAT!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}; this nnbasics reads versions <= {FORMAT_VERSION}. "
            "Upgrade nnbasics to load it."
        )
    check_meta(path, meta)
    if "sha256" in meta and _digest(arrays) != meta["sha256"]:
        raise CheckpointError(
            f"{path}: corrupt checkpoint: the array data does not match the SHA-256 recorded when it was saved "
            "(bit rot or a damaged copy). Use another copy."
        )
    return path, arrays, meta


def read_checkpoint_metadata(path) -> dict:
    """The decoded metadata of a checkpoint (spec, epoch, history, versions...), checking the file."""
    return _read(path)[2]


def _check_weights(path, model, weights, strict) -> dict:
    own = {k: v for k, v in model.state_dict().items()}
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shapes, dtypes = [], []
    for k, t in own.items():
        if k not in weights:
            continue
        a = weights[k]
        if tuple(a.shape) != tuple(t.shape):
            shapes.append(f"{k!r}: checkpoint {tuple(a.shape)} vs model {tuple(t.shape)}")
        elif a.dtype != t.dtype:
            dtypes.append(f"{k!r}: checkpoint {a.dtype} vs model {t.dtype}")
    problems = []
    if strict and missing:
        problems.append("missing keys (in the model, not in the checkpoint): " + ", ".join(map(repr, missing)))
    if strict and unexpected:
        problems.append("unexpected keys (in the checkpoint, not in the model): " + ", ".join(map(repr, unexpected)))
    if shapes:
        problems.append("wrong shapes: " + "; ".join(shapes))
    if strict and dtypes:
        problems.append("wrong dtypes: " + "; ".join(dtypes) + " (convert the model with model.to(dtype), or pass "
                        "strict=False to cast)")
    if problems:
        raise CheckpointError(
            f"{path}: checkpoint does not fit {type(model).__name__}:\n  " + "\n  ".join(problems)
            + "\nBuild the model with the sizes it was saved with; strict=False skips missing/unexpected keys and "
            "casts dtypes (not shapes)."
        )
    return {k: weights[k] for k in own if k in weights}


def _build_from_spec(path, meta, arrays):
    """The model the checkpoint's spec describes, built only after its size is checked against the file."""
    spec = (meta.get("model") or {}).get("spec")
    if not spec:
        raise CheckpointError(
            f"{path}: no model spec recorded (the model was not made by nnbasics.models.build_model); pass "
            f"model= a {((meta.get('model') or {}).get('class')) or 'Module'} built with the same sizes."
        )
    from ..models.spec import build_from_spec

    check_spec_size(path, spec, arrays)
    try:  # validated like any spec file
        return build_from_spec(dict(spec))
    except (KeyError, ValueError, TypeError, RecursionError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the model from its spec: {e}") from None


def _rng_targets(path, model, saved_rng, strict, restore_rng, generators, require_generators) -> dict:
    """``{name: Generator}`` to restore, each with a saved state of its own bit generator's kind."""
    targets = {}
    if restore_rng:
        for name, gen in module_generators(model).items():
            if name in saved_rng:
                targets[name] = gen
            elif strict:
                raise CheckpointError(
                    f"{path}: the model has a random stream {name!r} that the checkpoint did not save (saved: "
                    f"{sorted(saved_rng)}); pass restore_rng=False or strict=False to skip it."
                )
    for name, value in (generators or {}).items():
        gen = _as_generator_or_state(name, value)
        if not isinstance(gen, np.random.Generator):
            raise TypeError(f"load_checkpoint: generators[{name!r}] must be a Generator or a DataLoader.")
        if name in saved_rng:
            targets[name] = gen
        elif require_generators:
            raise CheckpointError(f"{path}: no random stream {name!r} saved; saved streams: {sorted(saved_rng)}.")
    for name, gen in targets.items():
        saved_kind = saved_rng[name]["bit_generator"]
        if saved_kind != type(gen.bit_generator).__name__:
            raise CheckpointError(
                f"{path}: random stream {name!r} was saved from a {saved_kind} bit generator; the Generator given "
                f"uses {type(gen.bit_generator).__name__}. Build it with numpy.random.default_rng (PCG64)."
            )
    return targets


@dataclass
class _Plan:
    """A checkpoint checked against everything it will be loaded into; :meth:`apply` then changes them."""

    checkpoint: Checkpoint
    weights: dict
    optimizer_state: dict | None
    rng_targets: dict

    def apply(self) -> Checkpoint:
        """Load weights, optimizer state and random streams; on any failure, put back what was changed."""
        ckpt = self.checkpoint
        opt = ckpt.optimizer
        old_opt = (list(opt.param_groups), list(opt.state)) if opt is not None else None
        old_rng = {name: gen.bit_generator.state for name, gen in self.rng_targets.items()}
        try:
            if opt is not None:
                opt.load_state_dict(self.optimizer_state)  # all or nothing by itself
            for name, gen in self.rng_targets.items():
                gen.bit_generator.state = ckpt.rng_states[name]
            ckpt.model.load_state_dict(self.weights, strict=False)  # all or nothing by itself; the last step
        except BaseException:
            if opt is not None:
                opt.param_groups[:], opt.state[:] = old_opt
            for name, gen in self.rng_targets.items():
                gen.bit_generator.state = old_rng[name]
            raise
        return ckpt


def prepare_checkpoint(path, model=None, optimizer=None, *, strict=True, restore_rng=True, generators=None,
                       require_generators=True) -> _Plan:
    """Read and check a checkpoint against ``model``/``optimizer``/``generators`` without changing any of them.

    Everything :func:`load_checkpoint` would load is validated here (see
    :mod:`nnbasics.training.checkpoint_check`); ``prepare_checkpoint(...).apply()`` then loads
    it. ``fit(resume=...)`` uses the two steps to check the callbacks' saved states in between.
    ``require_generators=False`` skips ``generators`` the checkpoint has no state for.
    """
    path, arrays, meta = _read(path)
    if model is None:
        model = _build_from_spec(path, meta, arrays)
    elif not hasattr(model, "state_dict"):
        raise TypeError(f"load_checkpoint: model must be an nnbasics Module or None. Got {type(model).__name__}.")
    order = (meta.get("model") or {}).get("keys") or []
    saved_weights = {k: arrays[k] for k in order if k in arrays}
    saved_weights.update({k: v for k, v in arrays.items() if "/" not in k and k not in saved_weights})
    weights = _check_weights(path, model, saved_weights, strict)
    rng_states = decode_rng_states(path, meta.get("rng_states") or {})
    targets = _rng_targets(path, model, rng_states, strict, restore_rng, generators, require_generators)
    opt_state = None
    if optimizer is not None:
        if not hasattr(optimizer, "load_state_dict") or not hasattr(optimizer, "param_groups"):
            raise TypeError(f"load_checkpoint: optimizer must be an nnbasics Optimizer. Got {type(optimizer).__name__}.")
        opt_state = optimizer_state(path, optimizer, meta, arrays)
    hist = meta.get("history")
    ckpt = Checkpoint(
        path=path, model=model, optimizer=optimizer, epoch=meta.get("epoch"),
        history=None if hist is None else History.from_dict(hist), rng_states=rng_states,
        extra=meta.get("extra"), metadata=meta, state_dict=saved_weights,
    )
    return _Plan(ckpt, weights, opt_state, targets)


def load_checkpoint(path, model=None, optimizer=None, *, strict: bool = True, restore_rng: bool = True,
                    generators=None) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`, checking everything before changing anything.

    Nothing is unpickled or evaluated: the file is safetensors arrays plus JSON. Every field is
    checked first (:mod:`nnbasics.training.checkpoint_check`): the weights against the model,
    the optimizer's hyperparameters and per-parameter state against what the optimizer keeps
    (one probe step included), every random stream's state, the epoch and the history. Only
    then are the optimizer, the random streams and the weights loaded, so a failed load
    leaves the model, the optimizer and the generators exactly as they were.

    Args:
        path: the ``.safetensors`` checkpoint.
        model: the Module to load into. None: build it from the recorded spec with
            :func:`nnbasics.models.build_model` (the checkpoint must come from a built model), after
            checking that the spec's size (counted over every layer) fits the numbers the file holds.
        optimizer: an Optimizer over ``model.parameters()`` to restore (same class, same groups).
        strict: require exactly the model's keys and dtypes. False skips missing and
            unexpected keys and casts dtypes. Shapes must always match.
        restore_rng: set every Generator on the model's modules (dropout) to its saved state.
        generators: ``{name: Generator or DataLoader}`` to restore from the saved states of the
            same names, e.g. ``{"loader": train_loader}`` (needed for an exact resume).

    Returns:
        Checkpoint: model, optimizer, epoch, history, rng_states, extra, metadata, state_dict.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated, corrupt or not a checkpoint; or it does not fit
            the model (one message listing every missing and unexpected key, wrong shape and
            dtype), the optimizer, or the generators. Nothing is changed when it raises.
    """
    return prepare_checkpoint(path, model, optimizer, strict=strict, restore_rng=restore_rng,
                              generators=generators).apply()
