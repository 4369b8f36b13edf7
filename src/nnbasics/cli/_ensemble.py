"""``nnbasics train --members K``: an ensemble trained through ``train_ensemble``, its report and run folder."""

from __future__ import annotations

import json

from ._options import plural

__all__ = ["train_ensemble"]


def train_ensemble(config, args, member_spec, opt_kwargs, folder, train, test, *, replace=(), data=None) -> int:
    """K members through train_ensemble, then each member's epochs and the report; commits the run folder once."""
    from ..training.checkpoint import checkpoint_bytes
    from ..training.ensemble import train_ensemble as _train
    from ..training.progress import format_logs
    from .train import resolved_config

    out = folder.path
    k, seed = config["members"], config["seed"]
    seeds = list(range(seed, seed + k))
    print(f"training an ensemble of {k} x {member_spec.get('model', 'layer stack')} (seeds {seeds[0]}..{seeds[-1]}, "
          f"{config['executor']}) on {config['dataset']} ({len(train[1])} train / {plural(len(test[1]), 'test sample')}) "
          f"for {plural(config['epochs'], 'epoch')} -> {out}", flush=True)
    ensemble = _train(member_spec, train, seeds=seeds, executor=config["executor"], combine=config["combine"],
                      validation_data=test, epochs=config["epochs"], batch_size=config["batch_size"],
                      optimizer=config["optimizer"], lr=config["lr"], optimizer_kwargs=opt_kwargs or None)
    for s, hist in zip(seeds, ensemble.histories):
        h = hist["history"]
        for i, epoch in enumerate(hist["epoch"]):
            logs = {key: h[key][i] for key in h if key not in ("lr", "time")}
            print(f"member seed {s} - Epoch {epoch + 1}/{config['epochs']} - {format_logs(logs)}")
    report = ensemble.report(*test)
    print(report)
    resolved = resolved_config(config, args, ensemble.spec, out)
    for key in ("hidden", "activation", "init", "dropout"):
        if resolved[key] is None and key in member_spec:
            resolved[key] = member_spec[key]
    data_bytes = checkpoint_bytes(ensemble, extra={"cli_config": resolved, "report": report.to_dict(), "data": data})
    files = {"last.safetensors": data_bytes,
             "history.json": (json.dumps({"members": ensemble.histories}, allow_nan=True) + "\n").encode(),
             "report.json": (json.dumps(report.to_dict(), indent=2) + "\n").encode(),
             "config.json": (json.dumps(resolved, indent=2) + "\n").encode()}
    folder.commit(files, info={"command": "train", "members": k, "epoch": config["epochs"], "finished": True},
                  remove=[n for n in replace if n not in files])
    print(f"wrote {', '.join(str(out / n) for n in files)}")
    return 0
