"""Ensembles of trained models (being written)."""

__all__ = []
