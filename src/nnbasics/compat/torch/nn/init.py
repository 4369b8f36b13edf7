"""``torch.nn.init``: nnbasics' initializers, drawing from the global generator (``torch.manual_seed``).

Every ``*_`` function of :mod:`nnbasics.nn.init` is here; those that draw random numbers get
``rng=`` the global generator unless one is given (``generator=`` is accepted as torch's name for
it). torch's deprecated names without the trailing underscore (``xavier_uniform``,
``kaiming_normal``...) are the same functions, as in torch.
"""

import functools
import inspect

from ....nn import init as _init
from ...unsupported import module_getattr
from .. import _random


def _wrap(fn):
    if "rng" not in inspect.signature(fn).parameters:
        return fn

    @functools.wraps(fn)
    def wrapped(*args, generator=None, **kwargs):
        if kwargs.get("rng") is None:
            kwargs["rng"] = _random.resolve(generator)
        return fn(*args, **kwargs)

    return wrapped


_NAMES = [n for n in getattr(_init, "__all__", dir(_init)) if not n.startswith("_") and callable(getattr(_init, n))
          and getattr(getattr(_init, n), "__module__", "") == _init.__name__]

for _n in _NAMES:
    globals()[_n] = _wrap(getattr(_init, _n))
    if _n.endswith("_") and _n[:-1] not in globals():
        globals()[_n[:-1]] = globals()[_n]  # torch's deprecated alias (nn.init.xavier_uniform)
del _n

__getattr__ = module_getattr(__name__)
