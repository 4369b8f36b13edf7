"""Training: fit/evaluate/predict, callbacks, metrics, checkpoints, ensembles (being written)."""

from .ensemble import *  # noqa: F401,F403
