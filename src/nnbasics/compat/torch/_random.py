"""torch's global random generator, for the compat namespace: ``torch.manual_seed`` and friends.

nnbasics takes an explicit ``rng`` everywhere; torch draws from one process-wide generator that
``torch.manual_seed`` reseeds. The compat layer bridges the two: every compat function or layer
that draws random numbers (``torch.randn``, ``nn.Linear``'s initialization, ``nn.Dropout``,
``DataLoader(shuffle=True)``, ``random_split``...) passes :func:`generator` as its ``rng``, so
``torch.manual_seed(777)`` makes a script reproducible run to run. The numbers are NumPy's
(PCG64), not torch's (Mersenne Twister): the same seed gives different draws than PyTorch.

Example:
    >>> _ = manual_seed(0); a = generator().random()
    >>> _ = manual_seed(0); b = generator().random()
    >>> a == b
    True
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Generator", "generator", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state"]

_state = {"generator": None, "seed": None}


def _fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2 ** 63))


def generator() -> np.random.Generator:
    """The process-wide generator (created from OS entropy on first use, as torch seeds at start-up)."""
    if _state["generator"] is None:
        manual_seed(_fresh_seed())
    return _state["generator"]


class Generator:
    """``torch.Generator``: a seedable generator object (``DataLoader(generator=g)``, ``random_split(..., generator=g)``).

    Args:
        device: accepted for torch's signature; only ``"cpu"``.
    """

    def __init__(self, device="cpu"):
        from ._dtypes import check_device

        check_device(device, "torch.Generator")
        self._seed = _fresh_seed()
        self.np = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = _check_seed(seed)
        self.np = np.random.default_rng(self._seed)
        return self

    def seed(self):
        return self.manual_seed(_fresh_seed())._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self.np.bit_generator.state

    def set_state(self, state):
        self.np.bit_generator.state = state
        return self


class _GlobalGenerator(Generator):
    """``torch.default_generator``: a Generator object whose calls act on the global generator."""

    def __init__(self):
        pass

    @property
    def np(self):
        return generator()

    @property
    def _seed(self):
        return initial_seed()

    def manual_seed(self, seed):
        manual_seed(seed)
        return self

    def set_state(self, state):
        set_rng_state(state)
        return self


def default_generator() -> Generator:
    return _GlobalGenerator()


def resolve(gen) -> np.random.Generator:
    """A ``generator=`` argument (None, a :class:`Generator`, a NumPy Generator) as a NumPy Generator."""
    if gen is None:
        return generator()
    if isinstance(gen, Generator):
        return gen.np
    if isinstance(gen, np.random.Generator):
        return gen
    raise TypeError(f"generator must be a torch.Generator or None; got {type(gen).__name__}.")


def _check_seed(seed) -> int:
    if hasattr(seed, "item"):
        seed = seed.item()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: the seed must be an int; got {type(seed).__name__}.")
    return int(seed) % (2 ** 64)


def manual_seed(seed) -> Generator:
    """Reseed the global generator (torch's ``manual_seed``); returns a Generator object over it."""
    seed = _check_seed(seed)
    _state["seed"] = seed
    _state["generator"] = np.random.default_rng(seed)
    _sync_library(seed)
    return _GlobalGenerator()


def _sync_library(seed) -> None:
    """Seed nnbasics' own default generator too, where the library has one (``nnbasics.manual_seed``)."""
    import nnbasics

    lib_seed = getattr(nnbasics, "manual_seed", None)
    if lib_seed is not None:
        lib_seed(seed)


def seed() -> int:
    """Reseed from OS entropy; returns the new seed."""
    s = _fresh_seed()
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed the global generator was last seeded with."""
    generator()
    return _state["seed"]


def get_rng_state():
    """The global generator's state (a dict, NumPy's bit-generator state; torch returns a ByteTensor)."""
    return generator().bit_generator.state


def set_rng_state(state) -> None:
    """Restore a state from :func:`get_rng_state`."""
    generator().bit_generator.state = state
