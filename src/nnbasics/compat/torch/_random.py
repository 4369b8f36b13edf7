"""torch's global random generator, for the compat namespace: ``torch.manual_seed`` and friends.

torch draws from one process-wide generator that ``torch.manual_seed`` reseeds; nnbasics has the
same, :func:`nnbasics.rng.default_generator` (what every ``rng=None`` uses), and this module is
torch's API over it. Every compat function or layer that draws random numbers
(``torch.randn``, ``nn.Linear``'s initialization, ``nn.Dropout``, ``DataLoader(shuffle=True)``,
``random_split``...) passes :func:`generator` as its ``rng``, so ``torch.manual_seed(777)`` makes a
script reproducible run to run. The numbers are NumPy's (PCG64), not torch's (Mersenne Twister):
the same seed gives different draws than PyTorch.

Example:
    >>> _ = manual_seed(0); a = generator().random()
    >>> _ = manual_seed(0); b = generator().random()
    >>> a == b
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from ... import rng as _rng

__all__ = ["Generator", "generator", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state"]

def _fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2 ** 63))


def generator() -> np.random.Generator:
    """The process-wide generator (:func:`nnbasics.rng.default_generator`)."""
    return _rng.default_generator()


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
    """Reseed the global generator (torch's ``manual_seed``; any int, taken modulo 2**64 as torch does)."""
    _rng.manual_seed(_check_seed(seed))
    return _GlobalGenerator()


def seed() -> int:
    """Reseed from OS entropy; returns the new seed."""
    return _rng.seed()


def initial_seed() -> int:
    """The seed the global generator was last seeded with."""
    return _rng.initial_seed()


def get_rng_state():
    """The global generator's state (a dict, NumPy's bit-generator state; torch returns a ByteTensor)."""
    return generator().bit_generator.state


def set_rng_state(state) -> None:
    """Restore a state from :func:`get_rng_state`."""
    generator().bit_generator.state = state
