"""``nnbasics train-lm``: a character-level language model trained on any text file, then a sample of it."""

from __future__ import annotations

import json
from pathlib import Path

from ._command import Command
from ._config import resolve
from ._options import (
    BATCH_SIZE,
    DROPOUT,
    EPOCHS,
    LR,
    OUTPUT_DIR,
    SEED,
    TEMPERATURE,
    Option,
    UsageError,
    fraction,
    lower_dash,
    non_negative_int,
    plural,
    positive_float,
    positive_int,
)
from .train import CHAR_LMS

OPTIONS = [
    Option("text", ("text",), {"nargs": "?", "metavar": "TEXTFILE", "help": "a text file (any text; UTF-8 unless "
                                                                            "--encoding says otherwise)"}),
    Option("encoding", ("--encoding",), {"metavar": "NAME", "help": "the text file's encoding, e.g. latin-1 "
                                                                    "(default utf-8)"}, "utf-8"),
    Option("model", ("--model",), {"type": lower_dash, "choices": CHAR_LMS,
                                   "help": "char-lstm (default), char-gru, char-rnn"}, "char-lstm"),
    Option("embedding_dim", ("--embedding-dim",), {"type": positive_int, "metavar": "N",
                                                   "help": "embedding size (default: the model's, 64)"}, example=64),
    Option("hidden_size", ("--hidden-size",), {"type": positive_int, "metavar": "N",
                                               "help": "recurrent hidden size (default: the model's, 256)"}, example=256),
    Option("num_layers", ("--num-layers",), {"type": positive_int, "metavar": "N",
                                             "help": "stacked recurrent layers (default 1)"}, example=2),
    DROPOUT.but(help="dropout between recurrent layers"),
    Option("seq_len", ("--seq-len",), {"type": positive_int, "help": "BPTT window in characters (default 100)"}, 100),
    BATCH_SIZE.but(help="parallel streams (default 32)", default=32),
    Option("steps", ("--steps",), {"type": positive_int, "help": "stop after this many optimizer steps"}, example=2000),
    EPOCHS.but(help="stop after this many passes over the text (default 1 when no other stopping rule is given)",
               example=1),
    Option("time_budget", ("--time-budget",), {"type": positive_float, "metavar": "SECONDS",
                                               "help": "stop after this many seconds"}, example=300),
    LR.but(help="Adam learning rate (default 0.002)", default=2e-3),
    Option("clip", ("--clip",), {"type": positive_float, "help": "gradient-norm clipping (default 5)"}, 5.0),
    Option("val_fraction", ("--val-fraction",), {"type": fraction, "help": "held-out tail of the text (default 0.1)"},
           0.1),
    Option("eval_every", ("--eval-every",), {"type": positive_int, "help": "steps between validations (default 100)"},
           100),
    SEED.but(help="seed of the weights and offsets (default 0)"),
    Option("sample", ("--sample",), {"type": non_negative_int, "metavar": "N",
                                     "help": "characters to generate at the end (default 200; 0: none)"}, 200),
    TEMPERATURE.but(help="sampling temperature (default 0.8; 0: greedy)"),
    OUTPUT_DIR.but(help="run directory (default runs/TEXT-MODEL)"),
    Option("quiet", ("--quiet", "-q"), {"action": "store_true", "help": "no line per validation"}, False),
]


def run(args) -> int:
    """Train on TEXTFILE, write best/last checkpoints, history.json and config.json, print a sample."""
    import math

    from ..data.text import load_text
    from ..models.rnn import sample
    from ..training.tbptt import train_char_lm

    config = resolve(args, OPTIONS)
    if config["text"] is None:
        raise UsageError("give a TEXTFILE (positional or `text = ...` in --config), e.g. "
                         "/work/shared/data/tinyshakespeare.txt or any UTF-8 file.")
    try:
        text = load_text(config["text"], encoding=config["encoding"])
    except (OSError, ValueError) as e:  # the library's hint names its argument; the CLI's is a flag
        raise UsageError(str(e).replace("encoding='latin-1'", "--encoding latin-1")
                         .replace("load_text: ", "")) from None
    if config["steps"] is None and config["epochs"] is None and config["time_budget"] is None:
        config["epochs"] = 1
    spec = {"model": config["model"], **{k: config[k] for k in ("embedding_dim", "hidden_size", "num_layers",
                                                                  "dropout") if config[k] is not None}}
    out = Path(config["output"] or Path("runs") / f"{Path(config['text']).stem}-{config['model']}")
    print(f"training {config['model']} on {config['text']} ({len(text):,} characters) -> {out}", flush=True)
    try:
        run = train_char_lm(text, model=spec, seq_len=config["seq_len"], batch_size=config["batch_size"],
                            steps=config["steps"], epochs=config["epochs"], time_budget_s=config["time_budget"],
                            lr=config["lr"], clip=config["clip"], val_fraction=config["val_fraction"],
                            eval_every=config["eval_every"], rng=config["seed"], checkpoint_dir=out,
                            progress=None if config["quiet"] else True)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    history = {k: [None if isinstance(v, float) and not math.isfinite(v) else v for v in vs]
               for k, vs in run.history.items()}
    resolved = {**config, "model_spec": run.model.spec, "config": args.config, "output": str(out),
                "vocab_size": len(run.vocab), "steps_taken": run.steps, "stopped_by": run.stopped_by}
    (out / "history.json").write_text(json.dumps(history, allow_nan=False) + "\n")
    (out / "config.json").write_text(json.dumps(resolved, indent=2) + "\n")
    print(f"final: val_loss {run.val_loss:.4f} nats/char, perplexity {run.val_perplexity:.2f} after "
          f"{plural(run.steps, 'step')} ({run.stopped_by})")
    if config["sample"]:
        print("sample:")
        print(sample(run.model, run.vocab, text[0], config["sample"], temperature=config["temperature"],
                     rng=config["seed"]))
    print(f"wrote {out / 'best.safetensors'}, {out / 'last.safetensors'}, {out / 'history.json'}, "
          f"{out / 'config.json'}")
    return 0


COMMAND = Command(
    "train-lm", run, OPTIONS, config=True, order=50,
    help="train a character-level language model on any text file; sample from it",
    description="Train a character LSTM/GRU/RNN on TEXTFILE with truncated backpropagation through time "
                "(nnbasics.training.train_char_lm). The last --val-fraction of the text is held out. Prints the "
                "training and validation loss (nats/char) at every validation, writes best.safetensors, "
                "last.safetensors (weights, Adam state, vocabulary), history.json and config.json into the run "
                "directory, and ends with a sample. --config FILE.toml takes the same keys as the flags.",
)
