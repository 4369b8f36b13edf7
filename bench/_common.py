"""What the side-by-side benchmarks share: workers, alternation, load, memory, the machine record.

``mlp_step.py``, ``cnn_epoch.py`` and ``lstm_step.py`` all compare nnbasics with PyTorch the same way:

* **one process per implementation and thread count** (a *worker*): BLAS reads its thread count
  when it loads, so each worker gets ``OPENBLAS/OMP/MKL/NNBASICS_NUM_THREADS`` in its environment;
  peak memory and the allocator are per framework; nothing is shared. Workers are persistent:
  set up once, then timed in rounds;
* **alternation**: every round times every worker once, the order rotating from round to round,
  so a burst of load on the machine hits all of them alike; before each timed call the driver
  sleeps ``settle`` seconds, so BLAS and OpenMP threads still spinning after the previous
  worker's last call (OpenBLAS spins ~2^28 cycles before sleeping) do not steal its cores, and
  the worker runs one untimed step before its timed ones (:func:`timed_steps`: steady-state
  steps, as a training loop runs them, not the first one after a sleep);
* **medians** over rounds, and ratios as the median of per-round ratios (the two numbers of a
  ratio come from the same round);
* the **machine's load** (``/proc/loadavg``) and CPU model in every output;
* ``--under-load``: one CPU-bound competitor process (a Python busy loop, at the benchmark's
  own priority) runs for the whole measurement, the same for every framework; its CPU share
  is reported;
* ``--memory``: peak RSS of a fresh child per framework and batch size during the training
  steps, above the RSS after import, data and model construction (``VmHWM`` reset through
  ``/proc/self/clear_refs``; sampling where that is not available).

A worker is the benchmark script itself run with ``--worker SPEC`` (SPEC a JSON object); it
answers requests (JSON lines) on stdin/stdout, see :func:`serve`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import traceback

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NNBASICS_NUM_THREADS")
BUSY_LOOP = "while True:\n    pass\n"


# ------------------------------------------------------------------------ the machine
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def loadavg() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (None where the OS does not give them)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_record() -> dict:
    """What a figure depends on: CPU, cores, Python, NumPy and its BLAS, torch's version if
    installed (read from its metadata: the driver does not import torch)."""
    from importlib import metadata

    import numpy as np

    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = None
    return {"cpu": cpu_model(), "cores": cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas_info(), "nnbasics_gemm": _nnbasics_gemm(), "torch": torch,
            "blas_env": {k: os.environ[k] for k in BLAS_ENV if k in os.environ}}


#: Environment variables that choose BLAS kernels (this project's machine sets OPENBLAS_CORETYPE=Haswell).
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NNBASICS_FAST_BLAS")


def _nnbasics_gemm() -> str:
    """Which GEMM kernels nnbasics' own kernels use here (kernels/fastblas.py), in this process's environment."""
    from nnbasics.kernels import fastblas

    return fastblas.describe()


def blas_info() -> str:
    """A description of the BLAS NumPy loaded (OpenBLAS's config string where it has one)."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        libs = []
    for path in libs:
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            get_config = getattr(lib, f"{prefix}_get_config{suffix}", None)
            if get_config is not None:
                get_config.restype = ctypes.c_char_p
                return get_config().decode()
    return "unknown BLAS"


def describe_machine(rec: dict) -> str:
    """One line for the top of a table."""
    torch = f"; torch {rec['torch']}" if rec.get("torch") else ""
    gemm = f"; nnbasics' GEMMs: {rec['nnbasics_gemm']}" if rec.get("nnbasics_gemm") else ""
    if rec.get("blas_env"):
        gemm += "; environment: " + " ".join(f"{k}={v}" for k, v in rec["blas_env"].items())
    return f"CPU: {rec['cpu']}, {rec['cores']} cores; Python {rec['python']}; NumPy {rec['numpy']} ({rec['blas']}){torch}{gemm}"


class LoadLog:
    """The 1-minute load average at the start, after every round and at the end of a run."""

    def __init__(self):
        self.samples = []
        self.mark("start")

    def mark(self, when: str) -> None:
        la = loadavg()
        if la is not None:
            self.samples.append({"when": when, "t": round(time.time(), 1), "loadavg": la})

    def summary(self) -> str:
        if not self.samples:
            return "load average: not available on this OS"
        one = [s["loadavg"][0] for s in self.samples]
        return (f"1-minute load average: {one[0]:.2f} at the start, {one[-1]:.2f} at the end, "
                f"{min(one):.2f}-{max(one):.2f} over the run ({len(one)} readings, /proc/loadavg)")


# ------------------------------------------------------------------------ threads and load
def parse_threads(text: str | None) -> list[int]:
    """``"1,2"`` -> ``[1, 2]``; None -> all the cores this process may use."""
    if text is None:
        return [cpu_count()]
    counts = [int(t) for t in str(text).split(",") if t.strip()]
    if not counts or min(counts) < 1:
        raise SystemExit(f"--threads takes positive thread counts separated by commas, e.g. 1,2; got {text!r}")
    return counts


def parse_sizes(text: str) -> list[int]:
    sizes = [int(t) for t in text.split(",") if t.strip()]
    if not sizes or min(sizes) < 1:
        raise SystemExit(f"expected positive sizes separated by commas, e.g. 128,1024; got {text!r}")
    return sizes


def thread_env(threads: int, base: dict | None = None) -> dict:
    """The environment of a worker whose BLAS (and nnbasics, and OpenMP) use ``threads`` threads."""
    env = dict(os.environ if base is None else base)
    for var in THREAD_VARS:
        env[var] = str(threads)
    return env


class Competitor:
    """Context manager: one CPU-bound process (a Python busy loop) for the duration, or nothing.

    The process runs at this process's priority; on exit it is terminated by its pid and its
    CPU share over its lifetime (user + system time / wall time) is kept in ``share``.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.proc = None
        self.share = None

    def __enter__(self):
        if self.enabled:
            self.proc = subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdin=subprocess.DEVNULL)
            self.t0 = time.perf_counter()
        return self

    def cpu_seconds(self) -> float | None:
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def __exit__(self, *exc):
        if self.proc is None:
            return False
        cpu = self.cpu_seconds()
        wall = time.perf_counter() - self.t0
        self.proc.terminate()
        self.proc.wait()
        self.share = None if cpu is None else cpu / wall
        return False

    def describe(self) -> str:
        if not self.enabled:
            return "no competing process started"
        share = "unknown" if self.share is None else f"{self.share:.0%} of a core"
        return f"under load: one busy-loop competitor process for the whole run (it got {share})"


# ------------------------------------------------------------------------ memory
def rss_bytes() -> int | None:
    """This process's resident set size now (Linux: /proc/self/statm)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS; False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    hwm, rss = _hwm_bytes(), rss_bytes()
    return hwm is not None and rss is not None and hwm <= rss + (1 << 20)


class PeakRSS:
    """Context manager: the peak RSS inside the block, above the RSS on entry.

    Uses the kernel's VmHWM after resetting it (Linux >= 4.0); otherwise a thread samples the
    RSS every millisecond (it can miss a peak shorter than that, and it needs the GIL, so a
    peak inside one long C call is seen only after it). ``method`` says which.
    """

    def __enter__(self):
        self.baseline = rss_bytes()
        self.method = "VmHWM" if _reset_hwm() else "sampling"
        self._peak = self.baseline or 0
        self._stop = threading.Event()
        if self.method == "sampling":
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.001):
            self._peak = max(self._peak, rss_bytes() or 0)

    def __exit__(self, *exc):
        self.after = rss_bytes()
        if self.method == "sampling":
            self._stop.set()
            self._thread.join()
            self.peak = max(self._peak, self.after or 0)
        else:
            self.peak = _hwm_bytes()
        return False

    def record(self) -> dict:
        mb = 1 << 20
        return {"baseline_mb": self.baseline / mb, "peak_mb": self.peak / mb,
                "peak_above_baseline_mb": (self.peak - self.baseline) / mb,
                "retained_mb": (self.after - self.baseline) / mb, "method": self.method}


def load_compiled_kernels() -> None:
    """In a ``--compiled`` worker (``NNBASICS_COMPILED=numba``), import Numba and load the compiled
    matrix product and the LSTM's gate loop (from Numba's cache) on tiny arrays, before a memory
    probe: import and compilation, not training, as the memory mode excludes for every framework
    (Numba and LLVM take ~100 MB once a process). Elsewhere nothing."""
    if os.environ.get("NNBASICS_COMPILED") != "numba":
        return
    import numpy as np

    from nnbasics.kernels import fastblas, recurrent_compiled

    if fastblas.compiled_sgemm() is not None:  # loads the product where it runs here
        a = np.ones((16, 40), np.float32)
        fastblas.matmul(a, np.ones((40, 32), np.float32))
    h = np.ones((2, 3), np.float32)
    recurrent_compiled.lstm_gates_backward(h, h, np.ones((2, 12), np.float32), h, h, h.copy(),
                                           np.empty((2, 12), np.float32))


def memory_probe(step, steps: int) -> dict:
    """Run ``steps`` training steps inside :class:`PeakRSS` (no warm-up before: the first step's
    gradients, optimizer state and buffer pools count, as they do in a real run)."""
    with PeakRSS() as p:
        for _ in range(steps):
            step()
    return {**p.record(), "steps": steps}


# ------------------------------------------------------------------------ worker side
def timed_steps(step):
    """A worker handler: ``time(steps, warm=1)`` runs ``step`` ``warm`` times untimed, then ``steps``
    times timed, and returns ms per step, CPU ms per step (all threads of the worker) and minor
    page faults per step.

    The untimed step: a worker wakes from the driver's ``settle`` sleep and the other workers'
    turns, and its first step pays for threads and a second core that went idle meanwhile
    (nnbasics' held-out 2-thread LSTM E128 H512 B64 step: 100 ms right after a 0.5 s sleep, 84 ms
    back to back, all its products on two threads either way); a training loop runs its steps
    back to back, which is what the timed steps measure."""
    import resource

    def handler(steps: int, warm: int = 1) -> dict:
        for _ in range(warm):
            step()
        r0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - t0
        r1, c1 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
        return {"ms": wall / steps * 1e3, "cpu_ms": (c1 - c0) / steps * 1e3,
                "faults": (r1.ru_minflt - r0.ru_minflt) / steps}

    return handler


#: Suffix of a worker's implementation name: the same implementation with nnbasics' optional compiled
#: kernels on (``NNBASICS_COMPILED=numba`` in the worker; ``--compiled``).
COMPILED_SUFFIX = "+numba"


def with_compiled(impls: list[str], args) -> list[str]:
    """``impls``, and with ``--compiled`` each nnbasics implementation again with its compiled kernels."""
    if not getattr(args, "compiled", False):
        return impls
    return impls + [i + COMPILED_SUFFIX for i in impls if i.startswith("nnbasics")]


def serve(setup, spec: dict) -> None:
    """Worker main loop: ``setup(spec)`` returns ``(handlers, info)``; then every request line
    ``{"op": name, "args": {...}}`` on stdin is answered with ``handlers[name](**args)`` as one
    JSON line. Replies go to the original stdout; anything else the worker prints goes to
    stderr, so library output cannot corrupt the protocol."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    impl = spec.get("impl")
    if isinstance(impl, str) and impl.endswith(COMPILED_SUFFIX):  # nnbasics with its compiled kernels
        os.environ["NNBASICS_COMPILED"] = "numba"  # read by nnbasics' first kernel that asks, after this
        spec = {**spec, "impl": impl[:-len(COMPILED_SUFFIX)]}
    try:
        handlers, info = setup(spec)
    except Exception:  # noqa: BLE001 -- any failure of the setup is sent to the driver, which names the worker
        send({"error": traceback.format_exc()})
        return
    send({"ready": True, **info})
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["op"] == "quit":
            break
        try:
            send(handlers[msg["op"]](**msg.get("args", {})))
        except Exception:  # noqa: BLE001 -- as above: the driver stops with this traceback
            send({"error": traceback.format_exc()})


# ------------------------------------------------------------------------ driver side
class Worker:
    """A persistent worker process: the benchmark script run with ``--worker SPEC``."""

    def __init__(self, script: str, name: str, spec: dict, threads: int):
        self.name = name
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(script), "--worker", json.dumps(spec)],
                                     env=thread_env(threads), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.name} exited (code {self.proc.wait()}); its error is above")
        reply = json.loads(line)
        if "error" in reply:
            self.close()
            raise SystemExit(f"worker {self.name} failed:\n{reply['error']}")
        return reply

    def call(self, op: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_workers(script: str, specs: dict) -> dict:
    """``{name: (spec, threads)}`` -> ``{name: Worker}``, started one after the other (a setup
    running beside another's would slow both). On failure the ones started are closed."""
    workers = {}
    try:
        for name, (spec, threads) in specs.items():
            print(f"starting worker {name}", file=sys.stderr)
            workers[name] = Worker(script, name, spec, threads)
    except BaseException:
        close_all(workers)
        raise
    return workers


def close_all(workers: dict) -> None:
    for w in workers.values():
        w.close()


def alternate(workers: dict, rounds: int, op: str, args: dict, *, settle: float = 0.1, log: LoadLog | None = None,
              key: str = "ms") -> tuple[dict, dict]:
    """Call ``op(**args)`` on every worker once per round, in an order rotating by one each
    round, after ``settle`` seconds of sleep each. Returns ``({name: [reply[key] per round]},
    {name: [full replies]})``."""
    names = list(workers)
    values = {n: [] for n in names}
    replies = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            time.sleep(settle)
            reply = workers[name].call(op, **args)
            values[name].append(reply[key])
            replies[name].append(reply)
        if log is not None:
            log.mark(f"round {r + 1}")
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {values[n][-1]:.4g}" for n in names), file=sys.stderr)
    return values, replies


def run_memory(script: str, specs: dict, steps: int) -> dict:
    """One fresh worker per ``{name: (spec, threads)}``, one after the other, each asked for
    :func:`memory_probe` over ``steps`` training steps; ``{name: record}``."""
    out = {}
    for name, (spec, threads) in specs.items():
        workers = start_workers(script, {name: (spec, threads)})
        try:
            out[name] = workers[name].call("memory", steps=steps)
        finally:
            close_all(workers)
        rec = out[name]
        print(f"memory {name}: {rec['peak_above_baseline_mb']:.0f} MB above {rec['baseline_mb']:.0f} MB",
              file=sys.stderr)
    return out


def measure(script: str, args, specs: dict, meta: dict, *, op: str = "time", op_args: dict | None = None,
            check=None) -> dict:
    """The whole side-by-side run: load log, optional competitor, then either the alternating
    rounds of ``op`` on persistent workers (``check(infos)`` first sees every worker's ready
    reply) or, with ``args.memory``, one fresh worker per spec for :func:`memory_probe`.

    ``specs``: ``{name: (spec, threads)}``; ``meta``: ``{name: {"impl", "variant", "threads"
    or "batch"}}`` for the tables. Returns everything as one JSON-able dict.
    """
    log = LoadLog()
    result = {"machine": machine_record(), "argv": sys.argv[1:], "meta": meta}
    with Competitor(args.under_load) as comp:
        if args.memory:
            result["memory"] = run_memory(script, specs, args.mem_steps)
        else:
            workers = start_workers(script, specs)
            try:
                result["info"] = {n: w.info for n, w in workers.items()}
                if check is not None:
                    check(result["info"])
                log.mark("workers ready")
                result["times"], result["replies"] = alternate(workers, args.rounds, op, op_args or {},
                                                               settle=args.settle, log=log)
            finally:
                close_all(workers)
    log.mark("end")
    result.update(load=log.samples, load_summary=log.summary(), competitor=comp.describe(),
                  competitor_share=comp.share)
    return result


def print_context(result: dict) -> None:
    """The lines every table is printed under: machine, load, competitor."""
    print(describe_machine(result["machine"]))
    print(result["load_summary"])
    print(result["competitor"])
    print()


# ------------------------------------------------------------------------ summaries
def median_ratio(a: list[float], b: list[float]) -> float:
    """The median over rounds of ``a[r] / b[r]``."""
    return statistics.median(x / y for x, y in zip(a, b))


def speed_rows(times: dict, meta: dict, base: str = "torch", replies: dict | None = None) -> list[dict]:
    """One row per worker: median, min, max over rounds; ``vs_base``, the median per-round ratio
    to the worker with the same variant and threads whose impl is ``base``; ``vs_1_thread``, to
    the same impl and variant on one thread (where both were run). With ``replies`` (whose
    entries carry ``cpu_ms``, the worker's CPU time over the same calls): ``cpu_median`` and
    ``cpu_vs_base``, the same ratio of CPU time (a descheduled worker loses wall time, not CPU)."""

    def find(**want):
        for n, m in meta.items():
            if all(m.get(k) == v for k, v in want.items()):
                return n
        return None

    rows = []
    for name, v in times.items():
        m = meta[name]
        b = find(impl=base, variant=m.get("variant"), threads=m["threads"])
        one = find(impl=m["impl"], variant=m.get("variant"), threads=1)
        rows.append({"name": name, **m, "median": statistics.median(v), "min": min(v), "max": max(v),
                     "vs_base": median_ratio(v, times[b]) if b else None,
                     "vs_1_thread": median_ratio(v, times[one]) if one and m["threads"] != 1 else None})
        cpu = [r.get("cpu_ms") for r in (replies or {}).get(name, [])]
        if cpu and None not in cpu:
            cpu_b = [r.get("cpu_ms") for r in replies.get(b, [])] if b else []
            rows[-1]["cpu_median"] = statistics.median(cpu)
            rows[-1]["cpu_vs_base"] = median_ratio(cpu, cpu_b) if cpu_b and None not in cpu_b else None
    return rows


def print_speed_table(rows: list[dict], unit: str = "ms/step", base: str = "torch") -> None:
    """Markdown table of :func:`speed_rows` (a layout column where workers have a variant)."""
    var = any(r.get("variant") for r in rows)
    cpu = any("cpu_median" in r for r in rows)
    print(f"| implementation |{' layout |' if var else ''} threads | {unit} (median) | min | max | vs {base} "
          f"| vs 1 thread |" + (f" CPU {unit} | vs {base} (CPU) |" if cpu else ""))
    print(f"|---|{'---|' if var else ''}---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if cpu else ""))
    for r in rows:
        vb = f"**{r['vs_base']:.3f}**" if r["vs_base"] is not None and r["impl"] != base else "-"
        v1 = f"{r['vs_1_thread']:.3f}" if r["vs_1_thread"] is not None else "-"
        layout = f" {r.get('variant') or '-'} |" if var else ""
        line = (f"| {r['impl']} |{layout} {r['threads']} | {r['median']:.4g} | {r['min']:.4g} | {r['max']:.4g} "
                f"| {vb} | {v1} |")
        if cpu:
            cb = r.get("cpu_vs_base")
            cb = f"{cb:.3f}" if cb is not None and r["impl"] != base else "-"
            line += f" {r['cpu_median']:.4g} | {cb} |" if "cpu_median" in r else " - | - |"
        print(line)


def print_memory_table(records: dict, meta: dict, base: str = "torch") -> None:
    """Peak RSS above the pre-step baseline per worker, and the ratio to ``base`` at the same
    variant and batch size."""
    var = any(m.get("variant") for m in meta.values())
    print(f"| implementation |{' layout |' if var else ''} batch | peak above baseline MB | vs {base} "
          "| retained after MB | baseline MB | method |")
    print(f"|---|{'---|' if var else ''}---:|---:|---:|---:|---:|---|")
    for name, rec in records.items():
        m = meta[name]
        b = next((n for n, mm in meta.items() if mm["impl"] == base and mm.get("variant") == m.get("variant")
                  and mm["batch"] == m["batch"]), None)
        ratio = "-"
        if b is not None and m["impl"] != base and b in records:
            ratio = f"**{rec['peak_above_baseline_mb'] / records[b]['peak_above_baseline_mb']:.2f}**"
        layout = f" {m.get('variant') or '-'} |" if var else ""
        print(f"| {m['impl']} |{layout} {m['batch']} | {rec['peak_above_baseline_mb']:.1f} | "
              f"{ratio} | {rec['retained_mb']:.1f} | {rec['baseline_mb']:.0f} | {rec['method']} |")


def add_common_args(p, *, memory_batches: str) -> None:
    """The options every side-by-side benchmark takes."""
    p.add_argument("--threads", default=None,
                   help="thread counts to compare, e.g. 1,2 (BLAS, nnbasics and torch; default: all cores)")
    p.add_argument("--under-load", action="store_true",
                   help="run one CPU-bound competitor process for the whole measurement")
    p.add_argument("--settle", type=float, default=0.1,
                   help="seconds of sleep before each timed call, so the last worker's spinning threads idle")
    p.add_argument("--memory", action="store_true",
                   help="measure peak RSS of the training steps (one child per framework and batch) instead")
    p.add_argument("--batches", default=memory_batches,
                   help=f"with --memory: batch sizes (default {memory_batches})")
    p.add_argument("--mem-steps", type=int, default=2, help="with --memory: training steps measured (default 2)")
    p.add_argument("--compiled", action="store_true",
                   help="also run each nnbasics worker with its optional compiled kernels (NNBASICS_COMPILED=numba; "
                        "named impl+numba)")
    p.add_argument("--json", metavar="PATH", help="also write every measurement as JSON to PATH ('-' for stdout)")
    p.add_argument("--worker", help=argparse_suppress())


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def write_json(path: str | None, obj: dict) -> None:
    if not path:
        return
    text = json.dumps(obj, indent=1)
    if path == "-":
        print(text)
    else:
        with open(path, "w") as f:
            f.write(text + "\n")
