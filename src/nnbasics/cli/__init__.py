"""The ``nnbasics`` command line: train, evaluate, predict, list datasets and models, the lab, the XOR demo.

Usage::

    nnbasics                                   # the commands (= nnbasics --help)
    nnbasics xor                               # the demo: XOR learned from scratch
    nnbasics train spiral --hidden 64 64 --activation tanh --init xavier --epochs 20 --output runs/spiral
    nnbasics train fashion-mnist --spec net.toml --config train.toml --epochs 5   # flags override the file
    nnbasics evaluate runs/spiral --json metrics.json
    nnbasics predict runs/spiral points.csv --proba
    nnbasics train fashion-mnist --n-train 1000 --model lab-cnn --members 5 --output runs/ens   # an ensemble
    nnbasics train-lm tinyshakespeare.txt --hidden-size 128 --time-budget 300 --output runs/shakespeare
    nnbasics sample runs/shakespeare --prime "ROMEO:" --length 300
    nnbasics datasets
    nnbasics models

Adding a command is adding one module to this package. ``nnbasics/cli/hello.py``::

    \"\"\"nnbasics hello NAME: greet.\"\"\"
    from ._options import SEED, Option, UsageError
    from ._command import Command

    OPTIONS = [Option("name", ("name",), {"help": "who to greet"}), SEED.but(help="unused (default 0)")]

    def run(args) -> int:
        if not args.name.strip():
            raise UsageError("NAME is empty; give a name, e.g. `nnbasics hello Ada`.")
        print(f"hello {args.name}")
        return 0

    COMMAND = Command("hello", run, OPTIONS, help="greet NAME", description="Print a greeting.", order=95)

:func:`build_parser` imports every module of this package whose name does not start with ``_``
and adds its ``COMMAND`` (a :class:`~nnbasics.cli._command.Command`), sorted by ``order`` then
name. A module imports only the standard library and this package at the top; the library
(NumPy, models, training) is imported inside ``run``, so ``nnbasics --help`` stays fast.
Options used by several commands are declared once in :mod:`nnbasics.cli._options`
(``SEED``, ``LR``, ``BATCH_SIZE``...; ``SEED.but(help=...)`` changes the help). A command with
``config=True`` also takes ``--config FILE.toml`` whose keys are its options' names; read the
merged settings with :func:`nnbasics.cli._config.resolve`.

User errors (a bad flag value, a missing file, an unknown dataset or model) raise
:class:`~nnbasics.cli._options.UsageError`: they exit with status 2 and a message listing the
valid choices, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ._command import Command
from ._options import UsageError
from ._parser import Parser

__all__ = ["Command", "UsageError", "build_parser", "commands", "main"]


def commands() -> list:
    """Every :class:`Command` of this package's modules, in help order (``order``, then name)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cmd = getattr(module, "COMMAND", None)
        if not isinstance(cmd, Command):
            raise TypeError(f"{module.__name__} is a command module (its name has no leading '_') but defines no "
                            "COMMAND = Command(...); rename it _name.py if it is a helper.")
        found.append(cmd)
    return sorted(found, key=lambda c: (c.order, c.name))


def build_parser() -> argparse.ArgumentParser:
    """The ``nnbasics`` argument parser, one subparser per command module."""
    from .. import __version__

    parser = Parser(
        prog="nnbasics",
        description="Neural-network basics from scratch on NumPy: train, evaluate and inspect models, run the lab's "
                    "experiments. `nnbasics COMMAND --help` describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"nnbasics {__version__} (NumPy {_numpy_version()}, "
                                                                 f"Python {sys.version.split()[0]})")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for cmd in commands():
        cmd.add_to(sub)
    return parser


def _numpy_version() -> str:
    import numpy

    return numpy.__version__


def main(argv=None) -> int:
    """Run the command in ``argv`` (default ``sys.argv[1:]``); no command prints the help.

    Returns:
        int: the exit status: 0 on success; 1 when the XOR demo misses a prediction or ``lab all``
        skips an experiment; 130 after Ctrl-C; 141 when stdout is closed early (``| head``).

    Raises:
        SystemExit: status 2 for a user error (bad flag value, unknown dataset/model, missing
            file, a full disk...), after printing one paragraph that says what to do; status 0
            after ``--help`` or ``--version``.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extras = parser.parse_known_args(argv)
    sub = getattr(args, "_parser", parser)
    if extras:
        sub.unrecognized(extras)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except UsageError as e:
        sub.error(str(e))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nnbasics ... | head` closed stdout: stop quietly, as `cat` does
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
