"""Dropout modules (active in ``train()``, identity in ``eval()``) and Monte-Carlo dropout prediction.

.. important:: ``p`` is the probability of DROPPING a unit (PyTorch, TensorFlow 2). TensorFlow 1's
   ``tf.nn.dropout(layer, keep_prob)`` — written ``tf.nn.dropout(layer, dropout_rate)`` in some
   lecture notes — took the probability of KEEPING it. Use ``Dropout(keep_prob=0.8)`` to port such
   code (p = 1 - keep_prob = 0.2); ``Dropout(0.8)`` would drop 80% of the units.
"""

from __future__ import annotations

from .._validate import is_int
from ..autograd import no_grad
from ..backend import xp
from ..functional.dropout import DEFAULT_P, alpha_dropout, check_scaling, dropout, dropout2d, resolve_p
from ..rng import as_generator
from ..tensor import Tensor
from .module import Module

__all__ = ["AlphaDropout", "Dropout", "Dropout2d", "mc_dropout_predict"]


class _DropoutNd(Module):
    """Shared state of the dropout modules: ``p`` and a Generator made once from ``rng``.

    The Generator persists across calls, so successive forward passes draw different masks
    while two modules built with the same seed produce the same sequence of masks.
    """

    def __init__(self, p=DEFAULT_P, inplace=False, *, keep_prob=None, scaling="inverted", rng=None):
        super().__init__()
        self.inplace = bool(inplace)
        owner = type(self).__name__
        self.p = resolve_p(p, keep_prob, owner)
        self.scaling = check_scaling(scaling, owner)
        self.rng = as_generator(rng)

    def extra_repr(self) -> str:
        return (f"p={self.p}, inplace={self.inplace}"
                + ("" if self.scaling == "inverted" else f", scaling={self.scaling!r}"))


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training (Srivastava et al. 2014).

    Args:
        p: probability of DROPPING an element, in [0, 1). Default 0.5.
        keep_prob: TF1-style probability of KEEPING an element, in (0, 1]; keyword-only
            alternative to ``p`` (p = 1 - keep_prob). Giving both raises ValueError.
        scaling: 'inverted' (default): training scales kept units by 1/(1 - p), eval is the
            identity. 'classic': training does not scale, eval multiplies by (1 - p).
        rng: Generator, int seed or None; a Generator is made from it once, at construction.

    Shape:
        any -> same shape.

    Example:
        >>> import nnbasics as nb
        >>> drop = Dropout(0.2, rng=0)
        >>> drop.eval()(nb.ones(3)).tolist()
        [1.0, 1.0, 1.0]
        >>> Dropout(keep_prob=0.8).p  # TF1's tf.nn.dropout(x, 0.8)
        0.2
    """

    def forward(self, x) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace, rng=self.rng, scaling=self.scaling)


class Dropout2d(_DropoutNd):
    """Zero whole channels with probability ``p`` (Tompson et al. 2015); same arguments as :class:`Dropout`.

    Shape:
        (N, C, H, W) or (C, H, W) -> same shape.
    """

    def forward(self, x) -> Tensor:
        return dropout2d(x, self.p, self.training, self.inplace, rng=self.rng, scaling=self.scaling)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for self-normalising (SELU) networks (Klambauer et al. 2017).

    Dropped units take SELU's saturation value and an affine correction keeps the mean and
    variance of zero-mean, unit-variance inputs; see :func:`nnbasics.functional.alpha_dropout`.
    Identity in ``eval()``.

    Args:
        p: probability of DROPPING an element, in [0, 1).
        rng: Generator, int seed or None.

    Shape:
        any -> same shape.
    """

    def __init__(self, p=DEFAULT_P, inplace=False, *, rng=None):
        super().__init__(p, inplace, rng=rng)

    def forward(self, x) -> Tensor:
        return alpha_dropout(x, self.p, self.training, self.inplace, rng=self.rng)


def mc_dropout_predict(model: Module, x, T: int = 20, rng=None):
    """Monte-Carlo dropout (Gal & Ghahramani 2016, https://arxiv.org/abs/1506.02142).

    Runs ``T`` stochastic forward passes with the dropout modules (:class:`Dropout`,
    :class:`Dropout2d`, :class:`AlphaDropout`) in training mode and every other module in eval
    mode (batch norm uses its running statistics), under ``no_grad``. Every module's mode is
    restored afterwards, also when a pass raises.

    Args:
        model: a Module containing at least one dropout module.
        x: the input batch.
        T: number of stochastic passes, at least 2.
        rng: None uses each dropout module's own Generator (advancing it); a Generator or
            int seed is used for all dropout modules during the T passes (their own Generators
            are restored and left untouched), making the prediction reproducible.

    Returns:
        (mean, variance): Tensors of the model output's shape and dtype, the mean and the
        population variance (1/T) sum_t (y_t - mean)^2 over the T passes (Gal's predictive
        variance without the tau^-1 term).

    Example:
        >>> import nnbasics as nb
        >>> from nnbasics.nn.container import Sequential
        >>> m, v = mc_dropout_predict(Sequential(Dropout(0.5)), nb.ones(2, 3), T=10, rng=0)
        >>> m.shape, v.shape
        ((2, 3), (2, 3))
    """
    if not isinstance(model, Module):
        raise TypeError(f"mc_dropout_predict: model must be an nnbasics Module; got {type(model).__name__}.")
    if not is_int(T) or T < 2:
        raise ValueError(f"mc_dropout_predict: T must be an int >= 2 (the variance needs two passes). Got {T!r}.")
    mods = list(model.modules())
    drops = [m for m in mods if isinstance(m, _DropoutNd)]
    if not drops:
        raise ValueError(
            "mc_dropout_predict: the model has no Dropout/Dropout2d/AlphaDropout module, so all T passes "
            "would be identical. Add dropout layers, or use model.eval() for a plain prediction."
        )
    modes = [(m, m.training) for m in mods]
    rngs = [(m, m.rng) for m in drops]
    try:
        model.eval()
        shared = None if rng is None else as_generator(rng)
        for m in drops:
            object.__setattr__(m, "training", True)
            if shared is not None:
                m.rng = shared
        with no_grad():
            for t in range(1, T + 1):  # Welford's running mean and variance, in float64
                out = model(x)._array
                y = out.astype(xp.float64)
                if t == 1:
                    mean, m2 = y.copy(), xp.zeros_like(y)
                    continue
                delta = y - mean
                mean += delta / t
                m2 += delta * (y - mean)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
        for m, g in rngs:
            m.rng = g
    var = m2 / T
    return Tensor._make(mean.astype(out.dtype), False, None), Tensor._make(var.astype(out.dtype), False, None)
