"""``nnbasics predict``: the classes (or probabilities) a trained run gives the rows of a .npy or .csv file."""

from __future__ import annotations

from pathlib import Path

from ._command import Command
from ._data import class_names
from ._options import BATCH_SIZE, RUN, Option, UsageError, plural
from ._rundir import checkpoint_path, load_model, run_config

OPTIONS = [
    RUN,
    Option("input", ("input",), {"metavar": "INPUT", "help": "inputs: .npy or .csv"}),
    Option("proba", ("--proba",), {"action": "store_true", "help": "print class probabilities instead of labels"},
           False),
    Option("output", ("--output", "-o"), {"metavar": "FILE", "help": "write to FILE (.npy or .csv) instead of printing"}),
    BATCH_SIZE.but(help="batch size (default 256)", default=256),
]


def read_inputs(path: Path, in_shape):
    """The rows of ``path`` (.npy or .csv) as float32, reshaped to one sample's ``in_shape`` when it is known."""
    import numpy as np

    if not path.exists():
        raise UsageError(f"no input file {path}.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            X = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
        else:
            raise UsageError(f"INPUT must be a .npy or .csv file; got {path.name!r}.")
    except ValueError as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    X = np.asarray(X, dtype=np.float32)
    if in_shape is not None:
        shape = list(in_shape) if isinstance(in_shape, list) else [in_shape]
        if list(X.shape[1:]) != shape:
            if X.ndim >= 1 and int(np.prod(X.shape[1:])) == int(np.prod(shape)):
                X = X.reshape(len(X), *shape)
            else:
                raise UsageError(f"{path}: the model takes inputs of shape {tuple(shape)} per sample; the file holds "
                                 f"{tuple(X.shape[1:])}.")
    return X


def input_shape(model, run):
    """One sample's input shape: the spec's ``in_features``, else the run's dataset's (images: (C, H, W))."""
    from ..data.catalog import DATASETS

    spec = getattr(model, "spec", None) or {}
    if spec.get("model") == "ensemble" and spec.get("members"):
        spec = spec["members"][0]
    if spec.get("in_features") is not None:
        return spec["in_features"]
    info = DATASETS.get(run.get("dataset"))
    return None if info is None or info.input_shape is None else list(info.input_shape)


def run(args) -> int:
    """Predict every row of INPUT; print labels or probabilities, or write them to --output."""
    import numpy as np

    from ..training import predict

    path = checkpoint_path(args.run)
    model = load_model(path)
    run = run_config(path)
    X = read_inputs(Path(args.input), input_shape(model, run))
    try:
        logits = predict(model, X, batch_size=args.batch_size).astype(np.float64)
    except ValueError as e:
        raise UsageError(f"the model does not take these inputs: {e}") from None
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = np.concatenate([np.zeros_like(logits), logits], 1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    proba = e / e.sum(1, keepdims=True)
    result = proba if args.proba else proba.argmax(1)
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() == ".npy":
            np.save(out, result)
        else:
            np.savetxt(out, result, delimiter=",", fmt="%.6g" if args.proba else "%d")
        print(f"wrote {plural(len(result), 'prediction')} to {out}")
    elif args.proba:
        for row in result:
            print(",".join(f"{v:.6g}" for v in row))
    else:
        names = class_names(run.get("dataset"), proba.shape[1])
        print("\n".join(f"{int(v)}\t{names[int(v)]}" if names else str(int(v)) for v in result))
    return 0


COMMAND = Command(
    "predict", run, OPTIONS, order=40,
    help="predict the classes of the inputs in a .npy or .csv file",
    description="Load RUN and print one predicted label per input row, with its class name when the dataset has "
                "names (tab-separated), or class probabilities with --proba. "
                "INPUT is a .npy array (N, *input shape) or a .csv of N rows of comma-separated features "
                "(reshaped to the model's input shape).",
)
