"""Image augmentation transforms that work on batches (being written)."""

__all__ = []
