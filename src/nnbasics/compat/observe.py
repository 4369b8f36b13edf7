"""Observers of what a script's optimizers do (``nnbasics run --xray`` is one).

The compat ``torch.optim`` classes call :func:`optimizer_created` at the end of their
``__init__`` and :func:`before_step` / :func:`after_step` around ``step()``. Without observers
(a plain ``nnbasics run``) each call is one empty-list check.

An observer is any object with ``optimizer_created(opt)``, ``before_step(opt)`` and
``after_step(opt)`` methods.
"""

from __future__ import annotations

__all__ = ["add", "after_step", "before_step", "optimizer_created", "remove"]

_observers: list = []


def add(observer) -> None:
    """Start notifying ``observer`` (idempotent)."""
    if observer not in _observers:
        _observers.append(observer)


def remove(observer) -> None:
    """Stop notifying ``observer``."""
    if observer in _observers:
        _observers.remove(observer)


def optimizer_created(opt) -> None:
    for o in _observers:
        o.optimizer_created(opt)


def before_step(opt) -> None:
    for o in _observers:
        o.before_step(opt)


def after_step(opt) -> None:
    for o in _observers:
        o.after_step(opt)
