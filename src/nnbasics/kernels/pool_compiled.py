"""The 2x2 / stride-2 max-pool as compiled loops (Numba, optional): one pass over memory each way.

The NumPy kernel (:mod:`nnbasics.kernels.pool`) runs the window tournament as six passes over
strided quarters of the input and keeps three boolean arrays (plus ``y > 0`` when a ReLU came
first). Compiled, one loop visits each window once::

    a = max(x00, x01)   b = max(x10, x11)   y = max(a, b)          (numpy.maximum: NaN wins)
    k = 0 or 1 (x01 > x00) where a >= b,  else 2 or 3 (x11 > x10)  the first maximum, row-major
    code = k + 4 * (y > 0)                                         one byte per window

and backward writes every input position once: ``dx[window k] = g * [position == k]``, times
``[y > 0]`` first where the ReLU before the pool is fused into it (as the NumPy kernel's
``_mul_mask``). These are the NumPy kernel's comparisons and products, so values and gradients
are the same to the bit (ties go to the earlier element; NaN and inf propagate alike).

Loops follow the memory: over (N, H, W, C) with the channels innermost for a channels-last
input (a convolution's output), over (N, C, H, W) otherwise. Batches are split across threads
by :func:`~nnbasics.kernels.parallel.parallel_for` (the loops release the GIL). Lab CNN step,
batch 128, one thread: the two pools' forward 4.2 -> 1.2 ms (BENCHMARKS.md, issue 19 session 6).

On only where :mod:`nnbasics.compiled` says so (``NNBASICS_COMPILED=numba``); the functions
below are plain Python until :func:`_kernels` compiles them (the tests also run them as such).
"""

from __future__ import annotations

import math
import threading
import weakref

from .. import compiled
from ..backend import xp
from ..dispatch import register
from ..ops import pool as ref
from . import fusion, pool
from .parallel import parallel_for

_as_strided = xp.lib.stride_tricks.as_strided

#: Bit of a window's code set where its maximum is > 0 (bits 0-1: the position of the first maximum).
POSITIVE = 4
_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))


def _max(p, q):
    """``numpy.maximum`` of two scalars: NaN where either is NaN, else the larger (p on a tie).

    (A NaN p stays: ``q > p`` is False.)"""
    if math.isnan(q):
        return q
    return q if q > p else p  # noqa: FURB136 -- spelled out: the tie and NaN rules are the point


def _window(x00, x01, x10, x11):
    """(maximum, code) of one window (x00 x01 / x10 x11): the tournament of the module doc."""
    a, b = _max(x00, x01), _max(x10, x11)
    y = _max(a, b)
    if a >= b:
        k = 1 if x01 > x00 else 0
    else:
        k = 3 if x11 > x10 else 2
    return y, (k + POSITIVE if y > 0 else k)


def _forward(x, y, code):
    """Windows x (n, A, OH, 2, OW, 2, D) -> y, code (n, A, OH, OW, D) (see :func:`_as_windows`)."""
    n, na, oh, ow, nd = y.shape
    for i in range(n):
        for a in range(na):
            for r in range(oh):
                for s in range(ow):
                    for d in range(nd):
                        y[i, a, r, s, d], code[i, a, r, s, d] = _window(
                            x[i, a, r, 0, s, 0, d], x[i, a, r, 0, s, 1, d],
                            x[i, a, r, 1, s, 0, d], x[i, a, r, 1, s, 1, d])


def _backward(g, code, gx, relu, zero, one):
    """g, code (n, A, OH, OW, D) -> the windows of gx (n, A, OH, 2, OW, 2, D): each position once,
    ``g * [it is the window's first maximum]``, times ``[y > 0]`` first where ``relu``."""
    n, na, oh, ow, nd = g.shape
    for i in range(n):
        for a in range(na):
            for r in range(oh):
                for s in range(ow):
                    for d in range(nd):
                        k = code[i, a, r, s, d]
                        v = g[i, a, r, s, d]
                        if relu:
                            v = v * (one if k >= POSITIVE else zero)
                        k = k & 3
                        gx[i, a, r, 0, s, 0, d] = v * (one if k == 0 else zero)
                        gx[i, a, r, 0, s, 1, d] = v * (one if k == 1 else zero)
                        gx[i, a, r, 1, s, 0, d] = v * (one if k == 2 else zero)
                        gx[i, a, r, 1, s, 1, d] = v * (one if k == 3 else zero)


def _as_cells(a, last):
    """(N, C, OH, OW) -> (N, A, OH, OW, D), a view: channels-last A = 1, D = C (the channels
    innermost, as they lie in memory); otherwise A = C, D = 1 (the columns innermost)."""
    n, c, oh, ow = a.shape
    sn, sc, sh, sw = a.strides
    if last:
        return _as_strided(a, (n, 1, oh, ow, c), (sn, 0, sh, sw, sc))
    return _as_strided(a, (n, c, oh, ow, 1), (sn, sc, sh, sw, 0))


def _as_windows(a, oh, ow, last):
    """(N, C, H, W) -> (N, A, OH, 2, OW, 2, D), a view: ``[n, a, r, p, s, q, d]`` is element (p, q)
    of window (r, s) (rows ``2r + p``, columns ``2s + q``), A and D as in :func:`_as_cells`."""
    n, c = a.shape[:2]
    sn, sc, sh, sw = a.strides
    if last:
        return _as_strided(a, (n, 1, oh, 2, ow, 2, c), (sn, 0, 2 * sh, sh, 2 * sw, sw, sc))
    return _as_strided(a, (n, c, oh, 2, ow, 2, 1), (sn, sc, 2 * sh, sh, 2 * sw, sw, 0))


_compiled = None
_lock = threading.Lock()


def _kernels():
    """(forward, backward) compiled (once; Numba caches the machine code across processes).

    The helpers are compiled first and put in this module's namespace, where the loops find
    them when they compile (until then they are the Python functions above)."""
    global _compiled
    if _compiled is None:
        with _lock:
            if _compiled is None:
                jit = compiled.jit_helpers(globals(), ("_max", "_window"))
                _compiled = (jit(_forward), jit(_backward))
    return _compiled


def max2x2_forward(x, oh, ow):
    """(N, C, H, W) float array -> (y, code), both (N, C, OH, OW) in x's memory layout (code uint8)."""
    loop = _kernels()[0]
    last = pool.channels_last(x)
    shape = x.shape[:2] + (oh, ow)
    y, code = pool.empty_as(shape, x), pool.empty_as(shape, x, xp.uint8)
    xw, yc, cc = _as_windows(x, oh, ow, last), _as_cells(y, last), _as_cells(code, last)
    parallel_for(x.shape[0], lambda lo, hi: loop(xw[lo:hi], yc[lo:hi], cc[lo:hi]), elements=x.size)
    return y, code


def max2x2_backward(g, code, shape, last, relu):
    """dx (``shape``, laid out as the input was: ``last`` = channels-last) from g and the codes;
    ``relu``: also apply the fused ReLU's mask (bit :data:`POSITIVE`). A row / column no window
    reaches (odd H, W) gets 0."""
    loop = _kernels()[1]
    oh, ow = g.shape[2:]
    gx = pool.empty_as(shape, last, g.dtype)
    zero, one = g.dtype.type(0), g.dtype.type(1)
    gc, cc, gxw = _as_cells(g, last), _as_cells(code, last), _as_windows(gx, oh, ow, last)

    def part(lo, hi):  # images lo:hi (split across threads by parallel_for)
        loop(gc[lo:hi], cc[lo:hi], gxw[lo:hi], relu, zero, one)
        gx[lo:hi, :, 2 * oh:] = zero
        gx[lo:hi, :, :, 2 * ow:] = zero

    parallel_for(g.shape[0], part, elements=gx.size)
    return gx


def _takes(x, *, kernel_size, stride, padding, dilation, ceil_mode):
    """The compiled kernels are on, x is a float32/64 batch, and the windows are 2x2 / stride 2 without
    padding (with ``ceil_mode`` only where no window would hang over the edge)."""
    return (compiled.is_compiled() and x.ndim == 4 and x.dtype in _DTYPES
            and (kernel_size, stride, padding, dilation) == ((2, 2), (2, 2), (0, 0), (1, 1))
            and (not ceil_mode or (x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0)))


@register(ref.MaxPool2d, when=_takes, first=True)
class MaxPool2d(pool.MaxPool2d):
    """The NumPy kernel's 2x2 max-pool (:class:`nnbasics.kernels.pool.MaxPool2d`) as compiled loops:
    one byte per window instead of three boolean arrays, one pass each way."""

    def forward(self, x, *, kernel_size, stride, padding, dilation, ceil_mode):
        out, code = max2x2_forward(x, x.shape[2] // 2, x.shape[3] // 2)
        if self.needs_grad is not None:
            self.saved_code = (code, x.shape, pool.channels_last(x))
            relu = fusion.producer(x)
            if getattr(relu, "fuses_into_max_pool", False) and relu.needs_grad is not None:
                self.after_relu = (weakref.ref(relu), None)  # the mask is in the codes
        return out

    def backward(self, g):
        code, shape, last = self.saved_code
        relu = self._fused_relu()
        gx = max2x2_backward(g, code, shape, last, relu is not None)
        if relu is not None:
            relu.premasked = gx  # the ReLU passes this exact array on (a sum with other paths it masks)
        return (gx,)
