"""``nnbasics evaluate``: loss, accuracy, top-k and the confusion matrix of a trained run on a dataset split."""

from __future__ import annotations

import json

from ._command import Command
from ._data import class_names, dataset_names, load_split
from ._files import check_output_file, load_model, write_output_file
from ._options import BATCH_SIZE, DATA_ROOT, RUN, SEED, TOP_K, Option, UsageError, plural, positive_int
from ._parser import unknown_name
from ._rundir import open_run

OPTIONS = [
    RUN,
    Option("dataset", ("dataset",), {"nargs": "?", "metavar": "DATASET",
                                     "help": "dataset (default: the one the run trained on)"}),
    Option("split", ("--split",), {"choices": ("train", "test"), "help": "split (default test)"}, "test"),
    SEED.but(help="seed of a generated dataset (default: the run's)", default=None),
    Option("n", ("--n",), {"type": positive_int, "help": "samples of a generated dataset (default: the run's)"},
           example=500),
    DATA_ROOT,
    BATCH_SIZE.but(help="batch size (default 256)", default=256),
    TOP_K.but(help="also report top-K accuracy (default: top-5 when there are more than 5 classes)"),
    Option("json", ("--json",), {"metavar": "FILE", "help": "also write the results as JSON to FILE"}),
]


def _config(args, run) -> dict:
    """The run's training settings, with the dataset, seed and data root this evaluation asks for."""
    from .train import DEFAULTS

    config = {**DEFAULTS, **{k: v for k, v in run.config.items() if k in DEFAULTS}}
    config["dataset"] = args.dataset or run.config.get("dataset")
    if config["dataset"] is None:
        raise UsageError(f"give a DATASET: {run.checkpoint} records no dataset; choose from "
                         f"{', '.join(dataset_names())}.")
    if config["dataset"] not in dataset_names():
        raise UsageError(unknown_name("dataset", config["dataset"], dataset_names()))
    if args.dataset and args.dataset != run.config.get("dataset"):  # another dataset: its own sizes
        config["n_train"] = config["n_test"] = None
    if args.seed is not None:
        config["seed"] = args.seed
    if args.data_root:
        config["data_root"] = args.data_root
    return config


def run(args) -> int:
    """Evaluate the run's model; print the metrics and the confusion matrix; optionally write them as JSON."""
    import numpy as np

    from ..training import evaluate, predict
    from ..training.metrics import confusion_matrix, per_class_accuracy, top_k_accuracy

    if args.json:
        check_output_file(args.json, "--json")
    run_ = open_run(args.run)
    path = run_.checkpoint
    config = _config(args, run_)
    n = args.n or config.get("n_test" if args.split == "test" else "n_train")
    _, X, y = load_split(config, args.split, n)
    model = load_model(path)
    from ._dryrun import check_fits

    check_fits(model, X[:args.batch_size], y[:args.batch_size], what=f"dataset {config['dataset']!r}",
               fix="Evaluate it on the dataset it was trained on.", labels=y)
    try:
        result = evaluate(model, (X, y), loss="cross_entropy", metrics=("accuracy",), batch_size=args.batch_size)
        logits = predict(model, X, batch_size=args.batch_size)
    except ValueError as e:
        raise UsageError(f"the model does not fit dataset {config['dataset']!r}: {e}") from None
    n_classes = max(int(logits.shape[1]) if logits.ndim == 2 and logits.shape[1] > 1 else 2, int(y.max()) + 1)
    cm = confusion_matrix(logits, y, n_classes)
    per_class = per_class_accuracy(logits, y, n_classes)
    k = args.top_k or (5 if logits.ndim == 2 and logits.shape[1] > 5 else None)
    if k is not None and not (logits.ndim == 2 and 1 <= k <= logits.shape[1]):
        raise UsageError(f"--top-k {k}: the model scores {logits.shape[1] if logits.ndim == 2 else 1} classes; "
                         f"choose K from 1 to that.")
    top_k = None if k is None else top_k_accuracy(logits, y, k=k)
    print(f"{path} on {config['dataset']} ({args.split}, {plural(len(y), 'sample')})")
    print(f"loss {result['loss']:.4f}  accuracy {result['accuracy']:.4f}"
          + ("" if top_k is None else f"  top-{k} accuracy {top_k:.4f}"))
    print("confusion matrix (rows: true class, columns: predicted) and per-class accuracy:")
    width = max(len(str(int(cm.max()))), len(str(n_classes - 1))) + 1
    names = class_names(config["dataset"], n_classes)
    print(" " * 6 + "".join(f"{j:>{width}}" for j in range(n_classes)) + "  accuracy" + ("  class" if names else ""))
    for i, row in enumerate(np.asarray(cm)):
        acc = "     -" if np.isnan(per_class[i]) else f"{per_class[i]:.4f}"
        print(f"{i:>5} " + "".join(f"{int(v):>{width}}" for v in row) + f"  {acc:>8}" + (f"  {names[i]}" if names else ""))
    if args.json:
        payload = {"checkpoint": str(path), "dataset": config["dataset"], "split": args.split, "n_samples": len(y),
                   "loss": float(result["loss"]), "accuracy": float(result["accuracy"]),
                   "confusion_matrix": np.asarray(cm).astype(int).tolist(),
                   "per_class_accuracy": [None if np.isnan(a) else float(a) for a in per_class]}
        if names:
            payload["classes"] = list(names)
        if top_k is not None:
            payload[f"top{k}_accuracy"] = float(top_k)
        write_output_file(args.json, (json.dumps(payload, indent=2) + "\n").encode(), "--json")
    return 0


COMMAND = Command(
    "evaluate", run, OPTIONS, order=30,
    help="loss, accuracy and confusion matrix of a trained model on a dataset split",
    description="Load RUN (a directory written by `nnbasics train`, or a .safetensors checkpoint) and "
                "evaluate it on a dataset split (default: the run's dataset, test split, same seed).",
)
