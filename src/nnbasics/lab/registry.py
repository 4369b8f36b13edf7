"""The lab's experiments by name, and :func:`run_experiment`, which runs one and fills its report.

``EXPERIMENTS`` maps a name to the module that implements it; modules are imported only
when an experiment is run or listed, so ``import nnbasics.lab`` stays cheap. Each module
has ``NAME``, ``TITLE``, ``CLAIM`` and ``run(ctx) -> Report``.

Example:
    >>> sorted(EXPERIMENTS)[:3]
    ['activation', 'cnn', 'data']
"""

from __future__ import annotations

import importlib
import os
import platform
import shlex
import sys
import time
from pathlib import Path

__all__ = ["EXPERIMENTS", "ExperimentUnavailable", "list_experiments", "load_experiment", "run_experiment",
           "run_in_context"]

#: name -> module path, in the order of the lecture.
EXPERIMENTS = {name: f"nnbasics.lab.experiments.{name}" for name in (
    "perceptron", "activation", "init", "dropout", "ensemble", "data", "speed", "cnn", "rnn", "hinton")}

#: Where reports go when the command line is given no --output.
DEFAULT_OUTPUT = Path("runs") / "lab"


class ExperimentUnavailable(ImportError):
    """A registered experiment whose module cannot be imported (not written yet, or a missing dependency)."""


def _check_name(name) -> str:
    if not isinstance(name, str) or name not in EXPERIMENTS:
        raise ValueError(f"unknown lab experiment {name!r}. Known experiments: {', '.join(EXPERIMENTS)} "
                         "(`nnbasics lab list` describes them).")
    return name


def load_experiment(name: str):
    """The module of experiment ``name`` (imported now).

    Raises:
        ValueError: ``name`` is not in :data:`EXPERIMENTS` (the message lists them).
        ExperimentUnavailable: its module cannot be imported; the message says why.
    """
    path = EXPERIMENTS[_check_name(name)]
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as e:
        if e.name == path:
            raise ExperimentUnavailable(f"lab experiment {name!r} is registered but its module {path} is not "
                                        "available in this installation yet.") from e
        raise ExperimentUnavailable(f"lab experiment {name!r} needs the package {e.name!r}, which is not "
                                    f"installed: {e}. Try `pip install \"nnbasics[lab]\"`.") from e
    for attr in ("NAME", "TITLE", "CLAIM", "run"):
        if not hasattr(module, attr):
            raise ExperimentUnavailable(f"lab experiment module {path} has no {attr}; every experiment module "
                                        "defines NAME, TITLE, CLAIM and run(ctx).")
    return module


def list_experiments() -> list[dict]:
    """One dict per experiment, in lecture order: ``name``, ``title``, ``claim``, ``available``, ``error``."""
    out = []
    for name in EXPERIMENTS:
        try:
            m = load_experiment(name)
            out.append({"name": name, "title": m.TITLE, "claim": m.CLAIM, "available": True, "error": ""})
        except ExperimentUnavailable as e:
            out.append({"name": name, "title": "", "claim": "", "available": False, "error": str(e)})
    return out


def versions(torch_used: bool | None = None) -> dict:
    """python, numpy, nnbasics, matplotlib (when imported) and torch (when used) versions."""
    import numpy as np

    from .. import __version__

    out = {"python": platform.python_version(), "numpy": np.__version__, "nnbasics": __version__}
    if "matplotlib" in sys.modules:
        out["matplotlib"] = sys.modules["matplotlib"].__version__
    if torch_used or (torch_used is None and "torch" in sys.modules):
        out["torch"] = getattr(sys.modules.get("torch"), "__version__", "unknown")
    out["platform"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    return out


def command_line(name, ctx) -> str:
    """The exact ``nnbasics lab ...`` command that reruns this configuration."""
    args = ["nnbasics", "lab", name]
    if ctx.quick:
        args.append("--quick")
    args += ["--seed", str(ctx.seed)]
    if isinstance(ctx.executor, str):
        args += ["--executor", ctx.executor]
    if ctx.data_root:
        args += ["--data-root", str(ctx.data_root)]
    if ctx.output is not None:
        args += ["--output", str(ctx.output)]
    return shlex.join(args)


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished (waited-for) child processes."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _blas_policy(module, ctx):
    """Quick runs multiply tiny matrices: BLAS on one thread (unless the module says
    ``QUICK_SINGLE_THREAD_BLAS = False``, as ``speed`` and ``hinton`` do).

    Handing half of a (64, 256) @ (256, 256) product to a second BLAS thread costs more than it
    saves, and when the other core is busy it costs far more: on this 2-core machine with one
    other busy process, 0.49 ms per product with two BLAS threads against 0.09 ms with one, and
    a quick ``dropout`` run took 226 s instead of 5 s.
    """
    import contextlib

    from ..threads import single_thread_blas

    if ctx.quick and getattr(module, "QUICK_SINGLE_THREAD_BLAS", True):
        return single_thread_blas()
    return contextlib.nullcontext()


def _require_matplotlib(name: str) -> None:
    """Refuse before any training when matplotlib (the reports' figures) is missing."""
    try:
        import matplotlib  # noqa: F401  (the top-level package only; pyplot is imported when a figure is drawn)
    except ImportError as e:
        raise ExperimentUnavailable(
            f"lab experiment {name!r} draws its report's figures with matplotlib, which is not installed. "
            "Install the lab extra: pip install \"nnbasics[lab]\" (or pip install matplotlib).") from e


def run_in_context(name: str, ctx):
    """Run experiment ``name`` with an existing context; time it and fill ``report.config``.

    Used by :func:`run_experiment` and by studies made of experiments (``hinton``), which
    share one context. Does not write anything.
    """
    module = load_experiment(name)
    ctx.data_note = ""
    ctx.log(f"{name}: {module.TITLE} ({ctx.mode}, seed {ctx.seed})")
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    with _blas_policy(module, ctx):
        report = module.run(ctx)
    wall, cpu, kids = time.perf_counter() - t0, time.process_time() - c0, _children_cpu() - k0
    from .report import Report

    if not isinstance(report, Report):
        raise TypeError(f"lab experiment {name!r}: run(ctx) must return a Report; got {type(report).__name__}.")
    report.timings.setdefault("wall_s", round(wall, 3))
    report.timings.setdefault("cpu_s", round(cpu, 3))  # this process
    if kids > 0:  # finished pool workers (process executor)
        report.timings.setdefault("cpu_workers_s", round(kids, 3))
    if not report.data_note:
        report.data_note = ctx.data_note
    report.config = {
        "experiment": name, "quick": ctx.quick, "mode": ctx.mode, "seed": ctx.seed,
        "executor": ctx.executor if isinstance(ctx.executor, str) or ctx.executor is None
        else type(ctx.executor).__name__,
        "data_root": ctx.data_root, "data": report.data_note,
        **report.config,  # what the experiment recorded itself (sizes, epochs...)
        "command": command_line(name, ctx), "versions": versions(),
    }
    ctx.log(f"{name}: {report.verdict or 'no verdict'} in {wall:.1f}s")
    return report


def run_experiment(name: str, *, quick=False, output=None, seed=0, executor=None, progress=True, data_root=None):
    """Run one experiment and return its :class:`~nnbasics.lab.report.Report`.

    Args:
        name: a key of :data:`EXPERIMENTS`.
        quick: seconds-long run on generated data (the tests run this) instead of the full study.
        output: folder to write the report into (None: not written; the command line
            defaults to ``runs/lab/<name>``).
        seed: root seed of every random stream.
        executor: how sweeps run (see :class:`~nnbasics.lab.context.LabContext`).
        progress: show progress and log lines on stderr.
        data_root: directory searched first for Fashion-MNIST / MNIST.

    Returns:
        Report, with ``config``, ``timings`` and ``data_note`` filled; when ``output`` was
        given, ``report.path`` is the written ``report.html``.

    Raises:
        OutputError (a ValueError): ``output`` cannot take a report (a file, under a file, not
            writable, or a folder holding other things) -- raised before anything runs.
    """
    from .context import LabContext

    _check_name(name)
    _require_matplotlib(name)
    if output is not None:  # before any work: an unwritable --output is found now, not after the run
        from .publish import check_writable
        from .report import check_output_folder

        check_writable(output, accept=check_output_folder)
    ctx = LabContext(quick=quick, seed=seed, output=output, executor=executor, progress=progress,
                     data_root=data_root)
    report = run_in_context(name, ctx)
    if output is not None:
        report.write(output)
        ctx.log(f"{name}: report written to {report.path}")
    return report
