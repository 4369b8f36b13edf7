"""``nnbasics train --members K``: an ensemble trained through ``train_ensemble``, its report and run directory."""

from __future__ import annotations

import json

from ._options import plural

__all__ = ["train_ensemble"]


def train_ensemble(config, args, member_spec, opt_kwargs, out, train, test) -> int:
    """K members through train_ensemble, then each member's epochs and the report; writes the run directory."""
    from ..training import save_checkpoint
    from ..training.ensemble import train_ensemble as _train
    from ..training.progress import format_logs
    from .train import resolved_config

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
    save_checkpoint(out / "model.safetensors", ensemble, extra={"cli_config": resolved, "report": report.to_dict()})
    (out / "history.json").write_text(json.dumps({"members": ensemble.histories}, allow_nan=True) + "\n")
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    (out / "config.json").write_text(json.dumps(resolved, indent=2) + "\n")
    print(f"wrote {out / 'model.safetensors'}, {out / 'history.json'}, {out / 'report.json'}, {out / 'config.json'}")
    return 0
