"""What ``fit(resume=...)`` restores, checked completely before anything changes; and the random streams to save.

Resuming loads a checkpoint into the model, the optimizer, the random streams and the
callbacks. :func:`restore` checks all of it first (the checkpoint with
:func:`~nnbasics.training.checkpoint.prepare_checkpoint`, each callback's saved state with its
``check_state``), and only then applies it, so a damaged checkpoint changes nothing and fails
with one :class:`~nnbasics.training.CheckpointError` -- never later, inside ``optimizer.step``.

An exact resume also needs every random stream that shapes training. The model's are found
by :func:`~nnbasics.training.checkpoint.module_generators` and the loader's shuffling is
``"loader"``; :func:`data_generators` finds the rest in the training data: a custom transform
or dataset that keeps its own ``numpy.random.Generator`` (an attribute, an element of a list
or dict attribute, a variable a function closes over). Those are saved and restored too, as
``"data.<path>"``. What cannot be saved -- a legacy ``RandomState`` or a ``random.Random`` --
is named in a warning, since a resume will not repeat its draws.
"""

from __future__ import annotations

import functools
import random
import types
import warnings

import numpy as np

__all__ = ["data_generators", "restore"]

_MAX_DEPTH = 6
_MAX_ITEMS = 256  # a list this long is data, not configuration: not searched


def _children(obj):
    """``(name, value)`` of the attributes, items and closure variables of ``obj`` worth searching."""
    if isinstance(obj, (list, tuple)) and len(obj) <= _MAX_ITEMS:
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    if isinstance(obj, dict) and len(obj) <= _MAX_ITEMS:
        return [(f"[{k!r}]", v) for k, v in obj.items() if isinstance(k, (str, int))]
    if isinstance(obj, functools.partial):
        return [("func", obj.func), *_children(list(obj.args)), *_children(dict(obj.keywords))]
    if isinstance(obj, types.MethodType):
        return [("__self__", obj.__self__)]
    if isinstance(obj, types.FunctionType):
        cells = obj.__closure__ or ()
        out = []
        for name, cell in zip(obj.__code__.co_freevars, cells):
            try:
                out.append((name, cell.cell_contents))
            except ValueError:  # an empty cell
                pass
        return out
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict) and not isinstance(obj, type) and type(obj).__module__ not in ("builtins", "numpy"):
        return [(k, v) for k, v in d.items() if isinstance(k, str)]
    return []


def _search(obj, path, seen, found, unsaved, depth):
    if id(obj) in seen or depth > _MAX_DEPTH or isinstance(obj, (np.ndarray, str, bytes, int, float, type)):
        return
    seen.add(id(obj))
    if isinstance(obj, np.random.Generator):
        found.setdefault(path, obj)
        return
    if isinstance(obj, (np.random.RandomState, random.Random)):
        unsaved.append(f"{path} ({type(obj).__name__})")
        return
    for name, value in _children(obj):
        sep = "" if name.startswith("[") else "."
        _search(value, f"{path}{sep}{name}", seen, found, unsaved, depth + 1)


def data_generators(train_data, known=()) -> tuple:
    """Random streams in the training data that a checkpoint must save for an exact resume.

    Args:
        train_data: the loader ``fit`` iterates (its ``transform`` and ``dataset`` are searched).
        known: Generators already saved under other names (the loader's own, the model's).

    Returns:
        ``(generators, unsaved)``: ``{"data.<path>": Generator}`` in a stable order, and the
        paths of random states that cannot be saved (``RandomState``, ``random.Random``).
    """
    seen = {id(g) for g in known}
    seen.add(id(train_data))
    found, unsaved = {}, []
    for attr in ("transform", "dataset"):
        if hasattr(train_data, attr):
            _search(getattr(train_data, attr), f"data.{attr}", seen, found, unsaved, 0)
    return found, unsaved


def _callback_states(path, ckpt, callbacks) -> dict:
    """``{key: checked state}`` for each callback with a saved state, in :func:`callback_keys` order."""
    from .callbacks import callback_keys
    from .checkpoint import CheckpointError

    extra = ckpt.extra if isinstance(ckpt.extra, dict) else {}
    saved = extra.get("callbacks", {})
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: corrupt checkpoint metadata: extra['callbacks'] must be an object of "
                              f"callback states; got {type(saved).__name__}.")
    out = {}
    for key, cb in callback_keys(callbacks).items():
        if key not in saved or not hasattr(cb, "load_state_dict"):
            continue
        try:
            out[key] = cb.check_state(saved[key]) if hasattr(cb, "check_state") else saved[key]
        except (ValueError, TypeError, KeyError) as e:
            raise CheckpointError(f"{path}: the saved state of the callback {key} does not fit it: {e}.") from None
    return out


def restore(resume, model, optimizer, generators: dict, callbacks) -> tuple:
    """Check everything ``resume`` holds against the run, then load it.

    Args:
        resume: a checkpoint path, or a :class:`~nnbasics.training.checkpoint.Checkpoint` already
            loaded into the model and optimizer by the caller.
        model, optimizer: the run's.
        generators: ``{name: Generator}`` of the run's random streams outside the model.
        callbacks: the run's callbacks (their saved states are checked here).

    Returns:
        ``(checkpoint, callback_states)``: load ``callback_states[key]`` into each callback
        with ``load_state_dict`` once training has begun (it can no longer fail).

    Raises:
        CheckpointError: anything in the checkpoint does not fit; nothing was changed.
    """
    import os

    from .checkpoint import Checkpoint, CheckpointError, prepare_checkpoint

    if isinstance(resume, (str, os.PathLike)):
        plan = prepare_checkpoint(resume, model, optimizer, generators=generators, require_generators=False)
        ckpt = plan.checkpoint
    elif isinstance(resume, Checkpoint):
        plan, ckpt = None, resume
    else:
        raise TypeError(f"resume of fit must be a checkpoint path or a Checkpoint. Got {type(resume).__name__}.")
    if ckpt.epoch is None:
        raise CheckpointError(f"fit: the checkpoint {ckpt.path} has no epoch; save it with epoch= to resume from it.")
    states = _callback_states(ckpt.path, ckpt, callbacks)
    if plan is not None:
        plan.apply()
    else:
        for name, g in generators.items():
            if name in ckpt.rng_states:
                g.bit_generator.state = ckpt.rng_states[name]
    missing = [name for name in generators if name not in ckpt.rng_states]
    if missing:
        warnings.warn(
            f"fit: the checkpoint {ckpt.path} saved no {', '.join(map(repr, missing))} random stream"
            f"{'s' if len(missing) > 1 else ''}, so what it draws after the resume (the loader's shuffling, a "
            "transform's own random numbers) differs from an uninterrupted run. Checkpoints written by "
            "ModelCheckpoint save every stream fit uses; with save_checkpoint pass rng_states={name: generator}.",
            stacklevel=3)
    return ckpt, states
