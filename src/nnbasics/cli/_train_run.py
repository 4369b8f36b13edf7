"""``nnbasics train``'s training: the run folder saved every epoch, Ctrl-C kept, ``--resume`` exact.

Nothing a user did is lost: each finished epoch is committed to the run folder as one unit
(:mod:`nnbasics.cli._saver`); Ctrl-C stops with exit status 130 and the folder holding the
epochs that finished; a full disk, a file-size limit or a read-only folder met while saving is
one message and exit status 2, with the previous epoch intact. ``--resume RUN`` rebuilds the
data, model and optimizer from the settings stored in RUN's checkpoint and continues with
``fit(resume=...)``: the weights after 3 + 5 epochs are bit-identical to 8 uninterrupted ones.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from ._options import UsageError, plural

__all__ = ["data_info", "resume_config", "train_and_save"]

#: Settings --resume may change: how long, how it reports, where the data files are.
RESUMABLE = ("epochs", "progress", "data_root", "download")
#: What a replaced run (--overwrite) may have left besides the new run's parts.
OLD_PARTS = ("model.safetensors", "best.safetensors", "last.safetensors", "history.json", "config.json",
             "report.json", "history.png", "history.html")


def data_info(job) -> dict:
    """What ``predict`` needs to prepare raw inputs as in training: shapes, value range, scaling, classes."""
    import numpy as np

    from ._data import class_names

    config, info = job["config"], job["info"]
    X = job["train"][0]
    lo, hi = (float(np.min(X)), float(np.max(X))) if X.size and X.dtype.kind == "f" else (None, None)
    image = info.input_shape is not None and len(info.input_shape) == 3
    names = class_names(config["dataset"])
    return {"dataset": config["dataset"], "input_shape": list(X.shape[1:]), "dtype": str(X.dtype),
            "train_range": [lo, hi],
            # images are stored as 0-255 pixels and trained on as pixel / 255 (nnbasics.data.vision)
            "raw_scale": 255.0 if image and hi is not None and hi <= 1.0 else None,
            "classes": list(names) if names else None}


def resume_config(args):
    """``(settings, run, epochs done)`` for ``train --resume RUN``: the run's own settings, checked.

    Only --epochs, --progress, --data-root and --download may differ from the run's; any other
    flag that changes the training is refused (a resumed run must continue the same experiment).
    """
    from ..training.checkpoint import read_checkpoint_metadata
    from ._rundir import open_run

    run = open_run(args.resume, command="train")
    saved = run.config
    if not saved.get("dataset") or not isinstance(saved.get("model_spec"), dict):
        raise UsageError(f"{run.checkpoint} stores no training settings, so it cannot be resumed here; train a new "
                         "run.")
    if (saved.get("members") or 1) > 1:
        raise UsageError(f"{args.resume} is an ensemble whose {saved['members']} members all finished; an ensemble "
                         "cannot train more epochs. Train a new run with --output.")
    config = resumed_settings(args, saved, RESUMABLE)
    try:
        done = read_checkpoint_metadata(run.checkpoint).get("epoch")
    except (OSError, ValueError) as e:
        raise UsageError(str(e)) from None
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise UsageError(f"{run.checkpoint} records no finished epoch; it cannot be resumed.")
    if config["epochs"] <= done:
        raise UsageError(f"{args.resume} has already trained {plural(done, 'epoch')} (of --epochs "
                         f"{config['epochs']}); give a larger --epochs to train more.")
    return config, run, done


def resumed_settings(args, saved, resumable) -> dict:
    """The run's ``saved`` settings with the flags ``--resume`` may change (``resumable``); any other is refused."""
    from .train import DEFAULTS

    if args.config:
        raise UsageError("--resume continues a run with its own settings; drop --config.")
    if args.overwrite:
        raise UsageError("--resume continues the run in its folder; drop --overwrite.")
    given = {k: v for k, v in vars(args).items() if k in DEFAULTS}
    if given.get("output") is not None and Path(given["output"]).resolve() != Path(args.resume).resolve():
        raise UsageError(f"--resume continues the run in its own folder {args.resume}; drop --output.")
    given.pop("output", None)
    changed = [k for k, v in given.items() if k not in resumable and v != saved.get(k)]
    if changed:
        listed = ", ".join(f"--{k.replace('_', '-')} (the run's: {saved.get(k)!r})" for k in changed)
        raise UsageError(f"--resume continues the run with its own settings; these differ: {listed}. Drop them, or "
                         "start a new run with --output.")
    return {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS or k == "model_spec"}, **given}


def replaced_parts(out: Path) -> tuple:
    """The names an earlier run in ``out`` holds (removed at the first commit of an --overwrite run)."""
    from ..training.runfolder import RunFolder, RunFolderError

    try:
        manifest = RunFolder(out).manifest()
    except RunFolderError:
        manifest = None
    listed = tuple(manifest["parts"]) if manifest else ()
    return tuple(dict.fromkeys(listed + tuple(n for n in OLD_PARTS if (out / n).exists())))


def disk_error(e: OSError, out: Path, writer) -> UsageError:
    """One message for a failed save: what failed, what the folder still holds, what to do."""
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EFBIG: "a file would exceed the file-size limit (ulimit -f)",
            errno.EROFS: "the filesystem is read-only", errno.EACCES: "permission denied",
            errno.EIO: "an input/output error"}.get(e.errno, e.strerror or str(e))
    kept = (f"{out} still holds epoch {writer.epoch} (continue with `nnbasics train --resume {out}` once there is "
            "room)" if writer.committed else f"nothing was saved in {out}")
    return UsageError(f"cannot save the run: {what} ({getattr(e, 'filename', None) or out}); {kept}. Free space or "
                      "choose another --output.")


def train_and_save(job, args, out: Path, resume=None, finished=None) -> int:
    """Train ``job`` into run folder ``out`` (``resume``: ``(run, epochs done)``; ``finished``: an interrupted
    ensemble's saved members); the exit status."""
    from ..training.runfolder import RunFolder, RunFolderError
    from .train import print_architecture, resolved_config

    config, model = job["config"], job["model"]
    if config["members"] > 1:
        return _ensemble(job, args, out, finished)
    resolved = resolved_config(config, args, model.spec, out)
    created = not out.exists()
    print_architecture(model, job["train"][0])
    done = resume[1] if resume else 0
    what = f"{job['spec'].get('model', 'layer stack')} on {config['dataset']}"
    verb = f"resuming {what} at epoch {done + 1}" if resume else f"training {what}"
    print(f"{verb} ({len(job['train'][0])} train / {len(job['test'][0])} test samples) for "
          f"{plural(config['epochs'] - done, 'epoch')} -> {out}", flush=True)
    folder = RunFolder(out)
    try:
        with folder.lock():
            status = _fit(job, folder, out, resolved, resume, () if resume else replaced_parts(out))
    except RunFolderError as e:
        raise UsageError(str(e)) from None
    except BrokenPipeError:  # `| head` closed stdout: main() stops quietly
        raise
    except OSError as e:
        raise UsageError(f"cannot write the run folder {out}: {e.strerror or e}; choose another --output.") from None
    finally:
        if created:
            remove_if_unused(out)
    return status


def _fit(job, folder, out, resolved, resume, replace) -> int:
    from ..training import fit
    from ._saver import EpochSaver, RunWriter
    from .train import progress_mode

    config = job["config"]
    writer = RunWriter(folder, "train", resolved, replace=replace)
    saver = EpochSaver(writer, {"cli_config": resolved, "data": data_info(job)})
    title = f"{job['spec'].get('model', 'layer stack')} on {config['dataset']}"
    try:
        history = fit(job["model"], job["train"], epochs=config["epochs"], optimizer=job["optimizer"],
                      loss="cross_entropy", metrics=("accuracy",), validation_data=job["test"],
                      batch_size=config["batch_size"], rng=config["seed"], progress=progress_mode(config["progress"]),
                      callbacks=[saver], resume=None if resume is None else str(resume[0].checkpoint))
    except KeyboardInterrupt:
        return _interrupted(writer, out, title)
    except BrokenPipeError:  # `| head` closed stdout: main() stops quietly
        raise
    except OSError as e:
        raise disk_error(e, out, writer) from None
    except (ValueError, TypeError) as e:  # e.g. a stored optimizer state that does not fit (resume)
        raise UsageError(str(e)) from None
    try:
        plots = writer.finish(title)
    except BrokenPipeError:  # `| head` closed stdout: main() stops quietly
        raise
    except OSError as e:
        raise disk_error(e, out, writer) from None
    last = history.last()
    print("final: " + ", ".join(f"{k} {last[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                                if k in last))
    names = ["last.safetensors", "best.safetensors", "history.json", "config.json", *plots]
    print(f"wrote {', '.join(str(out / n) for n in names)}")
    return 0


def _interrupted(writer, out, title) -> int:
    """Ctrl-C: keep what finished, say how to continue; exit status 130 (128 + SIGINT, the shell's convention)."""
    try:
        writer.finish(title, interrupted=True)
    except (KeyboardInterrupt, OSError):
        pass  # a second Ctrl-C, or no room for the plots: the epochs are saved already
    if writer.committed:
        print(f"\ninterrupted: {out} holds {plural(writer.epoch, 'finished epoch')} (last.safetensors, "
              f"best.safetensors, history.json). Continue with: nnbasics train --resume {out}", file=sys.stderr)
    else:
        print("\ninterrupted before the first epoch finished; nothing was saved.", file=sys.stderr)
    return 130


def remove_if_unused(out: Path) -> None:
    """Remove a run folder this command created if no epoch was saved in it (a failed run changes nothing)."""
    try:
        entries = os.listdir(out)
    except OSError:
        return
    if "manifest.json" in entries:
        return
    for name in entries:
        if name == ".nnbasics.lock" or name.endswith(".pending"):
            try:
                os.unlink(out / name)
            except OSError:
                return
    try:
        os.rmdir(out)
    except OSError:
        pass


def _kept(out, saved, when) -> str:
    """What an ensemble run that stopped still holds, and how to continue it."""
    if not saved:
        return "nothing was saved"
    return (f"{out} keeps the {plural(len(saved), 'finished member')} (continue with `nnbasics train --resume {out}` "
            f"{when})")


def _ensemble(job, args, out: Path, finished=None) -> int:
    """``--members K``: the members train in parallel, each committed as it finishes (``finished``: --resume's)."""
    from ..training.runfolder import RunFolder, RunFolderError
    from ._ensemble import interrupted_message, train_ensemble

    created = not out.exists()
    folder = RunFolder(out)
    saved = dict(finished or {})
    try:
        with folder.lock():
            return train_ensemble(job["config"], args, job["model"].spec, job["opt_kwargs"], folder, job["train"],
                                  job["test"], replace=() if finished else replaced_parts(out), data=data_info(job),
                                  finished=saved)
    except KeyboardInterrupt:
        interrupted_message(out, job["config"]["members"], len(saved))
        return 130
    except RunFolderError as e:
        raise UsageError(str(e)) from None
    except BrokenPipeError:  # `| head` closed stdout: main() stops quietly
        raise
    except OSError as e:
        raise UsageError(f"cannot save the ensemble in {out}: {e.strerror or e}; {_kept(out, saved, 'once there is room')}."
                         " Free space or choose another --output.") from None
    except RuntimeError as e:  # a member failed in its worker: train_ensemble names its seed and the error
        if not str(e).startswith("train_ensemble:"):
            raise
        raise UsageError(f"{e}; {_kept(out, saved, 'after fixing the cause')}.") from None
    finally:
        if created:
            remove_if_unused(out)
