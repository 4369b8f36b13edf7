"""Engine overhead and speed: one SGD training step of a 784-256-256-10 ReLU MLP (issues 2, 19).

Times the same step several ways, from the same initial weights and the same batch:

* ``nnbasics``: tensors and autograd (``x @ W.T + b``, ``.relu()``,
  ``functional.cross_entropy``, ``loss.backward()``, SGD update under ``no_grad``);
* ``nnbasics-linear``: the same with the fused ``F.linear`` (what ``nn.Linear`` runs);
* ``numpy``: the step written by hand in NumPy (forward, fused softmax-cross-entropy
  backward, matmul gradients, in-place update);
* ``numpy-mirror`` (``--mirror``): NumPy doing exactly nnbasics' array work without autograd;
* ``torch``: PyTorch on the CPU, written like the nnbasics step, ``torch.set_num_threads``
  set to the thread count (skipped when torch is not importable or with ``--no-torch``).

Each (implementation, thread count) runs in its own worker process; the workers alternate
inside each round, the order rotating (see ``bench/_common.py``); the table reports medians
over rounds and the median of per-round ratios. Before timing, the implementations must agree
(weights after 3 steps). The script also counts the ops of one nnbasics step and times the
same graph on tiny arrays (8-8-8-4, batch 4), where the arithmetic costs nothing, to estimate
the per-op overhead.

Usage::

    python bench/mlp_step.py                          # 7 rounds of 50 steps, all cores
    python bench/mlp_step.py --threads 1,2 --rounds 9 --json results.json
    python bench/mlp_step.py --threads 1,2 --under-load   # one busy competitor process
    python bench/mlp_step.py --memory                 # peak RSS of 2 steps at batch 128, 1024, 8192
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

SIZES = (784, 256, 256, 10)
TINY_SIZES = (8, 8, 8, 4)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per implementation (default 7)")
    p.add_argument("--steps", type=int, default=50, help="steps per timed round (default 50)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps per implementation first (default 10)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even when it is installed")
    p.add_argument("--no-tiny", action="store_true", help="skip the tiny-graph overhead estimate")
    p.add_argument("--mirror", action="store_true",
                   help="also time NumPy doing nnbasics' array work without autograd (splits array vs Python cost)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch (default 0)")
    C.add_common_args(p, memory_batches="128,1024,8192")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- setup
def make_problem(sizes, batch, seed):
    """Weights in PyTorch's Linear layout (out, in) with its default init, one batch."""
    import numpy as np

    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))  # W
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))  # b
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return params, x, y


def _nnbasics_step_fn(params, x, y, lr, fused):
    """The step as an nnbasics user writes it: ``x @ W.T + b``, or ``F.linear`` when ``fused``."""
    import nnbasics as nb
    import nnbasics.functional as F

    ps = [nb.tensor(p, requires_grad=True) for p in params]
    xt, yt = nb.as_tensor(x), nb.as_tensor(y)
    affine = F.linear if fused else (lambda h, W, b: h @ W.T + b)
    (W1, b1), (W2, b2), (W3, b3) = zip(ps[::2], ps[1::2])

    def step():
        h = affine(xt, W1, b1).relu()
        h = affine(h, W2, b2).relu()
        loss = F.cross_entropy(affine(h, W3, b3), yt)
        loss.backward()
        with nb.no_grad():  # what optim.SGD.step does
            for p in ps:
                p._array -= lr * p.grad._array  # the raw arrays, as SGD.step
                p.grad = None
        return loss

    return step, ps


def nnbasics_step_fn(params, x, y, lr):
    """Tensors as written out: ``x @ W.T + b`` (three recorded ops per layer)."""
    return _nnbasics_step_fn(params, x, y, lr, fused=False)


def nnbasics_linear_step_fn(params, x, y, lr):
    """As ``nn.Linear`` computes it: the fused ``F.linear`` (one op per layer, not three)."""
    return _nnbasics_step_fn(params, x, y, lr, fused=True)


def numpy_step_fn(params, x, y, lr):
    """The same step written by hand in NumPy, as a competent NumPy programmer would."""
    import numpy as np

    W1, b1, W2, b2, W3, b3 = ps = [p.copy() for p in params]
    n = x.shape[0]
    rows = np.arange(n)

    def step():
        # forward
        a1 = x @ W1.T
        a1 += b1
        np.maximum(a1, 0, out=a1)  # h1
        a2 = a1 @ W2.T
        a2 += b2
        np.maximum(a2, 0, out=a2)  # h2
        z = a2 @ W3.T
        z += b3
        # fused softmax cross-entropy: loss = mean(logsumexp(z) - z[y])
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        s = p.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - z[rows, y])
        # backward: dz = (softmax - onehot) / n
        p /= s
        p[rows, y] -= 1
        p /= n
        dW3 = p.T @ a2
        db3 = p.sum(axis=0)
        d2 = p @ W3
        d2 *= a2 > 0
        dW2 = d2.T @ a1
        db2 = d2.sum(axis=0)
        d1 = d2 @ W2
        d1 *= a1 > 0
        dW1 = d1.T @ x
        db1 = d1.sum(axis=0)
        for w, g in zip(ps, (dW1, db1, dW2, db2, dW3, db3)):
            w -= lr * g
        return loss

    return step, ps


def mirror_step_fn(params, x, y, lr):
    """NumPy doing the array work of the nnbasics step, op by op, without autograd.

    Same temporaries (no in-place bias or ReLU), bool masks, softmax kept from the forward,
    the label checks of ``cross_entropy``, gradients of ``W.T`` computed transposed. Its
    time minus numpy's estimates the array-level cost of the graph; nnbasics' time minus
    its time, the Python cost. Written against the ops as of issue 2: an estimate.
    """
    import numpy as np

    ps = [p.copy() for p in params]
    n, c = x.shape[0], params[-1].shape[0]
    ignore = -100

    def step():
        W1, b1, W2, b2, W3, b3 = ps
        a1 = x @ W1.T
        a1 = a1 + b1
        m1 = a1 > 0
        h1 = a1 * m1
        a2 = h1 @ W2.T
        a2 = a2 + b2
        m2 = a2 > 0
        h2 = a2 * m2
        z = h2 @ W3.T
        z = z + b3
        bad = (y < 0) | (y >= c)  # cross_entropy's label checks
        bad &= y != ignore
        bad.any()
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        p = e / s
        (y != ignore).all()
        per = np.log(s[:, 0]) - shifted[rows, y]
        (y == ignore).any()
        loss = np.asarray(per.sum() / n)
        g = np.broadcast_to(np.ones_like(loss) * (1.0 / n), (n,))
        d = p * g[:, None]
        d[rows, y] -= g
        grads = [None] * 6
        grads[5] = d.sum(axis=0)
        grads[4] = (d.T @ h2).T.T
        g2 = (d @ W3) * m2
        grads[3] = g2.sum(axis=0)
        grads[2] = (g2.T @ h1).T.T
        g1 = (g2 @ W2) * m1
        grads[1] = g1.sum(axis=0)
        grads[0] = (g1.T @ x).T.T
        for w, gw in zip(ps, grads):
            w -= lr * gw
        return loss

    return step, ps


def torch_step_fn(params, x, y, lr):
    """The same step in PyTorch (CPU), written like the nnbasics one."""
    import torch
    import torch.nn.functional as TF

    W1, b1, W2, b2, W3, b3 = ps = [torch.tensor(p, requires_grad=True) for p in params]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        h = (xt @ W1.T + b1).relu()
        h = (h @ W2.T + b2).relu()
        loss = TF.cross_entropy(h @ W3.T + b3, yt)
        loss.backward()
        with torch.no_grad():
            for p in ps:
                p -= lr * p.grad
                p.grad = None
        return loss

    return step, ps


def _as_numpy(p):
    """ndarray of a weight or loss from any of the three implementations."""
    import numpy as np

    if isinstance(p, np.ndarray | np.generic):
        return p
    return p.detach().numpy()


def count_ops(step):
    """Number of ``Function.apply`` calls (recorded ops, plus any under no_grad) in one step."""
    from nnbasics.autograd import Function

    original = Function.__dict__["apply"]
    count = [0]

    def counting(cls, *args, **kwargs):
        count[0] += 1
        return original.__func__(cls, *args, **kwargs)

    Function.apply = classmethod(counting)
    try:
        step()
    finally:
        Function.apply = original
    return count[0]


def check_agreement(params, x, y, lr, have_torch):
    """After 3 steps all implementations hold the same weights (to float32 rounding)."""
    import numpy as np

    makers = {"nnbasics": nnbasics_step_fn, "nnbasics-linear": nnbasics_linear_step_fn,
              "numpy": numpy_step_fn, "numpy-mirror": mirror_step_fn}
    if have_torch:
        makers["torch"] = torch_step_fn
    finals, losses = {}, {}
    for name, make in makers.items():
        step, ps = make(params, x, y, lr)
        losses[name] = [float(_as_numpy(step())) for _ in range(3)]
        finals[name] = [_as_numpy(p) for p in ps]
    worst = 0.0
    for name in makers:
        for a, b in zip(finals[name], finals["numpy"]):
            worst = max(worst, float(np.max(np.abs(a - b))))
        np.testing.assert_allclose(losses[name], losses["numpy"], rtol=1e-4, atol=1e-5)
    if worst > 1e-4:
        raise RuntimeError(f"implementations disagree: max weight difference {worst:.2e} after 3 steps")
    return worst


MAKERS = {"nnbasics": nnbasics_step_fn, "nnbasics-linear": nnbasics_linear_step_fn, "numpy": numpy_step_fn,
          "numpy-mirror": mirror_step_fn, "torch": torch_step_fn}


# ---------------------------------------------------------------------------- workers
def setup_worker(cfg):
    if cfg["impl"] == "torch":
        import torch

        torch.set_num_threads(cfg["threads"])
    params, x, y = make_problem(cfg["sizes"], cfg["batch"], cfg["seed"])
    step, _ = MAKERS[cfg["impl"]](params, x, y, cfg["lr"])
    handlers = {"memory": lambda steps: C.memory_probe(step, steps), "time": C.timed_steps(step)}
    if cfg.get("memory"):
        C.load_compiled_kernels()  # with --compiled: Numba's import and compilation, before the probe
    else:
        for _ in range(cfg["warmup"]):
            step()
    return handlers, {}


def config(args, impl, threads, *, sizes=SIZES, batch=None, memory=False):
    return {"impl": impl, "threads": threads, "sizes": list(sizes), "batch": batch or args.batch, "lr": args.lr,
            "seed": args.seed, "warmup": args.warmup, "memory": memory}


def tiny_overhead(args, threads):
    """us per step of the tiny graph in nnbasics and numpy (alternating workers), and per op."""
    specs = {f"{impl} tiny": (config(args, impl, threads, sizes=TINY_SIZES, batch=4), threads)
             for impl in ("nnbasics", "numpy")}
    workers = C.start_workers(__file__, specs)
    try:
        times, _ = C.alternate(workers, args.rounds, "time", {"steps": max(args.steps * 10, 100)},
                               settle=args.settle)
    finally:
        C.close_all(workers)
    return {name.split()[0]: statistics.median(v) * 1e3 for name, v in times.items()}


# ---------------------------------------------------------------------------- main
def speed(args, impls, threads):
    import nnbasics

    params, x, y = make_problem(SIZES, args.batch, args.seed)
    worst = check_agreement(params, x, y, args.lr, "torch" in impls)
    specs, meta = {}, {}
    for t in threads:
        for impl in impls:
            specs[f"{impl} {t}t"] = (config(args, impl, t), t)
            meta[f"{impl} {t}t"] = {"impl": impl, "threads": t}
    res = C.measure(__file__, args, specs, meta, op="time", op_args={"steps": args.steps})
    res["max_weight_diff_after_3_steps"] = worst
    res["ops_per_step"] = count_ops(nnbasics_step_fn(params, x, y, args.lr)[0])
    res["ops_per_step_linear"] = count_ops(nnbasics_linear_step_fn(params, x, y, args.lr)[0])
    res["nnbasics_version"] = nnbasics.__version__
    if not args.no_tiny:
        tiny = tiny_overhead(args, threads[0])
        res["tiny"] = {"sizes": TINY_SIZES, "batch": 4, "threads": threads[0], "us_per_step": tiny,
                       "us_per_op": tiny["nnbasics"] / res["ops_per_step"]}
    return res


def print_speed(res, args):
    print(f"MLP {'-'.join(map(str, SIZES))} ReLU, batch {args.batch}, float32, SGD lr {args.lr}, cross-entropy; "
          f"{args.rounds} rounds x {args.steps} steps, workers alternating; ms per step\n")
    rows = C.speed_rows(res["times"], res["meta"], replies=res.get("replies"))
    res["rows"] = rows
    C.print_speed_table(rows)
    print("\n| implementation | threads | vs numpy | CPU ms/step (all threads) | page faults/step |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        reps = res["replies"][r["name"]]
        base = f"numpy {r['threads']}t"
        vs = C.median_ratio(res["times"][r["name"]], res["times"][base]) if base in res["times"] else None
        print(f"| {r['impl']} | {r['threads']} | {'-' if vs is None else f'{vs:.3f}'} | "
              f"{statistics.median(x['cpu_ms'] for x in reps):.3f} | {statistics.median(x['faults'] for x in reps):.1f} |")
    print(f"\nops per nnbasics step: {res['ops_per_step']} with x @ W.T + b, {res['ops_per_step_linear']} with F.linear")
    if "tiny" in res:
        t = res["tiny"]
        print(f"tiny graph {'-'.join(map(str, t['sizes']))}, batch 4, {t['threads']} thread(s): nnbasics "
              f"{t['us_per_step']['nnbasics']:.1f} us/step, numpy {t['us_per_step']['numpy']:.1f} us/step -> "
              f"{t['us_per_op']:.1f} us per op, about {t['us_per_op'] * res['ops_per_step'] / 1e3:.3f} ms of each step")
    print(f"(max weight difference between implementations after 3 steps: {res['max_weight_diff_after_3_steps']:.1e})")


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return C.serve(setup_worker, json.loads(args.worker))
    threads = C.parse_threads(args.threads)
    import importlib.util

    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    impls = C.with_compiled(["nnbasics", "nnbasics-linear", "numpy"] + (["numpy-mirror"] if args.mirror else [])
                            + (["torch"] if have_torch else []), args)
    if args.memory:
        specs, meta = {}, {}
        for batch in C.parse_sizes(args.batches):
            for impl in impls:
                specs[f"{impl} B{batch}"] = (config(args, impl, threads[0], batch=batch, memory=True), threads[0])
                meta[f"{impl} B{batch}"] = {"impl": impl, "batch": batch, "threads": threads[0]}
        res = C.measure(__file__, args, specs, meta)
    else:
        res = speed(args, impls, threads)
    res["config"] = vars(args)
    C.print_context(res)
    if args.memory:
        print(f"MLP {'-'.join(map(str, SIZES))}: peak RSS of {args.mem_steps} SGD steps above the RSS after import, "
              f"weights and batch ({threads[0]} thread(s)):\n")
        C.print_memory_table(res["memory"], res["meta"])
    else:
        print_speed(res, args)
    C.write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()
