"""pooling (being written)."""

__all__ = []
