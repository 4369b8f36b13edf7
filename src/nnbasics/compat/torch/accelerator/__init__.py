"""``torch.accelerator``: none here. ``is_available()`` is False, so scripts that ask pick the CPU."""

from ...unsupported import module_getattr

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    """False: nnbasics computes on the CPU."""
    return False


def current_accelerator(check_available=False):
    """None: there is no accelerator."""
    return


def device_count() -> int:
    return 0


def synchronize(device=None) -> None:
    """Nothing to wait for on the CPU."""


__getattr__ = module_getattr(__name__)
