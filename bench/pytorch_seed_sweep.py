"""Many seeds of one cheap corpus script, each side in one process: is a "not within noise" real?

``bench/pytorch_corpus.py --repeat 3`` compares 3 runs a side; with so few runs Welch's z exceeds 2
by chance in a good share of comparisons. For a script that runs in seconds this tool runs N seeds
a side -- the script patched as in the corpus, seed k in ``torch.manual_seed(k)`` -- inside one
Python process per side (torch imported once; ``nnbasics run``'s runner called once per seed),
and prints both samples' mean, spread and Welch's z::

    python bench/pytorch_seed_sweep.py --source hunkim=/path/to/DeepLearningZeroToAll \\
        --id hunkim/lab-04-2-multi_variable_linear_regression --seeds 100
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pytorch_corpus as pc

_DRIVER = r"""
import contextlib, io, json, os, runpy, sys
side, paths = sys.argv[1], sys.argv[2:]
if side == "torch":
    import torch
    for _op in ("nms", "qnms"):
        try:
            torch.library.define(f"torchvision::{_op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        except RuntimeError:
            pass
    torch.set_num_threads(1)
else:
    from nnbasics.compat.runner import run_script
for path in paths:
    os.chdir(os.path.dirname(path))
    buf = io.StringIO()
    status = 0
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        try:
            if side == "torch":
                sys.argv = [path]
                runpy.run_path(path, run_name="__main__")
            else:
                status = run_script(path, [])
        except BaseException as e:  # a script's error or sys.exit: recorded, the sweep goes on
            status = getattr(e, "code", 1) or 0 if isinstance(e, SystemExit) else 1
    print(json.dumps({"path": path, "status": status, "out": buf.getvalue()}), flush=True)
"""


def sweep(entry, corpus, sources, side, seeds, scratch: Path, fashion: Path) -> list:
    """The metric of each seed's run on one side (None where the run failed or printed none)."""
    paths = []
    for seed in seeds:
        folder = scratch / side / str(seed)
        folder.mkdir(parents=True)
        paths.append(str(pc.prepare(entry, corpus, sources, folder, fashion, seed)))
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NNBASICS_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pc.ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    done = subprocess.run([sys.executable, "-c", _DRIVER, side, *paths], env=env, capture_output=True, text=True,
                          check=False)
    defaults = corpus["defaults"]
    values = []
    for line in done.stdout.splitlines():
        r = json.loads(line)
        acc = pc.extract(r["out"], entry.get("accuracy", defaults.get("accuracy")))
        loss = pc.extract(r["out"], entry.get("loss", defaults.get("loss")))
        values.append(None if r["status"] else (acc, loss))
    return values


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--id", required=True, help="the corpus id of the script")
    p.add_argument("--seeds", type=int, default=50, help="seeds a side (1..N)")
    ns = p.parse_args(argv)
    corpus = pc.load_corpus()
    entry = next(e for e in corpus["script"] if e["id"] == ns.id)
    sources = dict(s.split("=", 1) for s in ns.source)
    fashion = pc.fashion_raw_dir(Path.home() / ".cache" / "nnbasics-bench")
    seeds = list(range(1, ns.seeds + 1))
    with tempfile.TemporaryDirectory(prefix="sweep-") as tmp:
        got = {side: sweep(entry, corpus, sources, side, seeds, Path(tmp), fashion) for side in ("torch", "nnbasics")}
    for k, name in ((0, "accuracy"), (1, "loss")):
        t = [v[k] for v in got["torch"] if v and v[k] is not None]
        n = [v[k] for v in got["nnbasics"] if v and v[k] is not None]
        if len(t) > 1 and len(n) > 1:
            se = math.sqrt(statistics.variance(t) / len(t) + statistics.variance(n) / len(n))
            z = abs(statistics.fmean(t) - statistics.fmean(n)) / se if se else 0.0
            print(f"{ns.id} {name}: torch {statistics.fmean(t):.4g} ± {statistics.stdev(t):.3g} (n={len(t)}, median "
                  f"{statistics.median(t):.4g}), nnbasics {statistics.fmean(n):.4g} ± {statistics.stdev(n):.3g} "
                  f"(n={len(n)}, median {statistics.median(n):.4g}); Welch z = {z:.2f}")
            break
    failed = {side: sum(v is None for v in vals) for side, vals in got.items()}
    print(f"failed runs: {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
