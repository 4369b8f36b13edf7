"""The one helper that turns a user's ``rng`` argument into a Generator.

Everything random in nnbasics takes ``rng``: a :class:`numpy.random.Generator`,
an int seed, or None (fresh OS entropy). Library code never seeds or draws
from NumPy's global random state.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator"]


def as_generator(rng=None) -> np.random.Generator:
    """Resolve ``rng`` to a :class:`numpy.random.Generator`.

    Args:
        rng: a Generator (returned as is, so draws advance the caller's stream),
            an int seed (a new Generator seeded with it), or None (a new
            Generator seeded from OS entropy).

    Returns:
        numpy.random.Generator

    Raises:
        TypeError: for anything else, e.g. a legacy ``np.random.RandomState``.

    Example:
        >>> as_generator(0).integers(10) == as_generator(0).integers(10)
        True
    """
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng seed must be a non-negative int. Got {rng}.")
        return np.random.default_rng(int(rng))
    raise TypeError(
        "rng must be a numpy.random.Generator, an int seed or None. "
        f"Got {type(rng).__name__}. Use numpy.random.default_rng(seed) to make one."
    )
