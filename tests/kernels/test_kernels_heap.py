"""The C heap's thresholds (kernels/heap.py): raised once where the compiled product loads, never over
a user's setting; and what they are for: a step's temporaries kept for the next step (glibc's rule,
deterministically), and a compiled two-thread LSTM step that touched 6.5 MiB of fresh pages every
step (issue 19) touches none."""

import os
import subprocess
import sys
import textwrap

import pytest

from nnbasics.kernels import heap


class _FakeLibc:
    def __init__(self, ok=True):
        self.calls, self.ok = [], ok

    def malloc(self, size):
        self.calls.append(("malloc", size))
        return 0x1000 if self.ok else 0

    def free(self, block):
        self.calls.append(("free", block))


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(heap, "_done", None)
    for var in (heap.ENV, *heap._USER_TUNABLES):
        monkeypatch.delenv(var, raising=False)


def test_settle_frees_one_mapped_block_once(fresh):
    """glibc raises its thresholds to the size of a mapped block freed: one such block, once."""
    libc = _FakeLibc()
    assert heap.settle(libc) and heap.settle(libc)
    assert libc.calls == [("malloc", heap.PRIME), ("free", 0x1000)]


def test_settle_on_this_machines_libc(fresh):
    """The real call: glibc here (the CI machine's Linux), a block malloc'd and freed."""
    if heap._libc() is None:
        pytest.skip("not glibc")
    assert heap.settle()


@pytest.mark.parametrize("var,value", [("NNBASICS_HEAP", "0"), ("MALLOC_TRIM_THRESHOLD_", "1000"),
                                       ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000")])
def test_a_users_setting_stands(fresh, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    libc = _FakeLibc()
    assert not heap.settle(libc)
    assert libc.calls == []


def test_a_failed_malloc_says_so(fresh):
    assert not heap.settle(_FakeLibc(ok=False))


_STEPS = textwrap.dedent("""
    import os, resource, sys
    sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
    import lstm_step
    from nnbasics.kernels import adaptive, fastblas, heap
    adaptive.ThreadChoice.pick = lambda self: 1  # the choice a loaded machine makes: products on this thread
    cfg = {"vocab": 65, "embed": 64, "hidden": 256, "layers": 1, "seq": 100, "lr": 2e-3, "clip": 5.0, "warmup": 0,
           "seed": 0, "batch": 32, "impl": "nnbasics", "batch_first": True, "threads": 2, "memory": False}
    step = lstm_step.make_stepper(cfg)  # bench/lstm_step.py's char-LSTM, as measured
    for _ in range(6):
        step()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        step()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 4
    print("no-compiled-product" if fastblas.compiled_sgemm() is None else f"{faults} {heap._done}")
""")


def _clean_env(**extra):
    """A fixed environment for a child process: whether glibc gives a step's memory back depends on the
    heap's layout, which depends on what the process holds, its environment included (pytest's own
    variables plus two an earlier test set were enough to hide the char-LSTM's faults); so nothing
    inherited beyond what finds Python, nnbasics and BLAS."""
    keep = ("PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NUMBA_CACHE_DIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", **extra})
    return env


def _run(code, env):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600,
                         cwd=root, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


_CHURN = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from nnbasics.kernels import heap
    if sys.argv[1] == "settle":
        assert heap.settle()
    def step():  # five 1 MiB arrays made, written and freed: a step's temporaries
        arrays = [np.empty(2**18, np.float32) for _ in range(5)]
        for a in arrays:
            a.fill(1.0)
    for _ in range(2):
        step()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        step()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 4)
""")


@pytest.mark.parametrize("settle", [True, False], ids=["settled", "glibc's defaults"])
def test_a_steps_temporaries_are_reused_once_settled(settle):
    """glibc's rule, deterministically: the first 1 MiB block freed raises its thresholds to ~1 and
    ~2 MiB, so five such temporaries (5 MiB at the heap's top) are trimmed away after every step and
    faulted in again (~1,280 pages a step); after :func:`heap.settle` (4 and 8 MiB) they are kept."""
    if not sys.platform.startswith("linux") or heap._libc() is None:
        pytest.skip("page-fault counts of glibc's heap: Linux with glibc only")
    faults = float(_run(_CHURN.replace("sys.argv[1]", repr("settle" if settle else "defaults")), _clean_env()))
    if settle:
        assert faults < 50
    else:
        assert faults > 1000


def test_a_compiled_two_thread_lstm_step_touches_no_fresh_pages(numba):
    """Before kernels/heap.py: 1,664 page faults a step (the bench's char-LSTM, batch_first, its
    products on the calling thread as under load), as the bench's worker is laid out; 0.2 after."""
    if not sys.platform.startswith("linux") or heap._libc() is None:
        pytest.skip("page-fault counts of glibc's heap: Linux with glibc only")
    env = _clean_env(NNBASICS_COMPILED="numba", NNBASICS_NUM_THREADS="2", OMP_NUM_THREADS="2",
                     OPENBLAS_NUM_THREADS="2")
    out = _run(_STEPS, env)
    if out == "no-compiled-product":
        pytest.skip("the compiled product does not run here (no AVX-512, or no direct BLAS calls: NumPy 1.26's "
                    "OpenBLAS), so neither do the thresholds it sets")
    faults, done = out.split()
    assert done == "True" and float(faults) < 50
