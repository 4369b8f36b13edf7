"""Character-level language model, quality run (issue 5, item 6): validation loss within a time budget.

Trains the issue's char-LSTM -- embedding 64, one LSTM layer of 256, sequence 100, batch 32,
Adam (lr 2e-3), gradient-norm clipping at 5 -- on Tiny Shakespeare with a 90/10 split
(the last 10% of the file is the validation text), by truncated BPTT with the state
carried across windows (:func:`nnbasics.training.tbptt.train_char_lm`), for a wall-clock
budget. Prints the validation-loss curve (nats/char) with wall times as it goes, then the
final validation loss on the whole validation text, a sample of generated text, and
markdown tables for BENCHMARKS.md.

Target: validation loss <= 1.6 nats/char within 15 minutes on 2 cores.

Usage::

    python bench/char_lm.py --minutes 15 --threads 2            # the quality run
    python bench/char_lm.py --minutes 1                         # a quick check that it works
    python bench/char_lm.py --minutes 15 --checkpoint-dir runs/shakespeare --json result.json
    python bench/char_lm.py --minutes 15 --checkpoint-dir runs/shakespeare --resume runs/shakespeare/last.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                            "tinyshakespeare.txt")
FALLBACK_DATA = "/work/shared/data/tinyshakespeare.txt"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="UTF-8 text file (default: ../shared/data/tinyshakespeare.txt)")
    p.add_argument("--minutes", type=float, default=15.0, help="training time budget in minutes (default 15)")
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps instead (default: budget only)")
    p.add_argument("--model", default="char-lstm", choices=["char-lstm", "char-gru", "char-rnn"])
    p.add_argument("--embedding", type=int, default=64, help="embedding size (default 64)")
    p.add_argument("--hidden", type=int, default=256, help="hidden size (default 256)")
    p.add_argument("--layers", type=int, default=1, help="recurrent layers (default 1)")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--seq-len", type=int, default=100, help="BPTT window (default 100)")
    p.add_argument("--batch-size", type=int, default=32, help="parallel streams (default 32)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--clip", type=float, default=5.0, help="gradient-norm clipping (default 5)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out tail of the text (default 0.1)")
    p.add_argument("--eval-every", type=int, default=200, help="steps between validation checks (default 200)")
    p.add_argument("--eval-chars", type=int, default=None,
                   help="periodic checks on the first N validation characters only (the final one uses all)")
    p.add_argument("--sample-length", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--prime", default="\n")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (sets OPENBLAS/OMP/MKL_NUM_THREADS before NumPy loads); default: BLAS's own")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-dir", default=None, help="write last/best checkpoints here")
    p.add_argument("--resume", metavar="CHECKPOINT", default=None,
                   help="continue an interrupted run from its checkpoint (e.g. runs/shakespeare/last.safetensors); "
                        "give the same data and settings; the time budget counts the time already spent")
    p.add_argument("--json", metavar="PATH", help="also write the curve and results as JSON to PATH")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import numpy as np

    from nnbasics.models.rnn import sample
    from nnbasics.training.tbptt import train_char_lm

    path = args.data or (DEFAULT_DATA if os.path.exists(DEFAULT_DATA) else FALLBACK_DATA)
    budget = args.minutes * 60.0
    print(f"char-level LM on {os.path.abspath(path)}")
    print(f"{args.model}: embedding {args.embedding}, {args.layers} layer(s) of {args.hidden}, seq {args.seq_len}, "
          f"batch {args.batch_size}, Adam lr {args.lr}, clip {args.clip}, val fraction {args.val_fraction}, "
          f"budget {args.minutes:g} min, threads {args.threads or 'BLAS default'}, seed {args.seed}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs", flush=True)
    print(f"{'step':>6}  {'epoch':>5}  {'wall s':>8}  {'train':>7}  {'val':>7}  {'ppl':>6}")

    def progress(rec):
        print(f"{rec['step']:>6}  {rec['epoch']:>5}  {rec['time_s']:8.1f}  {rec['train_loss']:7.4f}  "
              f"{rec['val_loss']:7.4f}  {rec['val_perplexity']:6.2f}", flush=True)

    spec = {"model": args.model, "embedding_dim": args.embedding, "hidden_size": args.hidden,
            "num_layers": args.layers, "dropout": args.dropout}
    t0 = time.perf_counter()
    run = train_char_lm(path=path, model=spec, seq_len=args.seq_len, batch_size=args.batch_size, steps=args.steps,
                        lr=args.lr, clip=args.clip, val_fraction=args.val_fraction, time_budget_s=budget,
                        eval_every=args.eval_every, eval_chars=args.eval_chars, rng=args.seed,
                        checkpoint_dir=args.checkpoint_dir, resume=args.resume, progress=progress)
    total = time.perf_counter() - t0
    h = run.history
    train_seconds = h["time_s"][-1]
    steps_per_s = run.steps / max(train_seconds, 1e-9)
    text = sample(run.model, run.vocab, args.prime, args.sample_length, temperature=args.temperature, rng=args.seed)

    print()
    print(f"final validation loss {run.val_loss:.4f} nats/char ({run.val_loss / np.log(2):.3f} bits/char, "
          f"perplexity {run.val_perplexity:.2f}) after {run.steps} steps, {h['epoch'][-1]} epoch(s), "
          f"{total / 60:.1f} min (stopped by {run.stopped_by}); target <= 1.6: "
          f"{'met' if run.val_loss <= 1.6 else 'NOT met'}")
    print()
    print(f"sample ({args.sample_length} characters, temperature {args.temperature}, prime {args.prime!r}):")
    print("-" * 72)
    print(text)
    print("-" * 72)
    print()
    print("| step | epoch | wall time (s) | train loss | val loss (nats/char) | val perplexity |")
    print("|---:|---:|---:|---:|---:|---:|")
    for i in range(len(h["step"])):
        tl = "" if math.isnan(h["train_loss"][i]) else f"{h['train_loss'][i]:.4f}"
        print(f"| {h['step'][i]} | {h['epoch'][i]} | {h['time_s'][i]:.1f} | {tl} | {h['val_loss'][i]:.4f} | "
              f"{h['val_perplexity'][i]:.2f} |")
    print()
    print("| model | params | steps | ms/step (incl. evals) | minutes | final val loss | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    n_params = sum(p.numel() for p in run.model.parameters())
    print(f"| {args.model} E{args.embedding} H{args.hidden}x{args.layers} | {n_params:,} | {run.steps} | "
          f"{1000 / steps_per_s:.0f} | {total / 60:.1f} | {run.val_loss:.4f} | <= 1.6 "
          f"{'met' if run.val_loss <= 1.6 else 'not met'} |")
    if args.json:
        out = {"args": vars(args), "history": {k: [None if isinstance(v, float) and math.isnan(v) else v for v in vs] for k, vs in h.items()},
               "final_val_loss": run.val_loss, "steps": run.steps, "seconds": total, "sample": text,
               "params": n_params, "stopped_by": run.stopped_by}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    return run


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
