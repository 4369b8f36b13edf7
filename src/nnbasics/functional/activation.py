"""Activation functions (issue 3)."""

__all__ = []
