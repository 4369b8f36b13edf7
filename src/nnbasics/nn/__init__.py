"""Neural-network layers and models (PyTorch-compatible names, arguments and weight layouts).

Import as ``import nnbasics.nn as nn``. Each submodule holds one concept and lists
its public names in ``__all__``; ``nn.init`` and ``nn.functional`` are modules.
"""

from .. import functional  # noqa: F401
from . import init, rnn_utils, utils  # noqa: F401
from .activation import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .perceptron import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
