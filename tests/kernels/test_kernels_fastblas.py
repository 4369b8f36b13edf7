"""The private AVX-512 copy of NumPy's OpenBLAS (kernels/fastblas.py): same products as NumPy, every
layout it takes or hands back, the fallbacks, and the kernels that use it with and without it."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.kernels import fastblas

RNG = np.random.default_rng(11)


def _flags():
    try:
        with open("/proc/cpuinfo") as fh:
            return next((set(line.split(":", 1)[1].split()) for line in fh if line.startswith("flags")), set())
    except OSError:
        return set()


def _layouts(m, k, n, dtype):
    """(a, b) pairs of one product in every layout matmul takes: C, Fortran, transposed views, blocks."""
    a = RNG.standard_normal((m, k)).astype(dtype)
    b = RNG.standard_normal((k, n)).astype(dtype)
    big_a = RNG.standard_normal((m + 3, k + 5)).astype(dtype)
    big_b = RNG.standard_normal((n + 2, k + 4)).astype(dtype)
    return [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)),
            (big_a[1:m + 1, 2:k + 2], b),  # a block of a bigger matrix: leading dimension k + 5
            (a, big_b[1:n + 1, 3:k + 3].T),  # a transposed block
            (a[:, ::-1], b)]  # a negative stride: NumPy's job


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("m,k,n", [(64, 300, 129), (1, 500, 80), (200, 1, 70), (33, 64, 1)])
def test_matmul_equals_numpy_in_every_layout(dtype, tol, m, k, n):
    for a, b in _layouts(m, k, n, dtype):
        want = np.matmul(a, b)
        got = fastblas.matmul(a, b)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.abs(got - want).max() <= tol * k * max(1.0, np.abs(want).max())
        out = np.full((m + 2, n + 4), 7.0, dtype)  # into a block of a bigger array, the rest untouched
        fastblas.matmul(a, b, out=out[1:m + 1, 2:n + 2])
        assert np.abs(out[1:m + 1, 2:n + 2] - want).max() <= tol * k * max(1.0, np.abs(want).max())
        assert (out[0] == 7).all() and (out[:, :2] == 7).all() and (out[:, n + 2:] == 7).all()
        acc = np.ones((m, n), dtype)
        assert fastblas.matmul(a, b, out=acc, accumulate=True) is acc
        assert np.abs(acc - (1 + want)).max() <= tol * k * max(1.0, np.abs(want).max())


def test_matmul_falls_back_to_numpy_where_blas_does_not_apply():
    i = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(fastblas.matmul(i, i.T), i @ i.T)  # integers
    a3 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(fastblas.matmul(a3, a3.transpose(0, 2, 1)), a3 @ a3.transpose(0, 2, 1), rtol=1e-6)
    a = RNG.standard_normal((40, 40)).astype(np.float32)
    mixed = fastblas.matmul(a, a.astype(np.float64))
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, a @ a.astype(np.float64), rtol=1e-6, atol=1e-5)
    big_endian = a.astype(">f4")  # the same kind and size, another byte order: NumPy's job
    np.testing.assert_allclose(fastblas.matmul(big_endian, big_endian), a @ a, rtol=1e-5, atol=1e-4)
    frozen = np.zeros((40, 40), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError):  # NumPy refuses a read-only output; BLAS would have written it
        fastblas.matmul(a, a, out=frozen)
    assert not frozen.any()
    z = fastblas.matmul(np.ones((50, 0), np.float32), np.ones((0, 60), np.float32))  # k = 0: zeros
    assert z.shape == (50, 60) and not z.any()
    with pytest.raises(ValueError):
        fastblas.matmul(a, a[:3])
    with pytest.raises(ValueError, match="accumulate"):
        fastblas.matmul(a, a, accumulate=True)


def test_an_output_that_overlaps_an_operand_gives_numpys_answer():
    buf = RNG.standard_normal((64, 64)).astype(np.float32)
    want = buf @ buf[:, :64]
    fastblas.matmul(buf, buf[:, :64], out=buf)  # BLAS would read what it already overwrote
    np.testing.assert_allclose(buf, want, rtol=1e-5, atol=1e-4)


def test_raw_gives_the_cblas_function_of_a_float_dtype_only():
    if not fastblas.available():
        assert fastblas.raw(np.float32) is None
        return
    assert fastblas.raw(np.float32) is not None and fastblas.raw(np.float64) is not None
    assert fastblas.raw(np.int64) is None


def _describe_in_child(env_extra, drop=(), code="from nnbasics.kernels import fastblas; print(fastblas.describe())"):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          check=True).stdout.strip()


def _per_thread_setting():
    from nnbasics import threads

    return threads.blas_setter() is not None  # OpenBLAS 0.3.27+ (NumPy 2); NumPy 1.26 ships 0.3.23


def test_numpys_own_openblas_is_called_directly_with_the_kernels_it_chose():
    line = _describe_in_child({}, drop=("OPENBLAS_CORETYPE",))
    if line.startswith("a private copy"):  # NumPy's OpenBLAS chose an older family than this CPU runs
        assert "SkylakeX" in line and {"avx512f", "avx512bw"} <= _flags()
    elif _per_thread_setting():
        assert line.startswith("NumPy's own OpenBLAS, called directly"), line
    else:  # no way to keep its calls on one thread: numpy.matmul, as the kernels did before
        assert line.startswith("NumPy's own BLAS, through numpy.matmul (") and "openblas_set_num_threads_local" in line


def test_a_kernel_family_chosen_with_openblas_coretype_is_kept():
    line = _describe_in_child({"OPENBLAS_CORETYPE": "Haswell"})
    reason = "OPENBLAS_CORETYPE=Haswell chooses them; NNBASICS_FAST_BLAS=avx512 asks for AVX-512 ones"
    if _per_thread_setting():
        assert line == f"NumPy's own OpenBLAS, called directly, Haswell kernels ({reason}), one thread per call", line
    else:
        assert line.startswith(f"NumPy's own BLAS, through numpy.matmul ({reason}; calling it directly failed"), line


def test_avx512_asked_for_loads_the_copy_even_under_openblas_coretype():
    line = _describe_in_child({"OPENBLAS_CORETYPE": "Haswell", fastblas.ENV: "avx512"})
    if {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"} <= _flags():
        assert line == ("a private copy of NumPy's OpenBLAS with SkylakeX kernels (NumPy's runs Haswell, as "
                        "OPENBLAS_CORETYPE=Haswell says; NNBASICS_FAST_BLAS=avx512 asked for these)"), line
    elif _per_thread_setting():
        assert line == "NumPy's own OpenBLAS, called directly, Haswell kernels (no AVX-512 here), one thread per call"
    code = ("import numpy as np; from nnbasics.kernels import fastblas\n"
            "a = np.random.default_rng(0).standard_normal((90, 80)).astype(np.float32)\n"
            "print(float(abs(fastblas.matmul(a, a.T) - a @ a.T).max()) < 1e-3)")
    assert _describe_in_child({"OPENBLAS_CORETYPE": "Haswell", fastblas.ENV: "avx512"}, code=code) == "True"


def test_the_environment_variable_turns_it_off():
    assert _describe_in_child({fastblas.ENV: "0"}) == f"NumPy's own BLAS, through numpy.matmul ({fastblas.ENV}=0)"


@pytest.fixture
def numpy_chose_haswell(monkeypatch):
    """As on a CPU newer than NumPy's OpenBLAS knows: NumPy's library says Haswell, no OPENBLAS_CORETYPE."""
    real = fastblas._corename
    own = fastblas._library()
    monkeypatch.setattr(fastblas, "_corename", lambda lib: "Haswell" if lib._name == own else real(lib))
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.setattr(fastblas, "_state", None)  # looked at again, from the start


def test_a_private_avx512_copy_where_numpy_chose_older_kernels_by_itself(numpy_chose_haswell):
    line = fastblas.describe()
    if not {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"} <= _flags():
        assert "(no AVX-512 here" in line, line
        return
    assert line == "a private copy of NumPy's OpenBLAS with SkylakeX kernels (NumPy's runs Haswell)", line
    with open("/proc/self/maps") as fh:
        assert "nnbasics-fastblas" in fh.read() or not hasattr(os, "memfd_create")
    assert "OPENBLAS_CORETYPE" not in os.environ  # set for the load only
    for m, k, n in ((64, 300, 129), (200, 1, 70)):
        a, b = RNG.standard_normal((m, k)).astype(np.float32), RNG.standard_normal((k, n)).astype(np.float32)
        want = a @ b
        assert np.abs(fastblas.matmul(a, b) - want).max() <= 2e-6 * k * max(1.0, np.abs(want).max())
    assert fastblas.private()
    test_linear_kernel_equals_the_reference_either_way("fast", (40, 7))  # the kernel path on one thread too


def test_importing_nnbasics_loads_no_blas_of_its_own():
    code = ("import nnbasics\n"
            "assert 'nnbasics-fastblas' not in open('/proc/self/maps').read(), 'loaded at import'\n"
            "import nnbasics.kernels.fastblas as f\n"
            "assert f._state is None, 'looked up at import'\n"
            "print('ok')")
    assert _describe_in_child({}, code=code) == "ok"


def test_a_blas_that_fails_its_check_is_not_called(monkeypatch, numpy_chose_haswell):
    def differs(fns):
        raise ArithmeticError("differs")

    monkeypatch.setattr(fastblas, "_self_check", differs)
    assert not fastblas.available()
    assert fastblas.describe().startswith("NumPy's own BLAS, through numpy.matmul (")
    assert "differs" in fastblas.describe()
    assert fastblas.raw(np.float32) is None
    a = RNG.standard_normal((70, 80)).astype(np.float32)
    np.testing.assert_array_equal(fastblas.matmul(a, a.T), a @ a.T)  # NumPy's own, exactly


def test_without_memfd_the_copy_loads_from_a_temporary_file_and_removes_it(monkeypatch, tmp_path, numpy_chose_haswell):
    import tempfile

    def no_memfd(name):
        raise OSError("not allowed here")

    monkeypatch.setattr(fastblas.os, "memfd_create", no_memfd, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    line = fastblas.describe()
    assert list(tmp_path.iterdir()) == []  # loaded (or not) and gone
    if line.startswith("a private copy"):
        a = RNG.standard_normal((60, 70)).astype(np.float32)
        np.testing.assert_allclose(fastblas.matmul(a, a.T), a @ a.T, rtol=1e-5, atol=1e-4)


def _count_now(set_local):
    """OpenBLAS's thread count on this thread now (read by setting it, then put back)."""
    now = set_local(1)
    set_local(now)
    return now


def _with_count(set_local, outer, body):
    """``body()`` with the calling thread's BLAS count set to ``outer``; returns (what body
    returned, the count after it); the caller's own count is restored either way."""
    before = set_local(outer)
    try:
        got = body()
        after = _count_now(set_local)
    finally:
        set_local(before)
    return got, after


def _inside_one_thread(set_local):
    with fastblas.one_thread():
        return _count_now(set_local)


def test_one_thread_keeps_numpys_openblas_on_the_calling_thread_and_restores_it():
    from nnbasics import threads

    set_local = threads.blas_setter()
    if set_local is None:  # NumPy 1.26's OpenBLAS 0.3.23: no per-thread setting, so no direct calls
        assert not fastblas.available() and fastblas.raw(np.float32) is None
        return
    inside, after = _with_count(set_local, 3, lambda: _inside_one_thread(set_local))
    assert inside == (1 if fastblas._state[2] is not None else 3) and after == 3


@pytest.fixture(params=["fast", "numpy"])
def fast_or_not(request, monkeypatch):
    """Each kernel test twice: with the private copy (where this CPU has it) and with NumPy's BLAS."""
    if request.param == "numpy":
        monkeypatch.setattr(fastblas, "_state", False)
    return request.param


@pytest.mark.parametrize("n_threads", [1, 2])
def test_lstm_kernel_equals_the_reference_either_way(fast_or_not, n_threads, monkeypatch):
    from nnbasics import threads

    monkeypatch.setattr(threads, "_threads", n_threads)
    T, N, I, H = 7, 5, 6, 8
    arrays = [RNG.standard_normal(s) for s in _lstm_shapes(T, N, I, H)]  # float64: the reference's answer to 1e-12
    for r, f in zip(*_lstm_reference_and_kernel(arrays, RNG.standard_normal((T + 1, N, H)))):
        assert np.abs(f - r).max() <= 1e-12 * max(1.0, np.abs(r).max())


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_recurrence_makes_one_blas_call_per_step_each_way(monkeypatch, reverse):
    """A BLAS call costs ~3 us of overhead: the recurrence makes one per step forward
    (``h_{t-1} W_hh^T`` for all four gates) and one backward (``da_t W_hh``), not one per gate.
    Where there is no direct BLAS (NumPy 1.26's OpenBLAS), none: NumPy's products instead."""
    from nnbasics.ops import recurrent as rc

    calls = []
    real = fastblas.raw
    direct = real(np.float64) is not None

    def counting(dtype):
        fn = real(dtype)
        return None if fn is None else (lambda *args: calls.append(args[3:6]) or fn(*args))

    monkeypatch.setattr(fastblas, "raw", counting)
    T, N, I, H = 6, 3, 4, 5
    arrays = [RNG.standard_normal(s) for s in _lstm_shapes(T, N, I, H)]
    ts = [nb.tensor(a, requires_grad=True) for a in arrays]
    out = rc.lstm_layer(*ts, reverse=reverse)
    assert calls == [(N, 4 * H, H)] * T * direct  # (m, n, k): (N, H) @ (H, 4H)
    out.backward(nb.tensor(RNG.standard_normal((T + 1, N, H))))
    assert calls[T * direct:] == [(N, H, 4 * H)] * T * direct  # (N, 4H) @ (4H, H)
    assert np.isfinite(ts[4].grad._array).all() and np.abs(ts[4].grad._array).sum() > 0


def _lstm_shapes(T, N, I, H):
    return [(T, N, I), (N, H), (N, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,)]


def _lstm_reference_and_kernel(arrays, upstream):
    """[output, every input's gradient] of one LSTM layer, by the reference and by the kernel."""
    from nnbasics.ops import recurrent as rc

    results = []
    for reference in (True, False):
        with nb.reference_mode(reference):
            ts = [nb.tensor(a.copy(), requires_grad=True) for a in arrays]
            out = rc.lstm_layer(*ts)
            out.backward(nb.tensor(upstream))
            results.append([out._array] + [t.grad._array for t in ts])
    return results


@pytest.mark.parametrize("shape", [(9, 7), (3, 4, 7)])
def test_linear_kernel_equals_the_reference_either_way(fast_or_not, shape):
    import nnbasics.functional as F

    x, w, b = RNG.standard_normal(shape), RNG.standard_normal((5, 7)), RNG.standard_normal(5)
    g = RNG.standard_normal(shape[:-1] + (5,))
    results = []
    for reference in (True, False):
        with nb.reference_mode(reference):
            ts = [nb.tensor(a.copy(), requires_grad=True) for a in (x, w, b)]
            y = F.linear(*ts)
            y.backward(nb.tensor(g))
            results.append([y._array] + [t.grad._array for t in ts])
    for r, f in zip(*results):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-12)


def test_lstm_kernel_with_float32_inputs_and_float64_weights_equals_the_reference():
    T, N, I, H = 5, 4, 6, 8  # the raw BLAS calls take one dtype: mixed ones go to NumPy's products
    arrays = [RNG.standard_normal(s).astype(np.float32 if i < 3 else np.float64)
              for i, s in enumerate(_lstm_shapes(T, N, I, H))]
    for r, f in zip(*_lstm_reference_and_kernel(arrays, RNG.standard_normal((T + 1, N, H)).astype(np.float32))):
        assert f.dtype == r.dtype
        assert np.abs(f - r).max() <= 1e-5 * max(1.0, np.abs(r).max())


def test_the_self_check_runs_numpys_products_on_this_thread_alone(monkeypatch):
    """Loading the kernels checks them against NumPy's products: a threaded NumPy product there
    wakes OpenBLAS's pool, whose threads then spin ~0.1 s of CPU once per process (a whole core
    of a busy 2-core machine). Where there is no direct BLAS (NumPy 1.26), nothing is loaded."""
    from nnbasics import threads

    fns = fastblas._state if fastblas._state is not None else fastblas._load()
    set_local = threads.blas_setter()
    if not fns:
        assert fastblas.raw(np.float32) is None and fastblas.raw(np.float64) is None
        return
    counts = []
    real = np.matmul

    def matmul(*args, **kwargs):
        counts.append(_count_now(set_local))
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "matmul", matmul)
    _, after = _with_count(set_local, 2, lambda: fastblas._self_check(fns))  # as a two-thread process has it
    assert counts and set(counts) == {1}
    assert after == 2  # and the caller's count is back


def test_one_thread_keeps_numpys_own_products_on_this_thread_with_the_private_copy_too(monkeypatch):
    """Inside ``one_thread()`` NumPy's products (the LSTM's bias GEMV) run on the calling thread
    whichever kernels the direct calls take: with the private copy (no thread setting of its own)
    too. Where NumPy's OpenBLAS has no per-thread setting (1.26) there is nothing to set."""
    from nnbasics import threads

    set_local = threads.blas_setter()
    monkeypatch.setattr(fastblas, "_state", (None, None, None))  # as the private copy's state reads
    if set_local is None:
        with fastblas.one_thread() as ctx:
            assert ctx._set is None
        return
    assert _with_count(set_local, 2, lambda: _inside_one_thread(set_local)) == (1, 2)


def test_products_blas_runs_alone_anyway_skip_the_thread_setting_on_several_threads(monkeypatch):
    """On several threads a product BLAS would split is held to the calling thread (two foreign
    calls, ~1 us); one OpenBLAS runs alone anyway (at most ``fastblas.ALONE`` multiply-adds) is
    not: the calls were ~10 % of a tiny MLP's step, which ran 1.11x its one-thread time."""
    import nnbasics.functional as F
    from nnbasics import threads

    entered = []

    class Counting(fastblas.one_thread):
        def __enter__(self):
            entered.append(1)
            return super().__enter__()

    monkeypatch.setattr(fastblas, "one_thread", Counting)
    monkeypatch.setattr(threads, "_threads", 2)
    monkeypatch.setattr(nb.compiled, "_wanted", False)  # the pieces' sizes on Python's threads
    rng = np.random.default_rng(0)

    def linear_step(rows, n_in, n_out):
        entered.clear()
        x = nb.tensor(rng.standard_normal((rows, n_in)).astype(np.float32))
        w = nb.tensor(rng.standard_normal((n_out, n_in)).astype(np.float32), requires_grad=True)
        F.linear(x, w).sum().backward()
        return len(entered), w.grad._array

    assert 16 * 100 * 50 <= fastblas.ALONE < 32 * 784 * 256
    calls, tiny_grad = linear_step(16, 100, 50)
    assert calls == 0
    calls, _ = linear_step(32, 784, 256)
    assert calls == (2 if threads.blas_setter() is not None else 0)  # forward and backward
    monkeypatch.setattr(threads, "_threads", 1)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(linear_step(16, 100, 50)[1], tiny_grad)  # the same bits on one thread
