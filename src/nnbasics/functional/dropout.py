"""Dropout functions: standard (inverted or classic scaling), channel-wise, and alpha dropout.

.. important:: ``p`` is the probability of DROPPING a unit, as in PyTorch and TensorFlow 2
   (``tf.nn.dropout(x, rate=...)``). TensorFlow 1's ``tf.nn.dropout(x, keep_prob)`` — the form
   many lecture notes use, e.g. ``tf.nn.dropout(layer, dropout_rate)`` — took the probability of
   KEEPING a unit as its second argument. To port such code, pass ``keep_prob=`` as a keyword:
   it is converted with p = 1 - keep_prob. Passing both ``p`` and ``keep_prob`` is refused.

Dropout: Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov (2014),
https://jmlr.org/papers/v15/srivastava14a.html. Alpha dropout: Klambauer et al. (2017),
"Self-Normalizing Neural Networks", https://arxiv.org/abs/1706.02515.
"""

from __future__ import annotations

import math
import warnings

from .._validate import is_real
from ..backend import is_float_dtype, xp
from ..dispatch import dispatchable
from ..ops.util import as_operand
from ..rng import as_generator
from ..tensor import Tensor
from .activation import apply_in_place

__all__ = ["alpha_dropout", "dropout", "dropout2d"]

SCALINGS = ("inverted", "classic")

# SELU's constants (Klambauer et al. 2017): alpha' = -lambda * alpha is SELU's negative saturation.
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_ALPHA_PRIME = SELU_ALPHA * SELU_SCALE  # 1.7580993408473766 (PyTorch's constant); dropped units -> -this


class _DefaultP(float):
    """The float 0.5, but recognisable as "p was not given" (to refuse p together with keep_prob)."""

    def __repr__(self):
        return "0.5"


DEFAULT_P = _DefaultP(0.5)


def resolve_p(p, keep_prob, owner: str = "dropout") -> float:
    """The drop probability from ``p`` or TF1-style ``keep_prob`` (p = 1 - keep_prob), validated.

    Raises:
        ValueError: both given, or p outside [0, 1), or keep_prob outside (0, 1].
        TypeError: a non-number.
    """
    if keep_prob is not None:
        if p is not DEFAULT_P:
            raise ValueError(
                f"{owner}: give either `p` (probability of DROPPING, PyTorch/TF2) or `keep_prob` (probability of "
                f"KEEPING, TF1), not both. Got p={p!r} and keep_prob={keep_prob!r}."
            )
        if not is_real(keep_prob):
            raise TypeError(f"`keep_prob` of {owner} must be a number in (0, 1]. Got {type(keep_prob).__name__}.")
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(
                f"`keep_prob` of {owner} must be in (0, 1]. Got {keep_prob}. (keep_prob is the probability of "
                "KEEPING a unit, TF1's convention; p = 1 - keep_prob.)"
            )
        return round(1.0 - float(keep_prob), 12)  # 1 - 0.8 is 0.19999999999999996 in binary
    if not is_real(p):
        raise TypeError(f"`p` of {owner} must be a number in [0, 1). Got {type(p).__name__}.")
    if not 0.0 <= p < 1.0:
        hint = " (p is the probability of DROPPING a unit; for TF1's keep probability pass keep_prob=)" if p >= 1 else ""
        raise ValueError(f"`p` of {owner} must be in [0, 1). Got {p}.{hint}")
    return float(p)


def check_scaling(scaling, owner: str = "dropout") -> str:
    if scaling not in SCALINGS:
        raise ValueError(f"`scaling` of {owner} must be 'inverted' or 'classic'. Got {scaling!r}.")
    return scaling


def _float_input(x, owner):
    x = as_operand(x)
    if not is_float_dtype(x.dtype):
        raise TypeError(f"{owner}: input must be floating point; got dtype {x.dtype}. Use x.float().")
    return x


@dispatchable
def uniform(gen, shape, dtype):
    """U[0, 1) draws of ``shape`` in ``dtype`` (float32 or float64) from Generator ``gen``.

    A kernel (nnbasics.kernels.dropout) draws the same numbers into a reused array on several threads.
    """
    return gen.random(shape, dtype=dtype)


@dispatchable
def scaled_mask(keep, scale, dtype):
    """The dropout mask in ``dtype``: ``scale`` where ``keep`` (bool) is True, 0 where it is False."""
    return xp.multiply(keep, dtype.type(scale), dtype=dtype)


def _uniform(rng, shape, dtype):
    """U[0, 1) draws in the input's precision (float32 stays float32: no float64 temporaries)."""
    return uniform(as_generator(rng), shape, dtype if dtype in (xp.float32, xp.float64) else xp.dtype(xp.float32))


def _masked(x, keep, scale):
    """x * (keep * scale): the mask is built once, scaled, in x's dtype; one Mul op on the graph."""
    return x * Tensor._make(scaled_mask(keep, scale, x.dtype), False, None)


def dropout(input, p: float = DEFAULT_P, training: bool = True, inplace: bool = False, *, rng=None,
            keep_prob=None, scaling: str = "inverted") -> Tensor:
    """Zero each element with probability ``p`` (the DROP probability) during training.

    * ``scaling='inverted'`` (default, PyTorch/TF2): training multiplies kept units by 1 / (1 - p), so
      E[output] = input, and evaluation is the identity.
    * ``scaling='classic'`` (Srivastava et al. 2014): training keeps units unscaled, and evaluation
      multiplies by (1 - p) so activations match their training-time expectation.

    NOTE: TF1's ``tf.nn.dropout(x, keep_prob)`` meant the KEEP probability; pass ``keep_prob=`` (a keyword,
    p = 1 - keep_prob) to port it. Giving both ``p`` and ``keep_prob`` raises ValueError.

    Args:
        input: float tensor of any shape.
        p: probability of dropping each element, in [0, 1). Default 0.5.
        training: apply dropout (True) or the evaluation-time transform (False).
        inplace: write the result into ``input`` (PyTorch's flag; :mod:`nnbasics.inplace` rules).
        rng: Generator, int seed or None, for the mask (see :func:`nnbasics.rng.as_generator`).
        keep_prob: TF1-style probability of keeping, in (0, 1]; alternative to ``p``.
        scaling: 'inverted' or 'classic'.

    Shape:
        any; the output has the input's shape and dtype.

    Returns:
        Tensor: input * mask * scale, with mask ~ Bernoulli(1 - p). The gradient is mask * scale
        (one precomputed float mask; the graph holds a single Mul).

    Example:
        >>> import nnbasics as nb
        >>> y = dropout(nb.ones(2, 4), p=0.5, rng=0)
        >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """
    q = resolve_p(p, keep_prob)
    check_scaling(scaling)
    if inplace:
        return apply_in_place(input, "dropout_", lambda t: dropout(t, q, training, rng=rng, scaling=scaling))
    x = _float_input(input, "dropout")
    if not training:
        return x if scaling == "inverted" or q == 0 else x * (1.0 - q)
    if q == 0:
        return x
    keep = _uniform(rng, x.shape, x.dtype) >= q
    return _masked(x, keep, 1.0 / (1.0 - q) if scaling == "inverted" else 1.0)


def dropout2d(input, p: float = DEFAULT_P, training: bool = True, inplace: bool = False, *, rng=None,
              keep_prob=None, scaling: str = "inverted") -> Tensor:
    """Channel dropout (Tompson et al. 2015): zero whole feature maps with probability ``p``.

    One Bernoulli draw per (sample, channel) is shared by all spatial positions, which suits
    convolutional features whose neighbours are strongly correlated. Same ``p`` (DROP
    probability), ``keep_prob`` and ``scaling`` conventions as :func:`dropout`.

    Shape:
        input (N, C, H, W) or (C, H, W); output the same. A 2-D input is dropped element-wise with a
        warning, as in PyTorch.
    """
    q = resolve_p(p, keep_prob, "dropout2d")
    check_scaling(scaling, "dropout2d")
    if inplace:
        return apply_in_place(input, "dropout2d_", lambda t: dropout2d(t, q, training, rng=rng, scaling=scaling))
    x = _float_input(input, "dropout2d")
    if x.ndim == 2:  # PyTorch warns and drops elements (it has no channel axis to drop here)
        warnings.warn("dropout2d: received a 2-D input; it is dropped element-wise, as dropout() does (PyTorch "
                      "does the same, with a deprecation warning). Use dropout for (N, features) inputs.",
                      UserWarning, stacklevel=2)
        return dropout(x, q, training, rng=rng, scaling=scaling)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: input must be (N, C, H, W) or (C, H, W); got shape {tuple(x.shape)}.")
    if not training:
        return x if scaling == "inverted" or q == 0 else x * (1.0 - q)
    if q == 0:
        return x
    mask_shape = x.shape[:-2] + (1, 1)  # one draw per channel, broadcast over H, W
    keep = _uniform(rng, mask_shape, x.dtype) >= q
    return _masked(x, keep, 1.0 / (1.0 - q) if scaling == "inverted" else 1.0)


def alpha_dropout(input, p: float = DEFAULT_P, training: bool = False, inplace: bool = False, *,
                  rng=None) -> Tensor:
    """Alpha dropout for SELU networks (Klambauer et al. 2017): keeps zero mean and unit variance.

    Dropped units are set to SELU's saturation value alpha' = -lambda * alpha (about -1.7581) instead of
    0, then an affine map a * x + b restores the input's mean and variance:

        a = ((1 - p) (1 + p alpha'^2))^(-1/2),    b = -a alpha' p.

    So for zero-mean, unit-variance inputs the output is again zero-mean, unit-variance. The
    gradient is a where kept, 0 where dropped. Evaluation is the identity.

    NOTE: ``training`` defaults to False, as in ``torch.nn.functional.alpha_dropout`` (unlike
    :func:`dropout`); the :class:`nnbasics.nn.AlphaDropout` module follows ``module.training``.

    Args:
        input: float tensor of any shape.
        p: probability of dropping each element, in [0, 1).
        training: apply alpha dropout (True) or the identity (False).
        rng: Generator, int seed or None.
    """
    q = resolve_p(p, None, "alpha_dropout")
    if inplace:
        return apply_in_place(input, "alpha_dropout_", lambda t: alpha_dropout(t, q, training, rng=rng))
    x = _float_input(input, "alpha_dropout")
    if not training or q == 0:
        return x
    a = 1.0 / math.sqrt((_ALPHA_PRIME**2 * q + 1.0) * (1.0 - q))
    keep = _uniform(rng, x.shape, x.dtype) >= q
    scale = keep.astype(x.dtype)
    scale *= x.dtype.type(a)  # a where kept, 0 where dropped
    # shift: a * alpha * p where kept (= b), a * (-alpha') + b where dropped
    shift = xp.where(keep, _ALPHA_PRIME * a * q, _ALPHA_PRIME * a * (q - 1.0)).astype(x.dtype)
    return x * Tensor._make(scale, False, None) + Tensor._make(shift, False, None)
