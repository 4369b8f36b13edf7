"""Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm (PyTorch's arguments, buffers and keys).

Batch norm (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167) normalizes each channel
by the batch statistics in ``train()`` and by running estimates of them in ``eval()``; layer
norm (Ba et al. 2016, https://arxiv.org/abs/1607.06450) normalizes each sample over its
trailing dims, the same in both modes. State-dict keys match PyTorch's: ``weight``, ``bias``,
``running_mean``, ``running_var``, ``num_batches_tracked`` (int64), so weights load either way.
"""

from __future__ import annotations

from .._validate import check_positive_int, float_dtype
from ..backend import xp
from ..device import check_device
from ..functional.normalization import (
    check_batch_size,
    check_eps,
    check_momentum,
    normalized_shape_tuple,
)
from ..ops import norm as _norm
from ..ops.util import as_operand
from ..tensor import Tensor, as_tensor
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """Shared code of BatchNorm1d/2d; subclasses set ``_ndims`` (accepted input ndims) and ``_layout``."""

    _ndims: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, *, device=None, dtype=None):
        super().__init__()
        check_device(device)
        owner = type(self).__name__
        self.num_features = check_positive_int(num_features, f"num_features of {owner}")
        self.eps = check_eps(eps, owner)
        self.momentum = check_momentum(momentum, owner)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = float_dtype(dtype, f"dtype of {owner}")
        C = self.num_features
        if self.affine:
            self.weight = Parameter(xp.empty((C,), dtype=dtype))
            self.bias = Parameter(xp.empty((C,), dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", as_tensor(xp.zeros((C,), dtype=dtype)))
            self.register_buffer("running_var", as_tensor(xp.ones((C,), dtype=dtype)))
            self.register_buffer("num_batches_tracked", as_tensor(xp.zeros((), dtype=xp.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, batch count 0 (in place)."""
        if self.track_running_stats:
            self.running_mean._array[...] = 0
            self.running_var._array[...] = 1
            self.num_batches_tracked._array[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight to 1 and bias to 0 (PyTorch's init)."""
        self.reset_running_stats()
        if self.affine:
            self.weight._array[...] = 1
            self.bias._array[...] = 0

    def _check_input(self, x):
        C = self.num_features
        if x.ndim not in self._ndims or x.shape[1] != C:
            layout = self._layout.format(C=C)
            raise ValueError(
                f"{type(self).__name__}({C}) expected input of shape {layout} ({' or '.join(f'{n}-D' for n in self._ndims)}"
                f", channel dim 1 = num_features = {C}); got shape {tuple(x.shape)}."
            )

    def forward(self, x) -> Tensor:
        """Normalize per channel: batch statistics in training (and without running stats), else running ones."""
        x = as_operand(x)
        self._check_input(x)
        use_batch = self.training or not self.track_running_stats
        if use_batch:  # NOTE: before counting the batch (torch counts a batch that then fails)
            check_batch_size(x.shape, type(self).__name__)
        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked._array += 1  # in place: the buffer object is kept
            factor = 1.0 / float(self.num_batches_tracked._array) if self.momentum is None else self.momentum
        update = self.training and self.track_running_stats
        return _norm.batch_norm(
            x, self.weight, self.bias,
            self.running_mean._array if (update or not use_batch) else None,
            self.running_var._array if (update or not use_batch) else None,
            training=use_batch, momentum=factor, eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) features or (N, C, L) sequences, per channel C.

    In ``train()``: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the batch's mean
    and BIASED variance over N (and L), and the running statistics updated as
    ``running = (1 - momentum) * running + momentum * batch_stat`` using the UNBIASED batch
    variance (as PyTorch). In ``eval()``: the running statistics replace the batch ones.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance for stability.
        momentum: weight of the new batch in the running statistics; None gives a cumulative
            moving average (factor 1 / num_batches_tracked).
        affine: learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
        track_running_stats: keep ``running_mean``/``running_var``/``num_batches_tracked``
            buffers; when False they are None and batch statistics are used in both modes.
        dtype: parameter and buffer dtype (float32 by default).

    Shape:
        input (N, C) or (N, C, L) -> output of the same shape.

    Raises:
        ValueError: other ndims or a channel count other than ``num_features``; one value per
            channel in training ("Expected more than 1 value per channel when training").

    Example:
        >>> import nnbasics as nb
        >>> bn = BatchNorm1d(3)
        >>> bn(nb.randn(8, 3, rng=0)).shape
        (8, 3)
        >>> list(bn.state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    _ndims = (2, 3)
    _layout = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images (N, C, H, W), per channel C (statistics over N, H, W).

    Same arguments and behaviour as :class:`BatchNorm1d`.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W).

    Example:
        >>> import nnbasics as nb
        >>> BatchNorm2d(4)(nb.randn(2, 4, 5, 7, rng=0)).shape
        (2, 4, 5, 7)
    """

    _ndims = (4,)
    _layout = "(N, {C}, H, W)"


class LayerNorm(Module):
    """Layer normalization over the trailing dims ``normalized_shape`` (same in train and eval).

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and biased variance of each
    sample's last ``len(normalized_shape)`` dims, and elementwise ``weight``/``bias`` of shape
    ``normalized_shape``.

    Args:
        normalized_shape: int or tuple S: the trailing dims to normalize over.
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of shape S.
        bias: with ``elementwise_affine``, also learn the bias (PyTorch >= 2.1's argument).
        dtype: parameter dtype (float32 by default).

    Shape:
        input (*, *S) -> output (*, *S).

    Example:
        >>> import nnbasics as nb
        >>> LayerNorm((5, 7))(nb.randn(2, 3, 5, 7, rng=0)).shape
        (2, 3, 5, 7)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 *, device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.normalized_shape = normalized_shape_tuple(normalized_shape, "LayerNorm")
        self.eps = check_eps(eps, "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        dtype = float_dtype(dtype, "dtype of LayerNorm")
        if self.elementwise_affine:
            self.weight = Parameter(xp.empty(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(xp.empty(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1, bias 0 (PyTorch's init)."""
        if self.weight is not None:
            self.weight._array[...] = 1
        if self.bias is not None:
            self.bias._array[...] = 0

    def forward(self, x) -> Tensor:
        x = as_operand(x)
        S = self.normalized_shape
        k = len(S)
        if x.ndim < k or tuple(x.shape[x.ndim - k:]) != S:
            raise ValueError(
                f"LayerNorm({S}) expected input of shape (*, {', '.join(map(str, S))}) (trailing dims = "
                f"normalized_shape); got shape {tuple(x.shape)}."
            )
        return _norm.layer_norm(x, k, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

