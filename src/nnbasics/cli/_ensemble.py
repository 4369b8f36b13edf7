"""``nnbasics train --members K``: an ensemble trained through ``train_ensemble``, saved member by member.

Nothing a finished member learned is lost: each member is committed to the run folder as
``member-SEED.safetensors`` the moment it finishes (with ``config.json``; the manifest says
``"finished": false`` and which seeds are done). Ctrl-C, a kill or a full disk keep those members,
and ``nnbasics train --resume RUN`` trains only the missing seeds: a member's seed fixes its
weights, dropout and data order, so the ensemble equals an uninterrupted run's. When every member
has finished, one commit writes ``last.safetensors`` (the whole ensemble), ``history.json``,
``report.json`` and ``config.json`` and drops the member files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._options import UsageError, plural

__all__ = ["member_part", "train_ensemble", "unfinished_ensemble"]


def member_part(seed) -> str:
    """The run-folder part of the finished member with ``seed``."""
    return f"member-{int(seed)}.safetensors"


def _ensemble_spec(member_spec, config, seeds) -> dict:
    return {"model": "ensemble", "members": [member_spec] * len(seeds), "combine": config["combine"],
            "seeds": list(seeds)}


def _resolved(config, args, member_spec, seeds, out) -> dict:
    from .train import resolved_config

    resolved = resolved_config(config, args, _ensemble_spec(member_spec, config, seeds), out)
    for key in ("hidden", "activation", "init", "dropout"):
        if resolved[key] is None and key in member_spec:
            resolved[key] = member_spec[key]
    return resolved


def train_ensemble(config, args, member_spec, opt_kwargs, folder, train, test, *, replace=(), data=None,
                   finished=None) -> int:
    """K members through train_ensemble, each committed as it finishes; then the ensemble, its report and epochs.

    ``finished``: ``{seed: {"state", "history"}}`` of members an interrupted run already saved (``--resume``).
    """
    from ..models.spec import build_from_spec
    from ..training.checkpoint import checkpoint_bytes
    from ..training.ensemble import train_ensemble as _train
    from ..training.progress import format_logs

    out = folder.path
    k, seed = config["members"], config["seed"]
    seeds = list(range(seed, seed + k))
    finished = {} if finished is None else finished  # the caller's dict: it sees every member saved
    resolved = _resolved(config, args, member_spec, seeds, out)
    config_bytes = (json.dumps(resolved, indent=2) + "\n").encode()
    stale = [n for n in replace if not n.startswith("member-")]

    def save_member(result) -> None:
        member = build_from_spec(member_spec, rng=0)
        member.load_state_dict(result["state"])
        finished[result["seed"]] = result
        part = checkpoint_bytes(member, extra={"cli_config": resolved, "data": data,
                                               "member": {"seed": result["seed"], "history": result["history"]}})
        folder.commit({member_part(result["seed"]): part, "config.json": config_bytes},
                      info={"command": "train", "members": k, "finished": False, "members_done": sorted(finished)},
                      remove=stale if len(finished) == 1 else ())
        print(f"member seed {result['seed']} finished ({len(finished)} of {k}): saved {out / member_part(result['seed'])}",
              flush=True)

    todo = [s for s in seeds if s not in finished]
    print(f"training an ensemble of {k} x {member_spec.get('model', 'layer stack')} (seeds {seeds[0]}..{seeds[-1]}, "
          f"{config['executor']}) on {config['dataset']} ({len(train[1])} train / {plural(len(test[1]), 'test sample')}) "
          f"for {plural(config['epochs'], 'epoch')} -> {out}", flush=True)
    if finished:
        print(f"resuming: {plural(len(finished), 'member')} already trained (seeds {sorted(finished)}); training "
              f"seeds {todo}", flush=True)
    ensemble = _train(member_spec, train, seeds=seeds, executor=config["executor"], combine=config["combine"],
                      validation_data=test, epochs=config["epochs"], batch_size=config["batch_size"],
                      optimizer=config["optimizer"], lr=config["lr"], optimizer_kwargs=opt_kwargs or None,
                      finished=finished, on_member=save_member)
    for s, hist in zip(seeds, ensemble.histories):
        h = hist["history"]
        for i, epoch in enumerate(hist["epoch"]):
            logs = {key: h[key][i] for key in h if key not in ("lr", "time")}
            print(f"member seed {s} - Epoch {epoch + 1}/{config['epochs']} - {format_logs(logs)}")
    report = ensemble.report(*test)
    print(report)
    data_bytes = checkpoint_bytes(ensemble, extra={"cli_config": resolved, "report": report.to_dict(), "data": data})
    files = {"last.safetensors": data_bytes,
             "history.json": (json.dumps({"members": ensemble.histories}, allow_nan=True) + "\n").encode(),
             "report.json": (json.dumps(report.to_dict(), indent=2) + "\n").encode(),
             "config.json": config_bytes}
    drop = [member_part(s) for s in seeds] + [n for n in stale if n not in files]
    folder.commit(files, info={"command": "train", "members": k, "epoch": config["epochs"], "finished": True},
                  remove=drop)
    print(f"wrote {', '.join(str(out / n) for n in files)}")
    return 0


def unfinished_ensemble(path):
    """``(settings, {seed: {"state", "history"}})`` of the interrupted ensemble run at ``path``, else None.

    Every saved member is read back through :func:`~nnbasics.training.checkpoint.load_checkpoint`
    (checked against the member's spec before anything is used), so a damaged member file is one
    message, not a wrong ensemble.
    """
    from ..models.spec import SpecError, build_from_spec
    from ..training.checkpoint import load_checkpoint, read_checkpoint_metadata
    from ..training.runfolder import RunFolder, RunFolderError
    from ._rundir import checked_settings

    folder = RunFolder(Path(path))
    try:
        manifest = folder.manifest() if Path(path).is_dir() else None
        info = (manifest or {}).get("info", {})
        members = info.get("members")
        if (not manifest or info.get("command") != "train" or info.get("finished") is not False
                or isinstance(members, bool) or not isinstance(members, int) or members < 2):
            return None
        folder.verify()
        settings = checked_settings(json.loads(folder.read_bytes("config.json", manifest)), Path(path) / "config.json")
        member_spec = settings["model_spec"]["members"][0]
        finished = {}
        for name in sorted(manifest["parts"]):
            if not name.startswith("member-"):
                continue
            part = folder.part_path(name, manifest)
            member = build_from_spec(member_spec, rng=0)
            load_checkpoint(part, member, restore_rng=False)
            meta = read_checkpoint_metadata(part)["extra"]["member"]
            finished[int(meta["seed"])] = {"state": {k: v._array.copy() for k, v in member.state_dict().items()},
                                           "history": meta["history"]}
    except (RunFolderError, SpecError, OSError, ValueError, TypeError, KeyError, IndexError) as e:
        raise UsageError(f"{path}: the interrupted ensemble cannot be read ({e}); train it again with --overwrite.") \
            from None
    return settings, finished


def interrupted_message(folder_path, k, saved) -> None:
    """What Ctrl-C kept of an ensemble, and how to continue."""
    if saved:
        print(f"\ninterrupted: {folder_path} holds {plural(saved, 'finished member')} of {k}. Continue with: "
              f"nnbasics train --resume {folder_path}", file=sys.stderr)
    else:
        print("\ninterrupted before the first member finished; nothing was saved.", file=sys.stderr)
