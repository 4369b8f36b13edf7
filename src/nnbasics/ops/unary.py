"""Elementwise primitives beyond the arithmetic of :mod:`.elementwise`: trigonometric and hyperbolic
functions, and ``log1p``/``expm1`` (accurate near 0, so not composed from ``log``/``exp``).

Each op keeps what its derivative needs and nothing else:

======== =========================== ==========================================
op       z                           dz/da
======== =========================== ==========================================
sin      sin a                       cos a
cos      cos a                       -sin a
tan      tan a                       1 + z^2
asin     arcsin a                    1 / sqrt(1 - a^2)   (inf at |a| = 1)
acos     arccos a                    -1 / sqrt(1 - a^2)
atan     arctan a                    1 / (1 + a^2)
sinh     sinh a                      cosh a
cosh     cosh a                      sinh a
log1p    ln(1 + a)                   1 / (1 + a)
expm1    e^a - 1                     z + 1
======== =========================== ==========================================

Integer inputs become float32 first, as in PyTorch.

Example:
    >>> import nnbasics as nb
    >>> x = nb.tensor([0.0, 0.5], requires_grad=True)
    >>> sin(x).sum().backward()
    >>> [round(v, 4) for v in x.grad.tolist()]
    [1.0, 0.8776]
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor
from .util import float_operand

__all__ = ["acos", "asin", "atan", "cos", "cosh", "expm1", "log1p", "sin", "sinh", "tan"]


class Sin(Function):
    """z = sin a.  dz/da = cos a."""

    def forward(self, a):
        self.a = a
        return xp.sin(a)

    def backward(self, g):
        return (g * xp.cos(self.a),)


class Cos(Function):
    """z = cos a.  dz/da = -sin a."""

    def forward(self, a):
        self.a = a
        return xp.cos(a)

    def backward(self, g):
        return (-(g * xp.sin(self.a)),)


class Tan(Function):
    """z = tan a.  dz/da = 1 + z^2."""

    def forward(self, a):
        self.out = xp.tan(a)
        return self.out

    def backward(self, g):
        return (g * (1 + self.out * self.out),)


class Asin(Function):
    """z = arcsin a.  dz/da = 1 / sqrt(1 - a^2)."""

    def forward(self, a):
        self.a = a
        return xp.arcsin(a)

    def backward(self, g):
        with xp.errstate(divide="ignore"):
            return (g / xp.sqrt(1 - self.a * self.a),)


class Acos(Function):
    """z = arccos a.  dz/da = -1 / sqrt(1 - a^2)."""

    def forward(self, a):
        self.a = a
        return xp.arccos(a)

    def backward(self, g):
        with xp.errstate(divide="ignore"):
            return (-(g / xp.sqrt(1 - self.a * self.a)),)


class Atan(Function):
    """z = arctan a.  dz/da = 1 / (1 + a^2)."""

    def forward(self, a):
        self.a = a
        return xp.arctan(a)

    def backward(self, g):
        return (g / (1 + self.a * self.a),)


class Sinh(Function):
    """z = sinh a.  dz/da = cosh a."""

    def forward(self, a):
        self.a = a
        return xp.sinh(a)

    def backward(self, g):
        return (g * xp.cosh(self.a),)


class Cosh(Function):
    """z = cosh a.  dz/da = sinh a."""

    def forward(self, a):
        self.a = a
        return xp.cosh(a)

    def backward(self, g):
        return (g * xp.sinh(self.a),)


class Log1p(Function):
    """z = ln(1 + a), accurate for small a.  dz/da = 1 / (1 + a)."""

    def forward(self, a):
        self.a = a
        return xp.log1p(a)

    def backward(self, g):
        return (g / (1 + self.a),)


class Expm1(Function):
    """z = e^a - 1, accurate for small a.  dz/da = z + 1."""

    def forward(self, a):
        self.out = xp.expm1(a)
        return self.out

    def backward(self, g):
        return (g * (self.out + 1),)


def _unary(op, name):
    def fn(input) -> Tensor:
        return op.apply(float_operand(input, name))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (see the module table for the derivative). Shape: any -> same."
    return fn


sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tan = _unary(Tan, "tan")
asin = _unary(Asin, "asin")
acos = _unary(Acos, "acos")
atan = _unary(Atan, "atan")
sinh = _unary(Sinh, "sinh")
cosh = _unary(Cosh, "cosh")
log1p = _unary(Log1p, "log1p")
expm1 = _unary(Expm1, "expm1")
