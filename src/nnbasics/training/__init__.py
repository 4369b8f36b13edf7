"""Training: fit/evaluate/predict, callbacks, metrics, progress, checkpoints, ensembles.

One design throughout: plain functions (``fit``, ``evaluate``, ``predict``) over a Module
and an Optimizer, extended by Keras-style callbacks; see :mod:`nnbasics.training.fit` for why.
"""

from .callbacks import *
from .checkpoint import *
from .ensemble import *
from .fit import *
from .history import *
from .metrics import *
from .progress import *
from .tbptt import *
