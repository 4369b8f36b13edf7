"""Argument types, options declared once, and the usage error every command raises.

An :class:`Option` is one command-line option: its destination, flags, argparse keywords and
default. Options used by several commands (``--seed``, ``--lr``, ``--batch-size``...) are declared
here once; a command takes one as it is or changes its help or default with :meth:`Option.but`.
The same table serves the command line and ``--config`` files: a config key is an option's
destination (or its flag without the dashes), checked by the same type and choices.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

__all__ = [
    "Option",
    "UsageError",
    "add_options",
    "defaults_of",
    "fraction",
    "lower",
    "lower_dash",
    "non_negative_float",
    "non_negative_int",
    "number",
    "plural",
    "positive_float",
    "positive_int",
    "rate",
]


class UsageError(Exception):
    """A user error found after parsing; ``main`` reports it as the subcommand's parser would (exit 2)."""


# ------------------------------------------------------------------ types
def number(cast, what: str, ok, example=None):
    """An argparse type: ``cast`` the text, then require ``ok(value)``; errors say what was expected.

    ``example`` (e.g. the option's default) is quoted in the error message; ``t.eg(20)`` is the same
    type with another example, so ``--epochs x`` says "e.g. 20", not some other option's number.
    """

    def parse(text):
        try:
            value = cast(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {what}{eg}; got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}{eg}; got {value}")
        return value

    eg = "" if example is None else f", e.g. {example}"
    parse.__name__ = what  # argparse names the type in some messages
    parse.eg = lambda new_example: number(cast, what, ok, new_example)
    return parse


def _int(value) -> int:
    """``int`` that refuses what is not a whole number: ``2.5``, ``True`` (a config file's ``epochs = 2.5``)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


positive_int = number(_int, "a positive integer", lambda v: v >= 1)
non_negative_int = number(_int, "an integer >= 0", lambda v: v >= 0)
positive_float = number(float, "a positive number", lambda v: 0 < v < float("inf"))
non_negative_float = number(float, "a number >= 0", lambda v: 0 <= v < float("inf"))
rate = number(float, "a dropout rate in [0, 1)", lambda v: 0 <= v < 1, "0.2")
fraction = number(float, "a fraction in [0, 1)", lambda v: 0 <= v < 1, "0.1")


def plural(n: int, word: str) -> str:
    """``"1 epoch"``, ``"3 epochs"``, ``"1,200 samples"``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def lower(text):
    """``"Leaky-ReLU "`` -> ``"leaky_relu"``: names of activations, optimizers, inits."""
    return str(text).strip().lower().replace("-", "_")


def lower_dash(text):
    """``"Char_LSTM"`` -> ``"char-lstm"``: names of models written with dashes."""
    return str(text).strip().lower().replace("_", "-")


# ---------------------------------------------------------------- options
@dataclass(frozen=True)
class Option:
    """One option: ``dest``, its ``flags`` (a positional has one flag without dashes), argparse ``kwargs``,
    and the ``default`` a command sees when neither the command line nor a config file sets it."""

    dest: str
    flags: tuple
    kwargs: dict = field(default_factory=dict)
    default: object = None
    example: object = None  # quoted by a number type's error (default: ``default``)

    def but(self, *, default=..., example=..., **kwargs) -> Option:
        """This option with other argparse keywords (``help=``, ``metavar=``...), default or example."""
        return replace(self, kwargs={**self.kwargs, **kwargs},
                       default=self.default if default is ... else default,
                       example=self.example if example is ... else example)

    def argparse_kwargs(self) -> dict:
        """The keywords for ``add_argument``; a number type quotes this option's example or default."""
        kwargs = dict(self.kwargs)
        example = self.example if self.example is not None else self.default
        if hasattr(kwargs.get("type"), "eg") and isinstance(example, (int, float)) and not isinstance(example, bool):
            kwargs["type"] = kwargs["type"].eg(example)
        return kwargs

    @property
    def positional(self) -> bool:
        return not self.flags[0].startswith("-")


def add_options(parser, options, *, config: bool = False) -> None:
    """Add ``options`` to ``parser``.

    With ``config=True`` the command also takes ``--config FILE.toml``: unset flags then stay absent
    from the parsed namespace (so a file can fill them) and :func:`nnbasics.cli._config.resolve`
    merges defaults, file and command line; otherwise each option's default is argparse's.
    """
    for opt in options:
        default = argparse.SUPPRESS if config else opt.default
        if opt.positional:
            parser.add_argument(opt.dest, default=default, **opt.argparse_kwargs())
        else:
            parser.add_argument(*opt.flags, dest=opt.dest, default=default, **opt.argparse_kwargs())
    if config:
        parser.add_argument("--config", metavar="FILE", help="TOML file of settings (keys as the flags)")


def defaults_of(options) -> dict:
    """``{dest: default}`` of an option table, in order: the keys a config file may set."""
    return {opt.dest: opt.default for opt in options}


# Options shared by several commands; each command adjusts the help to what the option means there.
SEED = Option("seed", ("--seed",), {"type": non_negative_int}, 0)
LR = Option("lr", ("--lr",), {"type": positive_float})
EPOCHS = Option("epochs", ("--epochs",), {"type": positive_int})
BATCH_SIZE = Option("batch_size", ("--batch-size",), {"type": positive_int})
DROPOUT = Option("dropout", ("--dropout",), {"type": rate, "metavar": "P"})
TEMPERATURE = Option("temperature", ("--temperature",), {"type": non_negative_float}, 0.8)
TOP_K = Option("top_k", ("--top-k",), {"type": positive_int, "metavar": "K"}, example=5)
DATA_ROOT = Option("data_root", ("--data-root",), {"metavar": "DIR",
                                                   "help": "directory searched first for dataset files"})
OUTPUT_DIR = Option("output", ("--output", "-o"), {"metavar": "DIR"})
RUN = Option("run", ("run",), {"metavar": "RUN", "help": "run directory or checkpoint file"})
