"""The dropout mask in reused arrays, its random numbers drawn on several threads.

A dropout mask on the lab CNN's (128, 64, 7, 7) activations is 1.6 M draws: ~1 ms on one
thread, and a fresh 6 MB array that page-faults on first touch every step. These kernels draw
into a workspace array with :func:`nnbasics.kernels.parallel.uniform_fill` (the same numbers as
one ``Generator.random`` call) and build the scaled mask into another.
"""

from __future__ import annotations

from ..backend import xp
from ..dispatch import register
from ..functional.dropout import scaled_mask as reference_scaled_mask
from ..functional.dropout import uniform as reference_uniform
from . import parallel, workspace


@register(reference_uniform)
def uniform(gen, shape, dtype):
    """:func:`nnbasics.functional.dropout.uniform` into a workspace array, split across threads."""
    out = workspace.empty(shape, dtype)
    parallel.uniform_fill(gen, out)
    return out


@register(reference_scaled_mask)
def scaled_mask(keep, scale, dtype):
    """:func:`nnbasics.functional.dropout.scaled_mask` into a workspace array."""
    m = workspace.empty(keep.shape, dtype)
    xp.multiply(keep, dtype.type(scale), out=m)  # 0 or scale, in x's dtype
    return m
