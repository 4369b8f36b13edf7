"""Primitive ops: the only place where derivatives are written.

Each op is a :class:`~nnbasics.autograd.Function` subclass with ``forward`` and
``backward`` side by side, written as plainly as the maths (the reference), plus a
lowercase function that validates its arguments and applies it. Faster implementations are
registered for some of them by :mod:`nnbasics.kernels` (docs/reading-the-code.md). Composites (var, std, ...) live in
:mod:`nnbasics.functional`. The spatial and recurrent ops (``conv``, ``pool``, ``norm``,
``recurrent``, ``embedding``) are imported as submodules; :mod:`nnbasics.functional` re-exports them.
"""

from . import activation, elementwise, indexed, linalg, loss, movement, reduce, scan, unary, util  # noqa: F401
from .elementwise import (  # noqa: F401
    abs,
    add,
    cast,
    clip,
    clone,
    compare,
    div,
    exp,
    floor_divide,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    remainder,
    sigmoid,
    sign,
    sqrt,
    sub,
    tanh,
    where,
)
from .indexed import index_put, masked_fill, scatter, scatter_add  # noqa: F401
from .linalg import linear, matmul  # noqa: F401
from .movement import (  # noqa: F401
    alias,
    as_index,
    broadcast_to,
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    gather,
    getitem,
    pad,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    take_along_axis,
    transpose,
    unsqueeze,
    view,
)
from .reduce import amax, amin, argmax, argmin, log_softmax, logsumexp, mean, softmax, sum  # noqa: F401
