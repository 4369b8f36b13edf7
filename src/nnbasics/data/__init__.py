"""Datasets, loaders and where data files come from.

Importing does nothing: no file is read and nothing is downloaded until a
dataset is constructed.

Example:
    >>> from nnbasics.data import DataLoader, TensorDataset, synthetic
    >>> X, y = synthetic.spiral(n_per_class=50, rng=0)
    >>> loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, rng=0)
    >>> len(loader)
    5
"""

from . import synthetic  # noqa: F401
from .catalog import *
from .cifar import *
from .dataset import *
from .errors import *
from .idx import *
from .loader import *
from .sources import cache_dir, locate  # noqa: F401
from .split import *
from .text import *
from .transforms import *
from .vision import *
