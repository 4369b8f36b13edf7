"""``--config FILE.toml``: settings from a file, checked like the flags, merged under the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import UsageError, defaults_of

__all__ = ["check_settings", "config_from_file", "resolve"]


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
        out[dest] = _check_key(f"--config {path}", key, actions[dest], value)
    return out


def _check_key(where, key, action, value):
    """``value`` of ``key`` (one value, or a list where the flag takes several) checked like the flag."""
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and action.nargs not in ("+", "*"):
        raise UsageError(f"{where}: {key} takes one value; got the list {value!r:.80}.")
    if isinstance(value, list) and not value:
        raise UsageError(f"{where}: {key} is an empty list.")
    checked = [_check_value(where, key, action, v) for v in values]
    return checked if isinstance(value, list) else checked[0]


def _check_value(where, key, action, v):
    """One value through its flag's type and choices."""
    if isinstance(action, argparse.BooleanOptionalAction) or action.const is True:
        if not isinstance(v, bool):
            raise UsageError(f"{where}: {key} must be true or false; got {v!r:.80}.")
        return v
    if isinstance(v, (dict, list)) or (v is not None and not isinstance(v, (str, int, float))):
        raise UsageError(f"{where}: {key} must be a single value; got {type(v).__name__} {v!r:.80}.")
    if action.type is not None:
        try:
            v = action.type(v if not isinstance(v, bool) else str(v))
        except argparse.ArgumentTypeError as e:
            raise UsageError(f"{where}: {key}: {e}") from None
    elif not isinstance(v, str):
        raise UsageError(f"{where}: {key} must be a string; got {v!r:.80}.")
    if action.choices is not None and v not in action.choices:
        raise UsageError(f"{where}: {key}: invalid choice {v!r:.80} (choose from "
                         f"{', '.join(map(str, action.choices))}).")
    return v


def check_settings(settings, options, where) -> dict:
    """Settings read from a file (a run's config.json, a checkpoint's metadata), each checked like its flag.

    Keys that are not options of the table are kept as they are; a None value means "the default".

    Raises:
        UsageError: a value its flag would refuse (``n_test: 1e12``, a list where one value goes...).
    """
    from ._options import add_options
    from ._parser import Parser

    if not isinstance(settings, dict):
        raise UsageError(f"{where}: the settings must be a JSON object; got {type(settings).__name__}.")
    parser = Parser(prog="nnbasics")
    add_options(parser, options, config=True)
    actions = {a.dest: a for a in parser._actions}
    return {k: v if (k not in actions or v is None) else _check_key(where, k, actions[k], v)
            for k, v in settings.items()}


def resolve(args, options) -> dict:
    """The settings of a command that takes ``--config``: defaults < config file < command line."""
    defaults = defaults_of(options)
    given = {k: v for k, v in vars(args).items() if k in defaults}
    from_file = config_from_file(args.config, args._parser, defaults) if args.config else {}
    return {**defaults, **from_file, **given}
