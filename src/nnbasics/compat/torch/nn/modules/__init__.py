"""``torch.nn.modules``: torch's internal layout (``torch.nn.modules.linear.Linear``) over ``torch.nn``.

Scripts name classes by their full path now and then (``torch.nn.modules.rnn.LSTM`` in a list of
safe globals, ``from torch.nn.modules.loss import MSELoss``). Each submodule of torch's layout is a
namespace here whose attributes are looked up in :mod:`nnbasics.compat.torch.nn`, so those paths
reach the same classes as ``torch.nn.X``.
"""

import types

from ....unsupported import module_getattr

_SUBMODULES = ("activation", "adaptive", "batchnorm", "channelshuffle", "container", "conv", "distance", "dropout",
               "flatten", "fold", "instancenorm", "lazy", "linear", "loss", "module", "normalization", "padding",
               "pixelshuffle", "pooling", "rnn", "sparse", "transformer", "upsampling", "utils")


def _namespace(sub):
    mod = types.ModuleType(f"torch.nn.modules.{sub}", f"torch.nn.modules.{sub}: names of torch.nn.")

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        from ... import nn  # the compat torch.nn

        return getattr(nn, name)

    mod.__getattr__ = __getattr__
    return mod


for _sub in _SUBMODULES:
    globals()[_sub] = _namespace(_sub)
del _sub

__getattr__ = module_getattr(__name__)
