"""Speed and memory: one training step of a character-level LSTM, nnbasics vs PyTorch CPU (issues 5, 19).

The model (the same in both libraries, from the same initial weights)::

    Embedding(vocab, embed) -> LSTM(embed, hidden) -> Linear(hidden, vocab)

and one step is: forward over a block of character ids, cross-entropy over all seq * batch
predictions, backward, gradient clipping to norm 5 and an Adam update. Two layouts:
``time-major`` (ids (seq, batch), PyTorch's default) and ``batch-first`` (ids (batch, seq),
``LSTM(batch_first=True)``, as most user code writes it).

Each (implementation, layout, thread count) runs in its own worker process; the workers
alternate inside each round, the order rotating (see ``bench/_common.py``); the table reports
medians over rounds and the median of per-round ratios to PyTorch (same layout and threads)
and to the same implementation on one thread. Before timing, each pair's first-step losses
from identical weights must agree.

Usage::

    python bench/lstm_step.py                                  # both layouts, all cores
    python bench/lstm_step.py --threads 1,2 --rounds 9 --steps 5
    python bench/lstm_step.py --threads 1,2 --under-load       # one busy competitor process
    python bench/lstm_step.py --memory --batches 128,1024,8192 # peak RSS of 2 training steps
    python bench/lstm_step.py --profile                        # cProfile of the nnbasics step
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

LAYOUTS = ("time-major", "batch-first")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, default=65, help="number of characters (default 65, tiny Shakespeare)")
    p.add_argument("--embed", type=int, default=64, help="embedding size (default 64)")
    p.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (default 256)")
    p.add_argument("--layers", type=int, default=1, help="LSTM layers (default 1)")
    p.add_argument("--seq", type=int, default=100, help="sequence length (default 100)")
    p.add_argument("--batch", type=int, default=32, help="batch size of the timed steps (default 32)")
    p.add_argument("--layout", choices=[*LAYOUTS, "both"], default="both", help="input layout (default both)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--clip", type=float, default=5.0, help="max gradient norm (default 5)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per worker (default 7)")
    p.add_argument("--steps", type=int, default=5, help="steps per timed round (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per worker first (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the data (default 0)")
    p.add_argument("--no-torch", action="store_true", help="time nnbasics only")
    p.add_argument("--profile", action="store_true", help="print a cProfile of nnbasics steps and exit")
    C.add_common_args(p, memory_batches="128,1024,8192")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------- models
def make_nnbasics(cfg):
    """nnbasics modules, a step function and a data converter."""
    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics import nn, optim

    emb = nn.Embedding(cfg["vocab"], cfg["embed"], rng=cfg["seed"])
    lstm = nn.LSTM(cfg["embed"], cfg["hidden"], num_layers=cfg["layers"], batch_first=cfg["batch_first"],
                   rng=cfg["seed"] + 1)
    head = nn.Linear(cfg["hidden"], cfg["vocab"], rng=cfg["seed"] + 2)
    mods = {"emb": emb, "lstm": lstm, "head": head}
    params = [p for m in mods.values() for p in m.parameters()]
    opt = optim.Adam(params, lr=cfg["lr"])

    def step(x, y):
        out, _ = lstm(emb(x))  # (T, N, H) or (N, T, H)
        loss = F.cross_entropy(head(out).reshape(-1, cfg["vocab"]), y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, cfg["clip"])
        opt.step()
        return float(loss.item())

    def data(x, y):
        return nb.as_tensor(x), nb.as_tensor(y.reshape(-1))

    return mods, step, data


def make_torch(cfg, nb_mods):
    """The same model in PyTorch, weights copied from the nnbasics modules."""
    import torch

    emb = torch.nn.Embedding(cfg["vocab"], cfg["embed"])
    lstm = torch.nn.LSTM(cfg["embed"], cfg["hidden"], num_layers=cfg["layers"], batch_first=cfg["batch_first"])
    head = torch.nn.Linear(cfg["hidden"], cfg["vocab"])
    for tm, name in ((emb, "emb"), (lstm, "lstm"), (head, "head")):
        sd = {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in nb_mods[name].state_dict().items()}
        tm.load_state_dict(sd, strict=True)
    params = [p for m in (emb, lstm, head) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    ce = torch.nn.functional.cross_entropy

    def step(x, y):
        out, _ = lstm(emb(x))
        loss = ce(head(out).reshape(-1, cfg["vocab"]), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg["clip"])
        opt.step()
        return float(loss.item())

    def data(x, y):
        return torch.from_numpy(x), torch.from_numpy(y.reshape(-1))

    return step, data


def blocks(cfg, count=4):
    """``count`` (ids, next-char targets) pairs in the layout: (T, N) or (N, T) int64."""
    import numpy as np

    rng = np.random.default_rng(cfg["seed"])
    out = []
    for _ in range(count):
        b = rng.integers(0, cfg["vocab"], (cfg["seq"] + 1, cfg["batch"])).astype(np.int64)
        x, y = b[:-1], b[1:]
        if cfg["batch_first"]:
            x, y = x.T, y.T
        out.append((np.ascontiguousarray(x), np.ascontiguousarray(y)))
    return out


def make_stepper(cfg):
    """A no-argument step cycling over the data blocks, and the first block's feed."""
    nb_mods, nb_step, nb_data = make_nnbasics(cfg)
    step, data = (nb_step, nb_data) if cfg["impl"] == "nnbasics" else make_torch(cfg, nb_mods)
    if cfg["impl"] == "torch":
        import torch

        torch.set_num_threads(cfg["threads"])
    feeds = [data(x, y) for x, y in blocks(cfg)]
    i = [0]

    def stepper():
        loss = step(*feeds[i[0] % len(feeds)])
        i[0] += 1
        return loss

    return stepper


# ------------------------------------------------------------------------------- worker
def setup_worker(cfg):
    stepper = make_stepper(cfg)
    handlers = {"memory": lambda steps: C.memory_probe(stepper, steps), "time": C.timed_steps(stepper)}
    if cfg.get("memory"):
        C.load_compiled_kernels()  # with --compiled: Numba's import and compilation, before the probe
        return handlers, {}
    first = stepper()
    for _ in range(cfg["warmup"]):
        stepper()
    return handlers, {"first_loss": first}


def config(args, impl, layout, threads, batch=None, memory=False):
    keys = ("vocab", "embed", "hidden", "layers", "seq", "lr", "clip", "warmup", "seed")
    return {**{k: getattr(args, k) for k in keys}, "batch": batch or args.batch, "impl": impl,
            "batch_first": layout == "batch-first", "threads": threads, "memory": memory}


def check_losses(infos, meta):
    for name, info in infos.items():
        m = meta[name]
        if m["impl"] == "torch":
            continue
        twin = next((n for n, mm in meta.items() if mm["impl"] == "torch" and mm["variant"] == m["variant"]
                     and mm["threads"] == m["threads"]), None)
        if twin is not None:
            a, b = info["first_loss"], infos[twin]["first_loss"]
            if abs(a - b) > 1e-4 * max(1.0, abs(b)):
                raise SystemExit(f"first-step losses differ: {name} {a} against {twin} {b}")


def profile(args):
    import cProfile
    import pstats

    for var in C.THREAD_VARS:
        os.environ.setdefault(var, str(C.parse_threads(args.threads)[0]))
    layout = LAYOUTS[0] if args.layout == "both" else args.layout
    stepper = make_stepper(config(args, "nnbasics", layout, int(os.environ["OPENBLAS_NUM_THREADS"])))
    for _ in range(args.warmup):
        stepper()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.steps * args.rounds):
        stepper()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


# --------------------------------------------------------------------------------- main
def main(argv=None):
    import json

    args = parse_args(argv)
    if args.worker:
        return C.serve(setup_worker, json.loads(args.worker))
    if args.profile:
        return profile(args)
    threads = C.parse_threads(args.threads)
    layouts = LAYOUTS if args.layout == "both" else (args.layout,)
    impls = C.with_compiled(["nnbasics"] + ([] if args.no_torch else ["torch"]), args)
    specs, meta = {}, {}
    if args.memory:
        for batch in C.parse_sizes(args.batches):
            for layout in layouts:
                for impl in impls:
                    name = f"{impl} {layout} B{batch}"
                    specs[name] = (config(args, impl, layout, threads[0], batch, memory=True), threads[0])
                    meta[name] = {"impl": impl, "variant": layout, "batch": batch, "threads": threads[0]}
    else:
        for t in threads:
            for layout in layouts:
                for impl in impls:
                    name = f"{impl} {layout} {t}t"
                    specs[name] = (config(args, impl, layout, t), t)
                    meta[name] = {"impl": impl, "variant": layout, "threads": t}
    res = C.measure(__file__, args, specs, meta, op="time", op_args={"steps": args.steps},
                    check=lambda infos: check_losses(infos, meta))
    res["config"] = vars(args)
    print(f"char-LSTM training step: vocab {args.vocab}, embed {args.embed}, hidden {args.hidden}, "
          f"layers {args.layers}, seq {args.seq}; Adam, clip {args.clip}")
    C.print_context(res)
    if args.memory:
        print(f"peak RSS of {args.mem_steps} training steps above the RSS after import, model and data "
              f"({threads[0]} thread(s)):\n")
        C.print_memory_table(res["memory"], meta)
    else:
        print(f"batch {args.batch}; {args.rounds} rounds x {args.steps} steps, workers alternating; "
              f"ms per step\n")
        res["rows"] = C.speed_rows(res["times"], meta, replies=res.get("replies"))
        C.print_speed_table(res["rows"])
    C.write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()
