"""Neural-network layers and models (PyTorch-compatible names and layouts)."""

from . import init  # noqa: F401
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
