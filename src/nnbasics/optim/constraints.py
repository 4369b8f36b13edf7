"""Max-norm weight constraint: the companion of dropout (Srivastava et al., 2014).

After every optimizer step, each hidden unit's incoming weight vector w is
projected back onto the ball ``||w||_2 <= c``:

    w <- w * c / ||w||   where ||w|| > c, unchanged otherwise.

Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov, "Dropout: A Simple
Way to Prevent Neural Networks from Overfitting", JMLR 15 (2014), section 5.1:
with max-norm (typical c = 3 to 4) dropout nets can use large learning rates
and momentum without the weights blowing up.

The layout follows ``torch.renorm(weight, p, dim, maxnorm)``: ``dim`` indexes
the sub-tensors that are renormalised one by one. For a Linear weight of shape
(out_features, in_features), ``dim=0`` (the default) bounds each row, i.e. each
output unit's incoming weights; for a Conv2d weight (out, in, kh, kw) it bounds
each filter. (Keras's ``MaxNorm(axis=0)`` names the reduced axis instead, and
stores Dense kernels transposed, so it means the same units.)
"""

from __future__ import annotations

import math

from .._validate import is_int, is_real
from ..backend import xp
from ..tensor import Tensor

__all__ = ["MaxNorm", "max_norm_"]


def _check(max_value, dim, norm_type, ndim=None):
    if not is_real(max_value) or not float(max_value) >= 0:
        raise ValueError(f"max_value of max_norm_ must be a number >= 0 (typically 3 or 4). Got {max_value!r}.")
    if not is_real(norm_type) or not float(norm_type) > 0:
        raise ValueError(f"norm_type of max_norm_ must be a number > 0 or float('inf'). Got {norm_type!r}.")
    if not is_int(dim):
        raise TypeError(f"dim of max_norm_ must be an int. Got {dim!r}.")
    if ndim is not None and not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"dim of max_norm_ is {dim}, out of range for a weight with {ndim} dimension(s).")


def max_norm_(weight, max_value: float, dim: int = 0, norm_type: float = 2.0):
    r"""Renormalise, in place, each slice ``weight[i]`` along ``dim`` to p-norm at most ``max_value``.

    .. math::
        w_i \leftarrow w_i \cdot \frac{c}{\|w_i\|_p + 10^{-7}} \quad\text{if } \|w_i\|_p > c,
        \qquad\text{else unchanged}

    (the formula and the 1e-7 of ``torch.renorm``). Works on ``weight._array`` in
    place, so a Module keeps referring to the same Parameter; gradients are not involved.

    Args:
        weight: a Parameter/Tensor (or ndarray) of at least one dimension.
        max_value: c, the largest norm allowed (>= 0; the dropout paper uses 3 to 4).
        dim: the dimension indexing the units: 0 for Linear (out, in) and Conv weights.
        norm_type: p (> 0, or ``float('inf')``).

    Returns:
        ``weight`` (for chaining).

    Example:
        >>> import numpy as np, nnbasics as nb
        >>> w = nb.nn.Parameter(np.array([[3.0, 4.0], [0.3, 0.4]], dtype=np.float32))
        >>> _ = max_norm_(w, 1.0)  # row 0 has norm 5 -> scaled to ~1; row 1 (norm 0.5) untouched
        >>> np.round(np.linalg.norm(w.detach().numpy(), axis=1), 4).tolist()
        [1.0, 0.5]
    """
    arr = weight._array if isinstance(weight, Tensor) else weight
    if not isinstance(arr, xp.ndarray):
        raise TypeError(f"max_norm_ expects a Tensor/Parameter or an ndarray. Got {type(weight).__name__}.")
    _check(max_value, dim, norm_type, arr.ndim)
    if arr.ndim == 0:
        raise ValueError("max_norm_ needs a weight with at least one dimension; got a 0-d one.")
    p, c = float(norm_type), float(max_value)
    axes = tuple(a for a in range(arr.ndim) if a != dim % arr.ndim)
    a = xp.abs(arr)
    if math.isinf(p):
        norms = a.max(axis=axes, keepdims=True) if axes else a
    elif p == 2.0:
        norms = xp.sqrt((a * a).sum(axis=axes, keepdims=True))
    else:
        norms = (a**p).sum(axis=axes, keepdims=True) ** (1.0 / p)
    over = norms > c
    if over.any():
        scale = xp.where(over, c / (norms + 1e-7), 1.0).astype(arr.dtype, copy=False)
        arr *= scale
    return weight


class MaxNorm:
    """A max-norm constraint on a fixed list of weights; call it after each ``optimizer.step()``.

    Args:
        parameters: the weights to constrain (e.g. the ``weight`` of every hidden
            Linear; biases are usually left free), or one Parameter.
        max_value: c, the largest norm allowed per unit (the dropout paper uses 3 to 4).
        dim: the dimension indexing the units (0 for Linear and Conv weights).
        norm_type: p (default 2).

    Example:
        >>> import numpy as np, nnbasics as nb
        >>> from nnbasics.optim import SGD
        >>> w = nb.nn.Parameter(np.full((2, 3), 5.0, dtype=np.float32))
        >>> opt, constraint = SGD([w], lr=0.1), MaxNorm([w], max_value=3.0)
        >>> (w * w).sum().backward(); opt.step(); constraint()
        >>> bool((np.linalg.norm(w.detach().numpy(), axis=1) <= 3.0 + 1e-5).all())
        True
    """

    def __init__(self, parameters, max_value: float = 3.0, dim: int = 0, norm_type: float = 2.0):
        self.parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
        for w in self.parameters:
            if not isinstance(w, Tensor):
                raise TypeError(f"MaxNorm constrains Tensors/Parameters; got a {type(w).__name__}.")
            _check(max_value, dim, norm_type, w.ndim)
        _check(max_value, dim, norm_type)
        self.max_value, self.dim, self.norm_type = float(max_value), int(dim), float(norm_type)

    def __call__(self) -> None:
        """Project every weight back onto its max-norm ball, in place."""
        for w in self.parameters:
            max_norm_(w, self.max_value, self.dim, self.norm_type)

    def __repr__(self):
        return f"MaxNorm({len(self.parameters)} weight(s), max_value={self.max_value}, dim={self.dim})"
