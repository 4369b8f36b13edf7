"""Run a corpus of PyTorch scripts under real PyTorch and under ``nnbasics run``; tabulate both.

The corpus (``bench/pytorch_corpus.toml``) lists scripts of public repositories -- the course
labs of "Deep Learning Zero To All" and well-known beginner code (the official tutorials,
pytorch/examples) -- with small regex edits ("patches") that cut epochs or data for time and
map MNIST to the Fashion-MNIST stand-in where this machine has no MNIST. Nothing of those
repositories is stored here: give each checkout's path on the command line::

    git clone https://github.com/hunkim/DeepLearningZeroToAll
    git clone https://github.com/deeplearningzerotoall/PyTorch dlzta-pytorch
    python bench/pytorch_corpus.py --source hunkim=DeepLearningZeroToAll --source s2=dlzta-pytorch \\
        --out runs/corpus            # results.json, results.md, one log per run

Each script runs in a scratch copy of its folder (so its relative paths and data files work and
the checkout stays clean), with ``MNIST_data/FashionMNIST/raw`` (and ``data/FashionMNIST/raw``)
holding the Fashion-MNIST IDX files, ``MPLBACKEND=Agg`` and one BLAS thread. The torch side is
``python SCRIPT.py`` with real torch 2.13 (+ torchvision 0.28, whose CUDA-built C ops are not
loaded: their two op schemas are declared so the pure-Python parts import); the nnbasics side is
``nnbasics run SCRIPT.py``. The final loss and accuracy are read from each run's output with the
script's regexes (the last match counts). ``--repeat N`` runs each side N times with the
script's seed changed (``seed_patch``) to measure run-to-run noise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "pytorch_corpus.toml"

_TORCH_SIDE = r"""
import runpy, sys
import torch
for _op in ("nms", "qnms"):
    try:
        torch.library.define(f"torchvision::{_op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    except RuntimeError:
        pass
torch.set_num_threads(1)
sys.argv = sys.argv[1:]
sys.path[0] = __import__("os").path.dirname(__import__("os").path.abspath(sys.argv[0]))
if sys.argv[0].endswith(".ipynb"):
    from nnbasics.compat.notebook import notebook_source
    code = compile(notebook_source(sys.argv[0]), sys.argv[0], "exec")
    g = {"__name__": "__main__", "__file__": sys.argv[0]}
    exec(code, g)
else:
    runpy.run_path(sys.argv[0], run_name="__main__")
"""

#: relative agreement of two deterministic runs (no seed dependence) that counts as equal
DETERMINISTIC_RTOL = 1e-4

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


def load_corpus(path=CORPUS) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def fashion_raw_dir(cache: Path) -> Path:
    """Uncompressed Fashion-MNIST IDX files (torchvision reads them from .../FashionMNIST/raw)."""
    out = cache / "fashion-mnist-raw"
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    if all((out / n).is_file() for n in names):
        return out
    src = None
    for d in (os.environ.get("NNBASICS_DATA", ""), str(Path.home() / ".cache/nnbasics"), "/usr/share/datasets"):
        cand = Path(d) / "fashion-mnist"
        if d and (cand / "train-images-idx3-ubyte.gz").is_file():
            src = cand
            break
    if src is None:
        raise SystemExit("Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or set NNBASICS_DATA).")
    out.mkdir(parents=True, exist_ok=True)
    for n in names:
        with gzip.open(src / f"{n}.gz", "rb") as f:
            data = f.read()
        tmp = out / f".{n}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out / n)
    return out


def apply_patches(text: str, patches, script_id: str) -> str:
    for pattern, repl, *rest in patches:
        count = int(rest[0]) if rest else 0
        new, n = re.subn(pattern, repl, text, count=count, flags=re.MULTILINE)
        if n == 0 and "optional" not in rest:
            raise ValueError(f"{script_id}: patch {pattern!r} matched nothing; the script changed upstream.")
        text = new
    return text


def patches_for(entry: dict, corpus: dict, seed=None) -> list:
    out = []
    for name in entry.get("patch_sets", []):
        out.extend(corpus["patch_sets"][name])
    out.extend(entry.get("patches", []))
    if seed is not None:
        pat = entry.get("seed_patch", corpus["defaults"].get("seed_patch"))
        if pat:
            out.append([pat, rf"\g<1>{seed}\g<2>", 0, "optional"])  # unseeded scripts differ run to run anyway
    return out


def prepare(entry, corpus, sources, scratch: Path, fashion: Path, seed=None) -> Path:
    """A scratch copy of the script's folder with the patched script; returns the script's path in it.

    The copy sits two folders deep in ``scratch`` so a script's ``../../data`` stays inside it. Each
    data root of ``data_roots`` (the corpus default plus the entry's) gets ``FashionMNIST/raw``;
    ``remove`` deletes paths of the copy (stale partial downloads); ``files`` copies
    ``[destination, "source:path"]`` pairs in (a data file the checkout lacks).
    """
    src_root = Path(sources[entry["source"]])
    script = src_root / entry["path"]
    if not script.is_file():
        raise FileNotFoundError(f"{script}: not found in the checkout of {entry['source']}")
    work = scratch / "a" / "b" / "work"
    shutil.copytree(script.parent, work, ignore=shutil.ignore_patterns(".git", "*.ipynb_checkpoints"),
                    dirs_exist_ok=False, symlinks=True)
    for rel in entry.get("remove", []):
        target = work / rel
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for dest, origin in entry.get("files", []):
        src_name, _, rel = origin.partition(":")
        (work / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(sources[src_name]) / rel, work / dest)
    for root_name in [*corpus["defaults"].get("data_roots", []), *entry.get("data_roots", [])]:
        raw = (work / root_name / "FashionMNIST" / "raw").resolve()
        if not raw.exists():
            raw.mkdir(parents=True, exist_ok=True)
            for f in fashion.iterdir():
                (raw / f.name).symlink_to(f)
    target = work / script.name
    pats = patches_for(entry, corpus, seed)
    if script.suffix == ".py":
        text = script.read_text(encoding="utf-8-sig")
        target.write_text(apply_patches(text, pats, entry["id"]), encoding="utf-8")
    elif pats:
        nb = json.loads(script.read_text(encoding="utf-8"))
        joined = "\x00".join("".join(c.get("source", "")) for c in nb["cells"])
        patched = apply_patches(joined, pats, entry["id"]).split("\x00")
        for c, text in zip(nb["cells"], patched):
            c["source"] = text
        target.write_text(json.dumps(nb), encoding="utf-8")
    return target


def extract(output: str, regex: str | None):
    if not regex:
        return None
    vals = re.findall(regex, output, flags=re.MULTILINE)
    if not vals:
        return None
    last = vals[-1]
    if isinstance(last, tuple):
        number = next((v for v in last if re.fullmatch(_NUMBER, v or "")), None)
        pct = "%" in last
    else:
        number, pct = last, False
    try:
        v = float(number)
    except (TypeError, ValueError):
        return None
    return v / 100.0 if pct else v


def run_one(entry, corpus, sources, side, out_dir: Path, fashion: Path, seed=None, timeout=None) -> dict:
    defaults = corpus["defaults"]
    timeout = timeout or entry.get("timeout", defaults.get("timeout", 900))
    tag = f"{entry['id'].replace('/', '__')}.{side}" + (f".seed{seed}" if seed is not None else "")
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        scratch = Path(tmp)
        try:
            script = prepare(entry, corpus, sources, scratch, fashion, seed)
        except (ValueError, FileNotFoundError) as e:
            return {"id": entry["id"], "side": side, "status": "patch-error", "error": str(e), "seed": seed}
        env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONHASHSEED="0", NNBASICS_THREADS="1", PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
        args = [str(a) for a in entry.get("args", [])]
        if side == "torch":
            cmd = [sys.executable, "-c", _TORCH_SIDE, script.name, *args]
        else:
            cmd = [sys.executable, "-m", "nnbasics", "run", script.name, *args]
        t0 = time.perf_counter()
        rc, stdout, stderr = 0, b"", b""
        # NOTE: a prelude (a data generator the script needs) runs first, on the same side.
        for pre in [*entry.get("prelude", []), script.name]:
            one = cmd[:-1 - len(args)] + [pre] + (args if pre == script.name else [])
            try:
                proc = subprocess.run(one, cwd=script.parent, env=env, capture_output=True, timeout=timeout,
                                      check=False)
                rc, out_b, err_b = proc.returncode, proc.stdout, proc.stderr
            except subprocess.TimeoutExpired as e:
                rc, out_b, err_b = None, e.stdout or b"", (e.stderr or b"") + b"\n[timed out]"
            stdout, stderr = stdout + out_b, stderr + err_b
            if rc != 0:
                break
        wall = time.perf_counter() - t0
    text = stdout.decode("utf-8", "replace")
    err = stderr.decode("utf-8", "replace")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{tag}.log").write_text(f"$ {' '.join(cmd[:2] + ['...'] + cmd[3:])}\n{text}\n--- stderr ---\n{err}",
                                        encoding="utf-8")
    status = "ok" if rc == 0 else ("timeout" if rc is None else f"exit {rc}")
    last_err = next((ln for ln in reversed(err.strip().splitlines())
                     if ln.strip() and not ln.startswith(("(raised inside", "Instead:"))), "") if rc else ""
    if rc and err.startswith("nnbasics run:"):  # an unsupported API: its first line names it
        last_err = err.splitlines()[0]
    return {"id": entry["id"], "side": side, "status": status, "seed": seed, "wall_s": round(wall, 2),
            "loss": extract(text, entry.get("loss", defaults.get("loss"))),
            "accuracy": _scaled(extract(text, entry.get("accuracy", defaults.get("accuracy"))), entry),
            "error": last_err[:300], "log": str(out_dir / f"{tag}.log")}


def _scaled(value, entry):
    """An accuracy printed as a count (``accuracy_scale = 0.001`` for correct answers out of 1,000)."""
    return None if value is None else value * float(entry.get("accuracy_scale", 1.0))


def reextract(result: dict, corpus: dict) -> dict:
    """``result`` with loss and accuracy read again from its log (after a corpus regex changed)."""
    entry = next((e for e in corpus["script"] if e["id"] == result["id"]), None)
    log = Path(result.get("log", ""))
    if entry is None or not log.is_file():
        return result
    text = log.read_text(encoding="utf-8").split("\n--- stderr ---\n")[0]
    defaults = corpus["defaults"]
    return {**result, "loss": extract(text, entry.get("loss", defaults.get("loss"))),
            "accuracy": _scaled(extract(text, entry.get("accuracy", defaults.get("accuracy"))), entry)}


def _fmt(v, pct=False):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:.4g}"


def _summary(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None and r["status"] == "ok"]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def agreement(torch_runs, nb_runs):
    """``(metric, z)``: how far apart the two sides' means are, in standard errors of their difference.

    The metric is the accuracy when both sides printed one, else the loss. ``z = |mean_t - mean_n| /
    sqrt(sd_t^2 / n_t + sd_n^2 / n_n)`` (Welch's statistic); None with fewer than 2 runs a side.
    ``z <= 2`` is "within run-to-run noise" (about a 5% two-sided test). A script whose runs do
    not depend on the seed (no spread on either side) is within noise when the two values agree to
    ``DETERMINISTIC_RTOL`` (float32 rounding over a training run), else z is infinite.
    """
    for key in ("accuracy", "loss"):
        t = [r[key] for r in torch_runs if r["status"] == "ok" and r.get(key) is not None]
        n = [r[key] for r in nb_runs if r["status"] == "ok" and r.get(key) is not None]
        if t and n and len(t) == len([r for r in torch_runs if r["status"] == "ok"]):
            if len(t) < 2 or len(n) < 2:
                return key, None
            se = math.sqrt(statistics.variance(t) / len(t) + statistics.variance(n) / len(n))
            diff = abs(statistics.fmean(t) - statistics.fmean(n))
            if se == 0:  # deterministic on both sides: equal up to float32 rounding, or apart
                scale = max(abs(statistics.fmean(t)), abs(statistics.fmean(n)))
                return key, 0.0 if diff <= DETERMINISTIC_RTOL * scale else math.inf
            return key, diff / se
    return None, None


def _row(entry, sides, counts):
    cells = [entry["id"]]
    ok = {}
    for side in ("torch", "nnbasics"):
        runs = sides.get(side, [])
        n_ok = sum(r["status"] == "ok" for r in runs)
        ok[side] = bool(runs) and n_ok == len(runs)
        cells.append(("ran" if ok[side] else runs[0]["status"] if runs else "-")
                     + (f" ({n_ok}/{len(runs)})" if len(runs) > 1 else ""))
        counts[side] += ok[side]
    counts["both"] += ok["torch"] and ok["nnbasics"]
    for key, pct in (("loss", False), ("accuracy", True)):
        for side in ("torch", "nnbasics"):
            mean, sd = _summary(sides.get(side, []), key)
            cells.append(_fmt(mean, pct) + (f" ± {_fmt(sd, pct)}" if sd is not None else ""))
    key, z = agreement(sides.get("torch", []), sides.get("nnbasics", [])) if ok["torch"] and ok["nnbasics"] \
        else (None, None)
    if z is not None:
        counts["compared"] += 1
        counts["within"] += z <= 2
    cells.append("" if z is None else f"{'yes' if z <= 2 else 'no'} ({key[:3]}, z={z:.1f})")
    for side in ("torch", "nnbasics"):
        walls = [r["wall_s"] for r in sides.get(side, []) if r.get("wall_s") is not None]
        cells.append(f"{statistics.median(walls):.1f}" if walls else "")
    note = entry.get("note", "")
    nn_runs = sides.get("nnbasics", [])
    if nn_runs and not ok["nnbasics"]:
        note = (note + "; " if note else "") + (nn_runs[0].get("error") or "").replace("|", "\\|")
    cells.append(note)
    return "| " + " | ".join(cells) + " |"


def table(results: list, corpus: dict) -> str:
    """A Markdown table: one row per script, torch and nnbasics side by side (mean ± sd over the runs)."""
    by = {}
    for r in results:
        by.setdefault(r["id"], {}).setdefault(r["side"], []).append(r)
    lines = [("| script | torch | nnbasics | torch loss | nnbasics loss | torch acc | nnbasics acc | within noise "
              "| torch s | nnbasics s | note |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
    counts = {"torch": 0, "nnbasics": 0, "both": 0, "total": 0, "compared": 0, "within": 0}
    for entry in corpus["script"]:
        sides = by.get(entry["id"])
        if sides:
            counts["total"] += 1
            lines.append(_row(entry, sides, counts))
    lines.append("")
    lines.append(f"Ran to the end: torch {counts['torch']} of {counts['total']}, nnbasics {counts['nnbasics']} of "
                 f"{counts['total']}; both {counts['both']}. Compared over repeated runs: {counts['compared']}; "
                 f"within run-to-run noise (z <= 2): {counts['within']}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                   help="a checkout: hunkim=..., s2=..., examples=..., tutorials=... (see the corpus file)")
    p.add_argument("--corpus", default=str(CORPUS), help="the corpus file (default: bench/pytorch_corpus.toml)")
    p.add_argument("--only", default=None, help="regex on script ids to run")
    p.add_argument("--group", action="append", default=None, help="run only scripts of this group (course, heldout)")
    p.add_argument("--side", choices=("torch", "nnbasics", "both"), default="both")
    p.add_argument("--repeat", type=int, default=1, help="runs per side; >1 changes the seed each run (noise)")
    p.add_argument("--seeds", default=None,
                   help="comma-separated seeds to run (instead of --repeat's 1..N), e.g. 2 or 4,5")
    p.add_argument("--keep", action="store_true",
                   help="keep a script's earlier runs of other seeds (the sample grows); same seeds are replaced")
    p.add_argument("--resume", action="store_true",
                   help="skip a script's side that already has a result for every requested seed")
    p.add_argument("--ran-on-torch", action="store_true",
                   help="only scripts whose earlier torch runs in --out ran to the end (for noise repeats)")
    p.add_argument("--with-metric", action="store_true",
                   help="only scripts whose earlier torch runs in --out printed a loss or an accuracy")
    p.add_argument("--timeout", type=int, default=None, help="seconds per run (default: the corpus file's)")
    p.add_argument("--out", default="runs/corpus", help="folder for results.json, results.md and the logs")
    p.add_argument("--table-only", action="store_true", help="rebuild results.md from results.json")
    ns = p.parse_args(argv)
    corpus = load_corpus(ns.corpus)
    out = Path(ns.out)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else []
    if not ns.table_only:
        sources = dict(s.split("=", 1) for s in ns.source)
        fashion = fashion_raw_dir(Path.home() / ".cache" / "nnbasics-bench")
        sides = ("torch", "nnbasics") if ns.side == "both" else (ns.side,)
        ran = {r["id"] for r in results if r["side"] == "torch" and r["status"] == "ok"}
        measured = {r["id"] for r in results if r["side"] == "torch" and r["status"] == "ok"
                    and (r.get("loss") is not None or r.get("accuracy") is not None)}
        seeds = ([int(x) for x in ns.seeds.split(",")] if ns.seeds
                 else [None] if ns.repeat == 1 else list(range(1, ns.repeat + 1)))
        for entry in corpus["script"]:
            if entry["source"] not in sources or (ns.only and not re.search(ns.only, entry["id"])):
                continue
            if ns.ran_on_torch and entry["id"] not in ran:
                continue
            if ns.with_metric and entry["id"] not in measured:
                continue
            if ns.group and entry.get("group", "course") not in ns.group:
                continue
            for side in sides:
                have = {r["seed"] for r in results if r["id"] == entry["id"] and r["side"] == side}
                if ns.resume and set(seeds) <= have:
                    continue
                results = [r for r in results if not (r["id"] == entry["id"] and r["side"] == side
                                                      and (not ns.keep or r["seed"] in seeds))]
                for seed in seeds:
                    r = run_one(entry, corpus, sources, side, out / "logs", fashion, seed, ns.timeout)
                    results.append(r)
                    print(f"{entry['id']:<48} {side:<8} {r['status']:<10} loss={_fmt(r.get('loss'))} "
                          f"acc={_fmt(r.get('accuracy'), True)} {r.get('wall_s', '')}s {r.get('error', '')[:80]}",
                          flush=True)
                    out.mkdir(parents=True, exist_ok=True)
                    results_path.write_text(json.dumps(results, indent=1))
    if ns.table_only:
        results = [reextract(r, corpus) for r in results]
        results_path.write_text(json.dumps(results, indent=1))
    md = table(results, corpus)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
