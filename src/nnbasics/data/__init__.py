"""Datasets, loaders and where data files come from (being written)."""

from .transforms import *  # noqa: F401,F403
