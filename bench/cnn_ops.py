"""Where the lab CNN's training step spends its wall time, op by op, on any thread count.

cProfile follows one thread and charges a parallel pass to whatever the caller waits in; this
script wraps every autograd op's ``forward`` and ``backward`` (and ``Adam.step``) with a wall
clock instead, so on 2 threads it shows what each op costs the step as a whole. It also
reports the time spent outside ``parallel_for`` regions (work that runs on one thread only).

Usage::

    python bench/cnn_ops.py --threads 1 --steps 20     # BLAS and nnbasics on one thread
    python bench/cnn_ops.py --threads 2 --steps 30

Random images (the ops' cost does not depend on the pixel values); batch 128, Adam lr 1e-3.
"""

from __future__ import annotations

import argparse
import collections
import os
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None, help="BLAS and nnbasics threads (default: all cores)")
    p.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--model", default="lab-cnn", help="registered model name (default lab-cnn)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:  # before NumPy loads its BLAS
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NNBASICS_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import numpy as np

    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics import autograd, threads
    from nnbasics.kernels import parallel
    from nnbasics.models import build_model
    from nnbasics.optim import Adam

    acc = collections.defaultdict(float)

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    def timed(f, key):
        def w(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                acc[key] += time.perf_counter() - t0
        return w

    for cls in set(subclasses(autograd.Function)):
        for meth in ("forward", "backward"):
            if meth in cls.__dict__:
                setattr(cls, meth, timed(cls.__dict__[meth], f"{cls.__name__}.{meth}"))
    inner = parallel.parallel_for
    parallel.parallel_for = timed(inner, "(inside parallel_for)")  # parallel_blas_for calls it too
    import nnbasics.kernels as kernels_pkg

    for mod in vars(kernels_pkg).values():
        if getattr(mod, "parallel_for", None) is inner:
            mod.parallel_for = parallel.parallel_for

    rng = np.random.default_rng(0)
    x = rng.random((4 * args.batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 4 * args.batch)
    model = build_model(args.model, rng=0)
    opt = Adam(model.parameters(), lr=1e-3)
    opt.step = timed(opt.step, "Adam.step")
    model.train()

    def step(i):
        sl = slice((i % 4) * args.batch, (i % 4 + 1) * args.batch)
        loss = F.cross_entropy(model(nb.as_tensor(x[sl])), nb.as_tensor(y[sl]))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    acc.clear()
    times = []
    for i in range(args.steps):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
    n = args.steps
    print(f"{args.model}, batch {args.batch}, {threads.num_threads()} thread(s), {n} steps: "
          f"step min {min(times) * 1e3:.1f} ms, median {np.median(times) * 1e3:.1f} ms")
    inside = acc.pop("(inside parallel_for)", 0.0)
    print(f"inside parallel_for regions {inside / n * 1e3:.2f} ms/step; "
          f"outside (one thread) {(sum(times) - inside) / n * 1e3:.2f} ms/step")
    print("| op | ms/step |\n|---|---:|")
    for k, v in sorted(acc.items(), key=lambda kv: -kv[1]):
        if v / n >= 1e-5:
            print(f"| {k} | {v / n * 1e3:.2f} |")


if __name__ == "__main__":
    main()
