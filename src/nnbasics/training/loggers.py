"""File loggers: one CSV row or one JSON line per epoch (callbacks of :func:`~nnbasics.training.fit`)."""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np

from .callbacks import Callback

__all__ = ["CSVLogger", "JSONLinesLogger"]


def _finite_or_none(v):
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


class _FileLogger(Callback):
    def __init__(self, path, append: bool):
        self.path, self.append = os.fspath(path), bool(append)
        self._file = None

    def _open(self):
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        resume = self.append or (self.context is not None and self.context.initial_epoch > 0)
        exists = resume and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._file = open(self.path, "a" if resume else "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in on_train_end
        return exists

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class CSVLogger(_FileLogger):
    """Write one CSV row per epoch: ``epoch`` then the epoch logs (columns fixed by the first row).

    Args:
        path: the CSV file.
        separator: the field separator (default ",").
        append: add to an existing file instead of overwriting it (also done when ``fit``
            resumes at ``initial_epoch > 0``); the existing header's columns are kept.

    Floats are written with ``repr`` (round-trip precision); NaN as ``nan``.
    """

    def __init__(self, path, separator: str = ",", append: bool = False):
        super().__init__(path, append)
        self.separator = separator
        self._writer, self._keys = None, None

    def on_train_begin(self, logs=None):
        existing = self._open()
        self._keys = None
        if existing:
            with open(self.path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = list(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(_csv_value(logs.get(k, "")) for k in self._keys)])
        self._file.flush()


def _csv_value(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


class JSONLinesLogger(_FileLogger):
    """Write one JSON object per epoch and line: ``{"epoch": e, **logs}`` (strict JSON: NaN/inf as null).

    Args:
        path: the ``.jsonl`` file.
        append: add to an existing file (also done when resuming at ``initial_epoch > 0``).
    """

    def __init__(self, path, append: bool = False):
        super().__init__(path, append)

    def on_train_begin(self, logs=None):
        self._open()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": int(epoch), **{k: _finite_or_none(v) for k, v in (logs or {}).items()}}
        self._file.write(json.dumps(row, allow_nan=False) + "\n")
        self._file.flush()
