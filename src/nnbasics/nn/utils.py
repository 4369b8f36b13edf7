"""Helpers around training a Module, as ``torch.nn.utils``: gradient clipping and the max-norm constraint.

The implementations live in :mod:`nnbasics.optim` (clipping and constraints act
between ``backward`` and the next forward, beside the optimizer); they are
re-exported here under PyTorch's import path::

    from nnbasics.nn.utils import clip_grad_norm_
"""

from ..optim.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from ..optim.constraints import MaxNorm, max_norm_

__all__ = ["MaxNorm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "max_norm_"]
