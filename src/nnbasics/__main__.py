"""Command line: ``python -m nnbasics`` or the ``nnbasics`` console script.

With no command it runs the main job, the XOR demo (:mod:`nnbasics.demo.xor`)::

    nnbasics                                   # = nnbasics xor
    nnbasics xor --steps 2000 --seed 0 --hidden 8 --lr 0.5

Each command is one subparser (``_add_<name>``) whose ``func`` receives the parsed
arguments and returns an exit status, so later commands (``lab``, ``train``...) slot in
beside ``xor`` without touching it.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["build_parser", "main"]


def _number(cast, what: str, example: str, ok):
    """An argparse type: ``cast`` the text, then require ``ok(value)``; errors say what was expected."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, e.g. {example}; got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, e.g. {example}; got {value}")
        return value

    return parse


_positive_int = _number(int, "a positive integer", "2000", lambda v: v >= 1)
_non_negative_int = _number(int, "an integer >= 0", "0", lambda v: v >= 0)
_positive_float = _number(float, "a positive number", "0.5", lambda v: v > 0)


def _add_xor(sub) -> None:
    p = sub.add_parser(
        "xor",
        help="train a 2-layer network on XOR from scratch (the default command)",
        description="Train a 2-H-1 tanh network on XOR with raw nnbasics tensors and hand-written SGD; "
        "print the loss falling and the four predictions.",
    )
    p.add_argument("--steps", type=_positive_int, default=2000, help="SGD steps (default 2000)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the initial weights (default 0)")
    p.add_argument("--hidden", type=_positive_int, default=8, help="hidden units H (default 8; XOR needs 2)")
    p.add_argument("--lr", type=_positive_float, default=0.5, help="learning rate (default 0.5)")
    p.add_argument("--every", type=_positive_int, default=None, metavar="N",
                   help="print the loss every N steps (default steps/10)")
    p.set_defaults(func=_run_xor)


def _run_xor(args) -> int:
    from .demo import xor

    result = xor.run(steps=args.steps, seed=args.seed, hidden=args.hidden, lr=args.lr, log_every=args.every)
    return 0 if result.correct == 4 else 1


def build_parser() -> argparse.ArgumentParser:
    """The ``nnbasics`` argument parser, one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="nnbasics",
        description="Neural-network basics from scratch on NumPy. With no command, runs the XOR demo.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    _add_xor(sub)
    return parser


def main(argv=None) -> int:
    """Run the command in ``argv`` (default ``sys.argv[1:]``); no command means ``xor``.

    Returns:
        int: the exit status (0 on success; the XOR demo returns 1 if a prediction is wrong).
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["xor", *argv])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
