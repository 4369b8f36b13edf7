"""The C heap's thresholds (kernels/heap.py): set once where the compiled product loads, never over
a user's setting; and what they are for: a compiled two-thread LSTM step
that touched 6.5 MiB of fresh pages every step (issue 19) touches none."""

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


@pytest.mark.parametrize("settle", [True, False], ids=["thresholds set", "NNBASICS_HEAP=0"])
def test_a_compiled_two_thread_lstm_step_touches_no_fresh_pages(numba, settle):
    """Before kernels/heap.py: 1,664 page faults a step (the bench's char-LSTM, batch_first, its
    products on the calling thread as under load); 0.2 after. With the thresholds left alone the
    faults come back: the test can tell."""
    if not sys.platform.startswith("linux"):
        pytest.skip("page-fault counts and glibc: Linux only")
    env = {**os.environ, "NNBASICS_COMPILED": "numba", "NNBASICS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2",
           "OPENBLAS_NUM_THREADS": "2", "NNBASICS_HEAP": "1" if settle else "0"}
    for var in (*heap._USER_TUNABLES, "NNBASICS_REFERENCE"):  # the kernels on, as in every kernel test
        env.pop(var, None)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", _STEPS], env=env, capture_output=True, text=True, timeout=600,
                         cwd=root, check=False)
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "no-compiled-product":
        pytest.skip("the compiled product does not run here (no AVX-512, or no direct BLAS calls: NumPy 1.26's "
                    "OpenBLAS), so neither do the thresholds it sets")
    faults, done = out.stdout.split()
    if settle:
        assert done == "True" and float(faults) < 50
    else:
        assert done == "False" and float(faults) > 500
