"""Reading a run directory written by ``nnbasics train``: its checkpoint, its config.json, its model."""

from __future__ import annotations

import json
from pathlib import Path

from ._options import UsageError

__all__ = ["checkpoint_path", "load_model", "run_config"]


def checkpoint_path(run) -> Path:
    """The checkpoint of ``run`` (a run directory or a .safetensors file), or a :class:`UsageError`."""
    path = Path(run)
    if path.is_dir():
        if not (path / "model.safetensors").exists() and (path / "last.safetensors").exists():
            raise UsageError(f"{path} is a character-model run (best/last.safetensors, from `nnbasics train-lm`); "
                             f"generate text with `nnbasics sample {path}`.")
        path = path / "model.safetensors"
    if not path.exists():
        raise UsageError(f"no checkpoint at {path} (give a run directory written by `nnbasics train`, or its "
                         "model.safetensors).")
    return path


def run_config(path: Path) -> dict:
    """The ``config.json`` beside checkpoint ``path`` (``{}`` if there is none)."""
    cfg = path.parent / "config.json"
    if cfg.exists():
        try:
            return json.loads(cfg.read_text())
        except json.JSONDecodeError as e:
            raise UsageError(f"{cfg}: not valid JSON ({e}).") from None
    return {}


def load_model(path: Path):
    """The model stored in checkpoint ``path``."""
    from ..training import load_checkpoint

    try:
        return load_checkpoint(path).model
    except (OSError, ValueError) as e:
        raise UsageError(str(e)) from None
