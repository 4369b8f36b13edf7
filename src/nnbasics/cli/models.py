"""``nnbasics models [NAME]``: the registered models with input shapes and parameter counts; one model's layers.

A model's size depends on its data (an MLP's ``in_features``, a character model's vocabulary),
so the listing builds each model on an example: the dataset ``nnbasics train`` would most
often give it (Fashion-MNIST for image models and MLPs, a 65-character vocabulary for the
character models) and says so. ``nnbasics models mlp --dataset spiral`` builds it as
``nnbasics train spiral --model mlp`` would.
"""

from __future__ import annotations

import json

from ._command import Command
from ._data import dataset_names, model_names
from ._options import Option, UsageError
from ._parser import unknown_name

#: The example each model is built on when no --dataset is given (sizes it requires, and their source).
EXAMPLES = {
    "mlp": ({"in_features": 784, "out_features": 10, "hidden": [64, 64]}, "Fashion-MNIST, hidden 64 64"),
    "logreg": ({"in_features": 784, "out_features": 10}, "Fashion-MNIST"),
    "char-lstm": ({"vocab_size": 65}, "a 65-character vocabulary (tinyshakespeare)"),
    "char-gru": ({"vocab_size": 65}, "a 65-character vocabulary (tinyshakespeare)"),
    "char-rnn": ({"vocab_size": 65}, "a 65-character vocabulary (tinyshakespeare)"),
    "sequence-classifier": ({"num_classes": 2, "vocab_size": 1000}, "1,000 tokens, 2 classes"),
}

OPTIONS = [
    Option("name", ("name",), {"nargs": "?", "metavar": "NAME", "help": "describe this model: its layers, output "
                                                                        "shapes and parameters"}),
    Option("dataset", ("--dataset",), {"metavar": "DATASET", "help": "build NAME as `nnbasics train DATASET --model "
                                                                     "NAME` would (default: the example)"}),
    Option("json", ("--json",), {"action": "store_true", "help": "print JSON instead of a table"}, False),
]


def example_input(spec) -> tuple:
    """One batch-of-one input shape for the model of ``spec``, and its dtype name."""
    if spec.get("vocab_size") is not None:
        return (1, 10), "int64"  # token ids, 10 steps
    if spec.get("in_features") is not None:
        f = spec["in_features"]
        return (1, *(f if isinstance(f, list) else [f])), "float32"
    if spec.get("image_size") is not None:
        return (1, spec.get("in_channels", 1), spec["image_size"], spec["image_size"]), "float32"
    return None, None


def build_example(name, dataset=None):
    """``(model, input_shape, dtype, on)``: ``name`` built on its example (or as ``train DATASET`` builds it)."""
    from ..models import build_model
    from ..models.registry import REQUIRED, model_parameters

    if dataset is not None:
        return _build_for_dataset(name, dataset)
    kwargs, on = EXAMPLES.get(name, ({}, "its defaults"))
    if any(v is REQUIRED and k not in kwargs for k, v in model_parameters(name).items()):
        return None, None, None, "sizes from a spec"
    model = build_model(name, **kwargs, rng=0)
    shape, dtype = example_input(model.spec)
    return model, shape, dtype, on


def _build_for_dataset(name, dataset):
    from ..models.spec import SpecError, build_from_spec
    from ._data import load_split
    from .train import DEFAULTS, model_spec

    if dataset not in dataset_names():
        raise UsageError("--dataset: " + unknown_name("dataset", dataset, dataset_names()))
    config = {**DEFAULTS, "dataset": dataset, "model": name, "download": False}
    info, X, y = load_split(config, "train", 64 if dataset != "hihello" else None)
    try:
        model = build_from_spec(model_spec(config, X, y, info), rng=0)
    except (SpecError, TypeError, ValueError) as e:
        raise UsageError(f"model {name!r} on {dataset}: {e}") from None
    return model, (1, *X.shape[1:]), X.dtype.name, dataset


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _row(name, description, dataset=None) -> dict:
    model, shape, dtype, on = build_example(name, dataset)
    if shape is not None:
        shape = ["N", "T"] if dtype == "int64" and len(shape) == 2 else ["N", *shape[1:]]  # token ids: any length
    return {"name": name, "description": description, "input_shape": shape,
            "parameters": None if model is None else _count(model), "built_on": on}


def _describe(name, dataset) -> int:
    import numpy as np

    if name not in model_names():
        raise UsageError(unknown_name("model", name, model_names()))
    from ..models.registry import model_parameters

    model, shape, dtype, on = build_example(name, dataset)
    print(f"{name}: {dict(_descriptions())[name]}")
    print("settings (spec keys, default): " + ", ".join(f"{k}={v!r}" for k, v in model_parameters(name).items()))
    if model is None:
        print(f"({name} {on}; see `nnbasics models --help`)")
        return 0
    print(f"built on {on}:")
    model.summary(shape, dtype=np.dtype(dtype))
    return 0


def _descriptions() -> dict:
    from ..models import available_models

    return available_models()


def run(args) -> int:
    """Print every model (name, input shape, parameters, description), or one model's summary."""
    if args.name is not None:
        if args.json:
            if args.name not in model_names():
                raise UsageError(unknown_name("model", args.name, model_names()))
            print(json.dumps(_row(args.name, _descriptions()[args.name], args.dataset), indent=2))
            return 0
        return _describe(args.name, args.dataset)
    if args.dataset is not None:
        raise UsageError("--dataset describes one model: give its NAME too, e.g. `nnbasics models mlp --dataset "
                         "spiral`.")
    rows = [_row(n, d) for n, d in _descriptions().items()]
    if args.json:
        print(json.dumps({r.pop("name"): r for r in rows}, indent=2))
        return 0
    shapes = ["(" + ", ".join(map(str, r["input_shape"])) + ")" if r["input_shape"] else "-" for r in rows]
    counts = [f"{r['parameters']:,}" if r["parameters"] is not None else "-" for r in rows]
    w = [max(len(r["name"]) for r in rows), max(map(len, shapes)), max(map(len, counts))]
    print(f"{'model':<{w[0]}}  {'input':<{w[1]}}  {'parameters':>{max(w[2], 10)}}  description")
    for r, shape, count in zip(rows, shapes, counts):
        print(f"{r['name']:<{w[0]}}  {shape:<{w[1]}}  {count:>{max(w[2], 10)}}  {r['description']}")
    notes = {}
    for r in rows:
        if r["built_on"] != "its defaults":
            notes.setdefault(r["built_on"], []).append(r["name"])
    print("Parameters counted with each model's defaults, except " + "; ".join(
        f"{', '.join(names)}: {on}" for on, names in notes.items()) + ". (N, T): token ids. "
        "`nnbasics models NAME` shows a model's layers.")
    return 0


COMMAND = Command(
    "models", run, OPTIONS, order=80,
    help="the registered models: input shapes, parameter counts; one model's layers",
    description="List the model names `nnbasics train --model` and spec files accept, with the input each takes "
                "and its parameter count, or describe one model (NAME): its settings and a layer-by-layer "
                "summary (output shapes, parameters).",
)
