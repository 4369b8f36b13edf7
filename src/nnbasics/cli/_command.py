"""One ``nnbasics`` command: its name, options, help and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ._options import add_options

__all__ = ["Command"]


@dataclass(frozen=True)
class Command:
    """A subcommand of ``nnbasics``; a module of :mod:`nnbasics.cli` defines one as ``COMMAND``.

    Args:
        name: what the user types (``"train-lm"``).
        run: ``run(args) -> int``, the exit status; raises ``UsageError`` for a user error.
        options: its :class:`~nnbasics.cli._options.Option` table, in help order.
        help: one line for ``nnbasics --help``.
        description: the paragraph of ``nnbasics NAME --help``.
        config: also take ``--config FILE.toml`` (keys: the options' names).
        order: position in ``nnbasics --help`` (smaller first; ties by name).
        add_arguments: optional ``f(parser)`` for what a table cannot say (mutually exclusive groups...).
    """

    name: str
    run: Callable
    options: list = field(default_factory=list)
    help: str = ""
    description: str = ""
    config: bool = False
    order: int = 100
    add_arguments: Callable | None = None

    def add_to(self, subparsers):
        """Add this command's parser to ``subparsers``; the parsed namespace carries ``func`` and ``_parser``."""
        p = subparsers.add_parser(self.name, help=self.help, description=self.description)
        add_options(p, self.options, config=self.config)
        if self.add_arguments is not None:
            self.add_arguments(p)
        p.set_defaults(func=self.run, _parser=p)
        return p
