"""Matrix product (NumPy's ``matmul`` rules) and the fused affine map of a Linear layer."""

from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, as_tensor
from .util import operands, sum_to

__all__ = ["linear", "matmul"]


class MatMul(Function):
    """z = a @ b.

    For 2-D a (m, k) and b (k, n): dz/da = g b^T (m, k), dz/db = a^T g (k, n).
    1-D operands are promoted to a row (a) or column (b) matrix, batch dims
    broadcast, and :func:`sum_to` sums what broadcasting stretched.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a  # (1, k): a row
        b2 = b[:, None] if b.ndim == 1 else b  # (k, 1): a column
        if b.ndim == 1:  # first: for 1-D @ 1-D, g is 0-d
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = sum_to(g @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape) if self.needs_grad[0] else None
        gb = sum_to(a2.swapaxes(-1, -2) @ g, b2.shape).reshape(b.shape) if self.needs_grad[1] else None
        return ga, gb


class Linear(Function):
    """y = x W^T + b over the last dim: one op instead of three (permute, matmul, add).

    Shape: x (*, in), W (out, in), b (out,) -> y (*, out).
    dy/dx: g W (*, in);  dy/dW: g^T x with all leading dims folded into rows (out, in);
    dy/db: g summed over the leading dims (out,).  Composed twin: ``x @ W.T + b``.
    """

    def forward(self, x, w, b=None):
        needs = self.needs_grad
        if needs:  # keep only what a gradient needs (as PyTorch): W for x's, x for W's
            self.x, self.w = (x if needs[1] else None), (w if needs[0] else None)
        y = x @ w.T
        if b is not None:
            y += b  # y is a fresh array from the GEMM
        return y

    def backward(self, g):
        needs = self.needs_grad
        x, w = self.x, self.w
        gx = g @ w if needs[0] else None
        g2 = g.reshape(-1, g.shape[-1])  # (rows, out)
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if needs[1] else None  # (out, in), C-ordered
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if needs[2] else None)


def linear(input, weight, bias=None) -> Tensor:  # PyTorch's name
    """Affine map ``input @ weight.T + bias`` over the last dim (PyTorch's ``F.linear``), fused.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    or None -> (*, out_features). Weight layout as PyTorch's ``nn.Linear``.

    Raises:
        ValueError: naming the shapes when they do not fit together.
    """
    x = as_tensor(input)
    w = as_tensor(weight)
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features); got shape {w.shape}.")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight {w.shape}: expected input (*, {w.shape[1]})."
        )
    if bias is None:
        return Linear.apply(x, w)
    b = as_tensor(bias)
    if b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},) for weight {w.shape}; got {b.shape}.")
    return Linear.apply(x, w, b)


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's rules.

    Shape: (k,) @ (k,) -> (); (m, k) @ (k, n) -> (m, n); (*B, m, k) @ (*B', k, n)
    -> (broadcast(B, B'), m, n); a 1-D operand acts as a row (left) or column (right).

    Raises:
        ValueError: naming both shapes when the inner dimensions differ.
    """
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim; got shapes {a.shape} and {b.shape}. Use * for scalars.")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not align: the inner dims {ka} and {kb} must be equal."
        )
    ba, bb = a.shape[:-2], b.shape[:-2]  # batch dims (none for a 1-D operand)
    try:
        if ba and bb:  # NOTE: skipped for plain matrices: broadcast_shapes costs ~3 us a call
            xp.broadcast_shapes(ba, bb)
    except ValueError:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} have batch dims {ba} and {bb}, which do not broadcast."
        ) from None
    return MatMul.apply(a, b)
