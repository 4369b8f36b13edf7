"""ReLU and Mul on big float arrays: reused output buffers, the input's memory layout, threads.

A CNN's activations are megabytes each. These kernels write them into workspace arrays
(:mod:`nnbasics.kernels.workspace`: no page faults on fresh memory every step) laid out as the
input is (a channels-last convolution output stays channels-last, so the next pass runs over
contiguous memory), and split the pass across threads (:mod:`nnbasics.kernels.parallel`;
NumPy releases the GIL inside each ufunc loop). The values are the reference's: one IEEE
operation per element either way.
"""

from __future__ import annotations

from ..backend import is_float_dtype, xp
from ..dispatch import register
from ..ops import elementwise as ref
from ..ops.util import sum_to
from . import fusion, parallel, workspace
from .parallel import parallel_for

# NumPy 2's clip against (0, inf) runs vectorized, its maximum against a scalar 0 does not
# (float32, 800 K elements: 0.09 against 0.30 ms; NumPy 1.26: both ~0.31 ms). The two differ
# only for -0.0, which clip keeps, as PyTorch's relu does.
_CLIP_RELU = int(xp.__version__.split(".")[0]) >= 2


def _rows(a, fn):
    """fn(index) over the first axis of ``a`` (``slice(lo, hi)``; ``...`` for 0-d arrays), split
    across threads when ``a`` is big."""
    if a.ndim == 0:
        fn(...)
    else:
        parallel_for(a.shape[0], lambda lo, hi: fn(slice(lo, hi)), elements=a.size)


@register(ref.ReLU, when=lambda a: a.dtype.kind == "f")
class ReLU(ref.ReLU):
    """:class:`nnbasics.ops.elementwise.ReLU` for float arrays: workspace buffers in the input's
    layout, split across threads (small arrays: one NumPy call each); no mask kept for inference.
    A gradient that a following 2x2 max-pool kernel already masked (:mod:`nnbasics.kernels.pool`)
    is passed on as it is."""

    #: A 2x2 max-pool kernel taking this output may mask its gradient for us (kernels/pool.py).
    fuses_into_max_pool = True
    premasked = None

    def forward(self, a):
        recording = self.needs_grad is not None
        zero, inf = a.dtype.type(0), a.dtype.type(xp.inf)
        if a.size < parallel.MIN_ELEMENTS:  # too small for threads or the workspace: one NumPy call each
            self.mask = xp.greater(a, 0) if recording else None  # (a layer of a small MLP: ~3 us less a call)
            out = xp.empty_like(a)  # in a's layout (an array also where a is 0-d)
            xp.clip(a, zero, inf, out=out) if _CLIP_RELU else xp.maximum(a, 0, out=out)
            if recording:
                fusion.note(out, self)
            return out
        mask = workspace.empty_like(a, xp.bool_) if recording else None
        out = workspace.empty_like(a)[...]  # a view of its own: the object kernels/fusion.py notes

        def part(i):  # rows i (big arrays are split across threads)
            if recording:
                xp.greater(a[i], 0, out=mask[i])
            if _CLIP_RELU:
                xp.clip(a[i], zero, inf, out=out[i])
            else:
                xp.maximum(a[i], 0, out=out[i])

        _rows(a, part)
        self.mask = mask
        if recording:
            fusion.note(out, self)
        return out

    def backward(self, g):
        if g is self.premasked:  # the max-pool after us masked it already (and only it reaches us)
            self.premasked = None
            return (g,)
        mask = self.mask
        if mask.size < parallel.MIN_ELEMENTS:
            return (xp.multiply(g, mask),)
        out = workspace.empty_like(mask, xp.result_type(g.dtype, xp.bool_))
        _rows(out, lambda i: xp.multiply(g[i], mask[i], out=out[i]))
        return (out,)


def _mul(a, b):
    """a * b into a workspace array, split over threads. Layout: C order when either input has it
    (a channels-last input times a C-order mask: the flatten that follows is then free), else
    ``a``'s layout."""
    out = workspace.empty(a.shape, a.dtype) if (a.flags.c_contiguous or b.flags.c_contiguous) \
        else workspace.empty_like(a)
    parallel_for(a.shape[0], lambda lo, hi: xp.multiply(a[lo:hi], b[lo:hi], out=out[lo:hi]), a.size)
    return out


def _big_same_float(a, b):
    """Two big float arrays of one shape and dtype (a dropout mask on activations)."""
    return (a.size >= workspace.MIN_BYTES // a.itemsize and a.shape == b.shape and a.dtype == b.dtype
            and a.ndim > 0 and is_float_dtype(a.dtype))  # NOTE: size first: most products are small


@register(ref.Mul, when=_big_same_float)
class Mul(ref.Mul):
    """:class:`nnbasics.ops.elementwise.Mul` of two big same-shape float arrays: workspace output,
    split across threads (the gradients too)."""

    def forward(self, a, b):
        needs = self.needs_grad
        if needs:  # as the reference: b for a's gradient, a for b's
            self.shapes = a.shape, b.shape
            self.a, self.b = (a if needs[1] else None), (b if needs[0] else None)
        return _mul(a, b)

    def backward(self, g):
        ga = sum_to(_mul_any(g, self.b), self.shapes[0]) if self.needs_grad[0] else None
        gb = sum_to(_mul_any(g, self.a), self.shapes[1]) if self.needs_grad[1] else None
        return ga, gb


def _mul_any(a, b):
    return _mul(a, b) if _big_same_float(a, b) else a * b
