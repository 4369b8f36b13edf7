"""``python -m nnbasics`` and the ``nnbasics`` console script: the command line of :mod:`nnbasics.cli`.

With no command it prints the commands (``nnbasics --help``)::

    nnbasics                                   # the commands
    nnbasics --version
    nnbasics xor --steps 2000 --seed 0 --hidden 8 --lr 0.5
    nnbasics train spiral --epochs 20 --output runs/spiral
    nnbasics --help

The commands live in the package :mod:`nnbasics.cli`, one module per command.
"""

from __future__ import annotations

import sys

from .cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
