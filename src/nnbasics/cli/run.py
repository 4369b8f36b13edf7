"""``nnbasics run [--xray] SCRIPT.py [ARGS...]``: run an unmodified PyTorch script on nnbasics.

``import torch`` / ``import torchvision`` in the script (and only in this process) give nnbasics'
compatible packages (:mod:`nnbasics.compat`); everything else runs as under ``python SCRIPT.py``.
``--xray`` watches every model the script trains and writes a lab-style report. The logic lives
in :mod:`nnbasics.compat.runner`; this module is the command's options.
"""

from __future__ import annotations

import argparse

from ._command import Command
from ._options import Option, UsageError, positive_int

OPTIONS = [
    Option("xray", ("--xray",), {"action": "store_true",
                                 "help": "watch every model the script trains (activations, gradients, updates) "
                                         "and write a report (report.html, metrics.json)"}, False),
    Option("xray_output", ("--xray-output",), {"metavar": "DIR",
                                               "help": "folder of the X-ray report (default runs/xray/<script>)"}),
    Option("xray_every", ("--xray-every",), {"metavar": "K", "type": positive_int,
                                             "help": "record every K-th training step (default: every step, "
                                                     "thinned to 400 records)"}, example=10),
    Option("script", ("script",), {"metavar": "SCRIPT", "help": "the PyTorch script (.py) or notebook (.ipynb)"}),
    Option("args", ("args",), {"nargs": argparse.REMAINDER, "metavar": "ARGS",
                               "help": "arguments passed to the script (its sys.argv[1:])"}, []),
]


def run(args) -> int:
    """Run the script; its exit status (0, its sys.exit code, 1 for its own error, 2 for an unsupported API)."""
    from ..compat.runner import ScriptError, run_script

    xray = None
    if args.xray_output and not args.xray:
        raise UsageError("--xray-output only makes sense with --xray; add --xray.")
    if args.xray:
        from ..compat.xray import XRay

        xray = XRay(args.script, output=args.xray_output, every=args.xray_every)
        _check_report_folder(xray.output)
    try:
        return run_script(args.script, args.args, xray=xray)
    except ScriptError as e:
        raise UsageError(str(e)) from None


def _check_report_folder(folder) -> None:
    """Refuse, before the script runs, a report folder the report could not be written to."""
    from pathlib import Path

    from ..lab.report import check_output_folder

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--xray-output {folder} exists and is not a folder; choose another.")
    if folder.is_dir():
        why = check_output_folder(folder)
        if why:
            raise UsageError(f"--xray-output: {why}")
    parent = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UsageError(f"--xray-output {folder}: {parent} is a file, not a folder; choose another path.")


COMMAND = Command(
    "run", run, OPTIONS, order=95,
    help="run a PyTorch script on nnbasics (import torch -> nnbasics); --xray: a report of its training",
    description="Run an unmodified PyTorch script (or notebook) with `import torch` and `import torchvision` "
                "served by nnbasics, in this process only. A torch feature nnbasics lacks stops the script with "
                "one message naming it, the line and what to use instead (exit 2); the script's own errors show "
                "as Python shows them. --xray attaches diagnostics.SignalMonitor to every model the script "
                "trains and writes a report of activations, saturation, dead ReLUs, gradient flow and updates.",
)
