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
    defaults_of,
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
    OUTPUT_DIR.but(help="run folder (default runs/TEXT-MODEL, numbered -2, -3... if taken)"),
    Option("quiet", ("--quiet", "-q"), {"action": "store_true", "help": "no line per validation"}, False),
]
DEFAULTS = defaults_of(OPTIONS)


#: Settings --resume may change: when to stop, how it reports, the sample at the end, where the text is.
RESUMABLE = ("text", "encoding", "steps", "epochs", "time_budget", "eval_every", "quiet", "sample", "temperature")


def _resume_config(args) -> tuple:
    """``(settings, run)`` for ``train-lm --resume RUN``: the run's own settings; only RESUMABLE ones may change."""
    from ._rundir import open_run

    run_ = open_run(args.resume, command="train-lm")
    saved = run_.config
    if not saved.get("text_path") and not saved.get("text"):
        raise UsageError(f"{args.resume} stores no training settings (config.json), so it cannot be resumed here.")
    if args.config or args.overwrite:
        raise UsageError("--resume continues a run with its own settings in its own folder; drop --config and "
                         "--overwrite.")
    given = {k: v for k, v in vars(args).items() if k in DEFAULTS}
    if given.get("output") is not None and Path(given.pop("output")).resolve() != Path(args.resume).resolve():
        raise UsageError(f"--resume continues the run in its own folder {args.resume}; drop --output.")
    changed = [k for k, v in given.items() if k not in RESUMABLE and v != saved.get(k)]
    if changed:
        listed = ", ".join(f"--{k.replace('_', '-')} (the run's: {saved.get(k)!r})" for k in changed)
        raise UsageError(f"--resume continues the run with its own settings; these differ: {listed}. Drop them, or "
                         "start a new run with --output.")
    config = {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS}, **given}
    if "text" not in given and saved.get("text_path"):
        config["text"] = saved["text_path"]
    config["output"] = str(run_.folder)
    return config, run_


def _config(args):
    """``(settings, resume checkpoint or None, output folder)``, every check done before the text is read."""
    from ._rundir import check_output, default_output

    if args.resume is not None:
        config, run_ = _resume_config(args)
        return config, run_, Path(config["output"])
    config = resolve(args, OPTIONS)
    if config["text"] is None:
        raise UsageError("give a TEXTFILE (positional or `text = ...` in --config), e.g. "
                         "/work/shared/data/tinyshakespeare.txt or any UTF-8 file.")
    if config["output"] is not None:
        out = check_output(config["output"], overwrite=args.overwrite)
    else:
        out = check_output(default_output(Path("runs") / f"{Path(config['text']).stem}-{config['model']}"))
    return config, None, out


def run(args) -> int:
    """Train on TEXTFILE, saving the run folder at every validation; print a sample at the end."""
    from ..data.text import load_text
    from ..training.runfolder import RunFolder, RunFolderError
    from ._train_run import remove_if_unused, replaced_parts

    config, resume, out = _config(args)
    try:
        text = load_text(config["text"], encoding=config["encoding"])
    except (OSError, ValueError) as e:  # the library's hint names its argument; the CLI's is a flag
        raise UsageError(str(e).replace("encoding='latin-1'", "--encoding latin-1")
                         .replace("load_text: ", "")) from None
    if config["steps"] is None and config["epochs"] is None and config["time_budget"] is None:
        config["epochs"] = 1
    config["text_path"] = str(Path(config["text"]).resolve())
    created = not out.exists()
    try:
        with RunFolder(out).lock() as folder:
            return _train(config, text, folder, resume, () if resume else replaced_parts(out))
    except RunFolderError as e:
        raise UsageError(str(e)) from None
    finally:
        if created:
            remove_if_unused(out)


def _train(config, text, folder, resume, replace) -> int:

    from ..models.rnn import sample
    from ..training.tbptt import train_char_lm
    from ._saver import RunWriter
    from ._train_run import disk_error

    out = folder.path
    spec = {"model": config["model"], **{k: config[k] for k in ("embedding_dim", "hidden_size", "num_layers",
                                                                  "dropout") if config[k] is not None}}
    resolved = {**config, "output": str(out)}
    writer = RunWriter(folder, "train-lm", resolved, replace=replace)
    history = {}
    if resume is not None:
        history = json.loads(folder.read_bytes("history.json"))

    def on_checkpoint(files, rec):
        for k, v in rec.items():
            history.setdefault(k, []).append(v)
        writer.commit(files, history, {"step": rec["step"], "epoch": rec["step"]})

    verb = "resuming" if resume else "training"
    print(f"{verb} {config['model']} on {config['text']} ({len(text):,} characters) -> {out}", flush=True)
    title = f"{config['model']} on {Path(config['text']).name}"
    try:
        run = train_char_lm(text, model=spec, seq_len=config["seq_len"], batch_size=config["batch_size"],
                            steps=config["steps"], epochs=config["epochs"], time_budget_s=config["time_budget"],
                            lr=config["lr"], clip=config["clip"], val_fraction=config["val_fraction"],
                            eval_every=config["eval_every"], rng=config["seed"], on_checkpoint=on_checkpoint,
                            resume=None if resume is None else str(resume.checkpoint),
                            progress=None if config["quiet"] else True)
    except KeyboardInterrupt:
        return _interrupted(writer, out, title)
    except BrokenPipeError:  # `| head` closed stdout: main() stops quietly
        raise
    except OSError as e:
        raise disk_error(e, out, writer) from None
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    writer.config = {**resolved, "model_spec": run.model.spec, "vocab_size": len(run.vocab), "steps_taken": run.steps,
                     "stopped_by": run.stopped_by}
    try:
        plots = writer.finish(title)
    except BrokenPipeError:  # `| head` closed stdout: main() stops quietly
        raise
    except OSError as e:
        raise disk_error(e, out, writer) from None
    print(f"final: val_loss {run.val_loss:.4f} nats/char, perplexity {run.val_perplexity:.2f} after "
          f"{plural(run.steps, 'step')} ({run.stopped_by})")
    if config["sample"]:
        print("sample:")
        print(sample(run.model, run.vocab, text[0], config["sample"], temperature=config["temperature"],
                     rng=config["seed"]))
    names = ["best.safetensors", "last.safetensors", "history.json", "config.json", *plots]
    print(f"wrote {', '.join(str(out / n) for n in names)}")
    return 0


def _interrupted(writer, out, title) -> int:
    import sys

    try:
        writer.finish(title, interrupted=True)
    except (KeyboardInterrupt, OSError):
        pass
    if writer.committed:
        print(f"\ninterrupted: {out} holds the run up to step {writer.epoch} (last.safetensors, best.safetensors, "
              f"history.json). Continue with: nnbasics train-lm --resume {out}", file=sys.stderr)
    else:
        print("\ninterrupted before the first validation; nothing was saved.", file=sys.stderr)
    return 130


def _add_actions(p) -> None:
    p.add_argument("--resume", metavar="RUN", default=None,
                   help="continue the run in folder RUN from its last validation, with its own settings (the "
                        "stopping rules may change); the same losses and weights as a run never stopped")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --output (default: refuse; a default output is numbered)")



COMMAND = Command(
    "train-lm", run, OPTIONS, config=True, order=50, add_arguments=_add_actions,
    help="train a character-level language model on any text file; sample from it",
    description="Train a character LSTM/GRU/RNN on TEXTFILE with truncated backpropagation through time "
                "(nnbasics.training.train_char_lm). The last --val-fraction of the text is held out. Prints the "
                "training and validation loss (nats/char) at every validation and saves the run folder then, as "
                "one unit: best.safetensors, last.safetensors (weights, Adam state, vocabulary, the position in "
                "the text: what --resume needs), history.json, config.json and manifest.json; history.png and "
                "history.html at the end (or on Ctrl-C). Ends with a sample. --config FILE.toml takes the same keys "
                "as the flags.",
)
