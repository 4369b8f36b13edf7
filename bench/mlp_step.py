"""Engine overhead: one SGD training step of a 784-256-256-10 ReLU MLP (issue 2, item 10).

Times the same step three ways, from the same initial weights and the same batch:

* ``nnbasics``: tensors and autograd (``x @ W.T + b``, ``.relu()``,
  ``functional.cross_entropy``, ``loss.backward()``, SGD update under ``no_grad``);
* ``numpy``: the step written by hand in NumPy (forward, fused softmax-cross-entropy
  backward, matmul gradients, in-place update);
* ``torch``: PyTorch on the CPU with as many threads as the BLAS NumPy uses (skipped
  when torch is not importable).

The implementations alternate inside each round (the order rotates), so a burst of load
on the machine hits all of them alike; the table reports the median over rounds.
It also counts the Python-level ops of one nnbasics step and estimates the per-op
overhead by timing the same graph on tiny arrays, where the arithmetic costs nothing.

Usage::

    python bench/mlp_step.py                      # 7 rounds of 50 steps after warm-up
    python bench/mlp_step.py --rounds 9 --steps 100 --json results.json
    python bench/mlp_step.py --threads 1          # pin BLAS (and torch) to one thread
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time

SIZES = (784, 256, 256, 10)
TINY_SIZES = (8, 8, 8, 4)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per implementation (default 7)")
    p.add_argument("--steps", type=int, default=50, help="steps per timed round (default 50)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps per implementation first (default 10)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (sets OPENBLAS/OMP/MKL_NUM_THREADS before NumPy loads); default: BLAS's own")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even when it is installed")
    p.add_argument("--mirror", action="store_true",
                   help="also time NumPy doing nnbasics' array work without autograd (splits array vs Python cost)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch (default 0)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH ('-' for stdout)")
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


# ------------------------------------------------------------------------ measures
def _minor_faults():
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_alternating(steps, n_steps, rounds, warmup):
    """ms/step of each implementation per round (implementations alternate, order rotating),
    and minor page faults per step (fresh pages from the allocator: a hidden cost of temporaries)."""
    names = list(steps)
    for name in names:
        for _ in range(warmup):
            steps[name]()
    per_round = {name: [] for name in names}
    faults = dict.fromkeys(names, 0)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            fn = steps[name]
            f0 = _minor_faults()
            t0 = time.perf_counter()
            for _ in range(n_steps):
                fn()
            per_round[name].append((time.perf_counter() - t0) / n_steps * 1e3)
            faults[name] += _minor_faults() - f0
    return per_round, {name: f / (rounds * n_steps) for name, f in faults.items()}


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


def blas_info():
    """(library description, threads) of the BLAS NumPy uses, as well as can be found out."""
    try:
        from threadpoolctl import threadpool_info

        for d in threadpool_info():
            if d.get("user_api") == "blas":
                return f"{d.get('internal_api')} {d.get('version')} ({d.get('architecture')})", d["num_threads"]
    except ImportError:
        pass
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        libs = []
    for path in libs:
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            get_threads = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            get_config = getattr(lib, f"{prefix}_get_config{suffix}", None)
            if get_threads is not None:
                get_threads.restype = ctypes.c_int
                desc = "OpenBLAS"
                if get_config is not None:
                    get_config.restype = ctypes.c_char_p
                    desc = get_config().decode()
                return desc, get_threads()
    n = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    return "unknown BLAS", int(n) if n else os.cpu_count()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:  # must happen before NumPy (and its BLAS) is loaded
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import numpy as np

    import nnbasics

    blas, threads = blas_info()
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
    if torch is not None:
        torch.set_num_threads(threads)

    params, x, y = make_problem(SIZES, args.batch, args.seed)
    worst = check_agreement(params, x, y, args.lr, torch is not None)

    makers = {"nnbasics": nnbasics_step_fn, "nnbasics-linear": nnbasics_linear_step_fn, "numpy": numpy_step_fn}
    if args.mirror:
        makers["numpy-mirror"] = mirror_step_fn
    if torch is not None:
        makers["torch"] = torch_step_fn
    steps = {name: make(params, x, y, args.lr)[0] for name, make in makers.items()}
    n_ops = count_ops(nnbasics_step_fn(params, x, y, args.lr)[0])
    per_round, faults = time_alternating(steps, args.steps, args.rounds, args.warmup)
    med = {name: statistics.median(v) for name, v in per_round.items()}

    # the same graph on tiny arrays: the time is almost all Python overhead
    tparams, tx, ty = make_problem(TINY_SIZES, 4, args.seed)
    tiny_steps = {name: makers[name](tparams, tx, ty, args.lr)[0] for name in ("nnbasics", "numpy")}
    tiny_rounds, _ = time_alternating(tiny_steps, max(args.steps * 10, 100), args.rounds, args.warmup * 10)
    tiny = {name: statistics.median(v) * 1e3 for name, v in tiny_rounds.items()}  # us/step
    per_op_us = tiny["nnbasics"] / n_ops

    res = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "blas": blas,
            "blas_threads": threads,
            "torch": torch.__version__ if torch is not None else None,
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "nnbasics": nnbasics.__version__,
        },
        "config": {"sizes": SIZES, "batch": args.batch, "dtype": "float32", "lr": args.lr,
                   "rounds": args.rounds, "steps_per_round": args.steps, "warmup": args.warmup},
        "max_weight_diff_after_3_steps": worst,
        "ms_per_step": {name: {"median": med[name], "min": min(v), "max": max(v), "rounds": v}
                        for name, v in per_round.items()},
        "page_faults_per_step": faults,
        "ratio_nnbasics_numpy": med["nnbasics"] / med["numpy"],
        "ratio_nnbasics_torch": med["nnbasics"] / med["torch"] if "torch" in med else None,
        "ratio_nnbasics_linear_numpy": med["nnbasics-linear"] / med["numpy"],
        "ops_per_step_linear": count_ops(nnbasics_linear_step_fn(params, x, y, args.lr)[0]),
        "ops_per_step": n_ops,
        "tiny": {"sizes": TINY_SIZES, "batch": 4, "us_per_step": tiny, "us_per_op": per_op_us,
                 "estimated_overhead_ms_per_step": n_ops * per_op_us / 1e3},
    }
    print_table(res)
    if args.json:
        text = json.dumps(res, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return res


def print_table(res):
    m, c = res["machine"], res["config"]
    print(f"MLP {'-'.join(map(str, c['sizes']))} ReLU, batch {c['batch']}, {c['dtype']}, SGD lr {c['lr']}, "
          f"cross-entropy; {c['rounds']} rounds x {c['steps_per_round']} steps, median")
    print(f"{m['cpu']}, {m['cores']} cores; NumPy {m['numpy']} ({m['blas']}), BLAS threads {m['blas_threads']}; "
          f"torch {m['torch']} (threads {m['torch_threads']})")
    print()
    print("| implementation | ms/step (median) | min | max | vs numpy | page faults/step |")
    print("|---|---:|---:|---:|---:|---:|")
    base = res["ms_per_step"]["numpy"]["median"]
    for name, s in res["ms_per_step"].items():
        print(f"| {name} | {s['median']:.3f} | {s['min']:.3f} | {s['max']:.3f} | {s['median'] / base:.3f} "
              f"| {res['page_faults_per_step'][name]:.1f} |")
    print()
    r_t = res["ratio_nnbasics_torch"]
    print(f"nnbasics/numpy = {res['ratio_nnbasics_numpy']:.3f}" + (f", nnbasics/torch = {r_t:.3f}" if r_t else ""))
    print(f"nnbasics-linear/numpy = {res['ratio_nnbasics_linear_numpy']:.3f} "
          f"({res['ops_per_step_linear']} ops per step, against {res['ops_per_step']} with x @ W.T + b)")
    t = res["tiny"]
    print(f"ops per nnbasics step: {res['ops_per_step']}; tiny graph {'-'.join(map(str, t['sizes']))}, batch 4: "
          f"nnbasics {t['us_per_step']['nnbasics']:.1f} us/step, numpy {t['us_per_step']['numpy']:.1f} us/step "
          f"-> {t['us_per_op']:.1f} us per op, about {t['estimated_overhead_ms_per_step']:.3f} ms of each step")
    print(f"(max weight difference between implementations after 3 steps: {res['max_weight_diff_after_3_steps']:.1e})")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
