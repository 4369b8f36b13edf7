"""Run code in a fresh interpreter whose memory may grow by a fixed amount: peak-memory tests.

Timing is not a test, and neither is tracemalloc alone (it misses allocations NumPy makes
outside Python's allocator hooks and cannot stop an allocation). Here the limit is the
kernel's: after ``setup`` runs, ``RLIMIT_AS`` is set to the address space in use plus
``extra_bytes``, so an allocation past the budget fails at once with MemoryError (which the
test then sees as a failure) instead of swapping the machine. The peak resident size growth
(``ru_maxrss``) is printed on the last line as ``PEAK_GROWTH <bytes>``.

Example:
    >>> proc = run_limited("x = bytearray(10 << 20)", extra_bytes=200 << 20)
    >>> proc.returncode, int(proc.stdout.split()[-1]) >= 10 << 20
    (0, True)

Linux only (``/proc/self/status``), like the CI machine.
"""

import os
import subprocess
import sys
import textwrap

_PRELUDE = """
import os, resource
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
{setup}
def _vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
_hard = resource.getrlimit(resource.RLIMIT_AS)[1]
_limit = _vm_size() + {extra}
resource.setrlimit(resource.RLIMIT_AS, (_limit if _hard == resource.RLIM_INFINITY else min(_limit, _hard), _hard))
{code}
print("PEAK_GROWTH", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - _before)
"""


def run_limited(code: str, extra_bytes: int, setup: str = "import numpy, nnbasics", timeout: int = 300):
    """Run ``setup``, cap the address space at its size + ``extra_bytes``, run ``code``; the CompletedProcess.

    ``code`` and ``setup`` are dedented. The child inherits the environment, with this
    process's ``sys.path`` as PYTHONPATH so it runs the same nnbasics.
    """
    script = _PRELUDE.format(setup=textwrap.dedent(setup), extra=int(extra_bytes), code=textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True,
                          timeout=timeout, env=env)


def peak_growth(proc) -> int:
    """The ``PEAK_GROWTH`` a :func:`run_limited` child printed (bytes of resident memory)."""
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PEAK_GROWTH ")]
    assert lines, f"the child did not finish (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return int(lines[-1].split()[1])
