"""Optimizers, learning-rate schedules, gradient clipping and the max-norm constraint.

Names and semantics follow ``torch.optim``: build an optimizer over
``model.parameters()``, then per batch ``zero_grad()``, ``loss.backward()``,
``step()``. Schedulers live in :mod:`nnbasics.optim.lr_scheduler` (as in
PyTorch); their closed forms, as pure functions of the step, in
:mod:`nnbasics.optim.schedules`.

Example:
    >>> import nnbasics as nb
    >>> from nnbasics import optim
    >>> w = nb.nn.Parameter(nb.randn(3, rng=0))
    >>> opt = optim.Adam([w], lr=0.1)
    >>> sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    >>> for _ in range(100):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step(); sched.step()
    >>> bool(w.abs().max() < 0.1)
    True
"""

from . import lr_scheduler, schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .constraints import MaxNorm, max_norm_
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "MaxNorm", "Optimizer", "RMSprop", "clip_grad_norm_",
           "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "lr_scheduler", "max_norm_", "schedules"]
