"""``torch.nn.utils``: gradient clipping, parameters <-> vector, and :mod:`.rnn`."""

from .....nn.utils import clip_grad_norm_, clip_grad_value_
from .....ops import cat as _cat
from .....tensor import Tensor as _Tensor
from ....unsupported import module_getattr
from . import rnn


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    """torch's deprecated name of :func:`clip_grad_norm_`."""
    return clip_grad_norm_(parameters, max_norm, norm_type)


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-d tensor (differentiable)."""
    return _cat([p.reshape(-1) for p in parameters], 0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters (in place, no gradient)."""
    import numpy as np

    flat = np.asarray(vec)
    offset = 0
    for p in parameters:
        n = int(np.prod(p.shape, dtype=np.int64))
        np.asarray(p)[...] = flat[offset:offset + n].reshape(p.shape)
        offset += n


__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "rnn",
           "vector_to_parameters"]
_ = _Tensor

__getattr__ = module_getattr(__name__)
