"""Held-out models: nnbasics against PyTorch on shapes the other benchmarks do not time (issue 19).

Issue 19's targets are set on three models (``mlp_step.py``, ``lstm_step.py``, ``cnn_epoch.py``);
its checks run others too. This times one training step (forward, ``loss.backward()``; no
optimizer, the same in both frameworks) of each of a set of smaller and larger models:

* ``lstm-small`` (E32, H128, T50, batch 8: a learner's model, where per-step overhead rules),
  ``lstm-big-bf`` (E128, H512, T30, batch 64, ``batch_first``), ``gru-bf`` (E64, H256, T100,
  batch 32, ``batch_first``), ``rnn`` (E64, H256, T100, batch 32, tanh), loss ``out.sum()``;
* ``mlp-b32`` (784-256-256-10 at batch 32), ``mlp-wide`` (784-1024-1024-10 at batch 1024),
  ``mlp-tiny`` (100-50-10 at batch 16), ReLU, cross-entropy;
* ``cnn-cifar`` (3x32x32 images, conv 3->32 and 32->64, 3x3 pad 1, ReLU, 2x2 max-pool each,
  linear to 10; batch 64) and ``cnn-small`` (the same on 1x28x28, 16 and 32 channels, batch 16);
  ``cnn-vgg`` (3x24x24 images, batch 32: conv 3->32 and 32->32 pad 1, ReLU each, 2x2 max-pool,
  conv 32->64 *without* padding (an even input, an odd 10x10 output), ReLU, linear to 10).

Workers, alternation, medians and the load record are ``_common.py``'s: one persistent worker
per framework and thread count builds every model once; for each model, every round times every
worker once (``--steps`` steps, or the model's own count), the order rotating.

Usage::

    python bench/heldout.py --threads 1,2 --rounds 3
    python bench/heldout.py --cases lstm-small,cnn-cifar --threads 2 --under-load
    python bench/heldout.py --memory --cases gru-bf,cnn-cifar --batches 256,2048   # peak RSS of 2 steps
    python bench/heldout.py --threads 1,2 --compiled        # also nnbasics with NNBASICS_COMPILED=numba
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

#: name -> (kind, shape, steps per timed call)
CASES = {
    "lstm-small": ("LSTM", {"E": 32, "H": 128, "T": 50, "B": 8, "batch_first": False}, 30),
    "lstm-big-bf": ("LSTM", {"E": 128, "H": 512, "T": 30, "B": 64, "batch_first": True}, 2),
    "gru-bf": ("GRU", {"E": 64, "H": 256, "T": 100, "B": 32, "batch_first": True}, 3),
    "rnn": ("RNN", {"E": 64, "H": 256, "T": 100, "B": 32, "batch_first": False}, 10),
    "mlp-b32": ("MLP", {"sizes": [784, 256, 256, 10], "B": 32}, 200),
    "mlp-wide": ("MLP", {"sizes": [784, 1024, 1024, 10], "B": 1024}, 3),
    "mlp-tiny": ("MLP", {"sizes": [100, 50, 10], "B": 16}, 1000),
    "cnn-cifar": ("CNN", {"cin": 3, "H": 32, "B": 64, "ch": 32}, 5),
    "cnn-small": ("CNN", {"cin": 1, "H": 28, "B": 16, "ch": 16}, 30),
    "cnn-vgg": ("VGG", {"cin": 3, "H": 24, "B": 32, "ch": 32}, 5),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated models (default all: {', '.join(CASES)})")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per model (default 3)")
    p.add_argument("--steps", type=int, default=None, help="steps per timed call (default: each model's own)")
    p.add_argument("--no-torch", action="store_true", help="time nnbasics only")
    C.add_common_args(p, memory_batches="")
    args = p.parse_args(argv)
    unknown = [c for c in args.cases.split(",") if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    return args


# ------------------------------------------------------------------------------- models
def build(fw, kind, shape, batch=None):
    """A no-argument training step of one model in framework ``fw`` ('nnbasics' or 'torch')."""
    import numpy as np

    if fw == "torch":
        import torch

        nn, F, tensor = torch.nn, torch.nn.functional, torch.from_numpy
        torch.manual_seed(0)
    else:
        import nnbasics as nb
        import nnbasics.functional as F
        from nnbasics import nn

        tensor = nb.tensor
        nb.manual_seed(0)
    rng = np.random.default_rng(0)
    B = batch or shape["B"]
    if kind in ("LSTM", "GRU", "RNN"):
        model = getattr(nn, kind)(shape["E"], shape["H"], batch_first=shape["batch_first"])
        dims = (B, shape["T"], shape["E"]) if shape["batch_first"] else (shape["T"], B, shape["E"])
        x = tensor(rng.standard_normal(dims).astype(np.float32))

        def loss():
            return model(x)[0].sum()
    else:
        if kind == "MLP":
            s = shape["sizes"]
            layers = [m for a, b in itertools.pairwise(s) for m in (nn.Linear(a, b), nn.ReLU())][:-1]
            x = tensor(rng.standard_normal((B, s[0])).astype(np.float32))
        elif kind == "VGG":
            ch, side = shape["ch"], shape["H"] // 2 - 2
            layers = [nn.Conv2d(shape["cin"], ch, 3, padding=1), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Conv2d(ch, 2 * ch, 3), nn.ReLU(), nn.Flatten(),
                      nn.Linear(2 * ch * side * side, 10)]
            x = tensor(rng.standard_normal((B, shape["cin"], shape["H"], shape["H"])).astype(np.float32))
        else:  # CNN
            ch, side = shape["ch"], shape["H"] // 4
            layers = [nn.Conv2d(shape["cin"], ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(ch, 2 * ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(2 * ch * side * side, 10)]
            x = tensor(rng.standard_normal((B, shape["cin"], shape["H"], shape["H"])).astype(np.float32))
        model = nn.Sequential(*layers)
        y = tensor(rng.integers(0, 10, B).astype(np.int64))

        def loss():
            return F.cross_entropy(model(x), y)

    params = list(model.parameters())

    def step():
        for p in params:
            p.grad = None
        loss().backward()

    return step


# ------------------------------------------------------------------------------- worker
def setup_worker(spec):
    if spec["impl"] == "torch":
        import torch

        torch.set_num_threads(spec["threads"])
    fns = {name: build(spec["impl"], CASES[name][0], CASES[name][1], spec.get("batch")) for name in spec["cases"]}
    if spec.get("memory"):  # no warm-up: the first step's allocations count (as _common.memory_probe says)
        return {"memory": lambda steps: C.memory_probe(fns[spec["cases"][0]], steps)}, {}
    for fn in fns.values():
        fn()  # warm up: buffers, the kernels' first choices
    timers = {name: C.timed_steps(fn) for name, fn in fns.items()}
    return {"time": lambda case, steps: timers[case](steps)}, {}


# ------------------------------------------------------------------------------- driver
def run_speed(args, cases, threads, impls):
    specs = {f"{i} {t}t": ({"impl": i, "threads": t, "cases": cases}, t) for t in threads for i in impls}
    meta = {f"{i} {t}t": {"impl": i, "threads": t} for t in threads for i in impls}
    log = C.LoadLog()
    result = {"machine": C.machine_record(), "argv": sys.argv[1:], "meta": meta, "cases": {}}
    with C.Competitor(args.under_load) as comp:
        workers = C.start_workers(__file__, specs)
        try:
            log.mark("workers ready")
            for case in cases:
                steps = args.steps or CASES[case][2]
                times, replies = C.alternate(workers, args.rounds, "time", {"case": case, "steps": steps},
                                             settle=args.settle, log=log)
                result["cases"][case] = {"times": times, "replies": replies, "steps": steps}
        finally:
            C.close_all(workers)
    log.mark("end")
    result.update(load=log.samples, load_summary=log.summary(), competitor=comp.describe(),
                  competitor_share=comp.share)
    return result


def print_speed(result, cases, threads, impls):
    C.print_context(result)
    cols = " | ".join(f"{t}t ms | vs torch" for t in threads)
    two = len(threads) > 1 and threads[0] == 1
    print(f"| model | implementation | {cols} |" + (" 2+t / 1t |" if two else ""))
    print("|---|---|" + "---:|---:|" * len(threads) + ("---:|" if two else ""))
    for case in cases:
        times = result["cases"][case]["times"]
        for impl in (i for i in impls if i != "torch"):
            cells = []
            for t in threads:
                nb = times[f"{impl} {t}t"]
                vs = f"**{C.median_ratio(nb, times[f'torch {t}t']):.2f}**" if "torch" in impls else "-"
                cells.append(f"{sorted(nb)[len(nb) // 2]:.3g} | {vs}")
            extra = f" {C.median_ratio(times[f'{impl} {threads[-1]}t'], times[f'{impl} 1t']):.2f} |" if two else ""
            print(f"| {case} | {impl} | " + " | ".join(cells) + " |" + extra)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return C.serve(setup_worker, json.loads(args.worker))
    cases = args.cases.split(",")
    impls = C.with_compiled(["nnbasics"] + ([] if args.no_torch else ["torch"]), args)
    threads = C.parse_threads(args.threads)
    if args.memory:
        batches = C.parse_sizes(args.batches) if args.batches else [None]
        specs, meta = {}, {}
        for case in cases:
            for b in batches:
                for i in impls:
                    name = f"{i} {case} B{b or CASES[case][1]['B']}"
                    specs[name] = ({"impl": i, "threads": 1, "cases": [case], "batch": b, "memory": True}, 1)
                    meta[name] = {"impl": i, "variant": case, "batch": b or CASES[case][1]["B"]}
        records = C.run_memory(__file__, specs, args.mem_steps)
        print(C.describe_machine(C.machine_record()) + "\n")
        C.print_memory_table(records, meta)
        C.write_json(args.json, {"memory": records, "meta": meta})
        return 0
    result = run_speed(args, cases, threads, impls)
    print_speed(result, cases, threads, impls)
    C.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
