"""Named models: a registry (``build_model``, ``register_model``) and the built-in zoo.

The zoo modules (``mlp``, ``cnn``, ``rnn``) register their models when imported;
``build_model`` and ``available_models`` import them on first use.
"""

from .registry import UnknownModelError, available_models, build_model, get_factory, register_model  # noqa: F401
