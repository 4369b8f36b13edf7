"""The compiled float32 product (kernels/gemm_compiled.py): BLAS's sgemm on every shape, layout,
alpha and beta; the same bits for a product and its pieces; where the kernels take it.

The product is compiled and tested on any CPU Numba runs on (LLVM splits its 16-float vectors
where there is no AVX-512); the kernels take it only where the CPU has AVX-512 (``available``).
"""

from __future__ import annotations

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.kernels import fastblas, gemm_compiled

NT, T = 111, 112  # as stored, transposed (cblas)


@pytest.fixture
def sgemm(numba):
    """The product's ``cblas_sgemm`` entry point, compiled whatever the CPU (conftest's ``numba``:
    a skip only where Numba is not installed, a failure where CI requires it)."""
    return gemm_compiled.compile_product()[1].ctypes


def _operands(rng, m, n, k, ta, tb, pad):
    """op(A) (m, k) and op(B) (k, n) as float64, and their float32 storage (``pad`` extra columns:
    a leading dimension past the row)."""
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((k, n))
    sa = a.T if ta == T else a
    sb = b.T if tb == T else b
    store_a = np.zeros((sa.shape[0], sa.shape[1] + pad), np.float32)
    store_b = np.zeros((sb.shape[0], sb.shape[1] + pad), np.float32)
    store_a[:, :sa.shape[1]] = sa
    store_b[:, :sb.shape[1]] = sb
    a = (store_a[:, :sa.shape[1]].T if ta == T else store_a[:, :sa.shape[1]]).astype(np.float64)
    b = (store_b[:, :sb.shape[1]].T if tb == T else store_b[:, :sb.shape[1]]).astype(np.float64)
    return a, b, store_a, store_b


def _call(fn, ta, tb, m, n, k, alpha, sa, sb, beta, c):
    """``fn`` on arrays: each operand's leading dimension is its row length in storage."""
    fn(101, ta, tb, m, n, k, alpha, sa.ctypes.data, sa.shape[1], sb.ctypes.data, sb.shape[1], beta, c.ctypes.data,
       c.shape[1])


SHAPES = [(1, 1, 1), (8, 32, 16), (7, 31, 5), (9, 33, 257), (32, 1024, 256), (130, 65, 300), (129, 96, 513),
          (300, 40, 700), (3, 200, 64), (257, 7, 1)]


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta,tb", [(NT, NT), (T, NT), (NT, T), (T, T)])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)])
def test_equals_the_float64_product(sgemm, m, n, k, ta, tb, alpha, beta):
    """C = alpha op(A) op(B) + beta C for every layout, edge (rows not a multiple of 8, columns of
    32), k across blocks of KC, rows across blocks of MC, leading dimensions past the rows."""
    rng = np.random.default_rng(m * 7 + n * 3 + k)
    a, b, sa, sb = _operands(rng, m, n, k, ta, tb, pad=3)
    c = rng.standard_normal((m, n + 2)).astype(np.float32)
    want = alpha * (a @ b) + beta * c[:, :n].astype(np.float64)
    keep = c[:, n:].copy()
    _call(sgemm, ta, tb, m, n, k, alpha, sa, sb, beta, c)  # C's leading dimension n + 2
    scale = max(1.0, np.abs(want).max())
    assert np.abs(c[:, :n] - want).max() <= 4e-7 * (k + 2) * scale
    np.testing.assert_array_equal(c[:, n:], keep)  # nothing past C's columns written


def test_beta_zero_does_not_read_c(sgemm):
    """BLAS's rule: with beta = 0, C's old contents (NaN here) are not read."""
    rng = np.random.default_rng(1)
    a, b, sa, sb = _operands(rng, 13, 40, 9, NT, NT, pad=0)
    c = np.full((13, 40), np.nan, np.float32)
    _call(sgemm, NT, NT, 13, 40, 9, 1.0, sa, sb, 0.0, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


def test_k_zero_scales_c(sgemm):
    c = np.arange(12, dtype=np.float32).reshape(3, 4)
    z = np.zeros((3, 1), np.float32)
    _call(sgemm, NT, NT, 3, 4, 0, 1.0, z, np.zeros((1, 4), np.float32), 0.5, c)
    np.testing.assert_array_equal(c, np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5)
    c[:] = np.nan
    _call(sgemm, NT, NT, 3, 4, 0, 1.0, z, np.zeros((1, 4), np.float32), 0.0, c)
    np.testing.assert_array_equal(c, 0.0)


def test_column_major_order(sgemm):
    """order 102 (column-major): the transposed row-major product."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((37, 50)).astype(np.float32)
    b = rng.standard_normal((50, 45)).astype(np.float32)
    fa, fb = np.asfortranarray(a), np.asfortranarray(b)
    c = np.zeros((37, 45), np.float32, order="F")
    sgemm(102, NT, NT, 37, 45, 50, 1.0, fa.ctypes.data, 37, fb.ctypes.data, 50, 0.0, c.ctypes.data, 37)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize("ta", [NT, T])
def test_pieces_give_the_products_bits(sgemm, ta, beta):
    """Row pieces and column pieces of a product, cut anywhere (inside a tile too), give the whole
    product's values to the bit: each element is the same sum in the same order."""
    m, n, k = 70, 100, 300
    rng = np.random.default_rng(3)
    _, _, sa, sb = _operands(rng, m, n, k, ta, NT, pad=0)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    whole = c0.copy()
    _call(sgemm, ta, NT, m, n, k, 1.0, sa, sb, beta, whole)
    for cut in (8, 13, 64):
        rows = c0.copy()
        for lo, hi in ((0, cut), (cut, m)):
            at_a = sa.ctypes.data + 4 * (lo * sa.shape[1] if ta == NT else lo)
            sgemm(101, ta, NT, hi - lo, n, k, 1.0, at_a, sa.shape[1], sb.ctypes.data, n, beta,
                  rows.ctypes.data + 4 * lo * n, n)
        np.testing.assert_array_equal(rows, whole)
    if ta == NT:
        for cut in (32, 45):
            cols = c0.copy()
            for lo, hi in ((0, cut), (cut, n)):
                sgemm(101, ta, NT, m, hi - lo, k, 1.0, sa.ctypes.data, k, sb.ctypes.data + 4 * lo, n, beta,
                      cols.ctypes.data + 4 * lo, n)
            np.testing.assert_array_equal(cols, whole)


def test_only_with_wide_vectors_on_numbas_own_cpu(numba, monkeypatch):
    """The kernels take the product only where Numba compiles for this CPU and it has AVX-512."""
    monkeypatch.setattr(numba.core.config, "CPU_NAME", "generic")
    assert not gemm_compiled._host_has_wide_vectors(numba)
    monkeypatch.setattr(numba.core.config, "CPU_NAME", None)
    monkeypatch.setattr(numba.core.config, "CPU_FEATURES", "+avx2,+fma")
    assert not gemm_compiled._host_has_wide_vectors(numba)
    monkeypatch.setattr(numba.core.config, "CPU_FEATURES", "+avx2,+fma,+avx512f")
    assert gemm_compiled._host_has_wide_vectors(numba)


def test_fastblas_takes_it_only_with_the_compiled_kernels(numba):
    """float32 products go to the compiled product while the compiled kernels are on (where it runs
    here and the kernels call products directly); float64 and the kernels off keep BLAS."""
    with nb.compiled_kernels(enabled=False):
        assert fastblas.compiled_sgemm() is None
        assert fastblas.beats_numpy(np.float32, 2**30) == fastblas.private()
    with nb.compiled_kernels():
        here = gemm_compiled.available() and fastblas.available()
        assert (fastblas.compiled_sgemm() is not None) == here
        assert fastblas.beats_numpy(np.float32, 2**30) == (here or fastblas.private())
        assert fastblas.beats_numpy(np.float32, fastblas.COMPILED_MIN_WORK - 1) == fastblas.private()
        if here:
            assert fastblas.raw(np.float32) is fastblas.compiled_sgemm()
            assert fastblas.raw(np.float64) is not fastblas.compiled_sgemm()
        a = np.random.default_rng(4).standard_normal((64, 96)).astype(np.float32)
        b = np.random.default_rng(5).standard_normal((96, 80)).astype(np.float32)
        np.testing.assert_allclose(fastblas.matmul(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("ta,tb", [(NT, T), (T, NT)])
def test_scratch_in_chunks_changes_no_value(sgemm, monkeypatch, ta, tb):
    """A transposed B's copy (or the C^T of a swapped product) made in chunks of columns: the same
    bits as in one piece."""
    m, n, k = (40, 200, 70) if tb == T else (300, 100, 50)
    rng = np.random.default_rng(8)
    _, _, sa, sb = _operands(rng, m, n, k, ta, tb, pad=1)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    whole, chunks = c0.copy(), c0.copy()
    _call(sgemm, ta, tb, m, n, k, 1.0, sa, sb, 1.0, whole)
    gemm_compiled.compile_product()
    assert gemm_compiled.COPY_FLOATS >= max(m, k) * n  # one chunk above
    monkeypatch.setattr(gemm_compiled, "COPY_FLOATS", 64 * max(m, k))  # 64 columns a chunk
    # sgemm as Python (reading COPY_FLOATS as it runs), its helpers compiled
    gemm_compiled.sgemm.py_func(ta, tb, m, n, k, np.float32(1.0), sa.ctypes.data, sa.shape[1], sb.ctypes.data,
                                sb.shape[1], np.float32(1.0), chunks.ctypes.data, n)
    np.testing.assert_array_equal(chunks, whole)
