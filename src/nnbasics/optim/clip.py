"""Gradient clipping: rescale all gradients by their total norm, or clamp each value.

Both functions replace ``p.grad`` with a new Tensor instead of writing into it:
a gradient array may be shared with other gradients (autograd hands the same
array to several inputs), and writing into it would change them too.
"""

from __future__ import annotations

import math

from .._validate import is_real
from ..backend import xp
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _params_with_grad(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def _check_norm_type(norm_type) -> float:
    if not is_real(norm_type) or not float(norm_type) > 0:
        raise ValueError(f"norm_type must be a number > 0 or float('inf'). Got {norm_type!r}.")
    return float(norm_type)


def _vector_norm(x, p: float):
    """The p-norm of ``x`` flattened, in x's dtype (a 0-d array)."""
    if x.size == 0:
        return xp.zeros((), dtype=x.dtype)
    flat = x.reshape(-1)
    if p == 2.0:
        return xp.sqrt(xp.dot(flat, flat))
    a = xp.abs(flat)
    if math.isinf(p):
        return a.max()
    if p == 1.0:
        return a.sum()
    # NOTE: asarray keeps x's dtype on NumPy 1.x, where float32 scalar ** float gives float64
    return xp.asarray(xp.sum(a**p) ** (1.0 / p), dtype=x.dtype)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The norm of the norms of ``tensors`` (as if all were concatenated into one vector).

    Args:
        tensors: Tensors (e.g. ``[p.grad for p in params]``), arrays, or one Tensor.
        norm_type: p of the p-norm (> 0), or ``float('inf')`` for the largest absolute value.
        error_if_nonfinite: raise RuntimeError if the total norm is NaN or infinite.

    Returns:
        Tensor: 0-d, in the dtype of the inputs (0.0 for no tensors).
    """
    p = _check_norm_type(norm_type)
    if isinstance(tensors, (Tensor, xp.ndarray)):
        tensors = [tensors]
    arrays = [t._array if isinstance(t, Tensor) else xp.asarray(t) for t in tensors if t is not None]
    if not arrays:
        return Tensor._make(xp.zeros((), dtype=xp.float32), False, None)
    norms = xp.stack([_vector_norm(a, p) for a in arrays])
    total = _vector_norm(norms, p)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({float(total)}), so it cannot be "
            "clipped. Look for the NaN/inf upstream (loss, learning rate), or pass error_if_nonfinite=False to "
            "scale the gradients by it anyway."
        )
    return Tensor._make(xp.asarray(total), False, None)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))`` (given a precomputed total norm).

    Args:
        parameters: Parameters (or one) whose ``.grad`` to scale; those without a grad are skipped.
        max_norm: the largest total norm allowed (>= 0).
        total_norm: the total norm, e.g. from :func:`get_total_norm`.
    """
    if not is_real(max_norm) or not float(max_norm) >= 0:
        raise ValueError(f"max_norm must be a number >= 0. Got {max_norm!r}.")
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    if coef >= 1.0:  # clamped to 1: multiplying by 1 would change nothing
        return
    with xp.errstate(invalid="ignore"):  # inf * 0 -> NaN and a NaN coef give NaN grads, as in PyTorch
        for p in _params_with_grad(parameters):
            p.grad = Tensor._make(p.grad._array * coef, False, None)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    r"""Rescale gradients so that their total norm is at most ``max_norm``; PyTorch's semantics.

    .. math::
        \|g\| = \Big\|\big(\|g_1\|_p, \dots, \|g_n\|_p\big)\Big\|_p, \qquad
        g_i \leftarrow g_i \cdot \min\Big(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Big)

    The direction of the whole gradient is kept; only its length shrinks
    (Pascanu, Mikolov and Bengio, 2013, https://arxiv.org/abs/1211.5063).
    Call it between ``loss.backward()`` and ``optimizer.step()``.

    Args:
        parameters: Parameters (or one Parameter); those without a grad are skipped.
        max_norm: the largest total norm allowed (>= 0).
        norm_type: p of the norms (> 0), or ``float('inf')`` (largest absolute value).
        error_if_nonfinite: raise RuntimeError when the total norm is NaN or infinite
            (otherwise the gradients become NaN, as in PyTorch).

    Returns:
        Tensor: the total norm *before* clipping (0-d), useful to log.

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.zeros(2))
        >>> w.grad = nb.tensor([3.0, 4.0])
        >>> float(clip_grad_norm_([w], max_norm=1.0))
        5.0
        >>> [round(v, 4) for v in w.grad.tolist()]
        [0.6, 0.8]
    """
    params = _params_with_grad(parameters)
    total = get_total_norm([p.grad for p in params], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient value into ``[-clip_value, clip_value]``; PyTorch's semantics.

    Unlike :func:`clip_grad_norm_` this changes the gradient's direction.

    Args:
        parameters: Parameters (or one Parameter); those without a grad are skipped.
        clip_value: the largest absolute value allowed (>= 0).

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.zeros(3))
        >>> w.grad = nb.tensor([-2.0, 0.5, 3.0])
        >>> clip_grad_value_([w], 1.0)
        >>> w.grad.tolist()
        [-1.0, 0.5, 1.0]
    """
    if not is_real(clip_value) or not float(clip_value) >= 0:
        raise ValueError(f"clip_value must be a number >= 0. Got {clip_value!r}.")
    c = float(clip_value)
    for p in _params_with_grad(parameters):
        p.grad = Tensor._make(xp.clip(p.grad._array, -c, c), False, None)
