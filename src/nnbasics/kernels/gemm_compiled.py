"""A float32 matrix product as compiled code (Numba, optional): ``C = alpha A B + beta C``.

Where the compiled kernels are on (:mod:`nnbasics.compiled`) and the CPU has 512-bit vectors
(AVX-512), the kernels' float32 products run here instead of in NumPy's BLAS. This is the
textbook register-tiled product, with nothing else around it::

    for each block of MC rows of C, each block of KC steps of k:
        for each panel of NR = 32 columns of B and C:
            for each tile of MR = 8 rows:                       # C[i:i+8, j:j+32]
                acc = 0                                         # 8 x 32 floats: 16 vector registers
                for k in the block:
                    b = B[k, j:j+32]                            # two 16-float loads
                    for r in range(8):
                        acc[r] += A[i + r, k] * b               # one broadcast, two fused multiply-adds
                C[i:i+8, j:j+32] = alpha * acc + beta * C[i:i+8, j:j+32]     (beta 1 after the first block)

The tile is written in LLVM's vector types (:func:`_tile`), so its 16 accumulators stay in
registers through the whole k loop: each step loads 2 vectors of B and 8 scalars of A for 16
fused multiply-adds, and runs at the core's peak where B's panel is in cache. Measured on the
AMD EPYC (Zen 5) of BENCHMARKS.md, one thread, against NumPy's OpenBLAS as that machine sets it
(its AVX2 kernels): the char-LSTM's step product (32, 256) @ (256, 1024) 89 against 168 us; the
MLP's (128, 784) @ (784, 256) 203 against 402 us; (1024, 3200)^T @ (3200, 256) 7.8 against 13.6 ms.
B is read where it lies (row-major B: each k reads 32 contiguous floats of a row); a transposed
B, and the last panel where N is not a multiple of 32, are first copied into panels of 32
columns (zero-padded); a transposed A, and the last rows where M is not a multiple of 8, are
copied into tiles of rows (zero rows after the last). Some products are made transposed,
``C^T = op(B)^T op(A)^T``, where that copies less (:func:`sgemm`).

Each C element is the sum over k in order, with fused multiply-adds: the values differ from
BLAS's in the last bits (float32: ~1e-6 relative), as a product on another library does. A
partial tile runs the same tile on a padded copy, so a row or column piece of a product gives
the whole product's bits for its elements; only whether a product is made transposed depends
on its shape. Only float32; float64 stays on BLAS.

:func:`cblas` gives the product with the C signature of ``cblas_sgemm`` (row- or column-major),
so every caller of :func:`nnbasics.kernels.fastblas.raw`, the native threads' pieces included,
runs it unchanged. Where the CPU has no 512-bit vectors (or Numba targets another CPU:
``NUMBA_CPU_NAME``), :func:`available` is False and BLAS keeps every product: OpenBLAS's AVX2
kernels reach the AVX2 peak themselves.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import compiled
from . import heap

__all__ = ["COPY_FLOATS", "KC", "MC", "MR", "NR", "available", "cblas", "compile_product", "sgemm"]

#: Rows of a register tile; vectors of W floats per tile row (NR = NV * W columns).
MR, NV, W = 8, 2, 16
NR = NV * W
#: Rows of C per block: the block's rows of A stay in cache while every panel of B passes.
MC = 128
#: Steps of k per pass over a block: a panel of B (KC, NR) stays in the first-level cache.
KC = 256
#: Floats of scratch a product copies into at once, at most (4 MiB): a transposed B's panels, or C^T.
COPY_FLOATS = 2**20

_lock = threading.Lock()
_state = None  # None: not tried; False: not available here; else (driver, cfunc)


def _tile(nb):
    """The register tile as a Numba intrinsic ``tile(k, a, ars, aks, b, ldb, c, ldc, alpha, beta)``:

    ``C[0:MR, 0:NR] = alpha * sum_k A[:, k] B[k, :] + beta * C`` with A's element (r, k) at
    ``a + 4 (r ars + k aks)``, B's row k at ``b + 4 k ldb`` (NR contiguous floats), C's row r at
    ``c + 4 r ldc`` (addresses in bytes, strides in floats); C is not read where beta is 0 (BLAS's rule).
    """
    from llvmlite import ir
    from numba.core import cgutils, types

    @nb.extending.intrinsic
    def tile(typingctx, k, a, ars, aks, b, ldb, c, ldc, alpha, beta):
        sig = types.void(*([types.intp] * 8), types.float32, types.float32)

        def codegen(context, builder, signature, args):
            k, a, ars, aks, b, ldb, c, ldc, alpha, beta = args
            f32, i32 = ir.FloatType(), ir.IntType(32)
            vec = ir.VectorType(f32, W)
            vptr, idx = vec.as_pointer(), k.type
            a, b, c = (builder.inttoptr(p, f32.as_pointer()) for p in (a, b, c))
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3), f"llvm.fma.v{W}f32")
            undef, zeros = ir.Constant(vec, ir.Undefined), ir.Constant(ir.VectorType(i32, W), [0] * W)

            def splat(x):
                return builder.shuffle_vector(builder.insert_element(undef, x, ir.Constant(i32, 0)), undef, zeros)

            def at(base, offset):  # the vector at base + offset floats
                return builder.bitcast(builder.gep(base, [offset]), vptr)

            acc = [[cgutils.alloca_once_value(builder, ir.Constant(vec, [0.0] * W)) for _ in range(NV)]
                   for _ in range(MR)]
            with cgutils.for_range(builder, k) as loop:
                kk = loop.index
                row = builder.mul(kk, ldb)
                bv = [builder.load(at(b, builder.add(row, ir.Constant(idx, v * W))), align=4) for v in range(NV)]
                a_k = builder.mul(kk, aks)
                for r in range(MR):
                    s = splat(builder.load(builder.gep(a, [builder.add(builder.mul(ir.Constant(idx, r), ars), a_k)])))
                    for v in range(NV):
                        builder.store(builder.call(fma, [s, bv[v], builder.load(acc[r][v])]), acc[r][v])
            va, vb = splat(alpha), splat(beta)
            keep = builder.fcmp_ordered("!=", beta, ir.Constant(f32, 0.0))
            for r in range(MR):
                for v in range(NV):
                    p = at(c, builder.add(builder.mul(ir.Constant(idx, r), ldc), ir.Constant(idx, v * W)))
                    x = builder.fmul(va, builder.load(acc[r][v]))
                    with builder.if_then(keep):
                        builder.store(builder.call(fma, [vb, builder.load(p, align=4), x]), p, align=4)
                    with builder.if_then(builder.not_(keep)):
                        builder.store(x, p, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _floats(nb):
    """A Numba intrinsic ``floats(address)``: the address (an int) as a float32 pointer, for ``carray``."""
    from numba.core import types

    @nb.extending.intrinsic
    def floats(typingctx, address):
        ptr = types.CPointer(types.float32)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(ptr))

        return ptr(types.intp), codegen

    return floats


def _pack(tb, k, n, b, ldb, j0, panel):
    """panel[kk, q] = B[kk, j0 + q] for the columns q < NR that B has, 0 beyond: one (k, NR) panel
    of B = (B^T)^T where it is held transposed (``tb`` 112: B^T's rows ``ldb`` apart), else of
    the row-major B."""
    cols = min(NR, n - j0)
    panel[:, cols:] = 0.0
    if tb == 111:
        rows = carray(floats(b), (k, ldb))
        for kk in range(k):
            for q in range(cols):
                panel[kk, q] = rows[kk, j0 + q]
    else:
        rows = carray(floats(b), (n, ldb))
        for q in range(cols):
            for kk in range(k):
                panel[kk, q] = rows[j0 + q, kk]


def _edge(k, a, ars, aks, bp, bld, rows, c, ldc, cols, alpha, beta, out):
    """The tile of C at ``c`` with only ``rows`` rows or ``cols`` columns: C's part copied into
    ``out`` (MR, NR), the whole tile made there as :func:`_tile` makes any (A's rows past ``rows``
    are there and zero), and C's part copied back: each element gets the same arithmetic as in a
    whole tile, so a product cut anywhere gives the same bits."""
    cv = carray(floats(c), (rows, ldc))
    if beta != 0.0:
        for r in range(rows):
            for q in range(cols):
                out[r, q] = cv[r, q]
    tile(k, a, ars, aks, bp, bld, out.ctypes.data, NR, alpha, beta)
    for r in range(rows):
        for q in range(cols):
            cv[r, q] = out[r, q]


def _scale(m, n, beta, c, ldc):
    """C = beta C (0 where beta is 0): a product with k = 0."""
    cv = carray(floats(c), (m, ldc))
    for r in range(m):
        for q in range(n):
            cv[r, q] = beta * cv[r, q] if beta != 0.0 else 0.0


def _copy_rows(av, ta, i0, i1, k0, kb, block):
    """block[p, kk, q] = A[i0 + p MR + q, k0 + kk] for the rows i0:i1, zero after them up to a whole
    tile: the rows as tiles of MR, k-major (the tile reads them with strides 1 and MR). ``av`` is
    A as stored: its rows, or its columns where ``ta`` is 112."""
    n = i1 - i0
    full = n // MR * MR
    if ta == 111:
        for r in range(n):
            for kk in range(kb):
                block[r // MR, kk, r % MR] = av[i0 + r, k0 + kk]
    else:  # A^T's rows: each tile row's MR floats lie side by side there (one vector copy each)
        for p in range(full // MR):
            for kk in range(kb):
                for q in range(MR):
                    block[p, kk, q] = av[k0 + kk, i0 + p * MR + q]
        for kk in range(kb):
            for r in range(full, n):
                block[r // MR, kk, r % MR] = av[k0 + kk, i0 + r]
    if full < n:
        block[full // MR, :kb, n - full:] = 0.0


def sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``C = alpha op(A) op(B) + beta C``, row-major, float32, addresses as ints (BLAS's
    arguments: ``ta``/``tb`` 111 as stored, 112 transposed; leading dimensions in floats).

    A transposed A is copied into tiles of rows (:func:`_copy_rows`), a transposed B into panels.
    The product is made the other way round, ``C^T = op(B)^T op(A)^T`` (:func:`_swapped`), where
    that copies less: a weight gradient ``g^T x`` (A^T, row-major B) whose B has fewer columns
    than A has rows and fills whole panels worse (A^T B with m 256, n 65, k 3200: 0.54 against
    0.87 ms; with n 64 or 256 and m 1024 as fast or slower), and ``x W^T`` (row-major A, B^T)
    where copying A and C^T is less than copying B (a small batch through a big layer: B's copy
    is all the work's worth). What is
    copied at once stays under COPY_FLOATS: the columns of C go in chunks of whole panels, which
    changes no value (each element is the same sum either way).
    """
    if m <= 0 or n <= 0:
        return
    if k <= 0:
        _scale(m, n, beta, c, ldc)
        return
    swap = (ta == 112 and tb == 111 and n < m and (-n % NR) * m > (-m % NR) * n  # fewer padded columns
            or ta == 111 and tb == 112 and m * k + 2 * m * n < k * n)  # copy A and C^T, not B^T
    per_col = m if swap else k if tb == 112 else 0  # floats copied per column of C
    nc = n if per_col == 0 else max(NR, COPY_FLOATS // per_col // NR * NR)
    for j0 in range(0, n, nc):
        cols = min(nc, n - j0)
        bj = b + 4 * (j0 * ldb if tb == 112 else j0)
        if swap:
            _swapped(ta, tb, m, cols, k, alpha, a, lda, bj, ldb, beta, c + 4 * j0, ldc)
        else:
            _product(ta, tb, m, cols, k, alpha, a, lda, bj, ldb, beta, c + 4 * j0, ldc)


def _swapped(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``C = alpha op(A) op(B) + beta C`` made as ``C^T = op(B)^T op(A)^T`` into a scratch (n, m),
    then added into C (``op(B)^T`` is B as stored where ``tb`` is 112, else its transpose: the flags
    swap, 111 <-> 112)."""
    t = np.empty((n, m), np.float32)
    _product(223 - tb, 223 - ta, n, m, k, np.float32(1.0), b, ldb, a, lda, np.float32(0.0), t.ctypes.data, m)
    cv = carray(floats(c), (m, ldc))
    for r in range(m):
        for q in range(n):
            cv[r, q] = alpha * t[q, r] + (beta * cv[r, q] if beta != 0.0 else 0.0)


def _product(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """:func:`sgemm` as written (m, n > 0, k > 0)."""
    panels = (n + NR - 1) // NR
    whole = n // NR if tb == 111 else 0  # panels read where B lies; the others are copied
    packed = np.empty((panels - whole, k, NR), np.float32)
    for j in range(whole, panels):
        _pack(tb, k, n, b, ldb, j * NR, packed[j - whole])
    av = carray(floats(a), (m, lda) if ta == 111 else (k, lda))
    copied = ta == 112 or m % MR  # rows of A copied (see _copy_rows): a transposed A, or a last partial tile
    block = np.empty((MC // MR if copied else 0, min(k, KC), MR), np.float32)
    out = np.empty((MR, NR), np.float32)
    for i0 in range(0, m, MC):
        i1 = min(m, i0 + MC)
        tail = i0 + (i1 - i0) // MR * MR if ta == 111 else i0  # rows from here on are read from the block
        for k0 in range(0, k, KC):
            kb = min(KC, k - k0)
            if tail < i1:
                _copy_rows(av, ta, tail, i1, k0, kb, block)
            beta_k = beta if k0 == 0 else np.float32(1.0)
            for j in range(panels):
                if j < whole:
                    bp, bld = b + 4 * (k0 * ldb + j * NR), ldb
                else:
                    bp, bld = packed[j - whole].ctypes.data + 4 * k0 * NR, NR
                cols = min(NR, n - j * NR)
                for i in range(i0, i1, MR):
                    rows = min(MR, i1 - i)
                    if i < tail:
                        at_a, ars, aks = a + 4 * (i * lda + k0), lda, 1
                    else:
                        at_a, ars, aks = block.ctypes.data + 4 * ((i - tail) // MR) * block.shape[1] * MR, 1, MR
                    at_c = c + 4 * (i * ldc + j * NR)
                    if rows == MR and cols == NR:
                        tile(kb, at_a, ars, aks, bp, bld, at_c, ldc, alpha, beta_k)
                    else:
                        _edge(kb, at_a, ars, aks, bp, bld, rows, at_c, ldc, cols, alpha, beta_k, out)


def _cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``cblas_sgemm``: row-major (101) as :func:`sgemm`; column-major (102) as the transposed product."""
    i64 = np.int64  # the 32-bit ints widened: no offset arithmetic overflows
    if order == 101:
        sgemm(i64(ta), i64(tb), i64(m), i64(n), i64(k), alpha, a, i64(lda), b, i64(ldb), beta, c, i64(ldc))
    else:  # C^T = op(B)^T op(A)^T, row-major
        sgemm(i64(tb), i64(ta), i64(n), i64(m), i64(k), alpha, b, i64(ldb), a, i64(lda), beta, c, i64(ldc))


def _host_has_wide_vectors(nb) -> bool:
    """True where Numba compiles for this CPU and it has AVX-512 (the tile's 16-float vectors)."""
    config = nb.core.config
    if config.CPU_NAME not in (None, "", "host"):
        return False
    from llvmlite import binding

    features = config.CPU_FEATURES or binding.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


def compile_product():
    """``(sgemm, entry)``: the product compiled (once, whatever the CPU: LLVM splits the 16-float
    vectors where there are no 512-bit ones) and its ``cblas_sgemm`` entry point (a Numba cfunc)."""
    global _compiled, carray, floats, tile
    with _lock:
        if _compiled is None:
            nb = compiled.numba()
            carray, floats, tile = nb.carray, _floats(nb), _tile(nb)
            jit = compiled.jit_helpers(globals(), ("_pack", "_edge", "_scale", "_copy_rows", "_product", "_swapped", "sgemm"))
            fn = jit(_cblas_sgemm)
            i32, f32, ptr = nb.int32, nb.float32, nb.intp
            entry = nb.cfunc(nb.void(i32, i32, i32, i32, i32, i32, f32, ptr, i32, ptr, i32, f32, ptr, i32),
                             cache=True)(fn.py_func)
            _compiled = (fn, entry)
    return _compiled


def _load():
    """:func:`compile_product` where the kernels take it (this CPU has AVX-512); False elsewhere."""
    global _state
    if _state is None:
        _state = compile_product() if _host_has_wide_vectors(compiled.numba()) else False
        if _state:
            heap.settle()  # its steps' arrays kept for the next step, not faulted in again (kernels/heap.py)
    return _state


_compiled = None
carray = floats = tile = None  # Numba's carray and the intrinsics, set by _load


def available() -> bool:
    """True where the compiled kernels are on and this product runs here (float32, AVX-512)."""
    return compiled.is_compiled() and bool(_load())


def cblas():
    """The product as a ctypes function with ``cblas_sgemm``'s C signature (the ints as 32 bits,
    the addresses as ``size_t``); None where it does not run here."""
    state = _load()
    return state[1].ctypes if state else None
