"""Training by steps through ``fit``: the lab's experiments count updates, not epochs.

``fit`` is the library's one training loop and counts in epochs. An experiment that draws a
fresh batch for every update, or times a fixed number of updates, gives those batches to
:func:`train_steps` as one epoch and gets each update's loss back.

Example:
    >>> import numpy as np
    >>> from nnbasics import nn, optim, tensor
    >>> net = nn.Sequential(nn.Linear(3, 2, rng=0))
    >>> x, y = tensor(np.ones((4, 3), np.float32)), tensor(np.array([0, 1, 0, 1]))
    >>> len(train_steps(net, [(x, y)] * 5, optim.SGD(net.parameters(), lr=0.1)))
    5
"""

from __future__ import annotations

import math

__all__ = ["train_steps"]


class _NonFinite(Exception):
    """A batch's loss was NaN or infinite: the step stops before its update."""


def _guarded(loss_fn, losses):
    """``loss_fn`` that records a non-finite loss and raises :class:`_NonFinite` before anything is updated."""

    def loss(outputs, targets):
        value = loss_fn(outputs, targets)
        v = float(value._array)
        if not math.isfinite(v):
            losses.append(v)
            raise _NonFinite
        return value

    return loss


def train_steps(model, batches, optimizer, *, loss="cross_entropy", clip=None, callbacks=(),
                stop_on_nonfinite=False) -> list:
    """One optimizer step per batch of ``batches`` (one epoch of ``fit``); the loss of each step.

    Args:
        model: the Module (trained in place, in train mode; its modes are restored).
        batches: an iterable of ``(x, y)`` batches (Tensors or arrays), e.g. a generator drawing
            a fresh batch per step.
        optimizer: the optimizer over ``model.parameters()`` (its state carries over calls).
        loss: a loss name, callable or nn loss module (see :func:`nnbasics.training.fit`).
        clip: clip the total gradient norm to this value each step (None: no clipping).
        callbacks: more ``fit`` callbacks (e.g. ``SignalMonitor.callback()``).
        stop_on_nonfinite: stop at the first batch whose loss is NaN or infinite, before its
            update (the weights stay those of the last finite step); that loss is the last one
            returned, and no further batch is drawn.

    Returns:
        list of float: the loss of every step taken.
    """
    from ...training import Callback, fit
    from ...training.fit import resolve_loss

    losses = []

    class _Record(Callback):
        def on_batch_end(self, batch, logs=None):
            losses.append(logs["batch_loss"])

    loss_fn = resolve_loss(loss)
    if stop_on_nonfinite:
        loss_fn = _guarded(loss_fn, losses)
    try:
        fit(model, batches, epochs=1, optimizer=optimizer, loss=loss_fn, metrics=(), grad_clip_norm=clip,
            callbacks=[_Record(), *callbacks], progress=False)
    except _NonFinite:
        pass
    return losses
