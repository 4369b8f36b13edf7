"""Composite functions built from the primitives in :mod:`nnbasics.ops`.

Nothing here writes a derivative: gradients come from the primitives used
(or from a fused primitive in ``ops``). Import as ``import nnbasics.functional as F``.
Each submodule holds one concept and lists its names in ``__all__``.
"""

from ..ops import linear, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from .activation import *
from .conv import *
from .conv_transpose import *
from .discrete import *
from .dropout import *
from .loss import *
from .normalization import *
from .pooling import *
from .recurrent import *
from .reduce import *
from .selection import *
