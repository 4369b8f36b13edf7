"""Function calls per training step in one or more source trees: a measure the machine's load cannot move.

On a busy machine a few percent of time is hard to see; the Python work of a step is not. For
each tree given as ``LABEL=PATH`` this runs a child process with ``PYTHONPATH=PATH/src`` that
builds the step of ``mlp_step.py``, ``lstm_step.py`` and ``cnn_epoch.py`` (the same functions the
timed workers use, one thread, fixed seeds; the CNN on random images of its batch size), runs
``--warmup`` steps, then counts with ``sys.setprofile`` over ``--steps`` steps:

* **Python calls**: calls of Python functions (the interpreter's own work: engine, ops, modules);
* **C calls**: calls of built-in functions and methods (NumPy's included).

Both are exact and repeatable; per step, divided by ``--steps``. They say nothing about time
inside NumPy/BLAS (the same arrays in every tree are the same work), so a tree with more calls
per step pays Python overhead; one with fewer calls per step cannot have become slower in
Python. The recorded graph ops of one step (``Function.apply`` calls) are counted too, and
``--modules N`` lists the N modules whose Python calls differ most from the first tree's.
``--threads`` sets the thread variables of the children (calls made on other threads than the
caller's are not counted: ``sys.setprofile`` sees one thread).

Usage::

    python bench/call_counts.py before=/tmp/before after=/tmp/after main=.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).resolve().parent
BENCHES = ("mlp", "lstm", "cnn")


def make_step(bench: str):
    """A no-argument training step of one benchmark, built by its script's own functions."""
    sys.path.insert(0, str(BENCH))
    if bench == "mlp":
        import mlp_step as m

        params, x, y = m.make_problem(m.SIZES, 128, 0)
        step, _ = m.nnbasics_step_fn(params, x, y, 0.01)
        return step
    if bench == "lstm":
        import lstm_step as m

        cfg = m.config(m.parse_args([]), "nnbasics", "time-major", 1)
        return m.make_stepper(cfg)
    import cnn_epoch as m
    import numpy as np

    cfg = m.config(m.parse_args(["--random-data"]), "nnbasics", 1)
    step, _ = m.nnbasics_parts(cfg)
    rng = np.random.default_rng(0)
    x, y = rng.random((128, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 128)
    return lambda: step(x, y)


def count(step, steps: int) -> dict:
    """Python and C calls over ``steps`` calls of ``step``, per step, and Python calls per module."""
    counts = {"call": 0, "c_call": 0}
    modules = {}

    def profile(frame, event, arg):
        if event in counts:
            counts[event] += 1
            if event == "call":
                name = frame.f_globals.get("__name__", "?")
                modules[name] = modules.get(name, 0) + 1

    sys.setprofile(profile)
    try:
        for _ in range(steps):
            step()
    finally:
        sys.setprofile(None)
    return {"python_calls": counts["call"] / steps, "c_calls": counts["c_call"] / steps,
            "modules": {k: v / steps for k, v in sorted(modules.items())}}


def child(benches: list, steps: int, warmup: int) -> dict:
    """Run in the child: ``{bench: counts}`` for the nnbasics on ``sys.path``."""
    import nnbasics
    from nnbasics.autograd import Function

    out = {"nnbasics": os.path.dirname(nnbasics.__file__)}
    for bench in benches:
        step = make_step(bench)
        for _ in range(warmup):
            step()
        out[bench] = count(step, steps)
        applied = [0]
        original = Function.__dict__["apply"]
        func = original.__func__

        def apply(cls, *args, _func=func, _applied=applied, **kwargs):
            _applied[0] += 1
            return _func(cls, *args, **kwargs)

        Function.apply = classmethod(apply)
        try:
            step()
        finally:
            Function.apply = original
        out[bench]["ops"] = applied[0]
    return out


def run_tree(path: str, args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(path).resolve() / "src"))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NNBASICS_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--child", json.dumps({"benches": args.bench, "steps": args.steps,
                                                              "warmup": args.warmup})]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the child for {path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_modules(res: dict, args) -> None:
    """Per benchmark and tree, the modules whose Python calls per step differ most from the first tree's."""
    base = args.trees[0][0]
    for bench in args.bench:
        b = res[base][bench]["modules"]
        for label, _ in args.trees[1:]:
            m = res[label][bench]["modules"]
            diff = sorted(((k, m.get(k, 0) - b.get(k, 0)) for k in set(b) | set(m)), key=lambda kv: -abs(kv[1]))
            diff = [(k, d) for k, d in diff[:args.modules] if d]
            print(f"\n{bench}, {label} - {base}: " + (", ".join(f"{k} {d:+.0f}" for k, d in diff) or "no difference"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trees", nargs="*", metavar="LABEL=PATH", help="source trees (the first is the base of the ratios)")
    p.add_argument("--bench", nargs="+", choices=BENCHES, default=list(BENCHES), help="benchmarks (default: all)")
    p.add_argument("--steps", type=int, default=3, help="steps counted (default 3)")
    p.add_argument("--warmup", type=int, default=3, help="steps before counting (default 3)")
    p.add_argument("--threads", type=int, default=1, help="BLAS and nnbasics threads of the children (default 1)")
    p.add_argument("--modules", type=int, default=0, metavar="N",
                   help="list the N modules whose Python calls per step differ most from the first tree's")
    p.add_argument("--json", metavar="PATH", help="also write the counts as JSON to PATH")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is None:
        pairs = [t.partition("=") for t in args.trees]
        if not pairs or any(not sep or not label or not path for label, sep, path in pairs):
            p.error("give one or more trees as LABEL=PATH, e.g. before=/tmp/before")
        args.trees = [(label, path) for label, _, path in pairs]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child is not None:
        spec = json.loads(args.child)
        print(json.dumps(child(spec["benches"], spec["steps"], spec["warmup"])))
        return None
    res = {label: run_tree(path, args) for label, path in args.trees}
    base = args.trees[0][0]
    print(f"calls per training step ({args.threads} thread(s); {args.steps} steps counted after {args.warmup}); "
          f"ratios to {base}\n")
    print("| benchmark | tree | Python calls | ratio | C calls | ratio | graph ops |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for bench in args.bench:
        b = res[base][bench]
        for label, _ in args.trees:
            r = res[label][bench]
            print(f"| {bench} | {label} | {r['python_calls']:,.0f} | {r['python_calls'] / b['python_calls']:.3f} | "
                  f"{r['c_calls']:,.0f} | {r['c_calls'] / b['c_calls']:.3f} | {r['ops']} |")
    if args.modules:
        print_modules(res, args)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
