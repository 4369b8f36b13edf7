"""Experiment ``speed``: this machine's compute against a 1986 computer's.

Measured here, median of several timed runs after a warm-up (nnbasics, and PyTorch side by
side when it is installed; PyTorch on a CUDA GPU too when one is visible):

* matrix multiply, float32, ``n x n`` by ``n x n`` (``2 n^3`` FLOP) — the operation that
  dominates training;
* MLP training throughput (samples/s of forward + backward + SGD step) and the FLOP/s it
  achieves (``6 x weights`` FLOP per sample: 2 forward, 4 backward);
* CNN training throughput (the lab CNN: two 3x3 conv layers, 32 and 64 channels, max-pool).

The reference 1986 machine is the DEC VAX-11/780, the "1 MIPS" machine of the era's
departments. Its measured floating-point speed was far below 1 MFLOP/s: 0.14 MFLOP/s in
double precision on LINPACK with the floating-point accelerator (J. J. Dongarra,
"Performance of Various Computers Using Standard Linear Equations Software", Univ. of
Tennessee CS-89-85, the table's VAX 11/780 FPA entry). We credit it with a generous
**1 MFLOP/s** (:data:`ERA_FLOPS`), so the factor computed is a lower bound; the factor
against the LINPACK figure is reported too. The verdict (:func:`verdict`) applies the lab's
rule (:mod:`nnbasics.lab.stats`) to the timed runs of the fastest matrix multiply: supported
when the 95% interval of ``log10(factor)`` over the runs lies above 6 (a million), not
supported when it lies below.

Timings on a shared machine are unreliable (on 2 cores with another benchmark running, a
384 x 384 product took 16 ms instead of 0.6 ms), so the CPU time that OTHER processes used
during the timings is measured from ``/proc/stat`` (Linux; metric ``other_processes_cores``)
and the report warns when it exceeds :data:`BUSY_LIMIT` cores.
"""

from __future__ import annotations

import importlib.util
import itertools
import statistics
import time

import numpy as np

from .. import stats
from ..experiment import Experiment
from ..report import Report

NAME = "speed"
QUICK_SINGLE_THREAD_BLAS = False  # measures this machine's threads itself
TITLE = "Compute: this machine against a 1986 computer"
CLAIM = ('"Our computers were millions of times too slow" — Hinton\'s second reason why deep learning did not '
         "work in the 1980s.")

REFERENCES = (
    (("Dongarra, Performance of various computers using standard linear equations software (the LINPACK table; "
     "the VAX 11/780 FPA entry)."), "https://www.netlib.org/benchmark/performance.pdf"),
)

#: Why a CPU falls short of the million, and what changes it: one sentence, shown with the verdict.
CPU_NOTE = ("One CPU multiplies float32 matrices at tens to hundreds of GFLOP/s, 10^4-10^5 times the 1 MFLOP/s "
            "credited to the 1986 machine, while a million-fold takes about 1 TFLOP/s: a GPU delivers it (a current "
            "data-centre GPU does tens of TFLOP/s in float32), so run `nnbasics lab speed` where PyTorch sees a CUDA "
            "GPU and its row is measured and judged too.")

#: The 1986 reference: a VAX-11/780 credited with 1 MFLOP/s (generous; LINPACK measured 0.14).
ERA_FLOPS = 1.0e6
ERA_LINPACK_FLOPS = 0.14e6
ERA_MACHINE = "DEC VAX-11/780 (1977-1980s; ~1 MIPS)"
#: The 1-million-parameter MLP of the epoch estimate: 784 -> 1024 -> 192 -> 10 (1,002,570 parameters).
MLP_1M = (784, (1024, 192), 10)
EPOCH_IMAGES = 60_000
MILLION = 1.0e6

EXPERIMENT = Experiment(
    NAME, TITLE, CLAIM, REFERENCES,
    quick={"n": 384, "mm_reps": 4, "runs": 5, "mlp_shape": (256, (256, 128), 10), "mlp_batch": 128, "mlp_steps": 5,
           "cnn_size": 16, "cnn_batch": 32, "cnn_steps": 2, "cnn_runs": 3, "gpu_n": 2048},
    full={"n": 1024, "mm_reps": 5, "runs": 7, "mlp_shape": MLP_1M, "mlp_batch": 128, "mlp_steps": 20, "cnn_size": 28,
          "cnn_batch": 64, "cnn_steps": 5, "cnn_runs": 5, "gpu_n": 4096})
settings = EXPERIMENT.settings


#: Other processes busy on more than this many cores during the timings make the report warn.
BUSY_LIMIT = 0.25


def _cpu_snapshot():
    """(CPU seconds all processes used, this process's CPU seconds, wall seconds); None without /proc/stat."""
    import os

    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        ticks = os.sysconf("SC_CLK_TCK")
        vals = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError, AttributeError):  # not Linux, or an unreadable /proc
        return None
    busy = sum(vals[:3]) + sum(vals[5:8])  # steal: another VM had the core
    return busy / ticks, time.process_time(), time.perf_counter()


def others_busy(before, after):
    """Cores kept busy by OTHER processes between two :func:`_cpu_snapshot` calls (None when unknown).

    (all processes' CPU seconds - this process's) / wall seconds, at least 0; /proc/stat counts
    in clock ticks (10 ms), so short windows read coarsely.
    """
    if before is None or after is None or after[2] <= before[2]:
        return None
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / (after[2] - before[2]))


def _run_times(fn, reps, runs):
    """Mean seconds per call of ``fn`` in each of ``runs`` timed runs (``reps`` calls per run), after a warm-up."""
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps)
    return times


def _median_time(fn, reps, runs):
    """Median over ``runs`` of the mean seconds per call of ``fn`` (``reps`` calls per run), after a warm-up."""
    return statistics.median(_run_times(fn, reps, runs))


def mlp_weights(in_features, hidden, out_features) -> int:
    """Number of weights (not biases) of an MLP: the ``6 x weights`` FLOP-per-sample count."""
    sizes = [in_features, *hidden, out_features]
    return sum(a * b for a, b in itertools.pairwise(sizes))


def mlp_params(in_features, hidden, out_features) -> int:
    sizes = [in_features, *hidden, out_features]
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def cnn_train_flop(image_size, num_classes=10) -> float:
    """FLOP of one training sample of the lab CNN (3 x forward; convolutions and the linear layer)."""
    h = image_size
    macs = 32 * 1 * 9 * h * h + 64 * 32 * 9 * (h // 2) ** 2 + 64 * (h // 4) ** 2 * num_classes
    return 3 * 2 * float(macs)


# ---------------------------------------------------------------- nnbasics
def _nn_matmul(n, reps, runs, rng):
    """FLOP/s of each timed run of an ``n x n`` float32 product in nnbasics."""
    from ...autograd import no_grad
    from ...tensor import tensor

    a = tensor(rng.standard_normal((n, n)).astype(np.float32))
    b = tensor(rng.standard_normal((n, n)).astype(np.float32))
    with no_grad():
        return [2.0 * n ** 3 / t for t in _run_times(lambda: a @ b, reps, runs)]


def _nn_train(net, X, y, steps, runs):
    """Samples/s of training ``net`` on ``(X, y)``: ``steps`` SGD steps through ``fit`` per timed run."""
    from ... import optim
    from ...tensor import tensor
    from ._steps import train_steps

    opt = optim.SGD(net.parameters(), lr=0.01)
    batches = [(tensor(X), tensor(y))] * steps
    return len(X) * steps / _median_time(lambda: train_steps(net, batches, opt), 1, runs)


def _nn_mlp(shape, batch, steps, runs, rng):
    from ...models.mlp import mlp

    net = mlp(in_features=shape[0], hidden=list(shape[1]), out_features=shape[2], activation="relu", rng=rng)
    X = rng.standard_normal((batch, shape[0])).astype(np.float32)
    y = rng.integers(0, shape[2], size=batch)
    return _nn_train(net, X, y, steps, runs)


def _nn_cnn(size, batch, steps, runs, rng):
    from ...models.cnn import lab_cnn

    net = lab_cnn(image_size=size, rng=rng)
    X = rng.random((batch, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    return _nn_train(net, X, y, steps, runs)


# ------------------------------------------------------------------- torch
def torch_available() -> bool:
    """Whether PyTorch can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a broken or deliberately blocked install
        return False


def _torch_sync(torch, device):
    if device == "cuda":
        torch.cuda.synchronize()


def _torch_matmul(n, reps, runs, device="cpu"):
    """FLOP/s of each timed run of an ``n x n`` float32 product in PyTorch on ``device``."""
    import torch

    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device)
    b = torch.randn(n, n, generator=g).to(device)

    def call():
        a @ b
        _torch_sync(torch, device)

    with torch.no_grad():
        return [2.0 * n ** 3 / t for t in _run_times(call, reps, runs)]


def _torch_train(net, X, y, steps, runs):
    import torch

    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x, t = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        loss = torch.nn.functional.cross_entropy(net(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return len(X) / _median_time(step, steps, runs)


def _torch_mlp(shape, batch, steps, runs, rng):
    import torch

    torch.manual_seed(0)
    sizes = [shape[0], *shape[1], shape[2]]
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    X = rng.standard_normal((batch, shape[0])).astype(np.float32)
    y = rng.integers(0, shape[2], size=batch)
    return _torch_train(torch.nn.Sequential(*layers), X, y, steps, runs)


def _torch_cnn(size, batch, steps, runs, rng):
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Dropout(0.3), nn.Flatten(), nn.Linear(64 * (size // 4) ** 2, 10))
    X = rng.random((batch, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    return _torch_train(net, X, y, steps, runs)


# ------------------------------------------------------------------ verdict
def verdict(flops_runs, era_flops: float = ERA_FLOPS):
    """(supported, because, decision) from the FLOP/s of each timed run of the fastest matrix multiply.

    The lab's rule on ``log10(flops / era_flops)`` over the runs: supported when its 95%
    interval lies above 6 (a million), not supported when below, inconclusive when it contains
    6 (or with one run).
    """
    runs = np.atleast_1d(np.asarray(flops_runs, np.float64))
    if runs.size == 0 or np.any(~np.isfinite(runs)) or np.any(runs <= 0):
        raise ValueError(f"speed.verdict: FLOP/s must be positive numbers, one per timed run; got {flops_runs!r}.")
    d = stats.decide(np.log10(runs / era_flops), threshold=6.0, fmt=".2f", unit="timed runs",
                     name="log10 of the speed-up over the 1986 machine")
    best = float(np.median(runs))
    factor = best / era_flops
    because = (f"the fastest measured matrix multiply here ran at {best / 1e9:.3g} GFLOP/s (median of {runs.size} "
               f"runs), {factor:.3g} times the {era_flops / 1e6:g} MFLOP/s credited to a 1986 VAX-11/780 "
               f"({'at least' if factor >= MILLION else 'less than'} a million); {d.sentence()}")
    if d.supported is not True:
        because += f". {CPU_NOTE}"
    return d.supported, because, d


def _measure(ctx, c, report):
    """Time everything; ``{"flops": {library: [FLOP/s per run]}, "nn_mlp", "nn_cnn", "th_*", "busy", ...}``."""
    from ...threads import num_threads

    rng = ctx.rng("speed", "data")
    have_torch = torch_available()
    ctx.log(f"speed: timing nnbasics ({num_threads()} threads)" + (" and PyTorch" if have_torch else ""))
    snap0 = _cpu_snapshot()
    m = {"flops": {"nnbasics (NumPy BLAS)": list(np.atleast_1d(_nn_matmul(c["n"], c["mm_reps"], c["runs"], rng)))},
         "nn_mlp": _nn_mlp(c["mlp_shape"], c["mlp_batch"], c["mlp_steps"], c["runs"], rng),
         "nn_cnn": _nn_cnn(c["cnn_size"], c["cnn_batch"], c["cnn_steps"], c["cnn_runs"], rng),
         "th_mm": None, "th_mlp": None, "th_cnn": None, "gpu_mm": None, "torch": None, "torch_threads": None}
    if have_torch:
        import torch

        m["torch"], m["torch_threads"] = torch.__version__, torch.get_num_threads()
        m["th_mm"] = _torch_matmul(c["n"], c["mm_reps"], c["runs"])
        m["flops"][f"PyTorch CPU ({m['torch_threads']} threads)"] = m["th_mm"]
        m["th_mlp"] = _torch_mlp(c["mlp_shape"], c["mlp_batch"], c["mlp_steps"], c["runs"], rng)
        m["th_cnn"] = _torch_cnn(c["cnn_size"], c["cnn_batch"], c["cnn_steps"], c["cnn_runs"], rng)
        if torch.cuda.is_available():
            m["gpu_mm"] = _torch_matmul(c["gpu_n"], 10, c["runs"], device="cuda")
            m["flops"][f"PyTorch CUDA ({torch.cuda.get_device_name(0)})"] = m["gpu_mm"]
            report.config.update(gpu=torch.cuda.get_device_name(0), gpu_matmul_n=c["gpu_n"])
        report.config.update(torch_threads=m["torch_threads"])
    m["busy"] = others_busy(snap0, _cpu_snapshot())
    m["median"] = {k: float(np.median(v)) for k, v in m["flops"].items()}
    return m


def _ratio(a, b):
    return None if a is None or b is None else a / b


def _measured_section(ctx, report, c, m):
    from ...threads import num_threads

    mlp_flop, cnn_flop = 6.0 * mlp_weights(*c["mlp_shape"]), cnn_train_flop(c["cnn_size"])
    nn_mm, th_mm = m["median"]["nnbasics (NumPy BLAS)"], None if m["th_mm"] is None else float(np.median(m["th_mm"]))
    rows = [["matmul (GFLOP/s)", nn_mm / 1e9, None if th_mm is None else th_mm / 1e9, _ratio(th_mm, nn_mm)],
            ["MLP training (samples/s)", m["nn_mlp"], m["th_mlp"], _ratio(m["th_mlp"], m["nn_mlp"])],
            ["MLP training (GFLOP/s achieved)", m["nn_mlp"] * mlp_flop / 1e9,
             None if m["th_mlp"] is None else m["th_mlp"] * mlp_flop / 1e9, _ratio(m["th_mlp"], m["nn_mlp"])],
            ["CNN training (samples/s)", m["nn_cnn"], m["th_cnn"], _ratio(m["th_cnn"], m["nn_cnn"])],
            ["CNN training (GFLOP/s achieved)", m["nn_cnn"] * cnn_flop / 1e9,
             None if m["th_cnn"] is None else m["th_cnn"] * cnn_flop / 1e9, _ratio(m["th_cnn"], m["nn_cnn"])]]
    report.section("Measured on this machine")
    report.text(f"Medians of {c['runs']} timed runs after a warm-up (CNN: {c['cnn_runs']}). nnbasics uses "
                f"{num_threads()} thread(s) for its own loops and NumPy's BLAS for products"
                + (f"; PyTorch {m['torch']} uses {m['torch_threads']} threads." if m["torch"] else
                   "; PyTorch is not installed, so only nnbasics was timed (`pip install torch` adds the "
                   "side-by-side column)."))
    if m["busy"] is not None and m["busy"] > BUSY_LIMIT:
        warning = (f"Other processes kept {m['busy']:.2g} of this machine's {_cores()} cores busy while these timings "
                   "ran: the numbers measure a shared machine, may be several times too slow, and may favour "
                   "whichever library ran in a quiet moment. Rerun on a quiet machine before comparing.")
        report.text(f"**Warning.** {warning}")
        ctx.log(f"speed: {warning}")
    report.table(["benchmark", "nnbasics", "PyTorch CPU", "PyTorch / nnbasics"], rows,
                 caption=f"matmul: {c['n']}x{c['n']} float32; MLP {report.config['mlp']}, batch {c['mlp_batch']} "
                         f"({int(mlp_flop):,} FLOP per sample); CNN: lab-cnn on {c['cnn_size']}x{c['cnn_size']}, batch "
                         f"{c['cnn_batch']}. n/a: PyTorch not installed.")


def _era_section(report, c, m, best_name):
    from .. import plots

    factor = m["median"][best_name] / ERA_FLOPS
    report.section("Against 1986")
    report.text(f"The reference is the {ERA_MACHINE}, credited with **{ERA_FLOPS / 1e6:g} MFLOP/s**. That is "
                f"generous: Dongarra's LINPACK table measured {ERA_LINPACK_FLOPS / 1e6:g} MFLOP/s for it (double "
                "precision, with the floating-point accelerator), so every factor below is a lower bound "
                f"(against the LINPACK figure it is {ERA_FLOPS / ERA_LINPACK_FLOPS:.1f} times larger).")
    bars = {f"{ERA_MACHINE.split(' (')[0]} (1986, reference)": ERA_FLOPS / 1e9}
    bars.update({k: v / 1e9 for k, v in m["median"].items()})
    ranges = {k: (min(v) / 1e9, max(v) / 1e9) for k, v in m["flops"].items() if len(v) > 1}
    report.figure(plots.bar_plot(bars, "machine and library", "GFLOP/s (log scale)", "Matrix-multiply speed",
                                 logy=True, ranges=ranges),
                  "flops", f"Floating-point speed of this machine's matrix multiply (bar: the median of {c['runs']} "
                  f"timed runs; whisker: the slowest to the fastest run) against the 1986 reference, log scale. The "
                  f"fastest here ({best_name}) is {factor:.3g} times the reference.")
    thr = {"nnbasics MLP": m["nn_mlp"], "nnbasics CNN": m["nn_cnn"]}
    if m["torch"]:
        thr = {"nnbasics MLP": m["nn_mlp"], "PyTorch MLP": m["th_mlp"], "nnbasics CNN": m["nn_cnn"],
               "PyTorch CNN": m["th_cnn"]}
    report.figure(plots.bar_plot(thr, "library and model", "training samples / s (log scale)", "Training throughput",
                                 logy=True),
                  "throughput", "Training throughput (forward, backward and SGD step) of the MLP and the CNN, "
                  "nnbasics" + (" and PyTorch side by side." if m["torch"] else " only (PyTorch not installed)."))


def _epoch_section(report, c, m):
    """One epoch of a 1-million-parameter MLP on 60,000 images; returns (epoch FLOP, seconds in 1986, seconds here)."""
    mlp_flop = 6.0 * mlp_weights(*c["mlp_shape"])
    p1m = mlp_params(*MLP_1M)
    epoch_flop = 6.0 * mlp_weights(*MLP_1M) * EPOCH_IMAGES
    era_epoch_s = epoch_flop / ERA_FLOPS
    best_epoch_s = epoch_flop / max(m["nn_mlp"] * mlp_flop, (m["th_mlp"] or 0.0) * mlp_flop)
    report.section("What one epoch costs")
    report.table(["machine", "time for one epoch"], [
        [f"{ERA_MACHINE.split(' (')[0]} at {ERA_FLOPS / 1e6:g} MFLOP/s", _duration(era_epoch_s)],
        ["this machine, nnbasics", _duration(epoch_flop / (m["nn_mlp"] * mlp_flop))],
        *([["this machine, PyTorch CPU", _duration(epoch_flop / (m["th_mlp"] * mlp_flop))]] if m["th_mlp"] else []),
    ], caption=f"One epoch of a {p1m:,}-parameter MLP ({MLP_1M[0]}-{MLP_1M[1][0]}-{MLP_1M[1][1]}-{MLP_1M[2]}) "
               f"on {EPOCH_IMAGES:,} images: 6 x {mlp_weights(*MLP_1M):,} weights x {EPOCH_IMAGES:,} = "
               f"{epoch_flop:.3g} FLOP, at the training FLOP/s measured above"
               + ("" if c["mlp_shape"] == MLP_1M else " (measured on the smaller quick-mode MLP)") + ".")
    report.text(f"A training run of 50 such epochs would have taken the 1986 machine "
                f"{_duration(50 * era_epoch_s)}; it takes this machine {_duration(50 * best_epoch_s)}.")
    return epoch_flop, era_epoch_s, best_epoch_s


def _metrics(report, m, best, epoch):
    epoch_flop, era_epoch_s, best_epoch_s = epoch
    med = m["median"]
    report.metric("matmul_gflops_nnbasics", med["nnbasics (NumPy BLAS)"] / 1e9,
                  label="nnbasics matrix multiply (GFLOP/s, median)")
    report.metric("matmul_gflops_torch", None if m["th_mm"] is None else float(np.median(m["th_mm"])) / 1e9,
                  label="PyTorch CPU matrix multiply (GFLOP/s, median)")
    report.metric("matmul_gflops_torch_cuda", None if m["gpu_mm"] is None else float(np.median(m["gpu_mm"])) / 1e9)
    report.metric("matmul_flops_runs", m["flops"])
    report.metric("mlp_samples_per_s_nnbasics", m["nn_mlp"])
    report.metric("mlp_samples_per_s_torch", m["th_mlp"])
    report.metric("cnn_samples_per_s_nnbasics", m["nn_cnn"])
    report.metric("cnn_samples_per_s_torch", m["th_cnn"])
    report.metric("mlp_torch_over_nnbasics", _ratio(m["th_mlp"], m["nn_mlp"]))
    report.metric("cnn_torch_over_nnbasics", _ratio(m["th_cnn"], m["nn_cnn"]))
    report.metric("era_mflops", ERA_FLOPS / 1e6)
    report.metric("speedup_factor", best / ERA_FLOPS, label="speed-up over the 1986 machine (fastest multiply)")
    report.metric("speedup_factor_vs_linpack_vax", best / ERA_LINPACK_FLOPS)
    report.metric("mlp_1m_epoch_flop", epoch_flop)
    report.metric("mlp_1m_epoch_hours_1986", era_epoch_s / 3600,
                  label="one epoch of a 1-million-parameter MLP in 1986 (hours)")
    report.metric("mlp_1m_epoch_seconds_here", best_epoch_s, label="the same epoch here (seconds)")
    report.metric("other_processes_cores", m["busy"], label="cores other processes used during the timings")


def run(ctx) -> Report:
    """Measure matmul GFLOP/s and MLP/CNN training throughput; compare with 1986."""
    from ...threads import num_threads

    c, report = EXPERIMENT.begin(ctx)
    ctx.data_note = ("Random arrays of the benchmark's shapes (the values do not change the speed): "
                     f"{c['n']}x{c['n']} float32 matrices; MLP batches of {c['mlp_batch']} x {c['mlp_shape'][0]}; CNN "
                     f"batches of {c['cnn_batch']} x 1 x {c['cnn_size']} x {c['cnn_size']}.")
    report.config.update(matmul_n=c["n"], runs=c["runs"], mlp=f"{c['mlp_shape'][0]}-"
                         f"{'-'.join(map(str, c['mlp_shape'][1]))}-{c['mlp_shape'][2]} ReLU", mlp_batch=c["mlp_batch"],
                         mlp_steps_per_run=c["mlp_steps"], cnn=f"lab-cnn {c['cnn_size']}x{c['cnn_size']}",
                         cnn_batch=c["cnn_batch"], cnn_steps_per_run=c["cnn_steps"], nnbasics_threads=num_threads())
    m = _measure(ctx, c, report)
    best_name = max(m["median"], key=m["median"].get)
    best = m["median"][best_name]
    supported, because, decision = verdict(m["flops"][best_name])
    _measured_section(ctx, report, c, m)
    _era_section(report, c, m, best_name)
    epoch = _epoch_section(report, c, m)
    _metrics(report, m, best, epoch)
    report.metric("effect.log10_speedup", decision.to_dict())
    if m["busy"] is not None and m["busy"] > BUSY_LIMIT:  # first: studies show a sub-report's first findings
        report.finding(f"The machine was shared: other processes used {m['busy']:.2g} cores during the timings, so "
                       "every number here is a lower bound and the nnbasics/PyTorch ratios are unreliable.")
    report.finding(f"This machine's fastest matrix multiply ({best_name}) runs at {best / 1e9:.3g} GFLOP/s: "
                   f"{best / ERA_FLOPS:.3g} times the 1986 reference ({best / ERA_LINPACK_FLOPS:.3g} times its LINPACK "
                   "figure).")
    report.finding(f"One epoch of a 1-million-parameter MLP on 60,000 images needs {epoch[0]:.3g} FLOP: "
                   f"{_duration(epoch[1])} in 1986, {_duration(epoch[2])} here.")
    if m["torch"]:
        report.finding(f"PyTorch trains the MLP {m['th_mlp'] / m['nn_mlp']:.2f}x and the CNN "
                       f"{m['th_cnn'] / m['nn_cnn']:.2f}x as fast as nnbasics on this machine.")
    if supported is not True:
        report.finding(f"Why a CPU falls short: {CPU_NOTE}")
    report.conclude(supported, because, rule=stats.rule_text(len(m["flops"][best_name]), quick=ctx.quick,
                                                               paired_arms=False, unit="timed run")
                    + " Here the number is log10 of the speed-up of each timed run, and the threshold is 6.")
    return report


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} minutes"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.3g} hours"
    if seconds < 2 * 365 * 86400:
        return f"{seconds / 86400:.3g} days"
    return f"{seconds / (365.25 * 86400):.3g} years"
