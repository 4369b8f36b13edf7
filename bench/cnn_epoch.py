"""One training epoch of the lab CNN on Fashion-MNIST: nnbasics against PyTorch on the CPU (issues 4, 19).

The model (``build_model("lab-cnn")``): conv 3x3 1->32 pad 1, ReLU, max-pool 2, conv 3x3 32->64
pad 1, ReLU, max-pool 2, dropout 0.3, linear 3136->10; batch 128, Adam (lr 1e-3), float32,
cross-entropy, the training images shuffled once per epoch. PyTorch runs the same model with
the same thread count (``torch.set_num_threads``); NumPy's BLAS gets it through
``OPENBLAS_NUM_THREADS`` etc., set in each worker's environment before NumPy loads.

Each (framework, thread count) is a persistent worker process that loads the data and builds
the model once; the workers alternate inside each round, the order rotating (see
``bench/_common.py``), and the table gives medians over rounds and the median of per-round
ratios. Each round reports the epoch's wall time, inference images/s (eval mode, no grad,
batches of 1,000 test images) and the worker's peak RSS so far. A GEMM worker per thread count
measures the machine's float32 GEMM rate (NumPy ``(2048 x 2048) @ (2048 x 2048)``, best of 5)
before and after the rounds; the table gives the fraction of it each framework achieves on
the model's GEMM FLOPs (forward, plus input and weight gradients; the first layer's input
gradient is not computed).

Usage::

    python bench/cnn_epoch.py                                  # 3 rounds, all 60,000 images, all cores
    python bench/cnn_epoch.py --threads 1,2 --images 6400      # quick
    python bench/cnn_epoch.py --threads 1,2 --under-load       # one busy competitor process
    python bench/cnn_epoch.py --memory --batches 128,1024,8192 # peak RSS of 2 training steps
    python bench/cnn_epoch.py --profile --images 6400          # where nnbasics' time goes (cProfile)
    python bench/cnn_epoch.py --threads 1,2 --compiled         # also nnbasics with NNBASICS_COMPILED=numba

``--compiled`` adds a third worker per thread count, ``nnbasics+numba``: the same nnbasics with the
optional compiled kernels on (``NNBASICS_COMPILED=numba``; Numba compiles, or loads from its
cache, during the warm-up steps; the memory mode loads them before it measures).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

DATA = "/usr/share/datasets/fashion-mnist"
BATCH = 128
#: The name of the worker that runs nnbasics with its optional compiled kernels (``--compiled``).
COMPILED = "nnbasics" + C.COMPILED_SUFFIX


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs every worker once (default 3)")
    p.add_argument("--images", type=int, default=60000, help="training images per epoch (default 60000)")
    p.add_argument("--test-images", type=int, default=10000, help="test images for the inference rate (default 10000)")
    p.add_argument("--batch", type=int, default=BATCH, help="batch size of the timed epochs (default 128)")
    p.add_argument("--data", default=DATA, help=f"folder with the Fashion-MNIST .gz IDX files (default {DATA})")
    p.add_argument("--random-data", action="store_true", help="random images instead of Fashion-MNIST (same cost)")
    p.add_argument("--no-torch", action="store_true", help="time nnbasics only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gemm-size", type=int, default=2048, help="n of the n x n GEMM that measures the peak (default 2048)")
    p.add_argument("--profile", action="store_true", help="print cProfile's top functions of one nnbasics epoch")
    C.add_common_args(p, memory_batches="128,1024,8192")
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


def load(cfg):
    """(train images (n, 1, 28, 28) float32 in [0, 1], labels int64, test images)."""
    import numpy as np

    n, nt = cfg["images"], cfg["test_images"]
    if cfg["random_data"]:
        rng = np.random.default_rng(cfg["seed"])
        return (rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n),
                rng.random((nt, 1, 28, 28), dtype=np.float32))
    x = read_idx(os.path.join(cfg["data"], "train-images-idx3-ubyte.gz"))[:n]
    y = read_idx(os.path.join(cfg["data"], "train-labels-idx1-ubyte.gz"))[:n]
    xt = read_idx(os.path.join(cfg["data"], "t10k-images-idx3-ubyte.gz"))[:nt]
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    xt = (xt.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return x, y.astype(np.int64), xt


def gemm_flops_per_image():
    """GEMM FLOPs of one image: (forward, training step) for the lab CNN (2 * m * k * n per GEMM)."""
    c1 = 2 * 28 * 28 * (1 * 9) * 32
    c2 = 2 * 14 * 14 * (32 * 9) * 64
    fc = 2 * 3136 * 10
    return c1 + c2 + fc, 2 * c1 + 3 * c2 + 3 * fc  # no input gradient for the first layer


# ------------------------------------------------------------------ the two frameworks
def nnbasics_parts(cfg):
    """(step(x, y), infer(x)) of the lab CNN in nnbasics."""
    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics.models import build_model
    from nnbasics.optim import Adam

    model = build_model("lab-cnn", rng=cfg["seed"])
    opt = Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        model.train()
        loss = F.cross_entropy(model(nb.as_tensor(x)), nb.as_tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer(x):
        model.eval()
        with nb.no_grad():
            model(nb.as_tensor(x))

    return step, infer


def load_compiled():
    """Import Numba and load the compiled max-pool's loops (from Numba's cache) on a tiny batch of both
    layouts: import, not training, as the memory mode excludes for PyTorch too."""
    import numpy as np

    import nnbasics as nb
    import nnbasics.functional as F

    x = nb.tensor(np.ones((1, 2, 4, 4), np.float32), requires_grad=True)
    for t in (x, x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)):
        F.max_pool2d(F.relu(t), 2).sum().backward()
    C.load_compiled_kernels()  # the compiled matrix product


def torch_parts(cfg):
    """(step(x, y), infer(x)) of the same model in PyTorch."""
    import torch

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Dropout(0.3), nn.Flatten(), nn.Linear(3136, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        model.train()
        loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer(x):
        model.eval()
        with torch.no_grad():
            model(torch.from_numpy(x))

    return step, infer


# ------------------------------------------------------------------ workers
def gemm_rate(n):
    import numpy as np

    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return {"gflops": 2 * n**3 / best / 1e9}


def setup_worker(cfg):
    import numpy as np

    if cfg["impl"] == "gemm":
        return {"gemm": lambda: gemm_rate(cfg["n"])}, {}
    step, infer = (torch_parts if cfg["impl"] == "torch" else nnbasics_parts)(cfg)
    if cfg.get("memory"):  # random images of the batch size; the cost does not depend on the pixels
        if os.environ.get("NNBASICS_COMPILED") == "numba":  # a --compiled worker (bench/_common.py serve)
            load_compiled()
        rng = np.random.default_rng(cfg["seed"])
        xb, yb = rng.random((cfg["batch"], 1, 28, 28), dtype=np.float32), rng.integers(0, 10, cfg["batch"])
        return {"memory": lambda steps: C.memory_probe(lambda: step(xb, yb), steps)}, {}
    x, y, xt = load(cfg)
    rng = np.random.default_rng(cfg["seed"])
    bs = cfg["batch"]
    for i in range(3):  # warm-up: allocator, BLAS threads
        idx = np.arange(i * bs, (i + 1) * bs) % len(x)
        step(x[idx], y[idx])

    def epoch():
        perm = rng.permutation(len(x))
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            step(x[idx], y[idx])
        train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
        infer(xt[:1000])
        t0 = time.perf_counter()
        for i in range(0, len(xt), 1000):
            infer(xt[i:i + 1000])
        infer_s = time.perf_counter() - t0
        return {"ms": train_s * 1e3, "cpu_ms": cpu_s * 1e3, "infer_img_s": len(xt) / infer_s,
                "rss_mb": _peak_rss_mb()}

    return {"epoch": epoch}, {}


def _peak_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def config(args, impl, threads, batch=None, memory=False):
    keys = ("images", "test_images", "data", "random_data", "seed")
    return {**{k: getattr(args, k) for k in keys}, "impl": impl, "threads": threads,
            "batch": batch or args.batch, "memory": memory}


def gemm_rates(threads, n):
    rates = {}
    for t in threads:
        ws = C.start_workers(__file__, {f"gemm {t}t": ({"impl": "gemm", "threads": t, "n": n}, t)})
        try:
            rates[t] = ws[f"gemm {t}t"].call("gemm")["gflops"]
        finally:
            C.close_all(ws)
    return rates


def profile(args):
    import cProfile
    import pstats

    import numpy as np

    cfg = config(args, "nnbasics", C.parse_threads(args.threads)[0])
    step, _ = nnbasics_parts(cfg)
    x, y, _ = load(cfg)
    perm = np.random.default_rng(0).permutation(len(x))

    def epoch():
        for i in range(0, len(x), args.batch):
            idx = perm[i:i + args.batch]
            step(x[idx], y[idx])

    epoch()
    cProfile.runctx("epoch()", globals(), locals(), "/tmp/cnn_epoch.prof")
    pstats.Stats("/tmp/cnn_epoch.prof").sort_stats("tottime").print_stats(25)


# ------------------------------------------------------------------ driver
def print_speed(res, args, threads):
    before, after = res["gemm_before"], res["gemm_after"]
    _, train_flops = gemm_flops_per_image()
    print(f"lab CNN, {args.images} training images, batch {args.batch}, {args.rounds} rounds, workers alternating; "
          f"ms per epoch")
    print(f"float32 GEMM peak (NumPy {args.gemm_size}^3, before / after the rounds): "
          + ", ".join(f"{t} thread(s) {before[t]:.0f} / {after[t]:.0f} GFLOP/s" for t in threads) + "\n")
    rows = C.speed_rows(res["times"], res["meta"], replies=res.get("replies"))
    C.print_speed_table(rows, unit="ms/epoch")
    res["rows"] = rows
    print("\n| implementation | threads | inference img/s | peak RSS MB | GFLOP/s | of GEMM peak |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        reps = res["replies"][r["name"]]
        gf = train_flops * args.images / (r["median"] / 1e3) / 1e9
        peak = statistics.median([before[r["threads"]], after[r["threads"]]])
        print(f"| {r['impl']} | {r['threads']} | {statistics.median(x['infer_img_s'] for x in reps):.0f} | "
              f"{max(x['rss_mb'] for x in reps):.0f} | {gf:.0f} | {gf / peak:.0%} |")
    for t in threads:
        for impl in ("nnbasics", COMPILED):
            a, b = f"{impl} {t}t", f"torch {t}t"
            if a in res["times"] and b in res["times"]:
                per = [x / y for x, y in zip(res["times"][a], res["times"][b])]
                print(f"\n{impl}/torch per round, {t} thread(s): {', '.join(f'{q:.3f}' for q in per)}")


def main(argv=None):
    import json

    args = parse_args(argv)
    if args.worker:
        return C.serve(setup_worker, json.loads(args.worker))
    if args.profile:
        return profile(args)
    threads = C.parse_threads(args.threads)
    impls = C.with_compiled(["nnbasics"] + ([] if args.no_torch else ["torch"]), args)
    specs, meta = {}, {}
    if args.memory:
        for batch in C.parse_sizes(args.batches):
            for impl in impls:
                name = f"{impl} B{batch}"
                specs[name] = (config(args, impl, threads[0], batch, memory=True), threads[0])
                meta[name] = {"impl": impl, "batch": batch, "threads": threads[0]}
        res = C.measure(__file__, args, specs, meta)
    else:
        for t in threads:
            for impl in impls:
                specs[f"{impl} {t}t"] = (config(args, impl, t), t)
                meta[f"{impl} {t}t"] = {"impl": impl, "threads": t}
        before = gemm_rates(threads, args.gemm_size)
        res = C.measure(__file__, args, specs, meta, op="epoch")
        res["gemm_before"], res["gemm_after"] = before, gemm_rates(threads, args.gemm_size)
    res["config"] = vars(args)
    C.print_context(res)
    if args.memory:
        print(f"lab CNN: peak RSS of {args.mem_steps} training steps above the RSS after import, model and "
              f"data ({threads[0]} thread(s)):\n")
        C.print_memory_table(res["memory"], meta)
    else:
        print_speed(res, args, threads)
    C.write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()
