"""The training loop: ``fit``, ``evaluate`` and ``predict`` — plain functions over a Module and an Optimizer.

Why functions and not a Trainer object: everything a training run holds already has an
owner — the weights in the Module, the moments in the Optimizer, the shuffling stream in
the DataLoader, the logs in the :class:`History`, the rest in callbacks — and a checkpoint
saves exactly those. A Trainer would be a second place for that state to live and drift.
``fit`` is the loop every course writes by hand (zero_grad, forward, loss, backward, step),
written once with the parts people get wrong done right: exact epoch metrics with unequal
batches, train/eval modes restored, ``no_grad`` in evaluation, and an exact resume.

Data (``train_data``, ``validation_data``, ``data``) may be

* a DataLoader (:class:`nnbasics.data.DataLoader`) or any re-iterable of batches
  ``(x, y)`` — Tensors or arrays; a batch ``(x1, ..., xk, y)`` calls ``model(x1, ..., xk)``;
* a pair of arrays ``(X, y)``: a DataLoader is built with ``batch_size`` (default 32 for
  training, 256 for evaluation), ``shuffle`` (default True for training) and ``rng``.
  Float features are cast to the model's floating dtype (float32 by default).

Example:
    >>> import numpy as np
    >>> import nnbasics.nn as nn
    >>> from nnbasics.optim import Adam
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)).astype(np.float32); y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    >>> model = nn.Sequential(nn.Linear(2, 16, rng=0), nn.Tanh(), nn.Linear(16, 2, rng=0))
    >>> history = fit(model, (X, y), epochs=30, optimizer=Adam(model.parameters(), lr=0.05), rng=0, progress=False)
    >>> history["accuracy"][-1] > 0.9
    True
    >>> predict(model, X[:3]).shape
    (3, 2)
"""

from __future__ import annotations

import functools
import math
import time
import warnings

import numpy as np

from .._validate import check_int, check_real
from ..autograd import no_grad
from ..backend import is_float_dtype
from ..optim.clip import clip_grad_norm_
from ..tensor import Tensor, as_tensor
from .callbacks import CallbackList, FitContext, callback_keys
from .history import History
from .metrics import EpochAccumulator
from .progress import make_progress

__all__ = ["evaluate", "fit", "predict", "resolve_loss"]

_LOSSES = {
    "cross_entropy": "cross_entropy", "ce": "cross_entropy", "nll": "nll_loss", "nll_loss": "nll_loss",
    "mse": "mse_loss", "mse_loss": "mse_loss", "l1": "l1_loss", "l1_loss": "l1_loss",
    "huber": "huber_loss", "huber_loss": "huber_loss", "smooth_l1": "smooth_l1_loss",
    "smooth_l1_loss": "smooth_l1_loss", "bce": "binary_cross_entropy",
    "binary_cross_entropy": "binary_cross_entropy", "bce_with_logits": "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
}
# Losses whose targets are values of the outputs' shape: integer targets are cast, (N,) fits (N, 1).
_VALUE_TARGETS = {"mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
                  "binary_cross_entropy_with_logits"}


def resolve_loss(loss):
    """A function ``(outputs, targets) -> scalar Tensor`` from a name, a callable or an nn loss module.

    Names: ``cross_entropy`` (``ce``), ``nll_loss`` (``nll``), ``mse_loss`` (``mse``), ``l1_loss``,
    ``huber_loss``, ``smooth_l1_loss``, ``binary_cross_entropy`` (``bce``),
    ``binary_cross_entropy_with_logits`` (``bce_with_logits``): the functions of
    :mod:`nnbasics.functional`. For the value losses (mse, l1, huber, bce...), integer
    targets are cast to the outputs' dtype and (N,) targets fit (N, 1) outputs.
    """
    if isinstance(loss, str):
        key = _LOSSES.get(loss.strip().lower())
        if key is None:
            raise ValueError(f"unknown loss {loss!r}. Valid names: {', '.join(sorted(_LOSSES))}; or pass a callable "
                             "(outputs, targets) -> Tensor or an nn loss module such as nn.CrossEntropyLoss().")
        from .. import functional as F

        fn = getattr(F, key)
        if key not in _VALUE_TARGETS:
            return fn

        def value_loss(outputs, targets):
            if is_float_dtype(outputs.dtype) and (targets.dtype != outputs.dtype or targets.shape != outputs.shape):
                t = targets._array.astype(outputs.dtype, copy=False)
                if t.shape != outputs.shape and t.size == outputs._array.size and outputs.shape[:1] == t.shape[:1]:
                    t = t.reshape(outputs.shape)
                targets = as_tensor(t)
            return fn(outputs, targets)

        value_loss.__name__ = key
        return value_loss
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a name such as 'cross_entropy', a callable or an nn loss module. Got {type(loss).__name__}.")


# ---------------------------------------------------------------- data
def _is_array(x) -> bool:
    return isinstance(x, (np.ndarray, Tensor))


def _float_dtype(model):
    for p in model.parameters():
        if is_float_dtype(p.dtype):
            return p.dtype
    return np.dtype(np.float32)


def _loader(data, *, owner, what, model, batch_size, shuffle, rng, default_batch):
    """A re-iterable of batches from a DataLoader, an iterable of batches, or an (X, y) pair of arrays."""
    if data is None:
        raise ValueError(f"{owner}: {what} is None; pass a DataLoader, an iterable of (x, y) batches or an (X, y) pair.")
    if _is_array(data) or (isinstance(data, tuple) and data and all(_is_array(a) for a in data)):
        arrays = (data,) if _is_array(data) else data
        arrays = [a._array if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        n = len(arrays[0]) if arrays[0].ndim else 0
        if n == 0:
            raise ValueError(f"{owner}: {what} is empty (no samples).")
        for a in arrays[1:]:
            if a.ndim == 0 or len(a) != n:
                raise ValueError(
                    f"{owner}: the arrays of {what} must have the same number of samples (first dimension). Got "
                    f"{[tuple(x.shape) for x in arrays]}."
                )
        dtype = _float_dtype(model)
        arrays = [a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a for a in arrays]
        bs = default_batch if batch_size is None else check_int(batch_size, f"batch_size of {owner}", low=1)
        from ..data import DataLoader, TensorDataset

        return DataLoader(TensorDataset(*arrays), batch_size=bs, shuffle=bool(shuffle), rng=rng)
    if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
        raise TypeError(
            f"{owner}: {what} must be a DataLoader, an iterable of (x, y) batches or an (X, y) tuple of arrays. "
            f"Got {type(data).__name__}."
        )
    given = [n for n, v in (("batch_size", batch_size), ("rng", rng)) if v is not None]
    if given:
        raise ValueError(
            f"{owner}: {', '.join(given)} only apply when {what} is an (X, y) pair of arrays; a DataLoader or "
            "iterable brings its own batching and shuffling (set them on the DataLoader)."
        )
    return data


def _items(batch, owner) -> tuple:
    if _is_array(batch):
        items = (batch,)
    elif isinstance(batch, (tuple, list)) and batch:
        items = tuple(batch)
    else:
        raise TypeError(f"{owner}: each batch must be a tuple (x, y) of Tensors or arrays. Got {type(batch).__name__}.")
    return tuple(b if isinstance(b, Tensor) else as_tensor(np.asarray(b)) for b in items)


def _split(batch, owner):
    """``(inputs tuple, target)`` of a batch ``(x1, ..., xk, y)``, as Tensors."""
    items = _items(batch, owner)
    if len(items) < 2:
        raise ValueError(f"{owner}: each batch must hold inputs and targets (x, y); got a batch of {len(items)} item(s).")
    return items[:-1], items[-1]


def _forward(model, inputs, owner):
    out = model(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(
            f"{owner}: the model returned a {type(out).__name__}; it must return one Tensor of outputs (logits). "
            "Wrap a model returning (output, state) in a Module that returns output only."
        )
    return out


def _loss_value(loss_t, owner) -> float:
    if not isinstance(loss_t, Tensor) or loss_t._array.size != 1:
        raise ValueError(
            f"{owner}: the loss must return a scalar Tensor (reduction='mean'). Got "
            f"{type(loss_t).__name__} of shape {getattr(loss_t, 'shape', None)}."
        )
    return float(loss_t._array)


def _modes(model) -> list:
    return [(m, m.training) for m in model.modules()]


def _restore_modes(modes) -> None:
    for m, training in modes:
        object.__setattr__(m, "training", training)


def _run_eval(model, loader, loss_fn, acc, owner) -> dict:
    modes = _modes(model)
    model.eval()
    acc.reset()
    try:
        with no_grad():
            for batch in loader:
                inputs, target = _split(batch, owner)
                out = _forward(model, inputs, owner)
                lv = None if loss_fn is None else _loss_value(loss_fn(out, target), owner)
                acc.update(lv, out._array, target._array)
    finally:
        _restore_modes(modes)
    if acc.count == 0:
        raise ValueError(f"{owner}: the evaluation data yielded no batches.")
    res = acc.result()
    if loss_fn is None:
        res.pop(acc.prefix + "loss")
    return res


def evaluate(model, data, *, loss="cross_entropy", metrics=("accuracy",), batch_size=None) -> dict:
    """Loss and metrics of ``model`` over ``data``, exact over the whole set (weighted by batch size).

    The model runs in eval mode (dropout off) under ``no_grad``; each module's train/eval
    mode is restored afterwards.

    Args:
        model: the Module.
        data: a DataLoader, an iterable of (x, y) batches, or an (X, y) pair of arrays.
        loss: a loss name, callable or nn loss module; None to compute metrics only.
        metrics: metric names / Metrics / callables (see :func:`nnbasics.training.metrics.get_metric`).
        batch_size: for (X, y) arrays (default 256).

    Returns:
        dict: ``{"loss": ..., "accuracy": ...}`` (floats).

    Example:
        >>> # evaluate(model, (X_test, y_test))["accuracy"]
    """
    loader = _loader(data, owner="evaluate", what="data", model=model, batch_size=batch_size, shuffle=False,
                     rng=None, default_batch=256)
    loss_fn = None if loss is None else resolve_loss(loss)
    return _run_eval(model, loader, loss_fn, EpochAccumulator(metrics), "evaluate")


def predict(model, data, *, batch_size=None) -> np.ndarray:
    """The model's outputs for every sample of ``data``, concatenated along the batch axis.

    Eval mode (restored afterwards), ``no_grad``.

    Args:
        model: the Module.
        data: an array X, a DataLoader / iterable of batches (a batch ``(x, y)`` uses ``x``; a
            batch ``(x,)`` or a bare array is the input), or an (X, y) pair (y ignored).
        batch_size: for arrays (default 256).

    Returns:
        ndarray (N, ...): the outputs (logits for classifiers; ``argmax(axis=1)`` gives labels).
    """
    if isinstance(data, tuple) and len(data) == 2 and all(_is_array(a) for a in data):
        data = data[0]
    loader = _loader(data, owner="predict", what="data", model=model, batch_size=batch_size, shuffle=False,
                     rng=None, default_batch=256)
    modes = _modes(model)
    model.eval()
    outs = []
    try:
        with no_grad():
            for batch in loader:
                items = _items(batch, "predict")
                inputs = items if len(items) == 1 else items[:-1]  # (x,) or (x1, ..., xk, y)
                outs.append(_forward(model, inputs, "predict")._array)
    finally:
        _restore_modes(modes)
    if not outs:
        raise ValueError("predict: data yielded no batches.")
    return np.concatenate(outs, axis=0)


def fit(model, train_data, *, epochs, optimizer, loss="cross_entropy", metrics=("accuracy",), validation_data=None,
        callbacks=(), batch_size=None, shuffle=True, rng=None, progress=None, initial_epoch=0, resume=None,
        grad_clip_norm=None, validation_batch_size=None) -> History:
    """Train ``model`` with ``optimizer`` for epochs ``initial_epoch .. epochs - 1``; return the History.

    Each batch: ``optimizer.zero_grad()``, ``out = model(*x)``, ``loss(out, y).backward()``,
    optional gradient clipping, ``optimizer.step()``. The model trains in train mode;
    validation runs in eval mode under ``no_grad``; each module's mode is restored at the end.
    Epoch loss and metrics are exact over the epoch (batch values weighted by batch size).

    Args:
        model: the Module; must return one Tensor of outputs.
        train_data: a DataLoader, a re-iterable of (x, y) batches, or an (X, y) pair of arrays.
        epochs: the index of the epoch to stop before (Keras's meaning): ``fit(epochs=5,
            initial_epoch=3)`` trains epochs 3 and 4.
        optimizer: an Optimizer over the model's parameters.
        loss: a name (``"cross_entropy"``, ``"mse"``, ``"bce_with_logits"``...; see
            :func:`resolve_loss`), a callable ``(outputs, targets) -> scalar Tensor`` or an nn loss module.
        metrics: names (``"accuracy"``, ``"top5_accuracy"``), Metrics or callables; () for none.
        validation_data: evaluated after each epoch, logged as ``val_loss``, ``val_<metric>``.
        callbacks: Callbacks (EarlyStopping, ModelCheckpoint, LearningRateScheduler...).
        batch_size, shuffle, rng: for (X, y) arrays only: batch size (default 32), shuffling
            each epoch (default True) and its Generator/seed (saved in checkpoints as ``"loader"``).
        progress: None (tqdm bar on a terminal, else quiet), True/"bar", "epoch" (a line per
            epoch on stdout), False (quiet), or a Callback; see :mod:`nnbasics.training.progress`.
        initial_epoch: the first epoch to run (after restoring a checkpoint yourself).
        resume: a checkpoint path (or a loaded :class:`Checkpoint`) from :class:`ModelCheckpoint`
            or :func:`save_checkpoint`: restores the weights, the optimizer, the random streams
            (dropout, the loader's shuffling), the callbacks' state and the History, and
            continues at its epoch. Training 2 epochs, or 1 then resuming for 1 more (in a new
            process), gives bit-identical weights.
        grad_clip_norm: clip the total gradient norm to this value each step (None: no clipping).
        validation_batch_size: batch size for (X, y) validation arrays (default 256).

    Returns:
        History: per-epoch ``loss``, metrics, ``val_*``, ``lr``, ``time`` (continued from the
        checkpoint's when resuming).

    Raises:
        ValueError/TypeError: bad arguments, naming the argument and how to fix it.
    """
    _check_model(model, optimizer)
    epochs = check_int(epochs, "epochs of fit", low=0)
    initial_epoch = check_int(initial_epoch, "initial_epoch of fit", low=0)
    clip = check_real(grad_clip_norm, "grad_clip_norm of fit", low=0, low_open=True, optional=True)
    train_loader = _train_loader(train_data, model, epochs - initial_epoch, batch_size, shuffle, rng)
    val_loader = None if validation_data is None else _loader(
        validation_data, owner="fit", what="validation_data", model=model, batch_size=validation_batch_size,
        shuffle=False, rng=None, default_batch=256)
    step = _Step(model, optimizer, resolve_loss(loss), clip)
    train_acc, val_acc = EpochAccumulator(metrics), EpochAccumulator(metrics, prefix="val_")
    generators = _run_generators(train_loader, model)
    all_callbacks = _with_progress(callbacks, progress)
    history, initial_epoch, saved_states = _resume(resume, model, optimizer, generators, all_callbacks,
                                                   initial_epoch)
    ctx = FitContext(model=model, optimizer=optimizer, history=history, train_data=train_loader, epochs=epochs,
                     initial_epoch=initial_epoch, generators=generators)
    cbs = CallbackList(all_callbacks, ctx)
    validate = None if val_loader is None else functools.partial(_run_eval, model, val_loader, step.loss_fn,
                                                                 val_acc, "fit")
    modes = _modes(model)
    try:
        cbs.call("on_train_begin", {})
        _load_callback_states(ctx, saved_states)
        for epoch in range(initial_epoch, epochs):
            logs = _run_epoch(epoch, step, train_loader, train_acc, validate, cbs, ctx)
            if logs is None:  # a callback abandoned the epoch (TerminateOnNaN)
                break
            history.append(epoch, logs)
            cbs.call("on_epoch_end", epoch, logs)
            if ctx.stop_training:
                break
        cbs.call("on_train_end", {})
    finally:
        _restore_modes(modes)
    return history


# ---------------------------------------------------------------- the pieces of fit
class _Step:
    """One optimization step on a batch: zero the gradients, forward, loss, backward, clip, update."""

    def __init__(self, model, optimizer, loss_fn, clip):
        self.model, self.optimizer, self.loss_fn, self.clip = model, optimizer, loss_fn, clip
        self.params = list(model.parameters())

    def __call__(self, batch):
        """``(loss value, outputs, targets)`` of ``batch`` ``(x1, ..., xk, y)``, after the update."""
        inputs, target = _split(batch, "fit")
        self.optimizer.zero_grad()
        out = _forward(self.model, inputs, "fit")
        loss = self.loss_fn(out, target)
        value = _loss_value(loss, "fit")
        loss.backward()
        if self.clip is not None:
            clip_grad_norm_(self.params, self.clip)
        self.optimizer.step()
        return value, out, target


def _run_epoch(epoch, step, loader, acc, validate, cbs, ctx):
    """Train one epoch, then validate: the epoch's logs (loss and metrics exact over the epoch, ``val_*``,
    ``lr``, ``time``), or None when a callback set ``ctx.abort_epoch``."""
    step.model.train()
    acc.reset()
    cbs.call("on_epoch_begin", epoch, {})
    groups = getattr(step.optimizer, "param_groups", None)
    lr = float(groups[0]["lr"]) if groups else math.nan
    start = time.perf_counter()
    for b, batch in enumerate(loader):
        cbs.call("on_batch_begin", b, {})
        value, out, target = step(batch)
        n = int(target.shape[0]) if target.ndim else 1
        acc.update(value, out._array, target._array, n)
        cbs.call("on_batch_end", b, {"batch_loss": value, "size": n, **acc.result()})
        if ctx.abort_epoch:
            return None
    if acc.count == 0:
        raise ValueError("fit: train_data yielded no batches in an epoch.")
    logs = acc.result()
    if validate is not None:
        logs.update(validate())
    logs["lr"] = lr
    logs["time"] = time.perf_counter() - start
    return logs


def _check_model(model, optimizer) -> None:
    if not hasattr(model, "parameters") or not callable(model):
        raise TypeError(f"fit: model must be an nnbasics Module. Got {type(model).__name__}.")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "zero_grad"):
        raise TypeError(f"fit: optimizer must be an nnbasics Optimizer (e.g. Adam(model.parameters())). "
                        f"Got {type(optimizer).__name__}.")


def _train_loader(train_data, model, n_epochs, batch_size, shuffle, rng):
    loader = _loader(train_data, owner="fit", what="train_data", model=model, batch_size=batch_size,
                     shuffle=shuffle, rng=rng, default_batch=32)
    if iter(loader) is loader and n_epochs > 1:
        raise TypeError("fit: train_data is a one-shot iterator (a generator); it would be empty after the first "
                        "epoch. Pass a DataLoader or a list of batches.")
    return loader


def _with_progress(callbacks, progress) -> list:
    """The callbacks given, then the progress bar or printer of ``progress`` (if any)."""
    out = list(callbacks if not isinstance(callbacks, CallbackList) else callbacks.callbacks)
    bar = make_progress(progress)
    return out if bar is None else [*out, bar]


def _resume(resume, model, optimizer, generators, callbacks, initial_epoch) -> tuple:
    """``(history, initial_epoch, callback states)``: fresh, or restored from the checkpoint ``resume``."""
    if resume is None:
        return History(), initial_epoch, {}
    from .resume import restore

    ckpt, states = restore(resume, model, optimizer, generators, callbacks)
    return (ckpt.history if ckpt.history is not None else History()), int(ckpt.epoch), states


def _load_callback_states(ctx, states) -> None:
    for key, cb in callback_keys(ctx.callbacks).items():
        if key in states:  # checked by restore(); no longer fails
            cb.load_state_dict(states[key])


def _run_generators(train_loader, model) -> dict:
    """The random streams outside the model a checkpoint saves: the loader's shuffling and the data's own.

    A transform or dataset with its own Generator is found and saved as ``"data.<path>"``;
    random states that cannot be saved are named in a warning (the resume will be inexact).
    """
    from .checkpoint import module_generators
    from .resume import data_generators

    generators = {}
    gen = getattr(train_loader, "generator", None)
    if isinstance(gen, np.random.Generator):
        generators["loader"] = gen
    found, unsaved = data_generators(train_loader, known=[*generators.values(), *module_generators(model).values()])
    generators.update(found)
    if unsaved:
        warnings.warn(f"fit: {', '.join(unsaved)} cannot be saved in a checkpoint (only numpy.random.Generator can), "
                      "so a resumed run will not repeat its random draws. Give the transform a Generator "
                      "(np.random.default_rng(seed)), or use the rng the DataLoader passes it.",
                      RuntimeWarning, stacklevel=3)
    return generators
