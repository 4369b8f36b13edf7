"""Neural-network layers and models (PyTorch-compatible names, arguments and weight layouts).

Import as ``import nnbasics.nn as nn``. Each submodule holds one concept and lists
its public names in ``__all__``; ``nn.init`` and ``nn.functional`` are modules.
"""

from .. import functional  # noqa: F401
from . import init, rnn_utils, utils  # noqa: F401
from .activation import *
from .container import *
from .conv import *
from .conv_transpose import *
from .dropout import *
from .embedding import *
from .flatten import *
from .linear import *
from .loss import *
from .module import Module  # noqa: F401
from .normalization import *
from .parameter import Parameter  # noqa: F401
from .perceptron import *
from .pooling import *
from .recurrent import *
