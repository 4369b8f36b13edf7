"""Saving a CLI run after every epoch, as one transaction, and keeping it through Ctrl-C.

``train`` adds :class:`EpochSaver` to ``fit``: at the end of each epoch it commits
``last.safetensors`` (weights, optimizer, random streams, history, the callbacks' state and the
run's settings: everything ``--resume`` needs), ``best.safetensors`` when the validation loss
improved, ``history.json`` and ``config.json`` to the run folder in one
:meth:`~nnbasics.training.runfolder.RunFolder.commit`. ``train-lm`` commits the same parts at
each validation. When training ends -- finished, stopped by Ctrl-C, or failed -- :meth:`finish`
commits the plots of the history saved last.

:func:`deferred_sigint` holds Ctrl-C while a commit runs (the commit is safe against a kill
anyway; this only keeps the message and exit clean) and raises it right after.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import signal
import sys
import threading
import warnings

from ..training.callbacks import Callback

__all__ = ["EpochSaver", "RunWriter", "deferred_sigint"]


@contextlib.contextmanager
def deferred_sigint():
    """Run the block with Ctrl-C held back; a Ctrl-C that arrived meanwhile is raised at the end."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # Ctrl-C ignored (nohup, a background job) or handled by someone else: leave it so
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _finite_json(value):
    """History values as JSON: NaN/inf become None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_json(v) for v in value]
    return value


class RunWriter:
    """The run folder of one CLI training: commits of its parts, and the plots at the end.

    Args:
        folder: a :class:`~nnbasics.training.runfolder.RunFolder` (its lock held by the caller).
        command: ``"train"`` or ``"train-lm"`` (stored in the manifest).
        config: the resolved settings, written as ``config.json``.
        replace: names of an earlier run's parts to drop at the first commit (``--overwrite``).
    """

    def __init__(self, folder, command, config, replace=()):
        self.folder, self.command, self.config = folder, command, config
        self.replace = tuple(replace)
        self.history = None  # the history of the last commit (what the plots show)
        self.epoch = None
        self.committed = 0

    def commit(self, parts: dict, history: dict, info: dict) -> None:
        """Commit ``parts`` with ``history.json``, ``config.json`` and the manifest's ``info``, Ctrl-C held."""
        files = dict(parts)
        files["history.json"] = (json.dumps(_finite_json(history), allow_nan=False) + "\n").encode()
        files["config.json"] = (json.dumps(self.config, indent=2) + "\n").encode()
        remove = [n for n in self.replace if n not in files] if not self.committed else ()
        with deferred_sigint():  # a Ctrl-C meanwhile is raised after the bookkeeping below
            self.folder.commit(files, info={"command": self.command, **info}, remove=remove)
            self.history, self.epoch = history, info.get("epoch")
            self.committed += 1

    def finish(self, title: str, interrupted: bool = False) -> list:
        """Commit the plots of the last committed history (``history.png`` with matplotlib, ``history.html``).

        Returns the names written ([] when nothing was committed, or the plots could not be drawn).
        """
        from ._plots import history_html, history_png

        if not self.committed or self.history is None:
            return []
        files = {}
        try:
            png = history_png(self.history, title)
        except Exception as e:  # noqa: BLE001 - a plot is a convenience: never lose the run over it
            warnings.warn(f"history.png was not drawn ({type(e).__name__}: {e}).", RuntimeWarning, stacklevel=2)
            png = None
        if png is not None:
            files["history.png"] = png
        elif not interrupted and importlib.util.find_spec("matplotlib") is None:
            print("note: history.png not drawn: matplotlib is not installed (pip install matplotlib); history.html "
                  "has the numbers.", file=sys.stderr)
        files["history.html"] = history_html(self.history, title, png).encode()
        files["config.json"] = (json.dumps(self.config, indent=2) + "\n").encode()  # the settings as finished
        with deferred_sigint():
            self.folder.commit(files, info={"command": self.command, "epoch": self.epoch, "finished": not interrupted})
        return sorted(n for n in files if n.startswith("history."))


class EpochSaver(Callback):
    """``fit`` callback: commit the run folder at the end of every epoch (see the module docstring).

    Args:
        writer: the :class:`RunWriter`.
        extra: JSON stored in each checkpoint's ``extra`` beside the callbacks' state (the CLI settings).
        monitor: the log key that decides ``best.safetensors`` (``val_loss``; ``loss`` without validation).
    """

    order = 100  # after the callbacks whose state it saves

    def __init__(self, writer, extra, monitor="val_loss"):
        self.writer, self.extra, self.monitor = writer, extra, monitor
        self.best, self.best_epoch = math.inf, None

    def on_epoch_end(self, epoch, logs=None):
        from ..training.checkpoint import checkpoint_bytes

        ctx = self.context
        if ctx.abort_epoch:  # another callback abandoned this epoch
            return
        logs = logs or {}
        value = logs.get(self.monitor, logs.get("loss", math.nan))
        bad = [k for k, v in ctx.model.state_dict().items() if not _finite(v)]
        if bad:  # NOTE: never replace a good checkpoint with NaN/Inf weights
            warnings.warn(f"epoch {epoch + 1} not saved: non-finite values in {', '.join(bad[:3])}; the run folder "
                          "keeps the last finite epoch.", RuntimeWarning, stacklevel=2)
            return
        improved = isinstance(value, float) and value < self.best
        if improved:
            self.best, self.best_epoch = value, epoch + 1
        data = checkpoint_bytes(ctx.model, ctx.optimizer, epoch=epoch + 1, history=ctx.history,
                                rng_states=ctx.generators, extra={"callbacks": ctx.callback_states(), **self.extra})
        parts = {"last.safetensors": data, **({"best.safetensors": data} if improved else {})}
        self.writer.commit(parts, ctx.history.to_dict(),
                           {"epoch": epoch + 1, "epochs": ctx.epochs, "best_epoch": self.best_epoch})

    def state_dict(self) -> dict:
        return {"best": self.best if math.isfinite(self.best) else None, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        best = state.get("best") if isinstance(state, dict) else None
        self.best = float(best) if isinstance(best, (int, float)) and not isinstance(best, bool) else math.inf
        epoch = state.get("best_epoch") if isinstance(state, dict) else None
        self.best_epoch = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def _finite(v) -> bool:
    import numpy as np

    a = np.asarray(getattr(v, "_array", v))
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())
