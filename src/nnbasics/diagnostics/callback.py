"""The ``fit`` callback of :class:`~nnbasics.diagnostics.SignalMonitor` (one training batch = one step)."""

from __future__ import annotations

from ..training.callbacks import Callback

__all__ = ["MonitorCallback"]


class MonitorCallback(Callback):
    """Drives a :class:`SignalMonitor` from ``fit``'s batch hooks; made by ``SignalMonitor.callback()``.

    Args:
        monitor: the SignalMonitor to feed.
    """

    def __init__(self, monitor):
        self.monitor = monitor
        self._attached_here = False
        self._was_paused = False

    def on_train_begin(self, logs=None):
        mon = self.monitor
        self._was_paused = mon._paused
        mon._paused = True  # only training batches are recorded, not validation passes
        if not mon.attached:
            mon.attach()
            self._attached_here = True

    def on_batch_begin(self, batch, logs=None):
        self.monitor._begin_batch()

    def on_batch_end(self, batch, logs=None):
        self.monitor._end_batch()

    def on_train_end(self, logs=None):
        mon = self.monitor
        mon._paused = self._was_paused
        if self._attached_here:
            mon.detach()
            self._attached_here = False
