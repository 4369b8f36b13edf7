"""The argument parser of every command: one-paragraph errors with "did you mean", exit status 2.

argparse prints a usage block of a dozen lines before each error; a learner then has to find the
one line that matters. :class:`Parser` prints only ``nnbasics CMD: error: MESSAGE`` and a hint to
``--help``, and adds the closest valid name to an invalid choice or an unknown flag.
"""

from __future__ import annotations

import argparse
import difflib

__all__ = ["Parser", "did_you_mean", "unknown_name"]


def did_you_mean(value, choices) -> str:
    """``" Did you mean 'relu'?"`` for the closest of ``choices`` to ``value`` (case-insensitive), else ``""``."""
    names = [str(c) for c in choices]
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(value).strip().lower(), list(lowered), n=1, cutoff=0.6)
    return f" Did you mean {lowered[close[0]]!r}?" if close else ""


def unknown_name(what: str, value, choices) -> str:
    """``"unknown dataset 'spirals'. Did you mean 'spiral'? Choose from xor, spiral, ..."``."""
    return f"unknown {what} {value!r}.{did_you_mean(value, choices)} Choose from {', '.join(map(str, choices))}."


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one paragraph (no usage block) with a hint to ``--help``."""

    def _check_value(self, action, value):
        if action.choices is not None and value not in action.choices:
            if isinstance(action, argparse._SubParsersAction):
                raise argparse.ArgumentError(None, unknown_name("command", value, list(action.choices)))
            choices = list(action.choices)
            msg = f"invalid choice: {value!r}.{did_you_mean(value, choices)} Choose from {', '.join(map(str, choices))}."
            raise argparse.ArgumentError(action, msg)

    def unrecognized(self, extras) -> None:
        """Exit 2 for arguments no option takes, suggesting the closest flag of this command."""
        flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
        first = next((e for e in extras if e.startswith("-")), None)
        hint = did_you_mean(first.split("=", 1)[0], flags) if first else ""
        self.error(f"unrecognized arguments: {' '.join(extras)}.{hint}")

    def error(self, message):
        """Print ``PROG: error: MESSAGE`` and a hint to ``PROG --help`` on stderr; exit 2."""
        message = message.strip()
        if not message.endswith((".", "?", ")")):
            message += "."
        self.exit(2, f"{self.prog}: error: {message}\nSee `{self.prog} --help`.\n")
