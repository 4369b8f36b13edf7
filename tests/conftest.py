"""Shared fixtures. ``torch`` is the parity reference: skipped where absent, unless
NNBASICS_REQUIRE_TORCH=1 (set by .ci/run), where its absence fails the test. ``numba`` (the
optional compiled kernels) likewise, with NNBASICS_REQUIRE_NUMBA=1."""

import os
import signal

# NOTE: before NumPy loads. Test matrices are tiny; on a busy 2-core machine two BLAS
# threads made the LSTM tests 5-13x slower. Benchmarks (bench/) choose their own threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
import pytest


def _import_torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("NNBASICS_REQUIRE_TORCH") == "1":
            pytest.fail("torch is required (NNBASICS_REQUIRE_TORCH=1) but is not installed: pip install torch==2.13.0")
        pytest.skip("torch not installed (parity reference); pip install torch==2.13.0")
    torch.manual_seed(0)
    torch.set_num_threads(1)  # NOTE: tiny parity ops; threads on a busy 2-core box made each test ~70x slower
    return torch


@pytest.fixture
def torch():
    """The torch module, for parity tests."""
    return _import_torch()


@pytest.fixture
def numba():
    """The numba module, for tests of the optional compiled kernels (nnbasics.compiled)."""
    try:
        import numba
    except ImportError:
        if os.environ.get("NNBASICS_REQUIRE_NUMBA") == "1":
            pytest.fail("numba is required (NNBASICS_REQUIRE_NUMBA=1) but does not load: pip install numba")
        pytest.skip("numba not installed (the optional compiled kernels); pip install numba")
    return numba


@pytest.fixture
def rng():
    """A seeded Generator; tests never use NumPy's global random state."""
    return np.random.default_rng(1234)


@pytest.fixture
def kernels_on():
    """Run the test on nnbasics' kernels (nnbasics/kernels), also where the suite runs in
    reference mode (NNBASICS_REFERENCE=1): for tests of a kernel's own blocks, threads and buffers."""
    import nnbasics as nb

    with nb.reference_mode(False):
        yield


@pytest.fixture
def ctrl_c_reaches_children():
    """A child process started in the test stops on SIGINT as it would in a terminal.

    A background job of a non-interactive shell (``.ci/run ... &``, nohup) runs with SIGINT ignored,
    children inherit SIG_IGN across exec, and Python then never raises KeyboardInterrupt: a
    test that sends Ctrl-C would see the child go on. With Python's own handler installed here
    for the test, the children start with SIGINT's default action (a handler resets on exec).
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
