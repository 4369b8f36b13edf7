"""Progress reporting: a live tqdm bar on a terminal, plain lines anywhere else.

:class:`Progress` (and :func:`progress_iter`) is the one helper every loop of the library uses:
``fit``'s bar, ``train_char_lm``'s steps, the lab's jobs. ``fit`` reports through callbacks:

``fit(progress=...)`` picks one:

* ``None`` (default, "auto"): a tqdm bar when tqdm is installed and stderr is a terminal;
  nothing otherwise (logs, CI, notebooks captured to files stay clean).
* ``True`` or ``"bar"``: a tqdm bar on a terminal; one line per epoch anywhere else (a file,
  a pipe, a CI log: no cursor codes) or when tqdm is not installed.
* ``"epoch"``: one plain line per epoch on stdout (what the CLI prints).
* ``False`` or ``"none"``: nothing.

The bar's postfix shows the running epoch averages of the loss and metrics, updated every
batch; at the end of the epoch it shows the epoch's values with the validation ones.
"""

from __future__ import annotations

import math
import sys

from .callbacks import Callback

__all__ = ["EpochPrinter", "Progress", "ProgressBar", "format_logs", "make_progress", "progress_iter"]

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


class Progress:
    """Progress of a loop: a live tqdm bar on a terminal, one plain line per update anywhere else.

    The one progress helper of the library (``fit``, ``train_char_lm``, the lab): piped or
    logged output never receives a bar's cursor codes; it gets lines such as
    ``train 300/1000 steps - loss 1.9312``.

    Args:
        total: the number of units (None: unknown).
        desc: the label in front (``"Epoch 3/10"``, ``"train"``).
        unit: the unit's name (``"batch"``, ``"step"``, ``"job"``).
        file: the stream (default ``sys.stderr``).
        mode: ``"auto"`` (a bar when tqdm is installed and ``file`` is a terminal, else lines),
            ``"bar"`` (the same: a bar is never drawn into a file or a pipe), ``"lines"`` or ``"none"``.
        every: in lines mode, print one line per ``every`` units (and at the last one).
        mininterval: seconds between a bar's redraws (tqdm's).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> with Progress(total=2, desc="train", unit="step", file=out) as p:
        ...     p.update(1, {"loss": 0.5}); p.update(1, {"loss": 0.25})
        >>> print(out.getvalue(), end="")
        train 1/2 steps - loss 0.5000
        train 2/2 steps - loss 0.2500
    """

    def __init__(self, total=None, desc: str = "", unit: str = "it", file=None, mode="auto", every: int = 1,
                 mininterval: float = 0.1, leave: bool = True):
        if mode not in ("auto", "bar", "lines", "none"):
            raise ValueError(f"Progress: mode must be 'auto', 'bar', 'lines' or 'none'. Got {mode!r}.")
        self.total, self.desc, self.unit, self.every = total, desc, unit, max(1, int(every))
        self.file = file if file is not None else sys.stderr
        self.mode = mode
        if mode in ("auto", "bar"):
            self.mode = "bar" if _tqdm_available() and _isatty(self.file) else "lines"
        self.n, self.postfix, self._bar = 0, "", None
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc or None, unit=unit, file=self.file, mininterval=mininterval,
                             leave=leave, dynamic_ncols=True)

    def update(self, n: int = 1, postfix=None) -> None:
        """Advance by ``n`` units; ``postfix`` (a logs dict or a string) is shown after the count."""
        self.n += n
        if postfix is not None:
            self.postfix = format_logs(postfix, sep=", " if self._bar is not None else " - ") \
                if isinstance(postfix, dict) else str(postfix)
        if self._bar is not None:
            # refresh=False: the postfix is drawn at tqdm's next redraw (every `mininterval` seconds)
            self._bar.set_postfix_str(self.postfix, refresh=False)
            self._bar.update(n)
        elif self.mode == "lines" and (self.n % self.every == 0 or self.n == self.total):
            print(self.line(), file=self.file, flush=True)

    def line(self) -> str:
        """``"train 3/10 steps - loss 0.4123"``: the state as one line."""
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        unit = f" {self.unit}" + ("" if (self.total if self.total is not None else self.n) == 1 else "s")
        head = f"{self.desc} " if self.desc else ""
        return f"{head}{count}{unit if self.unit else ''}" + (f" - {self.postfix}" if self.postfix else "")

    def write(self, text: str, file=None) -> None:
        """Print ``text`` on its own line (to ``file``, default the bar's stream) without breaking a live bar."""
        if self._bar is not None:
            self._bar.write(text, file=file or self.file)
        elif self.mode != "none":
            print(text, file=file or self.file, flush=True)

    def close(self, postfix=None) -> None:
        """End the bar (showing ``postfix``, e.g. the epoch's final values)."""
        if self._bar is not None:
            if postfix is not None:
                self._bar.set_postfix_str(format_logs(postfix, sep=", ") if isinstance(postfix, dict) else postfix,
                                          refresh=True)
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress_iter(iterable, total=None, desc: str = "", unit: str = "it", file=None, mode="auto", every: int = 1):
    """``iterable``, reporting each item through a :class:`Progress` (a bar on a terminal, else lines).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> [x for x in progress_iter("ab", desc="jobs", unit="job", file=out)]
        ['a', 'b']
        >>> out.getvalue().splitlines()
        ['jobs 1/2 jobs', 'jobs 2/2 jobs']
    """
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    with Progress(total=total, desc=desc, unit=unit, file=file, mode=mode, every=every, leave=False) as p:
        for item in iterable:
            yield item
            p.update(1)


class ProgressBar(Callback):
    """A tqdm bar per epoch on a terminal, with the running loss and metrics in its postfix.

    Written to a file or a pipe (not a terminal) it prints one line per epoch instead, as
    :class:`EpochPrinter` does: no cursor codes in logs.

    Args:
        file: the stream (default ``sys.stderr``, tqdm's).
        mininterval: seconds between redraws (tqdm's).
    """

    order = -10

    def __init__(self, file=None, mininterval: float = 0.1):
        self.file, self.mininterval = file, mininterval
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        try:
            total = len(self.context.train_data)
        except TypeError:
            total = None
        self._bar = Progress(total=total, desc=f"Epoch {epoch + 1}/{self.context.epochs}", unit="batch",
                             file=self.file, mininterval=self.mininterval)

    def on_batch_end(self, batch, logs=None):
        if self._bar.mode == "bar":
            self._bar.update(1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            if self._bar.mode == "bar":
                self._bar.close(logs or {})
            else:
                line = f"Epoch {epoch + 1}/{self.context.epochs} - {format_logs(logs or {})}"
                print(line + (f" - {logs['time']:.2f}s" if "time" in (logs or {}) else ""), file=self._bar.file,
                      flush=True)
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
        return ProgressBar() if _tqdm_available() and _isatty(sys.stderr) else EpochPrinter()
    if progress == "epoch":
        return EpochPrinter()
    if isinstance(progress, Callback):
        return progress
    raise ValueError(
        f"progress must be None ('auto'), True ('bar'), 'epoch', False ('none') or a Callback. Got {progress!r}."
    )
