"""One benchmark, two source trees, side by side: did a change make nnbasics slower?

For each benchmark and thread count this starts one persistent nnbasics worker per source tree
(the worker of this folder's ``mlp_step.py``, ``cnn_epoch.py`` or ``lstm_step.py``, run with
``PYTHONPATH=<tree>/src``), then times them in alternating rounds with the harness of
``_common.py`` (the order rotates every round, so a burst of load hits both alike). It reports
the median ms per step of each tree, the ratio after/before (the median over rounds of the
per-round ratio) of wall time and of the worker's CPU time (on a loaded machine a
descheduled worker loses wall time, not CPU time), and the machine's load (``/proc/loadavg``,
sampled every round).
``--reference`` adds a third worker: the after tree in reference mode (``NNBASICS_REFERENCE=1``),
to show how much slower the readable reference ops are than the kernels. ``--also LABEL=TREE``
(repeatable) adds a worker per further tree, timed in the same rounds and compared with before
like after (e.g. the tree where a redesign was complete and today's main, in one run).

What each benchmark times (nnbasics only):

* ``mlp``: one SGD step of the 784-256-256-10 MLP, batch 128, written ``x @ W.T + b``;
  ``mlp-linear``: the same through ``F.linear`` (what ``nn.Linear`` runs);
* ``cnn``: the lab CNN's training on ``--images`` Fashion-MNIST images (batch 128), reported
  per step (an epoch's steps are alike, so a part of one is enough);
* ``lstm``: one char-LSTM step (E64, H256, T100, B32), Adam and clipping, time-major input.

Usage::

    git worktree add --detach /tmp/before main
    python bench/compare_trees.py /tmp/before . --threads 1,2 --rounds 9 --reference
    python bench/compare_trees.py /tmp/before . --bench lstm --threads 2 --under-load  # one busy competitor
    python bench/compare_trees.py /tmp/before /tmp/after --also main=. --threads 1,2 --rounds 9
    python bench/compare_trees.py /tmp/before . --bench mlp --rounds 2 --quick   # a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as C  # the bench folder's harness, found through the path above

BENCHES = ("mlp", "mlp-linear", "cnn", "lstm")
BATCH = 128  # the cnn benchmark's batch: its epoch time over the steps it takes


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before", help="root of the tree before the change (holds src/nnbasics)")
    p.add_argument("after", help="root of the tree after the change")
    p.add_argument("--bench", nargs="+", choices=BENCHES, default=list(BENCHES), help="benchmarks (default: all)")
    p.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2 (default 1,2)")
    p.add_argument("--rounds", type=int, default=9, help="alternating rounds per setting (default 9)")
    p.add_argument("--images", type=int, default=6400, help="cnn: training images per round (default 6400: 50 steps)")
    p.add_argument("--steps", type=int, default=None,
                   help="mlp and lstm: steps per timed call (default 40 and 3; longer calls average a loaded machine's bursts)")
    p.add_argument("--quick", action="store_true", help="short rounds (a smoke test, not a measurement)")
    p.add_argument("--reference", action="store_true",
                   help="also time the after tree in reference mode (NNBASICS_REFERENCE=1)")
    p.add_argument("--also", action="append", default=[], metavar="LABEL=TREE", type=_labelled_tree,
                   help="a further tree timed in the same rounds and compared with before (repeatable)")
    p.add_argument("--settle", type=float, default=0.1, help="seconds of sleep before each timed call (default 0.1)")
    p.add_argument("--under-load", action="store_true",
                   help="run one CPU-bound competitor process for the whole comparison (as the benchmarks' own flag)")
    p.add_argument("--json", metavar="PATH", help="also write every round as JSON to PATH")
    return p.parse_args(argv)


def _labelled_tree(text):
    """``"main=/work/main"`` -> ``("main", "/work/main")`` (argparse type of ``--also``)."""
    label, sep, tree = text.partition("=")
    if not sep or not label or not tree or label in ("before", "after", "reference"):
        raise argparse.ArgumentTypeError(f"expected LABEL=TREE with a label other than before, after and reference, "
                                         f"e.g. main=/work/main; got {text!r}")
    return label, tree


def _job(bench, threads, args):
    """(script, worker spec, op, op args, (wall ms, CPU ms) per step from a reply) of one benchmark."""
    if bench in ("mlp", "mlp-linear"):
        import mlp_step as mod

        steps = 10 if args.quick else args.steps or 40
        impl = "nnbasics" if bench == "mlp" else "nnbasics-linear"
        spec = mod.config(mod.parse_args(["--warmup", "5"]), impl, threads)
        return mod.__file__, spec, "time", {"steps": steps}, lambda r: (r["ms"], r["cpu_ms"])
    if bench == "lstm":
        import lstm_step as mod

        steps = 1 if args.quick else args.steps or 3
        spec = mod.config(mod.parse_args(["--warmup", "2"]), "nnbasics", "time-major", threads)
        return mod.__file__, spec, "time", {"steps": steps}, lambda r: (r["ms"], r["cpu_ms"])
    import cnn_epoch as mod

    images = 1280 if args.quick else args.images
    spec = mod.config(mod.parse_args(["--images", str(images), "--test-images", "1000"]), "nnbasics", threads)
    steps = -(-images // BATCH)
    return mod.__file__, spec, "epoch", {}, lambda r: (r["ms"] / steps, r["cpu_ms"] / steps)


@contextlib.contextmanager
def _environment(**values):
    """os.environ with ``values`` set (None: removed) inside; restored after (a worker copies it at start)."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def compare(bench, threads, args):
    """The alternating rounds of one benchmark and thread count: ms per step per tree and round."""
    script, spec, op, op_args, per_step = _job(bench, threads, args)
    variants = {"before": (args.before, None), "after": (args.after, None)}
    variants.update((label, (tree, None)) for label, tree in args.also)
    if args.reference:
        variants["reference"] = (args.after, "1")
    log, workers = C.LoadLog(), {}
    try:
        for name, (tree, reference) in variants.items():
            src = str(pathlib.Path(tree).resolve() / "src")
            with _environment(PYTHONPATH=src, NNBASICS_REFERENCE=reference):
                print(f"starting worker {bench} {threads}t {name} ({src})", file=sys.stderr)
                workers[name] = C.Worker(script, f"{bench} {threads}t {name}", spec, threads)
        log.mark("workers ready")
        _, replies = C.alternate(workers, args.rounds, op, op_args, settle=args.settle, log=log)
    finally:
        C.close_all(workers)
    log.mark("end")
    ms = {name: [per_step(r)[0] for r in rs] for name, rs in replies.items()}
    cpu = {name: [per_step(r)[1] for r in rs] for name, rs in replies.items()}
    loads = [s["loadavg"][0] for s in log.samples]
    row = {"bench": bench, "threads": threads, "rounds": ms, "cpu_rounds": cpu, "load": loads,
           "before_ms": statistics.median(ms["before"]), "after_ms": statistics.median(ms["after"]),
           "ratio": C.median_ratio(ms["after"], ms["before"]), "cpu_ratio": C.median_ratio(cpu["after"], cpu["before"])}
    row["spread"] = {name: {"wall": _quartiles(ms[name], ms[base]), "cpu": _quartiles(cpu[name], cpu[base])}
                     for name, base in _compared(args)}
    row["also"] = {label: {"ms": statistics.median(ms[label]), "ratio": C.median_ratio(ms[label], ms["before"]),
                           "cpu_ratio": C.median_ratio(cpu[label], cpu["before"])} for label, _ in args.also}
    if args.reference:
        row["reference_ms"] = statistics.median(ms["reference"])
        row["reference_slowdown"] = C.median_ratio(ms["reference"], ms["after"])
        row["reference_cpu_slowdown"] = C.median_ratio(cpu["reference"], cpu["after"])
    return row


def _quartiles(a, b):
    """Lower quartile, median and upper quartile of the per-round ratios ``a[r] / b[r]``."""
    ratios = [x / y for x, y in zip(a, b)]
    if len(ratios) < 2:
        return [ratios[0]] * 3
    q1, q2, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return [q1, q2, q3]


def _compared(args):
    """(worker, worker it is compared with) for every ratio of the table."""
    pairs = [("after", "before")] + [(label, "before") for label, _ in args.also]
    return pairs + ([("reference", "after")] if args.reference else [])


def print_spread(rows, args):
    """How much the per-round ratios scatter: quartiles of each ratio, wall and CPU time."""
    pairs = _compared(args)
    print("\nthe per-round ratios' quartiles (lower-median-upper), wall time / CPU time:\n")
    print("| benchmark | threads |" + "".join(f" {a}/{b} |" for a, b in pairs))
    print("|---|---:|" + "---|" * len(pairs))
    for r in rows:
        cells = []
        for name, _ in pairs:
            w, c = r["spread"][name]["wall"], r["spread"][name]["cpu"]
            cells.append(f" {w[0]:.3f}-{w[1]:.3f}-{w[2]:.3f} / {c[0]:.3f}-{c[1]:.3f}-{c[2]:.3f} |")
        print(f"| {r['bench']} | {r['threads']} |" + "".join(cells))


def print_table(rows, args):
    ref = args.reference
    print(f"\nnnbasics ms per step, medians of {args.rounds} alternating rounds; ratios are medians of per-round "
          f"ratios, of wall time and (CPU) of the worker's CPU time; before = {args.before}, after = {args.after}\n")
    also = [label for label, _ in args.also]
    print("| benchmark | threads | before | after | after/before | (CPU) |"
          + "".join(f" {a} | {a}/before | (CPU) |" for a in also)
          + " load (1-min avg: min-median-max) |" + (" reference mode | reference/after | (CPU) |" if ref else ""))
    print("|---|---:|---:|---:|---:|---:|" + "---:|---:|---:|" * len(also) + "---|" + ("---:|---:|---:|" if ref else ""))
    for r in rows:
        load = r["load"] or [float("nan")]
        line = (f"| {r['bench']} | {r['threads']} | {r['before_ms']:.2f} | {r['after_ms']:.2f} | {r['ratio']:.3f} | "
                f"{r['cpu_ratio']:.3f} |")
        for a in also:
            x = r["also"][a]
            line += f" {x['ms']:.2f} | {x['ratio']:.3f} | {x['cpu_ratio']:.3f} |"
        line += f" {min(load):.2f}-{statistics.median(load):.2f}-{max(load):.2f} |"
        if ref:
            line += f" {r['reference_ms']:.2f} | {r['reference_slowdown']:.2f}x | {r['reference_cpu_slowdown']:.2f}x |"
        print(line)


def main(argv=None):
    args = parse_args(argv)
    with C.Competitor(args.under_load) as comp:
        rows = [compare(bench, t, args) for bench in args.bench for t in C.parse_threads(args.threads)]
    print(C.describe_machine(C.machine_record()))
    print(comp.describe())
    print_table(rows, args)
    print_spread(rows, args)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
