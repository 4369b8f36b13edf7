"""Progress reporting for ``fit``: a live tqdm bar on a terminal, or one printed line per epoch.

``fit(progress=...)`` picks one:

* ``None`` (default, "auto"): a tqdm bar when tqdm is installed and stderr is a terminal;
  nothing otherwise (logs, CI, notebooks captured to files stay clean).
* ``True`` or ``"bar"``: a tqdm bar even when not a terminal (one line per epoch when tqdm is
  not installed).
* ``"epoch"``: one plain line per epoch on stdout (what the CLI prints).
* ``False`` or ``"none"``: nothing.

The bar's postfix shows the running epoch averages of the loss and metrics, updated every
batch; at the end of the epoch it shows the epoch's values with the validation ones.
"""

from __future__ import annotations

import math
import sys

from .callbacks import Callback

__all__ = ["EpochPrinter", "ProgressBar", "format_logs", "make_progress"]

_HIDDEN = {"batch_loss", "size", "time"}


def _fmt(v) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if (abs(v) < 1e-3 and v != 0) or abs(v) >= 1e4 else f"{v:.4f}"
    return str(v)


def format_logs(logs: dict, sep: str = " - ") -> str:
    """``"loss 0.4123 - accuracy 0.8750 - val_loss ..."`` (batch-only keys left out)."""
    return sep.join(f"{k} {_fmt(v)}" for k, v in logs.items() if k not in _HIDDEN)


class EpochPrinter(Callback):
    """Print one line per epoch: ``Epoch 3/10 - loss 0.4123 - accuracy 0.8750 - ... - 0.12s``.

    Args:
        print_fn: the function given each line (default ``print``, to stdout).
    """

    order = -10

    def __init__(self, print_fn=None):
        self.print_fn = print_fn or print

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        line = f"Epoch {epoch + 1}/{self.context.epochs} - {format_logs(logs)}"
        if "time" in logs:
            line += f" - {logs['time']:.2f}s"
        self.print_fn(line)


class ProgressBar(Callback):
    """A tqdm bar per epoch, with the running loss and metrics in its postfix.

    Args:
        file: the stream (default ``sys.stderr``, tqdm's).
        mininterval: seconds between redraws (tqdm's).
    """

    order = -10

    def __init__(self, file=None, mininterval: float = 0.1):
        from tqdm.auto import tqdm  # noqa: F401 - fail now, not in the first epoch

        self.file, self.mininterval = file, mininterval
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        from tqdm.auto import tqdm

        try:
            total = len(self.context.train_data)
        except TypeError:
            total = None
        self._bar = tqdm(total=total, desc=f"Epoch {epoch + 1}/{self.context.epochs}", unit="batch",
                         file=self.file or sys.stderr, mininterval=self.mininterval, leave=True, dynamic_ncols=True)

    def on_batch_end(self, batch, logs=None):
        # refresh=False: the postfix is drawn at tqdm's next redraw (every `mininterval` seconds).
        self._bar.set_postfix_str(format_logs(logs or {}, sep=", "), refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs or {}, sep=", "), refresh=True)
            self._bar.close()
            self._bar = None

    def on_train_end(self, logs=None):
        if self._bar is not None:  # stopped mid-epoch
            self._bar.close()
            self._bar = None


def _tqdm_available() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


def make_progress(progress) -> Callback | None:
    """The progress callback for ``fit(progress=...)`` (see the module docstring), or None."""
    if progress is None or progress == "auto":
        return ProgressBar() if _tqdm_available() and _isatty(sys.stderr) else None
    if progress is False or progress == "none":
        return None
    if progress is True or progress == "bar":
        return ProgressBar() if _tqdm_available() else EpochPrinter()
    if progress == "epoch":
        return EpochPrinter()
    if isinstance(progress, Callback):
        return progress
    raise ValueError(
        f"progress must be None ('auto'), True ('bar'), 'epoch', False ('none') or a Callback. Got {progress!r}."
    )
