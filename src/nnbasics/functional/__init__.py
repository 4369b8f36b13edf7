"""Composite functions built from the primitives in :mod:`nnbasics.ops`.

Nothing here writes a derivative: gradients come from the primitives used
(or from a fused primitive in ``ops``). Import as ``import nnbasics.functional as F``.
Each submodule holds one concept and lists its names in ``__all__``.
"""

from ..ops import linear, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from .activation import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
