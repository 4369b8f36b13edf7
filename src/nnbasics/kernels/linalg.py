"""Matrix-product gradients laid out for the memory that holds them.

The reference :class:`nnbasics.ops.linalg.MatMul` computes ``g b^T`` and ``a^T g`` as written.
This kernel computes the same products so that the results come out C-contiguous where the
operand was a transposed view (``x @ W.T``: W's gradient; a strided copy of it later costs
almost as much as the GEMM), and folds a batch of rows into one GEMM where a 2-D weight
meets a batched input (one GEMM instead of a batch of them and a sum).
"""

from __future__ import annotations

from ..dispatch import register
from ..ops import linalg as ref
from ..ops.util import sum_to


@register(ref.MatMul)
class MatMul(ref.MatMul):
    """:class:`nnbasics.ops.linalg.MatMul` with layout-aware gradients (see the module doc)."""

    def backward(self, g):
        a, b = self.a, self.b  # NOTE: both kept: the layout of each decides how the other's grad is computed
        a2 = a[None, :] if a.ndim == 1 else a  # (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k, 1)
        if b.ndim == 1:  # first: for 1-D @ 1-D, g is 0-d
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if self.needs_grad[0]:
            if a.ndim == 2 and b.ndim == 2 and not a.flags.c_contiguous:
                ga = (b @ g.T).T  # a is a transposed view: its grad gets the same layout (see gb)
            else:
                ga = g @ b2.swapaxes(-1, -2)
            ga = sum_to(ga, a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # (..., m, k) batch folded into rows: one GEMM instead of a batch and a sum
                k, n = a2.shape[-1], g.shape[-1]
                gb = a2.reshape(-1, k).T @ g.reshape(-1, n)
            elif a.ndim == 2 and b.ndim == 2 and not b.flags.c_contiguous:
                # NOTE: b is a transposed view (x @ W.T): computing its grad transposed gives W's
                # grad C-contiguous; a strided copy of it later costs almost as much as the GEMM.
                gb = (g.T @ a).T
            else:
                gb = a2.swapaxes(-1, -2) @ g
                gb = sum_to(gb, b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb
