"""``nnbasics lab``: run an experiment of the lab (a claim of the lecture, measured) and write its report."""

from __future__ import annotations

import sys
from pathlib import Path

from ._command import Command
from ._options import SEED, Option, UsageError
from ._parser import unknown_name

OPTIONS = [
    Option("name", ("name",), {"metavar": "name", "help": "an experiment (perceptron, activation, init, dropout, "
                                                          "ensemble, data, speed, cnn, rnn, hinton), 'list' or 'all'"}),
    Option("quick", ("--quick",), {"action": "store_true",
                                   "help": "seconds-long run on generated data (default: the full study on "
                                           "Fashion-MNIST)"}, False),
    Option("output", ("--output",), {"metavar": "DIR",
                                     "help": "report folder (default runs/lab/<name>; with 'all': DIR/<name>)"}),
    SEED.but(help="root seed of every random stream (default 0)"),
    Option("executor", ("--executor",), {"choices": ("process", "serial", "thread"),
                                         "help": "how sweeps run (default: a local process pool; serial in --quick "
                                                 "mode)"}),
    Option("dask", ("--dask",), {"metavar": "ADDRESS",
                                 "help": "run the sweeps on the Dask cluster whose scheduler is at ADDRESS (e.g. "
                                         "tcp://host:8786; needs nnbasics[dask]); instead of --executor"}),
    Option("data_root", ("--data-root",), {"metavar": "DIR", "help": "directory searched first for Fashion-MNIST"}),
    Option("no_progress", ("--no-progress",), {"action": "store_true",
                                               "help": "no progress bars or log lines on stderr"}, False),
]


def dask_client(address):
    """A dask.distributed Client connected to ``address``, or a usage error saying what is missing."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError('--dask needs the dask extra: pip install "nnbasics[dask]".') from None
    try:
        return Client(address, timeout="5s")
    except (OSError, TimeoutError, ValueError) as e:
        raise UsageError(f"--dask: cannot reach a Dask scheduler at {address!r} ({e}). Start one with "
                         "`dask scheduler` (and workers with `dask worker ADDRESS`), or drop --dask.") from None


def run(args) -> int:
    """``list`` the experiments, or run one (or ``all``) and print each report's verdict and headline."""
    from ..lab.registry import EXPERIMENTS, list_experiments

    name = args.name.strip().lower()
    if name == "list":
        for row in list_experiments():
            status = row["title"] if row["available"] else f"(unavailable: {row['error']})"
            print(f"{row['name']:<11} {status}")
            if row["claim"]:
                print(f"{'':<11} claim: {row['claim']}")
        return 0
    if name != "all" and name not in EXPERIMENTS:
        raise UsageError(unknown_name("experiment", args.name, [*EXPERIMENTS, "list", "all"]))
    names = list(EXPERIMENTS) if name == "all" else [name]
    if args.dask and args.executor:
        raise UsageError("give --executor or --dask, not both.")
    client = dask_client(args.dask) if args.dask else None
    try:
        return _run_experiments(args, name, names, client)
    finally:
        if client is not None:
            client.close()


def _run_experiments(args, name, names, client) -> int:
    from ..lab.publish import check_writable
    from ..lab.registry import DEFAULT_OUTPUT, ExperimentUnavailable, run_experiment
    from ..lab.report import check_output_folder

    executor = client if client is not None else args.executor
    failed = []
    outs = {n: DEFAULT_OUTPUT / n if args.output is None else Path(args.output) / n if name == "all"
            else Path(args.output) for n in names}
    for out in outs.values():  # every report folder checked before the first experiment runs
        try:
            check_writable(out, accept=check_output_folder)
        except ValueError as e:
            raise UsageError(str(e)) from None
    for n in names:
        out = outs[n]
        try:
            report = run_experiment(n, quick=args.quick, output=out, seed=args.seed, executor=executor,
                                    progress=not args.no_progress, data_root=args.data_root)
        except ExperimentUnavailable as e:
            if name != "all":
                raise UsageError(str(e)) from None
            print(f"{n}: skipped: {e}", file=sys.stderr)
            failed.append(n)
            continue
        except ValueError as e:  # e.g. --output names a folder that holds something else
            raise UsageError(str(e)) from None
        print_report(report)
    if failed:
        print(f"not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def print_report(report) -> None:
    """The report's claim, verdict, headline numbers, timings and path, a few lines."""
    from ..lab.html import format_value

    print(f"{report.name}: {report.title}")
    print(f"  claim:   {report.claim}")
    print(f"  verdict: {(report.verdict or 'no verdict').upper()} -- {report.because}")
    for part in report.parts:
        print(f"    {part['verdict'].upper():<13} {part['label']}")
    for words, v, _ in report.headline_rows():
        if not isinstance(v, (list, dict)):
            print(f"  {words}: {format_value(v)}")
    wall, cpu = report.timings.get("wall_s"), report.timings.get("cpu_s")
    if wall is not None:
        workers = report.timings.get("cpu_workers_s")
        print(f"  time:    {wall:.1f} s wall, {cpu:.1f} s CPU" + (f" (+ {workers:.1f} s in workers)" if workers else ""))
    if getattr(report, "path", None):
        print(f"  report:  {report.path}")


COMMAND = Command(
    "lab", run, OPTIONS, order=90,
    help="run a lab experiment: a claim of the lecture, measured, with a report",
    description="Run one experiment of the lab (`nnbasics lab list` names them; `all` runs every one) and "
                "write a self-contained report (report.html, report.md, figures, metrics.json, config.json). "
                "The verdict is a finding, not an error: the exit status is 0 whatever it says.",
)
