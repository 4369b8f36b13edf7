"""recurrent (being written)."""

__all__ = []
