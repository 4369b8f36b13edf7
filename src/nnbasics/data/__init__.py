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
from .catalog import *  # noqa: F401,F403
from .cifar import *  # noqa: F401,F403
from .dataset import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .idx import *  # noqa: F401,F403
from .loader import *  # noqa: F401,F403
from .sources import cache_dir, locate  # noqa: F401
from .split import *  # noqa: F401,F403
from .text import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403
