"""``LabContext``: what an experiment's ``run(ctx)`` gets — size, seeds, executor, data, progress.

Every random thing an experiment draws comes from :meth:`LabContext.rng` or
:meth:`LabContext.seed_for`: streams derived from the run's ``seed`` and string keys by
SHA-256, so ``ctx.rng("init", "he", 20)`` is the same on every machine, in every process
and whatever ran before it.

Sweeps go through :meth:`LabContext.map`, which uses the executor resolution of
:func:`nnbasics.training.train_ensemble`: ``None`` = a local process pool (spawn) sized to
the usable CPUs — except in quick mode, where ``None`` runs serially because starting
spawn workers (~1-2 s each, importing NumPy and nnbasics) costs more than a quick sweep
saves; ``"process"`` forces the pool; ``"serial"``, ``"thread"``, any
``concurrent.futures.Executor``, a Dask client or the ``ray`` module work as in
``train_ensemble``.

Example:
    >>> ctx = LabContext(quick=True, seed=0, progress=False)
    >>> ctx.seed_for("init", "he", 20) == LabContext(seed=0).seed_for("init", "he", 20)
    True
    >>> ctx.map(pow, [{"base": 2, "exp": 3}, {"base": 3, "exp": 2}])
    [8, 9]
"""

from __future__ import annotations

import hashlib
import numbers
import sys
import time
import types
from pathlib import Path

import numpy as np

from .._validate import is_int

__all__ = ["LabContext"]

_EXECUTOR_NAMES = ("process", "serial", "thread")


def _key_text(k) -> str:
    if isinstance(k, str):
        return "s:" + k
    if isinstance(k, (bool, np.bool_)):
        return f"b:{bool(k)}"
    if isinstance(k, numbers.Integral):
        return f"i:{int(k)}"
    if isinstance(k, numbers.Real):
        return f"f:{float(k)!r}"
    raise TypeError(f"LabContext.seed_for: keys must be strings or numbers; got {type(k).__name__} {k!r}.")


def _check_executor(executor):
    if executor is None or (isinstance(executor, str) and executor in _EXECUTOR_NAMES):
        return executor
    if isinstance(executor, str):
        raise ValueError(  # noqa: TRY004 - a str of the right type with a wrong value
            f"LabContext: executor must be None (default), 'process', 'serial' or 'thread', a "
            f"concurrent.futures.Executor, a Dask Client or the ray module; got {executor!r}.")
    if (isinstance(executor, types.ModuleType) and executor.__name__ == "ray") or hasattr(executor, "submit") \
            or hasattr(executor, "get_executor"):
        return executor
    raise TypeError(f"LabContext: executor must be a concurrent.futures.Executor (anything with submit), a Dask "
                    f"Client, the ray module, 'process', 'serial', 'thread' or None; got {type(executor).__name__}.")


class LabContext:
    """The run settings and services an experiment's ``run(ctx)`` uses.

    Args:
        quick: small, generated data and short trainings (seconds); False: the full study.
        seed: the root seed (int >= 0); every stream is derived from it.
        output: the report folder (informational; the runner writes the report).
        executor: how :meth:`map` runs jobs (module docstring).
        progress: show progress bars/lines and log messages on stderr.
        data_root: a directory searched first for dataset files (Fashion-MNIST, MNIST).
        max_workers: cap on the local pool's workers (default: the usable CPUs).

    Attributes:
        data_note: which data the last :meth:`images`/:meth:`tabular` call used and why
            (the report's "Data" section).
        messages: every :meth:`log` message, in order.
    """

    def __init__(self, quick=True, seed=0, output=None, executor=None, progress=True, data_root=None, *,
                 max_workers=None):
        if not is_int(seed) or seed < 0:
            raise ValueError(f"LabContext: seed must be an int >= 0; got {seed!r}.")
        if max_workers is not None and (not isinstance(max_workers, numbers.Integral) or max_workers < 1):
            raise ValueError(f"LabContext: max_workers must be a positive int or None; got {max_workers!r}.")
        self.quick = bool(quick)
        self.seed = int(seed)
        self.output = None if output is None else Path(output)
        self.executor = _check_executor(executor)
        self.show_progress = bool(progress)
        self.data_root = None if data_root is None else str(data_root)
        self.max_workers = max_workers
        self.data_note = ""
        self.messages: list[str] = []
        self._cache: dict = {}
        self._t0 = time.perf_counter()

    def __repr__(self) -> str:
        return (f"LabContext(quick={self.quick}, seed={self.seed}, executor={self.executor!r}, "
                f"progress={self.show_progress}, data_root={self.data_root!r})")

    @property
    def mode(self) -> str:
        """``"quick"`` or ``"full"``."""
        return "quick" if self.quick else "full"

    # -------------------------------------------------------------- seeds
    def seed_for(self, *keys) -> int:
        """A 63-bit seed derived from the root seed and ``keys`` (strings/numbers), machine-independent.

        ``seed_for("a", 1)`` differs from ``seed_for("a", "1")`` and from ``seed_for("a1")``.
        """
        text = "\x1f".join([f"root:{self.seed}", *(_key_text(k) for k in keys)])
        return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") >> 1

    def rng(self, *keys) -> np.random.Generator:
        """A fresh Generator seeded with :meth:`seed_for` ``(*keys)``."""
        return np.random.default_rng(self.seed_for(*keys))

    # ---------------------------------------------------------------- map
    def map(self, fn, jobs, *, desc: str = "") -> list:
        """Run ``fn(**job)`` for every job; the results in job order.

        Args:
            fn: a top-level (picklable) function.
            jobs: a list of keyword dicts; put seeds in them (``ctx.seed_for(...)``) so a job
                gives the same result wherever it runs.
            desc: progress label.

        Returns:
            list of results, ``results[i] = fn(**jobs[i])``.

        Raises:
            whatever a job raised, with a note naming the job (its index and arguments).
        """
        if not callable(fn):
            raise TypeError(f"LabContext.map: fn must be callable; got {type(fn).__name__}.")
        jobs = list(jobs)
        for i, job in enumerate(jobs):
            if not isinstance(job, dict):
                raise TypeError(f"LabContext.map: every job must be a dict of keyword arguments; job {i} is "
                                f"{type(job).__name__}.")
        if not jobs:
            return []
        from ..training.ensemble import SerialExecutor, resolve_executor

        choice = self.executor
        if hasattr(choice, "get_executor"):  # a Dask Client: its concurrent.futures view (its own submit
            choice = choice.get_executor()   # returns dask Futures, which as_completed does not take)
        if choice is None and self.quick:
            choice = "serial"
        if choice == "serial" or len(jobs) == 1 and choice in (None, "process"):
            executor, owned = SerialExecutor(), True
        else:
            executor, owned = resolve_executor(choice, len(jobs), self.max_workers)
        name = getattr(fn, "__name__", repr(fn))
        label = desc or name
        try:
            if isinstance(executor, SerialExecutor):  # one at a time: progress per job, nothing held
                results = []
                for i, job in enumerate(self.progress(jobs, total=len(jobs), desc=label)):
                    results.append(_call(fn, job, i, name))
                return results
            # NOTE: in a pool the workers are the parallelism: each job's BLAS runs on its own
            # thread (two workers x two BLAS threads on two cores spin-wait on each other).
            futures = [executor.submit(_call_one_blas_thread, fn, job, i, name) for i, job in enumerate(jobs)]
            from concurrent.futures import as_completed

            try:
                done_order = as_completed(futures)
            except TypeError:  # a future type as_completed does not know (ray wrappers are concurrent ones)
                done_order = iter(futures)
            for _ in self.progress(done_order, total=len(futures), desc=label):
                pass
            return [_result(f, jobs[i], i, name) for i, f in enumerate(futures)]
        finally:
            if owned:
                executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------- progress and log
    def progress(self, iterable, total=None, desc: str = ""):
        """``iterable`` with progress on stderr: a tqdm bar on a terminal, else one plain line per item.

        Uses the library's one helper, :func:`nnbasics.training.progress.progress_iter`: piped or
        logged output gets lines like ``init sweep 3/27 jobs``, never a bar's cursor codes.
        """
        if not self.show_progress:
            return iterable
        from ..training.progress import progress_iter

        return progress_iter(iterable, total=total, desc=desc or "progress", unit="job", file=sys.stderr)

    def log(self, msg: str) -> None:
        """Record ``msg`` and print it on stderr (with the seconds since the context started) when progress is on."""
        msg = str(msg)
        self.messages.append(msg)
        if self.show_progress:
            print(f"[lab {time.perf_counter() - self._t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    # --------------------------------------------------------------- data
    def images(self, n_train=None, n_test=None):
        """The image data of this mode (:func:`nnbasics.lab.data.images`); sets :attr:`data_note`."""
        from .data import images

        data = images(self, n_train=n_train, n_test=n_test)
        self.data_note = data.note()
        return data

    def tabular(self, n_train=None, n_test=None):
        """The 2-D tabular data of this mode (:func:`nnbasics.lab.data.tabular`); sets :attr:`data_note`."""
        from .data import tabular

        data = tabular(self, n_train=n_train, n_test=n_test)
        self.data_note = data.note()
        return data


def _call(fn, job, index, name):
    try:
        return fn(**job)
    except Exception as e:
        _note(e, index, job, name)
        raise


def _call_one_blas_thread(fn, job, index, name):
    from ..threads import single_thread_blas

    with single_thread_blas():
        return _call(fn, job, index, name)


def _brief(value, limit: int = 80) -> str:
    """A short description of a job argument for error notes: arrays by dtype and shape."""
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "dtype", None) is not None:
        return f"<{type(value).__name__} {value.dtype} {tuple(shape)}>"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)}>"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _result(future, job, index, name):
    try:
        return future.result()
    except Exception as e:
        if not any("LabContext.map: job" in n for n in getattr(e, "__notes__", ())):
            _note(e, index, job, name)
        raise


def _note(e, index, job, name):
    args = ", ".join(f"{k}={_brief(v)}" for k, v in job.items())
    text = f"LabContext.map: job {index} {name}({args}) failed"
    if hasattr(e, "add_note"):  # Python >= 3.11
        e.add_note(text)
    else:  # pragma: no cover - Python 3.10
        e.args = (*e.args[:1], text, *e.args[1:]) if e.args else (text,)
