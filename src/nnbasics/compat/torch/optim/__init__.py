"""``torch.optim``: nnbasics' optimizers (torch's names, arguments and update rules) and :mod:`.lr_scheduler`.

Each class is a thin subclass that tells :mod:`nnbasics.compat.observe` when it is created and
when it steps (``nnbasics run --xray`` listens); the update itself is nnbasics'. A subclass of
``torch.optim.Optimizer`` written in a script subclasses nnbasics' Optimizer.
"""

import functools

from .... import optim as _optim
from ....optim import Optimizer
from ... import observe as _observe
from ...unsupported import module_getattr
from . import lr_scheduler


def _observed(cls):
    base_init, base_step = cls.__init__, cls.step

    @functools.wraps(base_init)
    def __init__(self, *args, foreach=None, fused=None, capturable=False, differentiable=False, **kwargs):
        base_init(self, *args, **kwargs)
        _observe.optimizer_created(self)

    @functools.wraps(base_step)
    def step(self, *args, **kwargs):
        _observe.before_step(self)
        out = base_step(self, *args, **kwargs)
        _observe.after_step(self)
        return out

    return type(cls.__name__, (cls,), {"__init__": __init__, "step": step, "__doc__": cls.__doc__,
                                       "__module__": "torch.optim", "__qualname__": cls.__qualname__})


SGD = _observed(_optim.SGD)
Adam = _observed(_optim.Adam)
AdamW = _observed(_optim.AdamW)
Adagrad = _observed(_optim.Adagrad)
Adadelta = _observed(_optim.Adadelta)
RMSprop = _observed(_optim.RMSprop)
LBFGS = _observed(_optim.LBFGS)

__all__ = ["LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]

__getattr__ = module_getattr(__name__)
