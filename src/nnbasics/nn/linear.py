"""Linear (fully connected) layer and Identity.

``Linear`` keeps PyTorch's layout (``weight`` is (out_features, in_features)) and
initialization, so weights move between the two with ``load_state_dict``.
"""

from __future__ import annotations

import math

from .. import ops
from .._validate import check_positive_int, float_dtype
from ..backend import xp
from ..device import check_device
from ..ops.util import as_operand
from ..rng import as_generator
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear"]


class Linear(Module):
    """Affine map y = x W^T + b applied to the last dimension.

    Args:
        in_features: size of each input's last dimension.
        out_features: size of each output's last dimension.
        bias: learn an additive bias (``bias`` is registered as None when False).
        rng: Generator, int seed or None; :meth:`reset_parameters` draws from it
            (the Generator is kept, so a later ``reset_parameters()`` draws anew).
        dtype: parameter dtype (float32 by default; float64 for gradient checks).

    Shape:
        input (*, in_features) -> output (*, out_features); * is any number of dims
        (including none: a 1-D input (in_features,) gives (out_features,)).

    Attributes:
        weight (Parameter): (out_features, in_features), U(-k, k) with k = 1/sqrt(in_features).
        bias (Parameter | None): (out_features,), U(-k, k).

    Example:
        >>> import nnbasics as nb
        >>> layer = Linear(3, 2, rng=0)
        >>> layer(nb.randn(5, 7, 3, rng=1)).shape
        (5, 7, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng=None, device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.in_features = check_positive_int(in_features, "in_features of Linear")
        self.out_features = check_positive_int(out_features, "out_features of Linear")
        dtype = float_dtype(dtype, "dtype of Linear")
        self._rng = as_generator(rng)
        self.weight = Parameter(xp.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty((self.out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)  # registered as None: state_dict and repr know it
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """Redraw weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.

        The same as ``init.kaiming_uniform_(weight, a=sqrt(5))``: gain sqrt(2 / (1 + a^2)) = sqrt(1/3),
        bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in); the bias uses the same bound.

        Args:
            rng: Generator, int seed or None; by default the Generator given at construction.
        """
        gen = self._rng if rng is None else as_generator(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        w = self.weight
        w._array[...] = gen.uniform(-bound, bound, size=w.shape)  # float64 draw, cast on assignment
        if self.bias is not None:
            self.bias._array[...] = gen.uniform(-bound, bound, size=self.bias.shape)

    def forward(self, x):
        """y = x W^T + b over the last dim: (*, in_features) -> (*, out_features)."""
        x = as_operand(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expected input of shape "
                f"(*, {self.in_features}) (last dim = in_features = {self.in_features}); "
                f"got shape {tuple(x.shape)}."
            )
        return ops.linear(x, self.weight, self.bias)  # fused x W^T + b, (*, out)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer from a model).

    Any constructor arguments are accepted and ignored, as in PyTorch.

    Shape:
        input (*) -> output (*), the same Tensor.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
