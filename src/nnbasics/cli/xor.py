"""``nnbasics xor``: the demo, a 2-H-1 tanh network trained on XOR with raw tensors and hand-written SGD."""

from __future__ import annotations

from ._command import Command
from ._options import LR, SEED, Option, positive_int

OPTIONS = [
    Option("steps", ("--steps",), {"type": positive_int, "help": "SGD steps (default 2000)"}, 2000),
    SEED.but(help="seed of the initial weights (default 0)"),
    Option("hidden", ("--hidden",), {"type": positive_int, "help": "hidden units H (default 8; XOR needs 2)"}, 8),
    LR.but(help="learning rate (default 0.5)", default=0.5),
    Option("every", ("--every",), {"type": positive_int, "metavar": "N",
                                   "help": "print the loss every N steps (default steps/10)"}, example=200),
]


def run(args) -> int:
    """Train on XOR; exit status 1 if a prediction is still wrong."""
    from ..demo import xor

    result = xor.run(steps=args.steps, seed=args.seed, hidden=args.hidden, lr=args.lr, log_every=args.every)
    return 0 if result.correct == 4 else 1


COMMAND = Command(
    "xor", run, OPTIONS, order=10,
    help="the demo: a 2-layer network learns XOR from scratch",
    description="Train a 2-H-1 tanh network on XOR with raw nnbasics tensors and hand-written SGD; "
    "print the loss falling and the four predictions.",
)
