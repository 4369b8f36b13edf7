"""Callbacks: code that ``fit`` runs at fixed points of training (Keras's hooks).

A callback subclasses :class:`Callback` and overrides any of ``on_train_begin(logs)``,
``on_train_end(logs)``, ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
``on_batch_begin(batch, logs)``, ``on_batch_end(batch, logs)``. Before training, ``fit``
gives every callback the run's :class:`FitContext` as ``self.context`` (the model, the
optimizer, the History, the training loader and ``stop_training``).

Logs: ``on_batch_end`` gets ``batch_loss`` (this batch), ``size`` (its samples) and the
running epoch averages so far (``loss``, ``accuracy``...); ``on_epoch_end`` gets the epoch's
exact ``loss`` and metrics, ``val_*`` with validation data, ``lr`` and ``time``.

Callbacks run in the order given, except that each has an ``order`` (default 0) and lower
orders run first: :class:`ModelCheckpoint` has order 100 so that it saves the state the
others (early stopping, schedules) reached at the end of the epoch.

Stateful callbacks (:class:`EarlyStopping`, :class:`LearningRateScheduler`,
:class:`ModelCheckpoint`) have ``state_dict``/``load_state_dict``: a checkpoint written by
:class:`ModelCheckpoint` stores them, and ``fit(..., resume=path)`` restores them.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_int, is_real

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "FitContext",
    "JSONLinesLogger",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "TerminateOnNaN",
]


@dataclass
class FitContext:
    """What a callback can see and change during ``fit``.

    Attributes:
        model, optimizer: the objects being trained.
        history (History): the logs so far (this epoch's already appended in ``on_epoch_end``).
        train_data: the training loader (a DataLoader or the iterable given).
        epochs (int): the epoch index at which training ends (exclusive).
        initial_epoch (int): the first epoch of this call.
        generators (dict[str, numpy.random.Generator]): random streams outside the model that
            a checkpoint must save for an exact resume (``"loader"``: the loader's shuffling).
        callbacks (list): every callback of the run (for checkpointing their state).
        stop_training (bool): set True to stop after this epoch.
        abort_epoch (bool): set True (with ``stop_training``) to stop at once, without
            finishing or recording the current epoch (used by :class:`TerminateOnNaN`).
    """

    model: object = None
    optimizer: object = None
    history: object = None
    train_data: object = None
    epochs: int = 0
    initial_epoch: int = 0
    generators: dict = field(default_factory=dict)
    callbacks: list = field(default_factory=list)
    stop_training: bool = False
    abort_epoch: bool = False

    def callback_states(self) -> dict:
        """``{key: state}`` of every callback with a ``state_dict`` (keys from :func:`callback_keys`)."""
        return {k: cb.state_dict() for k, cb in callback_keys(self.callbacks).items() if hasattr(cb, "state_dict")}


def callback_keys(callbacks) -> dict:
    """Stable names for callbacks: the class name, with ``#2``, ``#3``... for repeats."""
    out, seen = {}, {}
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        out[name if seen[name] == 1 else f"{name}#{seen[name]}"] = cb
    return out


class Callback:
    """Base class: every hook does nothing. Override the ones you need.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs):
        ...         print(f"epoch {epoch}: {logs['loss']:.3f}")
    """

    order = 0
    context: FitContext | None = None

    def set_context(self, context: FitContext) -> None:
        self.context = context

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch, logs=None): ...

    def on_epoch_end(self, epoch, logs=None): ...

    def on_batch_begin(self, batch, logs=None): ...

    def on_batch_end(self, batch, logs=None): ...


class CallbackList:
    """Calls a hook on every callback, in ``order`` (stable for equal orders)."""

    def __init__(self, callbacks, context: FitContext):
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        callbacks = list(callbacks or ())
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be Callback instances (from nnbasics.training). Got {type(cb).__name__}; "
                    "subclass nnbasics.training.Callback to write your own."
                )
        self.callbacks = sorted(callbacks, key=lambda cb: getattr(cb, "order", 0))
        context.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_context(context)

    def __iter__(self):
        return iter(self.callbacks)

    def call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


def _check_mode(owner, mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode of {owner} must be 'auto', 'min' or 'max'. Got {mode!r}.")
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


def _monitored(owner, monitor, logs) -> float:
    if monitor not in logs:
        hint = " Pass validation_data to fit, or monitor 'loss'." if monitor.startswith("val_") else ""
        raise ValueError(
            f"{owner} monitors {monitor!r}, which is not in the epoch logs (keys: {sorted(logs)}).{hint}"
        )
    return float(logs[monitor])


def _copy_state(model) -> dict:
    return {k: v._array.copy() for k, v in model.state_dict().items()}


def _best_state(owner, state, ref) -> dict:
    """A best-value state ``{"best": number, "best_epoch": int >= 0 or None[, "wait": int >= 0]}``, checked."""
    from .checkpoint_check import like_state

    s = like_state(ref, state, f"{owner} state")
    if not (s["best_epoch"] is None or (isinstance(s["best_epoch"], int) and not isinstance(s["best_epoch"], bool)
                                        and 0 <= s["best_epoch"] <= 2**53)):
        raise ValueError(f"{owner} state['best_epoch'] must be an epoch index or None; got {s['best_epoch']!r:.60}")
    if s.get("wait", 0) < 0:
        raise ValueError(f"{owner} state['wait'] must be >= 0; got {s['wait']!r}")
    return s


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    An epoch improves when (mode "min") ``value < best - min_delta`` (mode "max":
    ``value > best + min_delta``; NaN never improves). After ``patience`` epochs in a row
    without improvement, training stops at the end of that epoch.

    Args:
        monitor: a key of the epoch logs (default ``"val_loss"``).
        patience: epochs without improvement tolerated (int >= 0; 0 stops at the first one).
        min_delta: smallest change counted as an improvement (>= 0).
        mode: "min", "max" or "auto" (max for accuracy-like names, else min).
        restore_best_weights: at the end of training, load the weights of the best epoch
            (whether training stopped early or not). After ``fit(..., resume=...)`` the best
            weights are only known from epochs seen since the resume.

    Attributes:
        best (float), best_epoch (int | None), wait (int), stopped_epoch (int | None): the
        epoch at which it stopped training, None when it did not.

    Example:
        >>> stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor of EarlyStopping must be a log key such as 'val_loss'. Got {monitor!r}.")
        self.monitor = monitor
        self.patience = check_int(patience, "patience of EarlyStopping", low=0)
        if not is_real(min_delta) or not min_delta >= 0:
            raise ValueError(f"min_delta of EarlyStopping must be a number >= 0. Got {min_delta!r}.")
        self.min_delta = float(min_delta)
        self.mode = _check_mode("EarlyStopping", mode, monitor)
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.stopped_epoch = None, 0, None
        self.best_weights = None

    def _improved(self, value) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored("EarlyStopping", self.monitor, logs or {})
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.context.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.context.stop_training = True

    def on_train_end(self, logs=None):
        last = self.context.history.epoch[-1] if self.context.history.epoch else None
        if self.restore_best_weights and self.best_weights is not None and self.best_epoch != last:
            self.context.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def check_state(self, state) -> dict:
        """``state`` (e.g. read back from a checkpoint) checked, as :meth:`load_state_dict` takes it; ValueError."""
        return _best_state("EarlyStopping", state, {"best": 0.0, "best_epoch": None, "wait": 0})

    def load_state_dict(self, state: dict) -> None:
        s = self.check_state(state)
        self.best, self.best_epoch, self.wait = s["best"], s["best_epoch"], s["wait"]


class ModelCheckpoint(Callback):
    """Save checkpoints at the end of epochs: the last one, and the best one by a monitored quantity.

    Each file is a complete checkpoint (:func:`~nnbasics.training.save_checkpoint`): weights,
    optimizer state, epoch, history, RNG states (the model's and the loader's) and the state
    of the other callbacks, so ``fit(..., resume=ckpt.last_path)`` continues exactly. Writes
    are atomic: a crash leaves the previous file loadable.

    Args:
        dirpath: directory of the files (created if missing).
        monitor: log key deciding the best epoch (default ``"val_loss"``); only used when
            ``save_best``.
        mode: "min", "max" or "auto".
        save_best: keep ``best.safetensors``, overwritten when the monitored value improves.
        save_last: keep ``last.safetensors``, overwritten every epoch.
        best_name, last_name: the file names.

    Attributes:
        best_path, last_path (str), best (float), best_epoch (int | None).

    Example:
        >>> ckpt = ModelCheckpoint("runs/exp1", monitor="val_accuracy")
    """

    order = 100  # after the callbacks whose state it saves

    def __init__(self, dirpath, monitor: str = "val_loss", mode: str = "auto", save_best: bool = True,
                 save_last: bool = True, best_name: str = "best.safetensors", last_name: str = "last.safetensors"):
        self.dirpath = os.fspath(dirpath)
        self.monitor = monitor
        self.mode = _check_mode("ModelCheckpoint", mode, monitor)
        self.save_best, self.save_last = bool(save_best), bool(save_last)
        if not (self.save_best or self.save_last):
            raise ValueError("ModelCheckpoint with save_best=False and save_last=False would save nothing.")
        for n in (best_name, last_name):
            if not isinstance(n, str) or os.sep in n or not n:
                raise ValueError(f"ModelCheckpoint file names must be plain file names. Got {n!r}.")
        self.best_path = os.path.join(self.dirpath, best_name)
        self.last_path = os.path.join(self.dirpath, last_name)
        self.best, self.best_epoch = (math.inf if self.mode == "min" else -math.inf), None

    def on_train_begin(self, logs=None):
        os.makedirs(self.dirpath, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        from ..io.safetensors import atomic_write_bytes
        from .checkpoint import checkpoint_bytes

        improved = False
        if self.save_best:
            value = _monitored("ModelCheckpoint", self.monitor, logs or {})
            improved = value < self.best if self.mode == "min" else value > self.best
            if improved:
                self.best, self.best_epoch = value, epoch
        if not (improved or self.save_last):
            return
        ctx = self.context
        if ctx.abort_epoch:  # another callback (TerminateOnNaN) abandoned this epoch and restored older weights
            return
        bad = _nonfinite(ctx)
        if bad:  # NOTE: never overwrite a good checkpoint with NaN/Inf weights or optimizer state
            warnings.warn(f"ModelCheckpoint: not saving epoch {epoch + 1}: non-finite values in {', '.join(bad[:3])}; "
                          f"{self.last_path} keeps the last finite state. Add TerminateOnNaN to stop such runs.",
                          RuntimeWarning, stacklevel=2)
            return
        data = checkpoint_bytes(
            ctx.model, ctx.optimizer, epoch=epoch + 1, history=ctx.history, rng_states=ctx.generators,
            extra={"callbacks": ctx.callback_states()},
        )
        if self.save_last:
            atomic_write_bytes(self.last_path, data)
        if improved:
            atomic_write_bytes(self.best_path, data)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def check_state(self, state) -> dict:
        """``state`` checked, as :meth:`load_state_dict` takes it; ValueError naming the field."""
        return _best_state("ModelCheckpoint", state, {"best": 0.0, "best_epoch": None})

    def load_state_dict(self, state: dict) -> None:
        s = self.check_state(state)
        self.best, self.best_epoch = s["best"], s["best_epoch"]


class LearningRateScheduler(Callback):
    """Set the learning rate each epoch from a scheduler of :mod:`nnbasics.optim.lr_scheduler` or a function.

    Args:
        schedule: one of
            * an ``LRScheduler`` (StepLR, CosineAnnealingLR, SequentialLR...) built on the
              optimizer given to ``fit``: stepped at the beginning of each epoch until its
              ``last_epoch`` equals the epoch (PyTorch's once-per-epoch ``scheduler.step()``;
              also fast-forwards a fresh scheduler when resuming at a later epoch);
            * a ``ReduceLROnPlateau``: stepped with ``logs[monitor]`` at the end of each epoch;
            * a function ``epoch -> lr``: sets every param group's lr at the beginning of each epoch.
        monitor: the log key fed to ``ReduceLROnPlateau`` (default ``"val_loss"``).

    The lr used during each epoch is logged as ``lr`` (param group 0).

    Example:
        >>> from nnbasics.optim.lr_scheduler import StepLR
        >>> # LearningRateScheduler(StepLR(opt, step_size=10, gamma=0.5))
        >>> halve = LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** epoch)
    """

    def __init__(self, schedule, monitor: str = "val_loss"):
        from ..optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

        if isinstance(schedule, ReduceLROnPlateau):
            self.kind = "plateau"
        elif isinstance(schedule, LRScheduler):
            self.kind = "scheduler"
        elif callable(schedule):
            self.kind = "function"
        else:
            raise TypeError(
                "schedule of LearningRateScheduler must be an nnbasics.optim.lr_scheduler scheduler or a function "
                f"epoch -> lr. Got {type(schedule).__name__}."
            )
        self.schedule, self.monitor = schedule, monitor

    def on_train_begin(self, logs=None):
        if self.kind != "function" and self.schedule.optimizer is not self.context.optimizer:
            raise ValueError(
                "LearningRateScheduler: the scheduler drives a different optimizer than the one given to fit; "
                "build it on the same optimizer."
            )

    def on_epoch_begin(self, epoch, logs=None):
        if self.kind == "scheduler":
            while self.schedule.last_epoch < epoch:
                self.schedule.step()
        elif self.kind == "function":
            lr = self.schedule(epoch)
            if not is_real(lr) or not (lr >= 0 and math.isfinite(lr)):
                raise ValueError(f"LearningRateScheduler: the schedule returned lr={lr!r} for epoch {epoch}; "
                                 "it must return a finite number >= 0.")
            for group in self.context.optimizer.param_groups:
                group["lr"] = float(lr)

    def on_epoch_end(self, epoch, logs=None):
        if self.kind == "plateau":
            self.schedule.step(_monitored("LearningRateScheduler", self.monitor, logs or {}))

    def state_dict(self) -> dict:
        return {} if self.kind == "function" else {"scheduler": self.schedule.state_dict()}

    def check_state(self, state) -> dict:
        """``state`` checked against this scheduler's own state (same keys and kinds); ValueError naming the field."""
        from .checkpoint_check import like_state, probe_scheduler

        s = like_state(self.state_dict(), state, "LearningRateScheduler state")
        if self.kind != "function":
            probe_scheduler(self.schedule, s["scheduler"], metric=0.0 if self.kind == "plateau" else None)
        return s

    def load_state_dict(self, state: dict) -> None:
        s = self.check_state(state)
        if self.kind != "function":
            self.schedule.load_state_dict(s["scheduler"])


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite, and go back to the last good weights.

    "Good" is the state at the end of the last epoch whose every batch loss was finite and
    whose weights and optimizer state were all finite (or the start of training): the weights
    and the optimizer state are restored to it, and the diverged epoch is neither finished nor
    recorded, so a :class:`ModelCheckpoint`'s ``last`` file still holds that good epoch. An
    epoch whose losses were finite but whose last step left non-finite weights, a non-finite
    optimizer state (an Adagrad accumulator overflowing to inf freezes its parameters while the
    loss stays finite) or a non-finite validation loss is caught at its end the same way,
    before any checkpoint is written.

    Why training stopped is given in ``stop_reason``, in the History that ``fit`` returns
    (``history.stop_reason``) and as a RuntimeWarning.

    Attributes:
        stopped_epoch, stopped_batch (int | None): where the non-finite value appeared
            (``stopped_batch`` is None when it was found at the end of the epoch).
        stop_reason (str | None): the message.
    """

    def __init__(self):
        self.stopped_epoch = self.stopped_batch = self.stop_reason = None
        self._good = None
        self._good_epoch = None
        self._epoch = None

    def _snapshot(self, epoch):
        ctx = self.context
        self._good = (_copy_state(ctx.model), copy.deepcopy(ctx.optimizer.state_dict()))
        self._good_epoch = epoch

    def on_train_begin(self, logs=None):
        self.stopped_epoch = self.stopped_batch = self.stop_reason = None
        self._snapshot(None)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _stop(self, epoch, batch, what):
        ctx = self.context
        weights, opt_state = self._good
        ctx.model.load_state_dict(weights)
        ctx.optimizer.load_state_dict(opt_state)
        self.stopped_epoch, self.stopped_batch = epoch, batch
        ctx.stop_training = ctx.abort_epoch = True
        back = ("the start of training" if self._good_epoch is None
                else f"the end of epoch {self._good_epoch + 1} (the last good one)")
        where = f"epoch {epoch + 1}" + (f", batch {batch}" if batch is not None else "")
        self.stop_reason = (f"TerminateOnNaN: {what} at {where}; training stopped and the weights and optimizer "
                            f"state were restored to {back}.")
        if ctx.history is not None:
            ctx.history.stop_reason = self.stop_reason
        warnings.warn(self.stop_reason, RuntimeWarning, stacklevel=2)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("batch_loss")
        if loss is None or math.isfinite(loss):
            return
        self._stop(self._epoch, batch, f"the training loss was {loss}")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        bad_logs = [k for k in ("loss", "val_loss") if isinstance(logs.get(k), numbers.Real)
                    and not math.isfinite(logs[k])]
        bad_weights = _nonfinite(self.context)
        if bad_logs or bad_weights:
            hist = self.context.history
            if hist is not None and hist.epoch and hist.epoch[-1] == epoch:  # unrecord the diverged epoch
                hist.epoch.pop()
                for col in hist.history.values():
                    col.pop()
            what = (f"{bad_logs[0]} was {logs[bad_logs[0]]}" if bad_logs
                    else f"the weights or optimizer state became non-finite ({', '.join(bad_weights[:3])})")
            self._stop(epoch, None, what)
            return
        self._snapshot(epoch)


def _nonfinite(ctx) -> list:
    """Names of the model's non-finite weights and of the optimizer's non-finite state ("optimizer state 0.sum")."""
    from .checkpoint_check import nonfinite_state

    bad = [k for k, v in ctx.model.state_dict().items() if not _finite_array(v)]
    if ctx.optimizer is not None:
        bad += [f"optimizer state {k}" for k in nonfinite_state(ctx.optimizer)]
    return bad


def _finite_array(v) -> bool:
    a = np.asarray(v)  # a Tensor (through __array__) or an array
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())



# The file loggers live in loggers.py; re-exported here, where they were first defined.
from .loggers import CSVLogger, JSONLinesLogger
