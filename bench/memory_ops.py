"""Where a training step's memory goes, op by op: NumPy's traced allocations (tracemalloc).

NumPy reports every array buffer to :mod:`tracemalloc`, so wrapping each autograd op's
``forward`` and ``backward`` (and the optimizer's ``step``) shows how much array memory is
live after it and the peak inside it; at the step's peak, a census groups the live buffers
by the line that allocated them (which op made them, and therefore who keeps them). The
numbers are array bytes only (no allocator slack): ``bench/cnn_epoch.py --memory`` and
``bench/lstm_step.py --memory`` give the process's RSS.

Usage::

    python bench/memory_ops.py --model lab-cnn --batch 1024
    python bench/memory_ops.py --model char-lstm --batch 128 --census 12
"""

from __future__ import annotations

import argparse
import os
import sys
import tracemalloc

MB = 2**20


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["lab-cnn", "char-lstm"], default="lab-cnn")
    p.add_argument("--batch", type=int, default=1024, help="batch size (default 1024)")
    p.add_argument("--steps", type=int, default=2, help="training steps traced; the last is reported (default 2)")
    p.add_argument("--census", type=int, default=15, help="largest allocation sites listed at the peak (default 15)")
    p.add_argument("--threads", type=int, default=1, help="BLAS and nnbasics threads (default 1)")
    return p.parse_args(argv)


def lab_cnn(batch):
    import numpy as np

    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics.models import build_model
    from nnbasics.optim import Adam

    rng = np.random.default_rng(0)
    x, y = rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)
    model = build_model("lab-cnn", rng=0)
    opt = Adam(model.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(model(nb.as_tensor(x)), nb.as_tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, opt


def char_lstm(batch):
    import numpy as np

    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics import nn, optim

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 65, (101, batch))
    x, y = nb.as_tensor(ids[:-1]), nb.as_tensor(ids[1:].reshape(-1))
    emb, lstm, head = nn.Embedding(65, 64, rng=0), nn.LSTM(64, 256, rng=1), nn.Linear(256, 65, rng=2)
    params = [p for m in (emb, lstm, head) for p in m.parameters()]
    opt = optim.Adam(params, lr=2e-3)

    def step():
        out, _ = lstm(emb(x))
        loss = F.cross_entropy(head(out).reshape(-1, 65), y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, 5.0)
        opt.step()

    return step, opt


def instrument(log, peak_state):
    """Wrap every Function's forward/backward: log (name, live before, live after, peak inside);
    take a census snapshot whenever the traced peak of the step grows."""
    from nnbasics import autograd

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    def wrap(f, key):
        def w(*a, **k):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            try:
                return f(*a, **k)
            finally:
                cur, peak = tracemalloc.get_traced_memory()
                log.append((key, before / MB, cur / MB, peak / MB))
                if peak_state["armed"] and cur > peak_state["live"]:  # live memory after the op: a new high
                    peak_state["live"], peak_state["where"] = cur, key
                    peak_state["snapshot"] = tracemalloc.take_snapshot()
        return w

    for cls in set(subclasses(autograd.Function)):
        for meth in ("forward", "backward"):
            if meth in cls.__dict__:
                setattr(cls, meth, wrap(cls.__dict__[meth], f"{cls.__name__}.{meth}"))
    return wrap


def census(snapshot, top):
    stats = snapshot.statistics("traceback")
    print("\n| live MiB | blocks | allocated at (innermost nnbasics frames first) |\n|---:|---:|---|")
    for s in stats[:top]:
        frames = [f"{f.filename.split('src/nnbasics/')[-1]}:{f.lineno}" for f in reversed(s.traceback)
                  if "nnbasics" in f.filename][:4]
        print(f"| {s.size / MB:.1f} | {s.count} | {' <- '.join(frames) or '(outside nnbasics)'} |")


def main(argv=None):
    args = parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NNBASICS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    step, opt = (lab_cnn if args.model == "lab-cnn" else char_lstm)(args.batch)
    log, state = [], {"armed": False, "live": 0, "snapshot": None, "where": None}
    wrap = instrument(log, state)
    opt.step = wrap(opt.step, "optimizer.step")
    tracemalloc.start(12)
    for i in range(args.steps):
        log.clear()
        state.update(armed=i == args.steps - 1, live=0)
        start = tracemalloc.get_traced_memory()[0]
        step()
    end = tracemalloc.get_traced_memory()[0]
    print(f"{args.model}, batch {args.batch}, step {args.steps} of {args.steps}: live array memory {start / MB:.1f} MiB "
          f"before the step (held from the step before), {end / MB:.1f} after; highest live after an op: "
          f"{state['live'] / MB:.1f} MiB, after {state['where']}\n")
    print("| op | live before MiB | live after | peak inside |\n|---|---:|---:|---:|")
    for key, before, after, peak in log:
        print(f"| {key} | {before:.1f} | {after:.1f} | {peak:.1f} |")
    if state["snapshot"] is not None:
        census(state["snapshot"], args.census)


if __name__ == "__main__":
    sys.exit(main())
