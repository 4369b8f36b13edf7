"""``torch.cuda``: there is no GPU here. ``is_available()`` is False and the seeding calls do nothing.

Scripts written as ``device = 'cuda' if torch.cuda.is_available() else 'cpu'`` therefore pick the
CPU; anything that needs a GPU (``torch.cuda.FloatTensor``, ``set_device``...) raises the no-GPU
message.
"""

from ...unsupported import module_getattr

__all__ = ["device_count", "is_available", "manual_seed", "manual_seed_all", "synchronize"]


def is_available() -> bool:
    """False: nnbasics computes on the CPU."""
    return False


def device_count() -> int:
    return 0


def manual_seed(seed) -> None:
    """Nothing to seed without a GPU (as torch does when CUDA is absent)."""


def manual_seed_all(seed) -> None:
    """Nothing to seed without a GPU."""


def synchronize(device=None) -> None:
    """Nothing to wait for on the CPU."""


def empty_cache() -> None:
    """Nothing to free."""


def is_initialized() -> bool:
    return False


__getattr__ = module_getattr(__name__)
