"""The one helper that turns a user's ``rng`` argument into a Generator, and the default generator.

Everything random in nnbasics takes ``rng``: a :class:`numpy.random.Generator`,
an int seed, or None. None means the process-wide *default generator*
(:func:`default_generator`), as PyTorch's ops without a ``generator=`` use
``torch.default_generator``: it starts from OS entropy (so unseeded runs differ) and
:func:`manual_seed` puts it into a known state (so a script that calls
``nnbasics.manual_seed(0)`` first repeats exactly). Library code never seeds
it itself, and never draws from NumPy's global random state.
"""

from __future__ import annotations

import numpy as np

from ._validate import is_int

__all__ = ["as_generator", "default_generator", "initial_seed", "manual_seed", "seed"]

_default = None  # created on first use: importing does nothing
_initial_seed = None


def as_generator(rng=None) -> np.random.Generator:
    """Resolve ``rng`` to a :class:`numpy.random.Generator`.

    Args:
        rng: a Generator (returned as is, so draws advance the caller's stream),
            an int seed (a new Generator seeded with it), or None (the default
            generator, seeded by :func:`manual_seed` or else from OS entropy).

    Returns:
        numpy.random.Generator

    Raises:
        TypeError: for anything else, e.g. a legacy ``np.random.RandomState``.

    Example:
        >>> bool(as_generator(0).integers(10) == as_generator(0).integers(10))
        True
    """
    if rng is None:
        return default_generator()
    if isinstance(rng, np.random.Generator):
        _note_draw()
        return rng
    if is_int(rng):
        if rng < 0:
            raise ValueError(f"rng seed must be a non-negative int. Got {rng}.")
        return np.random.default_rng(int(rng))
    raise TypeError(
        "rng must be a numpy.random.Generator, an int seed or None. "
        f"Got {type(rng).__name__}. Use numpy.random.default_rng(seed) to make one."
    )


def _note_draw() -> None:
    """Tell an ONNX trace that forward is about to draw random numbers (the file would keep this draw)."""
    from . import autograd  # NOTE: at call time: autograd's imports reach this module

    if autograd._RECORDING:
        autograd.read_value(None, "a random draw")


def default_generator() -> np.random.Generator:
    """The process-wide Generator behind every ``rng=None`` (PyTorch's ``torch.default_generator``).

    One object for the whole process (created on first use from OS entropy); :func:`manual_seed`
    resets its state in place, so layers and loaders that already hold it follow the new seed.
    """
    global _default, _initial_seed
    _note_draw()
    if _default is None:
        _initial_seed = int(np.random.SeedSequence().entropy % 2**63)
        _default = np.random.default_rng(_initial_seed)
    return _default


def manual_seed(seed) -> np.random.Generator:
    """Seed the default generator, as ``torch.manual_seed``: every later ``rng=None`` draw repeats.

    Args:
        seed: a non-negative int (PyTorch also takes negative ones; they are refused here).

    Returns:
        numpy.random.Generator: the default generator (torch returns its Generator too).

    Example:
        >>> import nnbasics as nb
        >>> _ = nb.manual_seed(0); a = nb.randn(3)
        >>> _ = nb.manual_seed(0); b = nb.randn(3)
        >>> a.tolist() == b.tolist()
        True
    """
    global _initial_seed
    if not is_int(seed) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative int. Got {seed!r}.")
    gen = default_generator()
    gen.bit_generator.state = np.random.default_rng(int(seed)).bit_generator.state
    _initial_seed = int(seed)
    return gen


def seed() -> int:
    """Seed the default generator from OS entropy and return that seed (``torch.seed``)."""
    s = int(np.random.SeedSequence().entropy % 2**63)
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed the default generator was last seeded with (``torch.initial_seed``)."""
    default_generator()
    return _initial_seed
