"""One training epoch of the lab CNN on Fashion-MNIST: nnbasics against PyTorch on the CPU (issue 4).

The model (``build_model("lab-cnn")``): conv 3x3 1->32 pad 1, ReLU, max-pool 2, conv 3x3 32->64
pad 1, ReLU, max-pool 2, dropout 0.3, linear 3136->10; batch 128, Adam (lr 1e-3), float32,
cross-entropy, the 60,000 training images shuffled once per epoch. PyTorch runs the same
model with the same thread count (``torch.set_num_threads``); NumPy's BLAS gets it through
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS``, set before NumPy loads.

Every measurement runs in its own subprocess, so peak RSS is per framework and nothing is
shared; the frameworks alternate inside each round (the order rotates), so a burst of load
on the machine hits both alike; the table gives medians over rounds. Each worker reports:
the epoch's wall time, inference images/s (eval mode, no grad, batches of 1,000 test
images), and its peak RSS. A GEMM worker measures the machine's float32 GEMM rate
(NumPy ``(2048 x 2048) @ (2048 x 2048)``, best of 5) and the table gives the fraction of it
each framework achieves on the model's GEMM FLOPs (forward, plus input and weight gradients;
the first layer's input gradient is not computed).

Usage::

    python bench/cnn_epoch.py                          # 3 rounds, all 60,000 images, 2 threads
    python bench/cnn_epoch.py --images 6400 --rounds 3 # quick
    python bench/cnn_epoch.py --threads 1 --json out.json
    python bench/cnn_epoch.py --worker nnbasics --images 6400 --profile   # where the time goes
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

DATA = "/usr/share/datasets/fashion-mnist"
BATCH = 128


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch threads (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs every framework once (default 3)")
    p.add_argument("--images", type=int, default=60000, help="training images per epoch (default 60000)")
    p.add_argument("--test-images", type=int, default=10000, help="test images for the inference rate (default 10000)")
    p.add_argument("--batch", type=int, default=BATCH, help="batch size (default 128)")
    p.add_argument("--data", default=DATA, help=f"folder with the Fashion-MNIST .gz IDX files (default {DATA})")
    p.add_argument("--no-torch", action="store_true", help="time nnbasics only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write every measurement as JSON to PATH")
    p.add_argument("--worker", choices=["nnbasics", "torch", "gemm"], help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true", help="with --worker nnbasics: print cProfile's top functions")
    return p.parse_args(argv)


# ------------------------------------------------------------------ data (private IDX reader)
def read_idx(path):
    """A gzip'd IDX file as a NumPy array (big-endian header: magic, dims; uint8 payload here)."""
    import numpy as np

    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(args):
    import numpy as np

    x = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))[: args.images]
    y = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))[: args.images]
    xt = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))[: args.test_images]
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    xt = (xt.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return x, y.astype(np.int64), xt


def gemm_flops_per_image():
    """GEMM FLOPs of one image: (forward, training step) for the lab CNN (2 * m * k * n per GEMM)."""
    c1 = 2 * 28 * 28 * (1 * 9) * 32
    c2 = 2 * 14 * 14 * (32 * 9) * 64
    fc = 2 * 3136 * 10
    return c1 + c2 + fc, 2 * c1 + 3 * c2 + 3 * fc  # no input gradient for the first layer


# ------------------------------------------------------------------ workers
def _peak_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_nnbasics(args):
    import numpy as np

    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics.models import build_model
    from nnbasics.optim import Adam

    x, y, xt = load(args)
    model = build_model("lab-cnn", rng=args.seed)
    opt = Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(args.seed)

    def step(idx):
        out = model(nb.as_tensor(x[idx]))
        loss = F.cross_entropy(out, nb.as_tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.train()
    for i in range(3):  # warm-up: allocator, BLAS threads
        step(np.arange(i * args.batch, (i + 1) * args.batch) % len(x))

    def epoch():
        perm = rng.permutation(len(x))
        for i in range(0, len(x), args.batch):
            step(perm[i:i + args.batch])

    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("epoch()", globals(), locals(), "/tmp/cnn_epoch.prof")
        pstats.Stats("/tmp/cnn_epoch.prof").sort_stats("tottime").print_stats(25)
        return None
    t0 = time.perf_counter()
    epoch()
    train_s = time.perf_counter() - t0
    model.eval()
    with nb.no_grad():
        model(nb.as_tensor(xt[:1000]))
        t0 = time.perf_counter()
        for i in range(0, len(xt), 1000):
            model(nb.as_tensor(xt[i:i + 1000]))
        infer_s = time.perf_counter() - t0
    return {"train_s": train_s, "infer_img_s": len(xt) / infer_s, "rss_mb": _peak_rss_mb()}


def worker_torch(args):
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y, xt = load(args)
    x, y, xt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xt)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Dropout(0.3), nn.Flatten(), nn.Linear(3136, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(args.seed)

    def step(idx):
        idx = torch.from_numpy(idx)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.train()
    for i in range(3):
        step(np.arange(i * args.batch, (i + 1) * args.batch) % len(x))
    t0 = time.perf_counter()
    perm = rng.permutation(len(x))
    for i in range(0, len(x), args.batch):
        step(perm[i:i + args.batch])
    train_s = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        model(xt[:1000])
        t0 = time.perf_counter()
        for i in range(0, len(xt), 1000):
            model(xt[i:i + 1000])
        infer_s = time.perf_counter() - t0
    return {"train_s": train_s, "infer_img_s": len(xt) / infer_s, "rss_mb": _peak_rss_mb()}


def worker_gemm(args):
    import numpy as np

    n = 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(5))
    return {"gflops": 2 * n**3 / best / 1e9}


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# ------------------------------------------------------------------ driver
def _thread_env(threads):
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def run_worker(name, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--threads", str(args.threads),
           "--images", str(args.images), "--test-images", str(args.test_images), "--batch", str(args.batch),
           "--data", args.data, "--seed", str(args.seed)]
    out = subprocess.run(cmd, env=_thread_env(args.threads), capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"worker {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):  # re-exec: BLAS reads it at load
            os.execve(sys.executable, [sys.executable, *sys.argv], _thread_env(args.threads))
        res = {"nnbasics": worker_nnbasics, "torch": worker_torch, "gemm": worker_gemm}[args.worker](args)
        if res is not None:
            print(json.dumps(res))
        return
    frameworks = ["nnbasics"] + ([] if args.no_torch else ["torch"])
    results = {f: [] for f in frameworks}
    gemm = []
    for r in range(args.rounds):
        order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
        for f in order:
            results[f].append(run_worker(f, args))
            print(f"round {r + 1} {f}: {results[f][-1]}", file=sys.stderr)
        gemm.append(run_worker("gemm", args)["gflops"])
    g = statistics.median(gemm)
    _, train_flops = gemm_flops_per_image()
    print(f"\nlab CNN, {args.images} training images, batch {args.batch}, {args.threads} thread(s), "
          f"medians of {args.rounds} rounds; float32 GEMM peak (NumPy 2048^3): {g:.0f} GFLOP/s\n")
    print("| framework | ms/epoch | min | max | vs torch | inference img/s | peak RSS MB | GFLOP/s | of GEMM peak |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = statistics.median(r["train_s"] for r in results["torch"]) if "torch" in results else None
    for f in frameworks:
        ts = [r["train_s"] for r in results[f]]
        med = statistics.median(ts)
        gf = train_flops * args.images / med / 1e9
        ratio = f"{med / base:.3f}" if base else "-"
        print(f"| {f} | {med * 1e3:.0f} | {min(ts) * 1e3:.0f} | {max(ts) * 1e3:.0f} | {ratio} | "
              f"{statistics.median(r['infer_img_s'] for r in results[f]):.0f} | "
              f"{statistics.median(r['rss_mb'] for r in results[f]):.0f} | {gf:.0f} | {gf / g:.0%} |")
    if base:
        per_round = [a["train_s"] / b["train_s"] for a, b in zip(results["nnbasics"], results["torch"])]
        print(f"\nnnbasics/torch per round: {', '.join(f'{q:.3f}' for q in per_round)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "results": results, "gemm_gflops": gemm}, fh, indent=1)


if __name__ == "__main__":
    main()
