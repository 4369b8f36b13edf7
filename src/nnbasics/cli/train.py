"""``nnbasics train``: a registered model or a spec file trained on a dataset; checkpoint, history and config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._command import Command
from ._config import resolve
from ._data import dataset_names, init_names, load_split, model_names
from ._options import (
    BATCH_SIZE,
    DATA_ROOT,
    DROPOUT,
    EPOCHS,
    LR,
    OUTPUT_DIR,
    SEED,
    Option,
    UsageError,
    defaults_of,
    lower,
    non_negative_float,
    positive_int,
)
from ._parser import unknown_name

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "silu", "swish",
               "mish", "softplus", "softsign", "hardtanh", "relu6", "hardsigmoid")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
PROGRESS = ("auto", "bar", "epoch", "none")
CHAR_LMS = ("char-lstm", "char-gru", "char-rnn")

# Config-file keys are the dests (or the flags without the leading dashes); the same type and choices check both.
OPTIONS = [
    Option("dataset", ("dataset",), {"nargs": "?", "metavar": "DATASET",
                                     "help": "dataset name (see `nnbasics datasets`)"}),
    Option("model", ("--model",), {"metavar": "NAME", "help": "registered model (see `nnbasics models`; default mlp)"},
           "mlp"),
    Option("spec", ("--spec",), {"metavar": "FILE", "help": "model spec file (.toml/.json; replaces --model)"}),
    Option("hidden", ("--hidden",), {"type": positive_int, "nargs": "+", "metavar": "N",
                                     "help": "hidden-layer sizes of an MLP (default 64 64)"}, example=64),
    Option("activation", ("--activation",), {"type": lower, "choices": ACTIVATIONS, "metavar": "NAME",
                                             "help": "hidden activation: " + ", ".join(ACTIVATIONS)}),
    Option("init", ("--init",), {"type": lower, "metavar": "NAME",
                                 "help": "weight init: default, zeros, normal, small, lecun, xavier, he, ... "
                                         "('xavier' is Glorot's; the lecture's 'Xavier' is 'lecun')"}),
    DROPOUT.but(help="dropout rate after each hidden layer"),
    Option("optimizer", ("--optimizer",), {"type": lower, "choices": OPTIMIZERS, "help": "optimizer (default adam)"},
           "adam"),
    LR.but(help="learning rate (default 0.01)", default=0.01),
    Option("momentum", ("--momentum",), {"type": non_negative_float, "help": "SGD momentum (default 0)"}, example=0.9),
    Option("weight_decay", ("--weight-decay",), {"type": non_negative_float, "help": "weight decay (default 0)"}, example=1e-4),
    EPOCHS.but(help="epochs (default 20)", default=20),
    BATCH_SIZE.but(help="batch size (default 32)", default=32),
    SEED.but(help="seed of the weights, data and shuffling (default 0)"),
    Option("n_train", ("--n-train",), {"type": positive_int, "metavar": "N",
                                       "help": "training samples: a generated dataset's size, or a class-balanced "
                                               "random slice of a file dataset (e.g. 1000 of Fashion-MNIST)"}, example=1000),
    Option("n_test", ("--n-test",), {"type": positive_int, "metavar": "N",
                                     "help": "test samples (as --n-train; default: the whole test split)"}, example=1000),
    DATA_ROOT,
    Option("download", ("--download",), {"action": argparse.BooleanOptionalAction,
                                         "help": "download missing dataset files (default yes)"}, True),
    Option("members", ("--members",), {"type": positive_int, "metavar": "K",
                                       "help": "train an ensemble of K members, seeds SEED..SEED+K-1, in parallel "
                                               "(default 1: one model)"}, 1),
    Option("combine", ("--combine",), {"type": lower, "choices": ("mean", "vote", "geomean", "logit_sum"),
                                       "help": "how an ensemble combines its members (default mean)"}, "mean"),
    Option("executor", ("--executor",), {"type": lower, "choices": ("process", "serial", "thread"),
                                         "help": "where ensemble members train: process (a local pool sized to the "
                                                 "machine; default), serial, thread"}, "process"),
    OUTPUT_DIR.but(help="run folder (default runs/DATASET-MODEL, numbered -2, -3... if taken)"),
    Option("progress", ("--progress",), {"type": lower, "choices": PROGRESS,
                                         "help": "auto (bar on a terminal, else a line per epoch), bar, epoch, none"},
           "auto"),
]
DEFAULTS = defaults_of(OPTIONS)


def resolve_config(args) -> dict:
    """Defaults < --config file < flags, with the dataset, model and init names checked."""
    config = resolve(args, OPTIONS)
    if config["dataset"] is None:
        raise UsageError(f"give a DATASET (positional or `dataset = ...` in --config); choose from "
                         f"{', '.join(dataset_names())}.")
    if config["dataset"] not in dataset_names():
        raise UsageError(unknown_name("dataset", config["dataset"], dataset_names()))
    if config["spec"] is None and config["model"] not in model_names():
        raise UsageError("--model: " + unknown_name("model", config["model"], model_names()))
    if config["init"] is not None and config["init"] not in init_names():
        raise UsageError("--init: " + unknown_name("init", config["init"], init_names()))
    return config


def model_spec(config, X, y, info) -> dict:
    """The spec to build: --spec file, or --model with the flags it takes, completed from the data."""
    from ..models.registry import model_parameters
    from ..models.spec import SpecError, load_spec

    if config["spec"] is not None:
        try:
            spec = load_spec(Path(config["spec"]))
        except (OSError, SpecError, TypeError) as e:
            raise UsageError(f"--spec: {e}") from None
    else:
        spec = {"model": config["model"]}
    if "layers" in spec:
        return spec
    name = spec.get("model", spec.get("name"))
    try:
        params = model_parameters(name)
    except ValueError as e:
        raise UsageError(f"--spec: {e}") from None
    if name in CHAR_LMS:
        raise UsageError(f"model {name!r} is a character language model; train it on a text file with "
                         f"`nnbasics train-lm TEXTFILE --model {name}`.")
    flags = {k: config[k] for k in ("hidden", "activation", "init", "dropout") if config[k] is not None}
    not_taken = [k for k in flags if k not in params]
    if not_taken:
        raise UsageError(f"model {name!r} does not take --{not_taken[0]}; its settings are: {', '.join(params)}.")
    spec.update(flags)
    if "hidden" in params and "hidden" not in spec:
        spec["hidden"] = [64, 64]
    n_classes = info.num_classes or int(y.max()) + 1
    shape = list(X.shape[1:])
    square = len(shape) == 3 and shape[1] == shape[2]
    derived = {"in_features": shape[0] if len(shape) == 1 else shape, "out_features": n_classes,
               "num_classes": n_classes, "in_channels": shape[0] if len(shape) == 3 else None,
               "image_size": shape[1] if square else None}
    for k, v in derived.items():
        if k in params and k not in spec and v is not None:
            spec[k] = v
    return spec


def progress_mode(choice):
    """``--progress`` as ``fit`` takes it: ``auto`` is a bar on a terminal with tqdm, else a line per epoch."""
    if choice == "auto":
        try:
            import tqdm  # noqa: F401

            has_tqdm = True
        except ImportError:
            has_tqdm = False
        return "bar" if has_tqdm and sys.stderr.isatty() else "epoch"
    return False if choice == "none" else choice


def resolved_config(config, args, spec, out) -> dict:
    """The settings as run (config.json): the flags, the model's spec, and the values the model was built with."""
    resolved = {**config, "model_spec": spec, "config": args.config, "output": str(out)}
    for k in ("hidden", "activation", "init", "dropout"):
        if resolved[k] is None and k in spec:
            resolved[k] = spec[k]
    return resolved


def _note_sizes(config, info, split, n, got) -> None:
    """Say so when a dataset gives another number of samples than --n-train/--n-test asked for."""
    if not n or n == got:
        return
    flag = "--n-train" if split == "train" else "--n-test"
    if info.kind == "file":
        why = f"its {split} split has {got:,}; using all of them"
    elif info.num_classes and got % info.num_classes == 0 and got < n:
        why = (f"it makes the same number of samples per class ({info.num_classes} classes), so a multiple of "
               f"{info.num_classes}")
    else:
        why = "it makes a fixed number"
    print(f"note: {flag} {n:,}: {config['dataset']} gives {got:,} samples ({why}).", file=sys.stderr)


def prepare(config, spec=None) -> dict:
    """Everything ``train`` needs, checked, before anything is written: data, model, optimizer.

    ``spec``: the model spec to build (``--resume``: the run's own); default from the settings and data.
    The model runs one batch (in eval mode, under no_grad) so that a model that does not fit the
    data is one message naming the layer, not a traceback after the output folder was made.
    """
    from ..models.spec import SpecError, build_from_spec
    from ..training.ensemble import make_optimizer
    from ._dryrun import check_fits

    info, X, y = load_split(config, "train", config["n_train"])
    if info.task != "classification":
        raise UsageError(f"train handles classification datasets; {config['dataset']!r} is a {info.task} task.")
    _, Xt, yt = load_split(config, "test", config["n_test"])
    _note_sizes(config, info, "train", config["n_train"], len(X))
    _note_sizes(config, info, "test", config["n_test"], len(Xt))
    spec = model_spec(config, X, y, info) if spec is None else spec
    try:
        model = build_from_spec(spec, rng=config["seed"])
    except (SpecError, TypeError, ValueError) as e:
        raise UsageError(f"--spec: {e}" if config["spec"] else str(e)) from None
    fix = (f"Check the sizes in {config['spec']}." if config["spec"] else
           f"Choose a --model for {config['dataset']} samples of shape {tuple(X.shape[1:])} (`nnbasics models`).")
    check_fits(model, X[:config["batch_size"]], y[:config["batch_size"]], what=f"{config['dataset']}", fix=fix,
               labels=y)
    opt_kwargs = {k: config[k] for k in ("momentum", "weight_decay") if config[k] is not None}
    try:
        optimizer = make_optimizer(config["optimizer"], model.parameters(), config["lr"], **opt_kwargs)
    except (TypeError, ValueError) as e:
        raise UsageError(f"--optimizer {config['optimizer']}: {e}") from None
    return {"config": config, "info": info, "train": (X, y), "test": (Xt, yt), "spec": spec, "model": model,
            "optimizer": optimizer, "opt_kwargs": opt_kwargs}


def print_architecture(model, X) -> None:
    """The model's layers, output shapes and parameter count (as Keras prints before training)."""
    import numpy as np

    print(model.summary((1, *X.shape[1:]), dtype=np.float32 if X.dtype.kind == "f" else X.dtype, print_fn=None))


def run(args) -> int:
    """Train one model (or, with --members, an ensemble), saving the run folder after every epoch."""
    from ._ensemble import unfinished_ensemble
    from ._rundir import check_output, default_output
    from ._train_run import resume_config, resumed_settings, train_and_save

    if args.resume is not None:
        partial = unfinished_ensemble(args.resume)
        if partial is not None:  # an ensemble stopped between members: train the missing ones
            config = resumed_settings(args, partial[0], ("progress", "data_root", "download"))
            job = prepare(config, spec=config["model_spec"]["members"][0])
            return train_and_save(job, args, Path(args.resume), finished=partial[1])
        config, run_, done = resume_config(args)
        job = prepare(config, spec=config["model_spec"])
        return train_and_save(job, args, run_.folder, resume=(run_, done))
    config = resolve_config(args)
    if config["output"] is not None:  # an explicit folder is checked before any data is loaded
        out = check_output(config["output"], overwrite=args.overwrite)
    job = prepare(config)
    if config["output"] is None:  # the default is numbered (runs/spiral-mlp-2), never replaced
        out = check_output(default_output(Path("runs") / f"{config['dataset']}-{job['spec'].get('model', 'layers')}"))
    return train_and_save(job, args, out)


def _add_actions(p) -> None:
    """Flags of this invocation only (not settings: not in --config, not stored)."""
    p.add_argument("--resume", metavar="RUN", default=None,
                   help="continue the run in folder RUN from its last saved epoch, with its own settings, to "
                        "--epochs (default: the run's); bit-identical to a run that was never stopped. An ensemble "
                        "(--members) trains the members that had not finished")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --output (default: refuse; a default output is numbered)")


COMMAND = Command(
    "train", run, OPTIONS, config=True, order=20, add_arguments=_add_actions,
    help="train a model on a dataset; write checkpoint, history and config to --output",
    description="Train a registered model (--model) or a spec file (--spec) on a dataset. Prints the architecture, "
                "then the loss and accuracy of every epoch. After every epoch the run folder is saved as one "
                "unit: last.safetensors (weights, optimizer, random streams: what --resume needs), "
                "best.safetensors (lowest validation loss), history.json, config.json and manifest.json; at the "
                "end (or on Ctrl-C) history.png and history.html. --config FILE.toml takes the same keys as the "
                "flags (hidden = [64, 64], batch_size = 16...); flags given on the command line win.",
)
