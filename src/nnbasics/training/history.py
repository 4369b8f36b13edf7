"""History: what ``fit`` returns — per-epoch lists of loss, metrics, learning rate and time."""

from __future__ import annotations

import json
import math

__all__ = ["History"]


class History:
    """Per-epoch logs of a training run, Keras-style.

    Attributes:
        history (dict[str, list]): one list per key, one entry per epoch: ``loss``, each
            metric (``accuracy``...), ``val_loss`` and ``val_<metric>`` with validation data,
            ``lr`` (group 0's learning rate during the epoch) and ``time`` (seconds). A key
            first seen at a later epoch is padded with NaN for the epochs before it.
        epoch (list[int]): the 0-based index of each recorded epoch (``initial_epoch`` onwards).
        stop_reason (str | None): why training stopped early, when a callback stopped it and said
            why (:class:`~nnbasics.training.callbacks.TerminateOnNaN`); None otherwise.

    JSON-able: ``History.from_dict(json.loads(json.dumps(h.to_dict())))`` equals ``h``
    (NaN and inf are written as Python's json writes them; :meth:`to_json` gives strict JSON).

    Example:
        >>> h = History()
        >>> h.append(0, {"loss": 0.9, "accuracy": 0.5})
        >>> h.append(1, {"loss": 0.4, "accuracy": 0.75})
        >>> h["loss"], h.epoch, len(h)
        ([0.9, 0.4], [0, 1], 2)
        >>> History.from_dict(h.to_dict()) == h
        True
    """

    def __init__(self):
        self.history: dict = {}
        self.epoch: list = []
        self.stop_reason: str | None = None

    def append(self, epoch: int, logs: dict) -> None:
        """Record the logs of ``epoch`` (numbers only; other values are skipped)."""
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for k, v in logs.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
                continue
            col = self.history.setdefault(k, [math.nan] * n)
            col.append(float(v))
        for col in self.history.values():
            if len(col) < n + 1:
                col.append(math.nan)

    def __getitem__(self, key: str) -> list:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History has no {key!r}; recorded keys: {sorted(self.history)}.") from None

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def __eq__(self, other) -> bool:
        if not isinstance(other, History):
            return NotImplemented

        def same(a, b):
            return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))

        return self.epoch == other.epoch and self.history.keys() == other.history.keys() and all(
            same(self.history[k], other.history[k]) for k in self.history)

    def last(self) -> dict:
        """The logs of the last recorded epoch (empty dict when none)."""
        return {k: v[-1] for k, v in self.history.items()} if self.epoch else {}

    def to_dict(self) -> dict:
        """``{"epoch": [...], "history": {key: [...]}}`` (copies)."""
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Rebuild a History from :meth:`to_dict`'s output (e.g. read back from JSON)."""
        if not isinstance(d, dict) or "epoch" not in d or "history" not in d:
            raise ValueError("History.from_dict expects {'epoch': [...], 'history': {...}} as made by to_dict().")
        h = cls()
        h.epoch = [int(e) for e in d["epoch"]]
        for k, v in d["history"].items():
            if len(v) != len(h.epoch):
                raise ValueError(f"History.from_dict: {k!r} has {len(v)} values for {len(h.epoch)} epochs.")
            h.history[k] = [math.nan if x is None else float(x) for x in v]
        return h

    def to_json(self, **kwargs) -> str:
        """Strict JSON (NaN and inf written as null)."""
        d = self.to_dict()
        d["history"] = {k: [x if math.isfinite(x) else None for x in v] for k, v in d["history"].items()}
        return json.dumps(d, allow_nan=False, **kwargs)

    def __repr__(self):
        return f"History(epochs={len(self)}, keys={list(self.history)})"
