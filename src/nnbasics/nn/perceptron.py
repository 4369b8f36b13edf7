"""Rosenblatt's perceptron (1958): a step-activated linear unit and its learning rule.

Not trained by gradients (the step function has derivative 0 almost everywhere):
:meth:`Perceptron.fit` applies the perceptron rule ``w += lr * (y - y_hat) * x``.
It converges in finitely many updates when the classes are linearly separable
(Novikoff, 1962) and never classifies XOR correctly (Minsky & Papert, 1969).

Paper: F. Rosenblatt, "The perceptron: a probabilistic model for information storage
and organization in the brain", Psychological Review 65(6), 1958.
"""

from __future__ import annotations

import math
import numbers

from .._validate import is_int
from ..backend import default_float, xp
from ..ops.util import as_operand
from ..rng import as_generator
from ..tensor import Tensor, as_tensor
from .module import Module
from .parameter import Parameter

__all__ = ["Perceptron"]


class Perceptron(Module):
    """Binary threshold unit y = H(x w^T + b), H(z) = 1 if z >= 0 else 0.

    Args:
        in_features: number of inputs.
        lr: learning rate of the perceptron rule (> 0). With zero initial weights the
            decisions do not depend on it; with random ones a larger lr forgets them faster.
        rng: Generator, int seed or None: initial weights U(-1/sqrt(in), 1/sqrt(in))
            (as :class:`Linear`), and the sample order when ``fit(..., shuffle=True)``.

    Shape:
        input (*, in_features) -> output (*,) with values in {0, 1} (float, the weight dtype).

    Attributes:
        weight (Parameter): (1, in_features).
        bias (Parameter): (1,).

    Example:
        >>> import numpy as np
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        >>> p = Perceptron(2, rng=0)
        >>> mistakes = p.fit(X, np.array([0, 0, 0, 1]), epochs=20)  # AND is separable
        >>> p.predict(X).tolist()
        [0, 0, 0, 1]
    """

    def __init__(self, in_features: int, *, lr: float = 1.0, rng=None):
        super().__init__()
        if not is_int(in_features) or in_features < 1:
            raise ValueError(f"in_features of Perceptron must be a positive int. Got {in_features!r}.")
        if not isinstance(lr, numbers.Real) or not lr > 0 or not math.isfinite(lr):
            raise ValueError(f"lr of Perceptron must be a positive number. Got {lr!r}.")
        self.in_features = int(in_features)
        self.lr = float(lr)
        self._rng = as_generator(rng)
        self.weight = Parameter(xp.empty((1, self.in_features), dtype=default_float))
        self.bias = Parameter(xp.empty((1,), dtype=default_float))
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """Redraw weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        gen = self._rng if rng is None else as_generator(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight._array[...] = gen.uniform(-bound, bound, size=self.weight.shape)
        self.bias._array[...] = gen.uniform(-bound, bound, size=self.bias.shape)

    # ------------------------------------------------------------- inference
    def _check_input(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Perceptron(in_features={self.in_features}) expected input of shape (*, {self.in_features}); "
                f"got shape {tuple(x.shape)}."
            )

    def net_input(self, x) -> Tensor:
        """The pre-activation z = x w^T + b: (*, in_features) -> (*,)."""
        x = as_operand(x)
        self._check_input(x)
        return (x @ self.weight.T + self.bias).squeeze(-1)  # (*, 1) -> (*,)

    def forward(self, x) -> Tensor:
        """Step activation of :meth:`net_input`: 1.0 where z >= 0, else 0.0 (no gradient)."""
        z = self.net_input(x)._array
        return as_tensor((z >= 0).astype(self.weight.dtype))

    def predict(self, X):
        """Class labels as an int64 ndarray in {0, 1}: (*, in_features) -> (*,)."""
        return self.forward(X)._array.astype(xp.int64)

    # -------------------------------------------------------------- learning
    def fit(self, X, y, epochs: int = 10, *, shuffle: bool = False) -> list:
        """Train with the perceptron rule, one sample at a time.

        For each sample: y_hat = H(x w^T + b); w += lr (y - y_hat) x; b += lr (y - y_hat).
        Only mistakes change the weights.

        Args:
            X: inputs (N, in_features).
            y: targets (N,) in {0, 1}.
            epochs: passes over the data. Once a pass makes no mistake the weights are
                final, so the remaining epochs are recorded as 0 without running them.
            shuffle: visit the samples in a fresh random order each epoch (drawn from
                the rng given at construction).

        Returns:
            list[int]: the number of mistakes (updates) in each epoch, length ``epochs``.
        """
        X = as_operand(X)._array
        y = xp.asarray(y._array if isinstance(y, Tensor) else y)
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError(
                f"Perceptron.fit expected X of shape (N, {self.in_features}); got shape {tuple(X.shape)}."
            )
        if y.shape != (X.shape[0],):
            raise ValueError(f"Perceptron.fit expected y of shape ({X.shape[0]},) (one label per row of X); "
                             f"got shape {tuple(y.shape)}.")
        if not xp.all((y == 0) | (y == 1)):
            raise ValueError("Perceptron.fit expected labels in {0, 1}; map -1/+1 labels with (y + 1) // 2.")
        if not is_int(epochs) or epochs < 1:
            raise ValueError(f"epochs of Perceptron.fit must be a positive int. Got {epochs!r}.")
        w, b = self.weight._array[0], self.bias._array  # views: updates write into the parameters
        X = X.astype(w.dtype, copy=False)
        y = y.astype(w.dtype)
        history = []
        for _ in range(int(epochs)):
            order = self._rng.permutation(len(X)) if shuffle else range(len(X))
            mistakes = 0
            for i in order:
                y_hat = 1.0 if X[i] @ w + b[0] >= 0 else 0.0
                err = y[i] - y_hat  # -1, 0 or +1
                if err != 0:
                    w += self.lr * err * X[i]
                    b += self.lr * err
                    mistakes += 1
            history.append(mistakes)
            if mistakes == 0:
                break
        return history + [0] * (int(epochs) - len(history))

    def score(self, X, y) -> float:
        """Fraction of samples classified correctly."""
        return float(xp.mean(self.predict(X) == xp.asarray(y._array if isinstance(y, Tensor) else y)))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, lr={self.lr}"
