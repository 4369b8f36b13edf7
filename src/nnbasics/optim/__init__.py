"""Optimizers, learning-rate schedules and gradient clipping (issue 3)."""
