"""The LSTM's backward gate step as one compiled loop (Numba, optional).

:func:`nnbasics.kernels.recurrent._lstm_rows_backward` makes each step's gate gradients in ~15
NumPy passes over (n, H) and (n, 4H) slabs: ~49 us a step for the char-LSTM (batch 32, H 256),
as much as a third of its step product. Compiled, one loop visits each (row, unit) once and makes
every quantity of that step there, in the NumPy passes' order of operations (no fused
multiply-adds), so the gradients are the NumPy kernel's to the bit::

    dh  = dh_next + g_t
    do  = dh * tanh(c_t)
    dc  = dc + (dh - do * tanh(c_t)) * o          (= dc + dh * o * (1 - tanh(c_t)^2))
    di, df, dg = dc * g, dc * c_prev, dc * i      then dc_prev = dc * f
    da  = (do (o - o o), di (i - i i), df (f - f f), dg (1 - g g))     to the pre-activations

with the activations in the kernel's gate order (o, i, f, g). ``dh_next`` is the previous
step's product ``da W_hh``, which the caller makes. On only where :mod:`nnbasics.compiled` says so.
"""

from __future__ import annotations

import threading

from .. import compiled

__all__ = ["lstm_gates_backward"]

_lock = threading.Lock()
_compiled = None


def _gates_backward(dh, g, a, tc, c_prev, dc, d, one):
    """One step (arrays (n, H), a and d (n, 4H)): d = the pre-activation gradients, dc made dc_prev
    in place; dh is read only (the caller overwrites it with ``d W_hh``). ``one``: 1 as the arrays'
    dtype (a Python 1 would make Numba compute ``1 - g g`` in float64)."""
    n, h = dh.shape
    for r in range(n):
        for j in range(h):
            dhv = dh[r, j] + g[r, j]
            o, i, f, gg = a[r, j], a[r, h + j], a[r, 2 * h + j], a[r, 3 * h + j]
            t = tc[r, j]
            do = dhv * t
            dcv = dc[r, j] + (dhv - do * t) * o
            d[r, j] = do * (o - o * o)
            d[r, h + j] = (dcv * gg) * (i - i * i)
            d[r, 2 * h + j] = (dcv * c_prev[r, j]) * (f - f * f)
            d[r, 3 * h + j] = (dcv * i) * (one - gg * gg)
            dc[r, j] = dcv * f


def lstm_gates_backward(dh, g, a, tc, c_prev, dc, d):
    """:func:`_gates_backward`, compiled (once; Numba caches the machine code across processes)."""
    global _compiled
    if _compiled is None:
        with _lock:
            if _compiled is None:
                _compiled = compiled.numba().njit(nogil=True, cache=True)(_gates_backward)
    _compiled(dh, g, a, tc, c_prev, dc, d, d.dtype.type(1))
