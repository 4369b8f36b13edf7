"""Loss modules: thin wrappers over :mod:`nnbasics.functional.loss` with PyTorch's names and arguments.

Each holds its options (validated at construction) and calls ``loss(input, target)``.
Class weights and ``pos_weight`` are registered as buffers, so they appear in the state
dict under PyTorch's keys (``weight``, ``pos_weight``).

Example:
    >>> import nnbasics as nb
    >>> loss_fn = CrossEntropyLoss(label_smoothing=0.1)
    >>> loss_fn(nb.zeros(4, 3), nb.tensor([0, 1, 2, 0])).shape
    ()
"""

from __future__ import annotations

from .. import functional as F
from .._validate import is_real
from ..functional.loss import check_reduction, legacy_reduction
from ..tensor import Tensor, as_tensor
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "MSELoss", "MultiMarginLoss",
           "NLLLoss", "SmoothL1Loss"]


def _buffer(value):
    return None if value is None else (value if isinstance(value, Tensor) else as_tensor(value))


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        self.reduction = check_reduction(type(self).__name__, reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"

    def __call__(self, input, target):
        try:
            return super().__call__(input, target)
        except ValueError as e:  # name the module, not only the function it calls
            shapes = [tuple(getattr(t, "shape", ())) for t in (input, target)]
            raise ValueError(
                f"{type(self).__name__}: {e} (it expects the input/target shapes in help(nn.{type(self).__name__}); "
                f"got input {shapes[0]}, target {shapes[1]})"
            ) from None


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy from logits: see :func:`nnbasics.functional.cross_entropy` (fused, stable).

    Args:
        weight: optional (C,) class weights.
        ignore_index: label whose elements are skipped (index targets).
        reduction: 'mean' (weighted mean, as PyTorch) | 'sum' | 'none'.
        label_smoothing: eps in [0, 1].

    Shape:
        input (N, C) or (N, C, d1, ...); target (N,) / (N, d1, ...) int, or probabilities of the
        input's shape. Output: scalar, or the target's shape with reduction='none'.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        if not is_real(label_smoothing) \
                or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"`label_smoothing` of CrossEntropyLoss must be in [0, 1]. Got {label_smoothing!r}.")
        self.ignore_index = ignore_index
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target) -> Tensor:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of labels under log-probabilities: :func:`nnbasics.functional.nll_loss`.

    Args:
        weight: optional (C,) class weights.
        ignore_index: label to skip.
        reduction: 'mean' | 'sum' | 'none'.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target) -> Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities: :func:`nnbasics.functional.binary_cross_entropy`.

    Args:
        weight: optional rescaling weight broadcast to the input's shape.
        reduction: 'mean' | 'sum' | 'none'.
    """

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on logits (stable): :func:`nnbasics.functional.binary_cross_entropy_with_logits`.

    Args:
        weight: optional rescaling weight broadcast to the input's shape.
        reduction: 'mean' | 'sum' | 'none'.
        pos_weight: optional weight of positive examples, e.g. (C,) for input (N, C).
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class MSELoss(_Loss):
    """Mean squared error: :func:`nnbasics.functional.mse_loss`. Input and target have the same shape."""

    def forward(self, input, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: :func:`nnbasics.functional.l1_loss`. Input and target have the same shape."""

    def forward(self, input, target) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Huber loss with threshold ``delta`` > 0: :func:`nnbasics.functional.huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        if not is_real(delta) or not delta > 0:
            raise ValueError(f"`delta` of HuberLoss must be a positive number. Got {delta!r}.")
        self.delta = float(delta)

    def forward(self, input, target) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss with threshold ``beta`` >= 0: :func:`nnbasics.functional.smooth_l1_loss`."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        if not is_real(beta) or not beta >= 0:
            raise ValueError(f"`beta` of SmoothL1Loss must be a non-negative number. Got {beta!r}.")
        self.beta = float(beta)

    def forward(self, input, target) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss: :func:`nnbasics.functional.multi_margin_loss`.

    Args:
        p: 1 or 2.
        margin: required gap between the true score and the others (default 1).
        weight: optional (C,) class weights.
        reduction: 'mean' | 'sum' | 'none'.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if isinstance(p, bool) or p not in (1, 2):
            raise ValueError(f"`p` of MultiMarginLoss must be 1 or 2. Got {p!r}.")
        self.p = int(p)
        self.margin = float(margin)

    def forward(self, input, target) -> Tensor:
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)
