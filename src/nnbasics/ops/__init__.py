"""Primitive ops: the only place where derivatives are written.

Each op is a :class:`~nnbasics.autograd.Function` subclass with ``forward`` and
``backward`` side by side, plus a lowercase function that validates its
arguments and applies it. Composites (var, std, ...) live in
:mod:`nnbasics.functional`. The spatial and recurrent ops (``conv``, ``pool``, ``norm``,
``recurrent``, ``embedding``) are imported as submodules; :mod:`nnbasics.functional` re-exports them.
"""

from . import activation, elementwise, linalg, loss, movement, reduce, util  # noqa: F401
from .elementwise import (  # noqa: F401
    abs, add, cast, clip, compare, div, exp, log, maximum, minimum, mul, neg, pow, relu,
    sigmoid, sign, sqrt, sub, tanh, where,
)
from .linalg import linear, matmul  # noqa: F401
from .movement import (  # noqa: F401
    broadcast_to, cat, concatenate, expand, flatten, gather, getitem, pad, permute, reshape,
    split, squeeze, stack, take_along_axis, transpose, unsqueeze,
)
from .reduce import argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, sum  # noqa: F401
