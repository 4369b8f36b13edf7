"""The switch of the optional compiled kernels (nnbasics/compiled.py): off by default, on by the
environment or a context manager, a clear message where Numba is missing, nothing imported early."""

import os
import subprocess
import sys

import pytest

import nnbasics as nb
from nnbasics import compiled


@pytest.fixture
def fresh(monkeypatch):
    """The switch as a new process finds it (the environment not read yet), restored afterwards."""
    monkeypatch.setattr(compiled, "_wanted", None)
    return monkeypatch


@pytest.fixture
def no_numba(fresh):
    """Numba as if it did not load here."""
    fresh.setattr(compiled, "_numba", None)
    fresh.setattr(compiled, "_why", "the compiled kernels need Numba, which does not load here (ImportError: "
                                    "No module named 'numba'); install it with: pip install \"nnbasics[numba]\"")
    return fresh


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if k != compiled.ENV} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120, check=False)


def test_off_by_default(fresh):
    fresh.delenv(compiled.ENV, raising=False)
    assert nb.is_compiled() is False


@pytest.mark.parametrize("value", ["0", "off", "", "no"])
def test_off_values_turn_it_off(fresh, value):
    fresh.setenv(compiled.ENV, value)
    assert nb.is_compiled() is False


def test_an_unknown_value_warns_and_runs_numpy(fresh):
    fresh.setenv(compiled.ENV, "cuda")
    with pytest.warns(RuntimeWarning, match=r"NNBASICS_COMPILED='cuda' is not a setting: use NNBASICS_COMPILED=numba"):
        assert nb.is_compiled() is False
    assert nb.is_compiled() is False  # warned once: the answer is kept


def test_asked_for_by_the_environment_without_numba_warns_once_and_runs_numpy(no_numba):
    no_numba.setenv(compiled.ENV, "numba")
    with pytest.warns(RuntimeWarning, match=r"pip install \"nnbasics\[numba\]\".*running the NumPy kernels"):
        assert nb.is_compiled() is False


def test_the_context_manager_without_numba_raises_and_changes_nothing(no_numba):
    no_numba.delenv(compiled.ENV, raising=False)
    with pytest.raises(ImportError, match=r"pip install \"nnbasics\[numba\]\""), nb.compiled_kernels():
        pytest.fail("entered")
    assert nb.is_compiled() is False
    with nb.compiled_kernels(False):  # switching off needs no Numba
        assert nb.is_compiled() is False


def test_the_context_manager_restores_on_exit_and_on_errors(numba, fresh):
    fresh.delenv(compiled.ENV, raising=False)
    with nb.compiled_kernels():
        assert nb.is_compiled()
        with nb.compiled_kernels(False):
            assert not nb.is_compiled()
        assert nb.is_compiled()
    assert not nb.is_compiled()
    with pytest.raises(KeyError), nb.compiled_kernels():
        raise KeyError("x")
    assert not nb.is_compiled()

    @nb.compiled_kernels()
    def inside():
        return nb.is_compiled()

    assert inside() and not nb.is_compiled()


def test_importing_nnbasics_imports_no_numba_even_when_asked_for():
    out = _run("import sys, nnbasics; print('numba' in sys.modules)", NNBASICS_COMPILED="numba")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_environment_turns_the_compiled_pool_on(numba):
    code = ("import numpy as np, nnbasics as nb, nnbasics.functional as F\n"
            "x = nb.tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True)\n"
            "with nb.reference_mode(False):\n"
            "    print(type(F.max_pool2d(x, 2)._ctx).__module__)\n")
    on = _run(code, NNBASICS_COMPILED="numba")
    off = _run(code, NNBASICS_COMPILED="0")
    assert (on.returncode, off.returncode) == (0, 0), on.stderr + off.stderr
    assert on.stdout.strip() == "nnbasics.kernels.pool_compiled"
    assert off.stdout.strip() == "nnbasics.kernels.pool"
