"""``--config FILE.toml``: settings from a file, checked like the flags, merged under the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import UsageError, defaults_of

__all__ = ["config_from_file", "resolve"]


def config_from_file(path, parser, defaults) -> dict:
    """Settings from a TOML file, each checked by the same type and choices as its flag.

    Args:
        path: the TOML file.
        parser: the command's parser (its actions give each key's type, choices and nargs).
        defaults: ``{dest: default}``, the valid keys.

    Raises:
        UsageError: unreadable file, unknown key, or a value its flag would refuse.
    """
    from ..models.spec import SpecError, read_toml

    try:
        raw = read_toml(Path(path))
    except (OSError, SpecError) as e:
        raise UsageError(f"--config: {e}") from None
    actions = {a.dest: a for a in parser._actions}
    out = {}
    for key, value in raw.items():
        dest = key.replace("-", "_")
        if dest not in defaults:
            raise UsageError(f"--config {path}: unknown key {key!r}. Valid keys: {', '.join(defaults)}.")
        action = actions[dest]
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and action.nargs not in ("+", "*"):
            raise UsageError(f"--config {path}: {key} takes one value; got the list {value!r}.")
        checked = [_check_value(path, key, action, v) for v in values]
        out[dest] = checked if isinstance(value, list) else checked[0]
    return out


def _check_value(path, key, action, v):
    """One config value through its flag's type and choices."""
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(v, bool):
            raise UsageError(f"--config {path}: {key} must be true or false; got {v!r}.")
    elif action.type is not None:
        try:
            v = action.type(v if not isinstance(v, bool) else str(v))
        except argparse.ArgumentTypeError as e:
            raise UsageError(f"--config {path}: {key}: {e}") from None
    if action.choices is not None and v not in action.choices:
        raise UsageError(f"--config {path}: {key}: invalid choice {v!r} (choose from "
                         f"{', '.join(map(str, action.choices))}).")
    return v


def resolve(args, options) -> dict:
    """The settings of a command that takes ``--config``: defaults < config file < command line."""
    defaults = defaults_of(options)
    given = {k: v for k, v in vars(args).items() if k in defaults}
    from_file = config_from_file(args.config, args._parser, defaults) if args.config else {}
    return {**defaults, **from_file, **given}
