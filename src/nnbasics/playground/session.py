"""The playground's state: run A (and run B when comparing), the data, the worker thread, the frames.

:class:`Session` is what the server drives. Every control takes the session's lock, so the
worker thread (which trains and then builds a frame under the same lock) never sees a model
half-changed. A control either succeeds or changes nothing: new data and new networks are
built first and swapped in only when everything was built (a bad CSV or an impossible
network leaves the running state as it was).

Runs A and B train in lockstep (the same number of steps per frame), share the data and
reset together, so their curves line up step for step: "change one thing and rerun" compares
like with like.

Frames: after each burst of steps (and after each control) the session publishes a frame,
a dict of JSON data (see :meth:`Session.frame`); :meth:`Session.wait_frame` blocks until a
newer one exists. The worker publishes at most ``fps`` frames a second and trains
``speed`` steps per frame (fewer when a frame's steps would take longer than ``budget`` s).

Example:
    >>> s = Session({"dataset": "xor", "layers": [{"units": 4, "activation": "tanh"}]})
    >>> s.step(3)["runs"]["a"]["step"]
    3
    >>> s.set_config({"lr": 0.1})["applied"], s.set_config({"init": "he"})["applied"]
    ('live', 'reset')
"""

from __future__ import annotations

import threading
import time

from ..diagnostics import SignalMonitor
from ..threads import single_thread_blas
from .config import ConfigError, change_kind, normalize, options
from .csvdata import CsvError, parse_csv
from .datasets import available_image_sets, make_data
from .presets import PRESETS, preset
from .trainer import Run
from .views import data_view, run_view

__all__ = ["Session"]

_DATA_KEYS = ("dataset", "noise", "n", "test_fraction", "classes", "data_seed", "standardize")


def _fit_to_data(cfg, data):
    """The setup, checked against the data: regression needs the MSE loss and one member."""
    if data.task == "regression":
        if cfg["members"] > 1:
            raise ConfigError("an ensemble's vote needs classes; this CSV has a numeric target (regression). "
                              "Set members to 1.")
        if cfg["loss"] != "mse":
            cfg = {**cfg, "loss": "mse"}
    return cfg


class Session:
    """Runs A and B, their data and the worker thread; every method is safe to call from any thread.

    Args:
        config: the first setup (a partial dict; defaults fill the rest).
        fps: most frames per second the worker publishes.
        budget: seconds of training per frame at most (keeps the page live with big nets).
    """

    def __init__(self, config=None, *, fps: float = 20.0, budget: float = 0.06):
        self.lock = threading.RLock()
        self._cond = threading.Condition()
        self.fps, self.budget = float(fps), float(budget)
        self.table = None
        self.preset = None
        self.playing = False
        self._frame, self._frame_id = None, 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._worker = None
        self.image_sets = available_image_sets()
        cfg = normalize(config)
        data = make_data(cfg, None)
        cfg = _fit_to_data(cfg, data)
        self.data, self.data_rev = data, 1
        self._data_view = data_view(data)
        self.configs = {"a": cfg}
        self.runs = {"a": Run(cfg, data)}
        self.hist_ids = {"a": 1}
        self.publish()

    # ------------------------------------------------------------------ worker
    def start(self):
        """Start the worker thread (idempotent)."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._loop, name="playground-worker", daemon=True)
            self._worker.start()
        return self

    def close(self):
        """Stop the worker and wake every waiting reader."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=5)
        with self._cond:
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def _loop(self):
        while not self._stop.is_set():
            if not self.playing:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            t0 = time.perf_counter()
            with self.lock:
                if self.playing:
                    self._advance(self.configs["a"]["speed"], self.budget)
                    if all(r.nan is not None for r in self.runs.values()):
                        self.playing = False
                    self.publish()
            self._stop.wait(max(0.0, 1.0 / self.fps - (time.perf_counter() - t0)))

    def _advance(self, steps: int, budget=None):
        """``steps`` steps of every run in lockstep (fewer past ``budget`` seconds, if given); the first one monitored.

        BLAS runs on this thread alone: the playground's matrices are small, and handing half of each
        product to a second BLAS thread on a busy 2-core machine made a 10-layer net's frames 4x slower.
        """
        with single_thread_blas():
            return self._advance_steps(steps, budget)

    def _advance_steps(self, steps, budget):
        t0, done, chunk = time.perf_counter(), 0, 1
        while done < steps:
            n = min(chunk, steps - done)
            for run in self.runs.values():
                if done == 0:
                    mon = SignalMonitor(run.models[0])
                    with mon:
                        run.train(n, monitor=mon)
                else:
                    run.train(n)
            done += n
            chunk *= 2
            if budget is not None and time.perf_counter() - t0 > budget:
                break
        return done

    # ------------------------------------------------------------------ frames
    def publish(self):
        """Build a frame from the current state and wake the readers."""
        with self.lock, single_thread_blas():
            frame = {
                "playing": self.playing, "data_rev": self.data_rev, "compare": "b" in self.runs,
                "preset": self.preset, "configs": dict(self.configs), "hist_ids": dict(self.hist_ids),
                "runs": {k: run_view(r) for k, r in self.runs.items()},
            }
        with self._cond:
            self._frame_id += 1
            frame["id"] = self._frame_id
            self._frame = frame
            self._cond.notify_all()
        return frame

    def frame(self) -> dict:
        """The latest frame."""
        with self._cond:
            return self._frame

    def wait_frame(self, last_id: int, timeout: float = 15.0):
        """The first frame newer than ``last_id``, or None after ``timeout`` s (or when closed)."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame_id != last_id or self.closed, timeout)
            return self._frame if self._frame_id != last_id and not self.closed else None

    def data_view(self) -> dict:
        with self.lock:
            return {"rev": self.data_rev, **self._data_view}

    def info(self) -> dict:
        """What the page needs once: the choices, the presets, the image sets on this machine."""
        presets = [{"name": k, "title": v["title"], "look_for": v["look_for"]} for k, v in PRESETS.items()]
        return {"options": options(), "presets": presets, "image_sets": self.image_sets}

    # ------------------------------------------------------------------ controls
    def _rebuild(self, configs, data=None):
        """Swap in new runs (built before anything changes); data too when given."""
        data = data or self.data
        configs = {k: _fit_to_data(c, data) for k, c in configs.items()}
        with single_thread_blas():
            runs = {k: Run(c, data) for k, c in configs.items()}
        if data is not self.data:
            self.data, self.data_rev = data, self.data_rev + 1
            self._data_view = data_view(data)
        self.configs, self.runs = configs, runs
        self.hist_ids = {k: self.hist_ids.get(k, 0) + 1 for k in runs}

    def set_config(self, changes: dict, run: str = "a") -> dict:
        """Change run ``run``'s setup; data settings are shared by both runs.

        Returns:
            ``{"applied": "data" | "reset" | "live" | None, "config": the run's new setup, ...frame}``.

        Raises:
            ConfigError: a bad value, data that cannot be made, or a network too big; nothing changed.
        """
        with self.lock:
            if run not in self.configs:
                raise ConfigError(f"no run {run!r}: the runs are {', '.join(self.configs)}.")
            new = normalize(changes, base=self.configs[run])
            kind = change_kind(self.configs[run], new)
            if kind == "data":
                shared = {k: new[k] for k in _DATA_KEYS}
                configs = {k: ({**c, **shared} if k != run else new) for k, c in self.configs.items()}
                self._rebuild(configs, make_data(new, self.table))
            elif kind == "reset":
                self._rebuild({**self.configs, run: new})
            elif kind == "live":
                new = _fit_to_data(new, self.data)
                self.runs[run].apply(new)
                self.configs = {**self.configs, run: new}
            if kind is not None:
                self.preset = None if kind != "live" else self.preset
            frame = self.publish()
            return {"applied": kind, "config": self.configs[run], "frame": frame}

    def play(self):
        with self.lock:
            self.playing = True
        self._wake.set()
        return self.publish()

    def pause(self):
        with self.lock:
            self.playing = False
        return self.publish()

    def step(self, n: int = 1):
        """Pause, then take exactly ``n`` steps (every run) and publish."""
        with self.lock:
            self.playing = False
            self._advance(max(1, int(n)))
            return self.publish()

    def reset(self):
        """Every run back to its seeded start (same data)."""
        with self.lock:
            self._rebuild(dict(self.configs))
            return self.publish()

    def compare(self, on: bool, changes=None):
        """Turn run B on (A's setup with ``changes``, both reset to their seeded starts) or off."""
        with self.lock:
            if not on:
                self._rebuild({"a": self.configs["a"]})
                self.preset = None
                return self.publish()
            b = normalize(changes or {}, base=self.configs["a"])
            if change_kind(self.configs["a"], b) == "data":
                raise ConfigError("run B shares run A's data; change the data settings on A.")
            self._rebuild({"a": self.configs["a"], "b": b})
            return self.publish()

    def apply_preset(self, name: str, play: bool = True):
        """Set up a preset's two runs from their seeded start (and play)."""
        try:
            p = preset(name)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        with self.lock:
            a = normalize(p["a"])
            configs = {"a": a}
            if p.get("b") is not None:
                configs["b"] = normalize(p["b"], base=a)
            self._rebuild(configs, make_data(a, self.table))
            self.preset = {"name": name, "title": p["title"], "look_for": p["look_for"]}
            self.playing = bool(play)
        self._wake.set()
        return self.publish()

    def upload_csv(self, text, name: str = "data.csv"):
        """Parse an uploaded CSV (raises CsvError, a ValueError, with what to fix) and switch to it."""
        try:
            table = parse_csv(text, name)
        except CsvError as e:
            raise CsvError(f"{str(name)[:80]}: {e}") from None
        with self.lock:
            cfg = {**self.configs["a"], "dataset": "csv"}
            if table.task == "regression":
                cfg.update(loss="mse", members=1)
            data = make_data(cfg, table)
            configs = {k: {**c, "dataset": "csv", **({"loss": "mse", "members": 1} if table.task == "regression"
                                                      else {})} for k, c in self.configs.items()}
            self._rebuild(configs, data)
            self.table = table
            self.preset = None
            return self.publish()

    def export(self, fmt: str, run: str = "a"):
        """``(file name, bytes, media type)`` of run ``run`` in format ``fmt`` (see :mod:`.export`)."""
        from .export import export_run

        with self.lock:
            if run not in self.runs:
                raise ConfigError(f"no run {run!r} to export; the runs are {', '.join(self.runs)}.")
            return export_run(self.runs[run], fmt)
