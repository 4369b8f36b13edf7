"""Weight initializers (issue 3)."""

__all__ = []
