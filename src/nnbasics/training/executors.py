"""Where ensemble members train: any ``concurrent.futures.Executor``, and the ones :func:`train_ensemble` makes.

:func:`resolve_executor` turns ``train_ensemble(executor=...)`` into an executor: a local spawn
process pool sized to the CPUs this process may use (:func:`usable_cpus`), :class:`SerialExecutor`
(in this process, for debugging), a thread pool, a Dask client's executor, or
:class:`RayExecutor` over the ``ray`` module.
"""

from __future__ import annotations

import os
import types
from concurrent.futures import Executor, Future

__all__ = ["RayExecutor", "SerialExecutor", "resolve_executor", "usable_cpus"]


class SerialExecutor(Executor):
    """An Executor that runs each task at once, in this process (for debugging and tiny jobs).

    ``submit`` returns an already finished Future; exceptions are stored in it, as a pool would.
    """

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - delivered through the future, as by a pool
            future.set_exception(e)
        return future


class RayExecutor(Executor):
    """A ``concurrent.futures.Executor`` over Ray: each ``submit`` becomes one Ray task.

    ``submit(fn, *args)`` runs ``ray.remote(fn).remote(*args)`` and returns the task's
    ``ObjectRef.future()``, a ``concurrent.futures.Future``. Ray itself offers no Executor
    (ray-project/ray#29456), so :func:`train_ensemble` wraps the ``ray`` module in this when
    it is passed as ``executor=ray``; pass ``RayExecutor(num_cpus=2)`` to set task options.

    Args:
        ray: the ``ray`` module (default: ``import ray``); ``ray.init()`` is the caller's.
        **options: Ray task options (``num_cpus``, ``num_gpus``, ``resources``...).

    Example:
        >>> import ray; ray.init()  # doctest: +SKIP
        >>> ens = train_ensemble(spec, (X, y), n_members=8, executor=ray)  # doctest: +SKIP
    """

    def __init__(self, ray=None, **options):
        if ray is None:
            import ray
        if not callable(getattr(ray, "remote", None)):
            raise TypeError(f"RayExecutor needs the ray module (import ray; ray.init()). Got {type(ray).__name__}.")
        self.ray, self.options = ray, options

    def submit(self, fn, /, *args, **kwargs):
        task = self.ray.remote(**self.options)(fn) if self.options else self.ray.remote(fn)
        return task.remote(*args, **kwargs).future()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask or cgroup share), not the host's count."""
    if hasattr(os, "process_cpu_count"):  # Python >= 3.13
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def resolve_executor(executor, n_jobs, max_workers):
    """(executor, owned): owned executors are shut down by train_ensemble."""
    if executor is None or executor == "process":
        workers = min(n_jobs, max_workers or usable_cpus())
        if workers <= 1:
            return SerialExecutor(), True
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # NOTE: spawn, not fork: safe with threads in the parent (BLAS, Dask) and on every OS;
        # workers get only picklable data.
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")), True
    if executor == "serial":
        return SerialExecutor(), True
    if executor == "thread":
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(max_workers=min(n_jobs, max_workers or usable_cpus())), True
    if isinstance(executor, str):  # a str is the right type, with a wrong value
        raise ValueError(  # noqa: TRY004
            f"train_ensemble: executor must be None/'process' (local process pool), 'serial', "
            f"'thread', or a concurrent.futures.Executor; got {executor!r}.")
    if isinstance(executor, types.ModuleType) and executor.__name__ == "ray":
        return RayExecutor(executor), True
    if hasattr(executor, "submit"):
        return executor, False
    if hasattr(executor, "get_executor"):  # a dask.distributed Client
        return executor.get_executor(), False
    raise TypeError(f"train_ensemble: executor must be a concurrent.futures.Executor (anything with submit), a "
                    f"Dask Client, the ray module, 'serial', 'thread' or None; got {type(executor).__name__}.")
