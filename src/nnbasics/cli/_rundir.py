"""Run folders for the commands: find and check the one to read; check the one to write before any work.

Reading (``evaluate``, ``predict``, ``sample``, ``--resume``): :func:`open_run` verifies a run
folder as one transaction (:class:`~nnbasics.training.runfolder.RunFolder`: every part matches
``manifest.json``) and takes the training settings from the checkpoint itself, so a model can
never be paired with another run's ``config.json``. A folder written before manifests existed
(``model.safetensors`` + ``config.json``) is still read, and refused if its config disagrees
with the settings stored in its checkpoint. Every value read from a file is checked like the
flag it came from.

Writing (``train``, ``train-lm``): :func:`check_output` refuses, before any data is loaded, an
output that is a file, lies under a file, is read-only, or already holds a run (unless
``--overwrite``; ``--resume`` continues it).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ._options import UsageError

__all__ = ["Run", "check_output", "default_output", "load_model", "open_run", "read_json_file", "run_config"]

_LEGACY = ("model.safetensors", "last.safetensors", "best.safetensors", "config.json", "history.json")
_MAX_JSON = 16 << 20


@dataclass
class Run:
    """What a command reads from a run: the checkpoint to load and the training settings.

    Attributes:
        folder: the run folder (the checkpoint's folder when a file was given).
        checkpoint: a verified checkpoint file.
        config: the training settings (checked), ``{}`` when unknown.
        command: ``"train"`` or ``"train-lm"`` (None when unknown).
        manifest: the folder's manifest (None for a file or an old folder).
    """

    folder: Path
    checkpoint: Path
    config: dict = field(default_factory=dict)
    command: str | None = None
    manifest: dict | None = None


def read_json_file(path, what="a JSON object") -> dict:
    """A JSON object from ``path``; a UsageError for a file that is not one (non-UTF-8, a list, too deep...)."""
    path = Path(path)
    try:
        if os.path.getsize(path) > _MAX_JSON:
            raise UsageError(f"{path}: larger than 16 MiB; not a run's JSON file.")
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UsageError(f"{path}: not valid UTF-8 JSON ({type(e).__name__}); the run folder is damaged. Restore "
                         "the file or retrain.") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read it ({e.strerror or e}).") from None
    if not isinstance(value, dict):
        raise UsageError(f"{path}: expected {what}, found a JSON {type(value).__name__}; the run folder is damaged.")
    return value


def run_config(path: Path) -> dict:
    """The ``config.json`` beside checkpoint ``path`` (``{}`` if there is none), as a dict."""
    cfg = Path(path).parent / "config.json"
    return read_json_file(cfg) if cfg.exists() else {}


def _checked(settings, command, where) -> dict:
    from . import train, train_lm
    from ._config import check_settings

    options = train_lm.OPTIONS if command == "train-lm" else train.OPTIONS
    return check_settings(settings, options, where)


def checked_settings(settings, where) -> dict:
    """``nnbasics train``'s stored settings (a config.json's), checked as a --config file's."""
    return _checked(settings, "train", where)


def _embedded(checkpoint: Path):
    """The settings stored in a checkpoint's metadata (``extra["cli_config"]``), or None."""
    from ..training.checkpoint import read_checkpoint_metadata

    try:
        meta = read_checkpoint_metadata(checkpoint)
    except (OSError, ValueError) as e:
        raise UsageError(str(e)) from None
    extra = meta.get("extra")
    config = extra.get("cli_config") if isinstance(extra, dict) else None
    return None if config is None else _checked(config, "train", f"{checkpoint} (its stored settings)")


def load_model(checkpoint):
    """The model stored in ``checkpoint`` (rebuilt from its spec), or a UsageError saying why not."""
    from ._files import load_model as load

    return load(checkpoint)


def _kind(path: Path):
    """``"train"``/``"train-lm"``: which command wrote the run folder or checkpoint at ``path`` (None: unknown)."""
    from ..training.checkpoint import read_checkpoint_metadata
    from ..training.runfolder import RunFolder, RunFolderError

    if path.is_dir():
        try:
            manifest = RunFolder(path).manifest()
        except RunFolderError as e:
            raise UsageError(str(e)) from None
        if manifest is not None:
            return manifest.get("info", {}).get("command")
        if (path / "model.safetensors").exists():
            return "train"
        return "train-lm" if any((path / n).exists() for n in ("best.safetensors", "last.safetensors")) else None
    try:
        extra = read_checkpoint_metadata(path).get("extra")
    except (OSError, ValueError) as e:
        raise UsageError(str(e)) from None
    return "train-lm" if isinstance(extra, dict) and extra.get("kind") == "char-lm" else "train"


def open_run(run, *, command="train") -> Run:
    """The run at ``run`` (a folder or a checkpoint file) for ``command``'s readers, checked.

    Args:
        run: a run folder, or a ``.safetensors`` checkpoint (used alone: its stored settings).
        command: ``"train"`` (``evaluate``/``predict`` read ``last.safetensors``) or ``"train-lm"``
            (``sample`` reads ``best.safetensors``, else ``last``); None: whichever wrote it.

    Raises:
        UsageError: no run there, a run of the other command, an unfinished run, or parts that
            disagree -- each with what to do.
    """
    from ..training.runfolder import RunFolder, RunFolderError

    path = Path(run)
    if command is None and not path.exists():
        raise UsageError(f"no run at {path}: give a run folder written by `nnbasics train` or `nnbasics train-lm`, "
                         "or a checkpoint file.")
    if command is None:
        command = _kind(path) or "train"
    if path.is_file():
        config = _embedded(path) if command == "train" else None
        if config is None:
            legacy = run_config(path)
            config = _checked(legacy, command, path.parent / "config.json") if legacy else {}
        return Run(path.parent, path, config, command)
    if not path.is_dir():
        raise UsageError(f"no run at {path}: give a run folder written by `nnbasics {command}`, or a checkpoint file.")
    folder = RunFolder(path)
    try:
        manifest = folder.manifest()
        if manifest is None:
            return _legacy_run(path, command, folder.has_pending())
        folder.verify()
        kind = manifest.get("info", {}).get("command")
        _same_command(path, kind, command)
        names = ("best.safetensors", "last.safetensors") if command == "train-lm" else ("last.safetensors",)
        name = next((n for n in names if n in manifest["parts"]), None)
        info = manifest.get("info", {})
        if name is None and command == "train" and info.get("finished") is False and \
                isinstance(info.get("members"), int) and info["members"] > 1:
            raise UsageError(f"{path} is an ensemble stopped after {len(info.get('members_done') or [])} of its "
                             f"{info['members']} members; finish it with `nnbasics train --resume {path}`.")
        if name is None:
            raise UsageError(f"{path}: the run lists no checkpoint ({', '.join(names)}); it is damaged. Retrain.")
        checkpoint = folder.part_path(name, manifest)
        if command == "train":
            config = _embedded(checkpoint) or {}
        else:
            config = _checked(json.loads(folder.read_bytes("config.json", manifest)), command,
                              path / "config.json") if "config.json" in manifest["parts"] else {}
        return Run(path, checkpoint, config, kind, manifest)
    except RunFolderError as e:
        raise UsageError(str(e)) from None


def _same_command(path, kind, command) -> None:
    if kind == "train-lm" and command == "train":
        raise UsageError(f"{path} is a character-model run (from `nnbasics train-lm`); generate text with "
                         f"`nnbasics sample {path}`.")
    if kind == "train" and command == "train-lm":
        raise UsageError(f"{path} is a classifier run (from `nnbasics train`); use `nnbasics evaluate {path}` or "
                         f"`nnbasics predict {path} INPUT`.")


def _legacy_run(path: Path, command, pending) -> Run:
    """A folder without a manifest: written before manifests, or stopped before its first epoch ended."""
    has = {n for n in _LEGACY if (path / n).exists()}
    if command == "train" and "model.safetensors" not in has and "last.safetensors" in has:
        _same_command(path, "train-lm", command)
    names = ("model.safetensors",) if command == "train" else ("best.safetensors", "last.safetensors")
    name = next((n for n in names if n in has), None)
    if name is None:
        if pending:
            raise UsageError(f"{path}: training stopped before its first epoch finished, so there is no model yet. "
                             f"Train again (`nnbasics {command} ... --output {path} --overwrite`).")
        raise UsageError(f"no checkpoint in {path} (give a run folder written by `nnbasics {command}`, or a "
                         "checkpoint file).")
    checkpoint = path / name
    legacy = run_config(checkpoint)
    legacy = _checked(legacy, command, path / "config.json") if legacy else {}
    if command != "train":
        return Run(path, checkpoint, legacy, command)
    config = _embedded(checkpoint)
    if config is not None and legacy:
        keys = ("dataset", "seed", "n_train", "n_test", "model_spec")
        differ = [k for k in keys if k in legacy and legacy.get(k) != config.get(k)]
        if differ:
            raise UsageError(f"{path}: config.json disagrees with {name} on {', '.join(differ)} (one of them was "
                             f"replaced after training), so the folder is not used. Give the checkpoint file itself "
                             f"(`{checkpoint}`) to use its own settings, or retrain.")
    return Run(path, checkpoint, config if config is not None else legacy, command)


# ------------------------------------------------------------------ writing
def default_output(base: Path) -> Path:
    """``base`` if it is free (missing or empty), else ``base-2``, ``base-3``... (a default output never replaces a run)."""
    candidate, i = Path(base), 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        i += 1
        candidate = Path(f"{base}-{i}")
    return candidate


def _is_run(path: Path) -> bool:
    return (path / "manifest.json").exists() or any((path / n).exists() for n in _LEGACY[:3])


def check_output(path, *, flag="--output", overwrite=False, resume=False) -> Path:
    """Refuse, before any work, an output folder that training could not write or must not replace.

    Nothing is created. A folder holding a run is refused unless ``overwrite`` (replaced at the
    first saved epoch) or ``resume`` (continued); a non-empty folder without a run is always refused.

    Raises:
        UsageError: what is wrong and what to do (another folder, --overwrite, --resume).
    """
    path = Path(os.path.abspath(os.path.expanduser(str(path))))
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a folder; choose a folder for the run.")
    if path.is_dir() and not resume:
        try:
            entries = [e for e in os.listdir(path) if e != ".nnbasics.lock"]
        except OSError as e:
            raise UsageError(f"{flag} {path}: cannot list it ({e.strerror or e}); choose another folder.") from None
        if entries and not _is_run(path):
            raise UsageError(f"{flag} {path} is not empty and holds no run; choose an empty or new folder.")
        if entries and not overwrite:
            raise UsageError(f"{flag} {path} already holds a run. Continue it with `--resume {path}`, replace it "
                             "with --overwrite, or choose another folder.")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: {parent} is a file, not a folder; choose another output folder.")
    probe_writable(parent, path, flag)
    return path


def probe_writable(parent: Path, path: Path, flag) -> None:
    """Create and remove a small file in ``parent``: the only reliable test of a read-only filesystem or ACLs."""
    probe = parent / f".nnbasics-probe-{uuid.uuid4().hex[:8]}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
        os.unlink(probe)
    except OSError as e:
        try:
            os.unlink(probe)
        except OSError:
            pass
        raise UsageError(f"{flag} {path}: cannot write in {parent} ({e.strerror or e}); choose a writable "
                         "folder.") from None
