"""What each framework's kernels reach on this machine: GEMM rates, PyTorch with and without oneDNN, two cores.

The ratios of ``mlp_step.py``, ``lstm_step.py`` and ``cnn_epoch.py`` depend on kernels neither
framework's Python code chooses. This prints the three facts that explain them (issue 19):

* ``gemm``: float32 GEMM GFLOP/s on one thread for a few shapes of the benchmarks (the
  char-LSTM's step product, the MLP's first layer, the LSTM's input projection, a big square):
  NumPy as this environment sets its OpenBLAS (``OPENBLAS_CORETYPE`` where set), NumPy with the
  variable unset (the kernels OpenBLAS picks for this CPU itself), and ``torch.mm``;
* ``onednn``: PyTorch's char-LSTM (E64, H256, T100, B32) and lab-CNN (batch 128) training steps
  (forward and backward) on one thread with oneDNN (``torch.backends.mkldnn``) on and off:
  PyTorch's LSTM and convolutions run oneDNN's own kernels, not its GEMM;
* ``scaling``: one process alone, then two at once, each running a float32 GEMM loop (NumPy, one
  BLAS thread) or a memory-bound pass (a 64 MB multiply): what two threads can gain here at best.

Each measurement runs in a fresh child process (the BLAS variables are read when a library
loads); the machine's load is printed with it.

Usage::

    python bench/backends.py                 # all three
    python bench/backends.py --only gemm,onednn
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

SHAPES = [(32, 256, 1024), (128, 784, 256), (3200, 64, 1024), (2048, 2048, 2048)]
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SETTLE = [0.1]  # seconds of sleep before each child (--settle): the last one's spinning threads idle

GEMM = r"""
import json, sys, time
import numpy as np
torch = None
if sys.argv[1] == "torch":
    import torch
    torch.set_num_threads(1)
out = {}
for m, k, n in json.loads(sys.argv[2]):
    if torch is None:
        a, b, c = np.ones((m, k), np.float32), np.ones((k, n), np.float32), np.empty((m, n), np.float32)
        f = lambda: np.matmul(a, b, out=c)
    else:
        a, b, c = torch.ones(m, k), torch.ones(k, n), torch.empty(m, n)
        f = lambda: torch.mm(a, b, out=c)
    f()
    reps = max(3, int(2e8 / (m * k * n)))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t) / reps)
    out[f"{m}x{k}x{n}"] = 2 * m * k * n / best / 1e9
print(json.dumps(out))
"""

ONEDNN = r"""
import json, time
import torch
torch.set_num_threads(1)
torch.manual_seed(0)
nn = torch.nn
lstm, xl = nn.LSTM(64, 256), torch.randn(100, 32, 64)
cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                    nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(3136, 10))
xc, yc = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
steps = {"lstm": lambda: lstm(xl)[0].sum().backward(),
         "cnn": lambda: nn.functional.cross_entropy(cnn(xc), yc).backward()}
out = {}
for on in (True, False):
    with torch.backends.mkldnn.flags(enabled=on):
        for name, f in steps.items():
            for _ in range(3):
                f()
            times = []
            for _ in range(7):
                t = time.perf_counter()
                f()
                times.append(time.perf_counter() - t)
            out[f"{name} onednn {'on' if on else 'off'}"] = sorted(times)[3] * 1e3
print(json.dumps(out))
"""

LOOP = r"""
import json, sys, time
import numpy as np
if sys.argv[1] == "gemm":
    a = b = np.ones((1024, 1024), np.float32)
    f, work = (lambda: a @ b), 2 * 1024 ** 3 / 1e9      # GFLOP per call
else:
    a = np.ones(2 ** 24, np.float32); c = np.empty_like(a)
    f, work = (lambda: np.multiply(a, 2, out=c)), 8 * 2 ** 24 / 1e9  # GB moved per call
f()
t, n = time.perf_counter(), 0
while time.perf_counter() - t < 3:
    f(); n += 1
print(json.dumps(work * n / (time.perf_counter() - t)))
"""


def child(code, *args, env=None):
    time.sleep(SETTLE[0])
    e = dict(os.environ, **ONE_THREAD, **(env or {}))
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=e, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def gemm_rates():
    shapes = json.dumps(SHAPES)
    cols = {"NumPy as set": child(GEMM, "numpy", shapes)}
    if os.environ.get("OPENBLAS_CORETYPE"):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        proc = subprocess.run([sys.executable, "-c", GEMM, "numpy", shapes], capture_output=True, text=True,
                              env=dict(env, **ONE_THREAD), check=True)
        cols["NumPy, OPENBLAS_CORETYPE unset"] = json.loads(proc.stdout)
    try:
        cols["torch.mm"] = child(GEMM, "torch", shapes)
    except subprocess.CalledProcessError:
        pass
    print("float32 GEMM, one thread, GFLOP/s (best of 5)\n")
    print("| m x k x n | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for key in cols["NumPy as set"]:
        print(f"| {key} | " + " | ".join(f"{c[key]:.0f}" for c in cols.values()) + " |")
    return cols


def onednn():
    out = child(ONEDNN)
    print("\nPyTorch training step (forward and backward), one thread, ms (median of 7)\n")
    print("| model | oneDNN on | oneDNN off |\n|---|---:|---:|")
    for name in ("lstm", "cnn"):
        print(f"| {name} | {out[name + ' onednn on']:.1f} | {out[name + ' onednn off']:.1f} |")
    return out


def scaling():
    res = {}
    for what in ("gemm", "memory"):
        alone = child(LOOP, what)
        procs = [subprocess.Popen([sys.executable, "-c", LOOP, what], stdout=subprocess.PIPE, text=True,
                                  env=dict(os.environ, **ONE_THREAD)) for _ in range(2)]
        both = [json.loads(p.communicate()[0]) for p in procs]
        res[what] = {"alone": alone, "two at once": both}
    unit = {"gemm": "GFLOP/s", "memory": "GB/s"}
    print("\nTwo processes at once (one BLAS thread each) against one alone\n")
    print("| loop | one alone | two at once (each) | two together / one alone |\n|---|---:|---|---:|")
    for what, r in res.items():
        print(f"| {what} ({unit[what]}) | {r['alone']:.1f} | {', '.join(f'{x:.1f}' for x in r['two at once'])} | "
              f"{sum(r['two at once']) / r['alone']:.2f} |")
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="gemm,onednn,scaling", help="comma-separated parts (default all)")
    p.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    p.add_argument("--settle", type=float, default=0.1, help="seconds of sleep before each measurement (default 0.1)")
    args = p.parse_args(argv)
    SETTLE[0] = args.settle
    parts = args.only.split(",")
    unknown = set(parts) - {"gemm", "onednn", "scaling"}
    if unknown:
        p.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from gemm, onednn, scaling")
    log = C.LoadLog()
    print(C.describe_machine(C.machine_record()) + "\n")
    out = {}
    if "gemm" in parts:
        out["gemm"] = gemm_rates()
    if "onednn" in parts:
        out["onednn"] = onednn()
    if "scaling" in parts:
        out["scaling"] = scaling()
    log.mark("end")
    print("\n" + log.summary())
    C.write_json(args.json, {**out, "load": log.samples})
    return 0


if __name__ == "__main__":
    sys.exit(main())
