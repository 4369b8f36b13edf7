"""Speed: one training step of a character-level LSTM, nnbasics vs PyTorch CPU (issue 5, item 6).

The model (the same in both libraries, from the same initial weights)::

    Embedding(vocab, embed) -> LSTM(embed, hidden) -> Linear(hidden, vocab)

and one step is: forward over a (seq, batch) block of character ids (time-major, PyTorch's
default layout), cross-entropy over all seq * batch predictions, backward, gradient clipping
to norm 5 and an Adam update. The two implementations alternate inside each round (the
order rotates), so a burst of load on a shared machine hits both alike; the table reports
the median over rounds and the median of the per-round ratios.

Usage::

    python bench/lstm_step.py                        # vocab 65, embed 64, hidden 256, seq 100, batch 32
    python bench/lstm_step.py --threads 1 --rounds 9 --steps 10
    python bench/lstm_step.py --hidden 512 --seq 50 --json results.json
    python bench/lstm_step.py --profile              # cProfile of the nnbasics step instead
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, default=65, help="number of characters (default 65, tiny Shakespeare)")
    p.add_argument("--embed", type=int, default=64, help="embedding size (default 64)")
    p.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (default 256)")
    p.add_argument("--layers", type=int, default=1, help="LSTM layers (default 1)")
    p.add_argument("--seq", type=int, default=100, help="sequence length (default 100)")
    p.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--clip", type=float, default=5.0, help="max gradient norm (default 5)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per implementation (default 7)")
    p.add_argument("--steps", type=int, default=5, help="steps per timed round (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per implementation first (default 3)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS and torch threads (sets OPENBLAS/OMP/MKL_NUM_THREADS before NumPy loads)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the data (default 0)")
    p.add_argument("--profile", action="store_true", help="print a cProfile of nnbasics steps and exit")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH ('-' for stdout)")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------- models
def make_nnbasics(args):
    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics import nn, optim

    emb = nn.Embedding(args.vocab, args.embed, rng=args.seed)
    lstm = nn.LSTM(args.embed, args.hidden, num_layers=args.layers, rng=args.seed + 1)
    head = nn.Linear(args.hidden, args.vocab, rng=args.seed + 2)
    mods = {"emb": emb, "lstm": lstm, "head": head}
    params = [p for m in mods.values() for p in m.parameters()]
    opt = optim.Adam(params, lr=args.lr)

    def step(x, y):
        out, _ = lstm(emb(x))  # (T, N, H)
        logits = head(out)  # (T, N, V)
        loss = F.cross_entropy(logits.reshape(-1, args.vocab), y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, args.clip)
        opt.step()
        return float(loss.item())

    def data(x, y):
        return nb.as_tensor(x), nb.as_tensor(y.reshape(-1))

    return mods, step, data


def make_torch(args, torch, nb_mods):
    emb = torch.nn.Embedding(args.vocab, args.embed)
    lstm = torch.nn.LSTM(args.embed, args.hidden, num_layers=args.layers)
    head = torch.nn.Linear(args.hidden, args.vocab)
    for tm, name in ((emb, "emb"), (lstm, "lstm"), (head, "head")):
        sd = {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in nb_mods[name].state_dict().items()}
        tm.load_state_dict(sd, strict=True)
    params = [p for m in (emb, lstm, head) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr)
    ce = torch.nn.functional.cross_entropy

    def step(x, y):
        out, _ = lstm(emb(x))
        logits = head(out)
        loss = ce(logits.reshape(-1, args.vocab), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        return float(loss.item())

    def data(x, y):
        return torch.from_numpy(x), torch.from_numpy(y.reshape(-1))

    return step, data


# --------------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:  # must happen before NumPy (and its BLAS) is loaded
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np
    from mlp_step import blas_info, cpu_model

    blas, threads = blas_info()
    rng = np.random.default_rng(args.seed)
    batches = [rng.integers(0, args.vocab, (args.seq + 1, args.batch)).astype(np.int64) for _ in range(4)]
    blocks = [(b[:-1].copy(), b[1:].copy()) for b in batches]  # (T, N) ids and next-char targets

    nb_mods, nb_step, nb_data = make_nnbasics(args)
    impls = {}
    try:
        import torch

        torch.set_num_threads(threads)
        impls["torch"] = make_torch(args, torch, nb_mods)
    except ImportError:
        torch = None
    impls = {"nnbasics": (nb_step, nb_data), **impls}
    feeds = {name: [data(x, y) for x, y in blocks] for name, (_, data) in impls.items()}

    # the first step from identical weights must give the same loss
    first = {name: step(*feeds[name][0]) for name, (step, _) in impls.items()}
    if "torch" in first and abs(first["torch"] - first["nnbasics"]) > 1e-4 * max(1.0, abs(first["torch"])):
        raise RuntimeError(f"first-step losses differ: {first}")

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for i in range(args.steps * args.rounds):
            nb_step(*feeds["nnbasics"][i % len(blocks)])
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return None

    for name, (step, _) in impls.items():
        for i in range(args.warmup):
            step(*feeds[name][i % len(blocks)])
    times = {name: [] for name in impls}
    names = list(impls)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            step = impls[name][0]
            t0 = time.perf_counter()
            for i in range(args.steps):
                step(*feeds[name][i % len(blocks)])
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)

    med = {n: statistics.median(v) for n, v in times.items()}
    print(f"char-LSTM training step: vocab {args.vocab}, embed {args.embed}, hidden {args.hidden}, "
          f"layers {args.layers}, seq {args.seq}, batch {args.batch}; Adam, clip {args.clip}")
    print(f"CPU: {cpu_model()}; BLAS: {blas}, {threads} thread(s); NumPy {np.__version__}"
          + (f"; torch {torch.__version__} ({torch.get_num_threads()} thread(s))" if torch else ""))
    print(f"{args.rounds} rounds x {args.steps} steps, implementations alternating; first-step loss {first}\n")
    print("| implementation | ms/step (median) | min | max | ratio to torch (median of rounds) |")
    print("|---|---:|---:|---:|---:|")
    result = {"args": vars(args), "blas": blas, "threads": threads, "ms_per_step": med, "rounds": times}
    for name in names:
        v = times[name]
        if "torch" in times:
            ratios = [a / b for a, b in zip(v, times["torch"])]
            ratio = statistics.median(ratios)
            result.setdefault("ratio", {})[name] = ratio
            rs = f"{ratio:.2f}x"
        else:
            rs = "n/a"
        print(f"| {name} | {med[name]:.1f} | {min(v):.1f} | {max(v):.1f} | {rs} |")
    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return result


if __name__ == "__main__":
    main()
