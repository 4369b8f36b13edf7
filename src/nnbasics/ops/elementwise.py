"""Elementwise primitives, each with its forward and backward side by side.

Binary ops broadcast as NumPy does; their backward undoes broadcasting only
through :func:`~nnbasics.ops.util.sum_to`.
"""

from __future__ import annotations

import numbers

from .. import autograd as _autograd
from ..autograd import Function
from ..backend import default_float, is_float_dtype, xp
from ..tensor import Tensor
from .util import as_operand, float_operand, operands, sum_to

__all__ = ["abs", "add", "cast", "clip", "clone", "compare", "div", "exp", "floor_divide", "log", "logical", "maximum",
           "minimum", "mul", "neg", "pow", "relu", "remainder", "sigmoid", "sign", "sqrt", "sub", "tanh", "where"]


class Add(Function):
    """z = a + b.  dz/da = 1, dz/db = 1."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        return sum_to(g, self.shapes[0]), sum_to(g, self.shapes[1])


class Sub(Function):
    """z = a - b.  dz/da = 1, dz/db = -1."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g):
        gb = sum_to(-g, self.shapes[1]) if self.needs_grad[1] else None
        return sum_to(g, self.shapes[0]), gb


class Mul(Function):
    """z = a * b.  dz/da = b, dz/db = a."""

    def forward(self, a, b):
        needs = self.needs_grad
        if needs:  # keep only what a gradient needs (as PyTorch): b for a's, a for b's
            self.shapes = a.shape, b.shape
            self.a, self.b = (a if needs[1] else None), (b if needs[0] else None)
        return a * b

    def backward(self, g):
        ga = sum_to(g * self.b, self.shapes[0]) if self.needs_grad[0] else None
        gb = sum_to(g * self.a, self.shapes[1]) if self.needs_grad[1] else None
        return ga, gb


class Div(Function):
    """z = a / b.  dz/da = 1/b, dz/db = -a/b^2."""

    def forward(self, a, b):
        needs = self.needs_grad
        if needs:  # b is needed by both gradients, a only by b's
            self.shapes = a.shape, b.shape
            self.a, self.b = (a if needs[1] else None), b
        return a / b

    def backward(self, g):
        b = self.b
        gb_ = g / b
        ga = sum_to(gb_, self.shapes[0]) if self.needs_grad[0] else None
        gb = sum_to(-gb_ * self.a / b, self.shapes[1]) if self.needs_grad[1] else None
        return ga, gb


class Neg(Function):
    """z = -a."""

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class PowScalar(Function):
    """z = a ** p for a constant number p.  dz/da = p a^(p-1) (0 for p = 0)."""

    def forward(self, a, p):
        self.a, self.p = a, p
        return a**p

    def backward(self, g):
        p = self.p
        if p == 2:
            return (g * (2 * self.a),)
        if p == 0:  # NOTE: 0 * a^-1 is nan at a = 0; the derivative of a^0 = 1 is 0 everywhere (PyTorch too)
            return (xp.zeros_like(g),)
        return (g * (p * self.a ** (p - 1)),)


class Pow(Function):
    """z = a ** b for tensors.  dz/da = b a^(b-1) (0 where b = 0), dz/db = a^b log a (0 where a = 0)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        ga = None
        if self.needs_grad[0]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                # NOTE: b a^(b-1) is 0 * inf = nan at a = 0, b = 0; a^0 = 1 has derivative 0 (PyTorch masks it too)
                ga = sum_to(g * xp.where(b == 0, 0, b * a ** (b - 1)).astype(self.out.dtype), a.shape)
        gb = None
        if self.needs_grad[1]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                loga = xp.where(a > 0, xp.log(xp.where(a > 0, a, 1)), 0).astype(self.out.dtype)
            gb = sum_to(g * self.out * loga, b.shape)
        return ga, gb


class Exp(Function):
    """z = e^a.  dz/da = z."""

    def forward(self, a):
        self.out = xp.exp(a)
        return self.out

    def backward(self, g):
        return (g * self.out,)


class Log(Function):
    """z = ln a.  dz/da = 1/a."""

    def forward(self, a):
        self.a = a
        return xp.log(a)

    def backward(self, g):
        return (g / self.a,)


class Sqrt(Function):
    """z = sqrt(a).  dz/da = 1 / (2 z) (inf at 0)."""

    def forward(self, a):
        self.out = xp.sqrt(a)
        return self.out

    def backward(self, g):
        return (g / (2 * self.out),)


class Abs(Function):
    """z = |a|.  dz/da = sign(a), taken as 0 at the kink a = 0 (as PyTorch)."""

    def forward(self, a):
        self.a = a
        return xp.abs(a)

    def backward(self, g):
        return (g * xp.sign(self.a),)


class Sign(Function):
    """z = sign(a) in {-1, 0, 1}.  Gradient 0 everywhere (undefined at 0, taken as 0)."""

    def forward(self, a):
        self.a = a
        return xp.sign(a)

    def backward(self, g):
        return (xp.zeros_like(self.a),)


class Tanh(Function):
    """z = tanh a.  dz/da = 1 - z^2."""

    def forward(self, a):
        self.out = xp.tanh(a)
        return self.out

    def backward(self, g):
        return (g * (1 - self.out * self.out),)


class Sigmoid(Function):
    """z = 1 / (1 + e^-a), computed as (1 + tanh(a/2)) / 2: no overflow for any |a|.

    dz/da = z (1 - z), at most 1/4 (the factor that makes deep sigmoid nets vanish).
    """

    def forward(self, a):
        out = xp.tanh(a * 0.5)
        out += 1
        out *= 0.5
        self.out = out
        return out

    def backward(self, g):
        z = self.out
        return (g * z * (1 - z),)


class ReLU(Function):
    """z = max(a, 0).  dz/da = 1 where a > 0, 0 where a < 0, and 0 at the kink a = 0 (as PyTorch).

    The derivative is a mask: backward lets the gradient through where the input was positive.
    """

    def forward(self, a):
        self.mask = a > 0
        return xp.maximum(a, 0)

    def backward(self, g):
        return (g * self.mask,)


class Maximum(Function):
    """z = max(a, b) elementwise.  The gradient goes to the larger input; ties split it half and half."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.maximum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        w = (a > b) + 0.5 * (a == b)
        w = w.astype(g.dtype, copy=False)
        ga = sum_to(g * w, a.shape) if self.needs_grad[0] else None
        gb = sum_to(g * (1 - w), b.shape) if self.needs_grad[1] else None
        return ga, gb


class Minimum(Function):
    """z = min(a, b) elementwise.  The gradient goes to the smaller input; ties split it."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.minimum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        w = (a < b) + 0.5 * (a == b)
        w = w.astype(g.dtype, copy=False)
        ga = sum_to(g * w, a.shape) if self.needs_grad[0] else None
        gb = sum_to(g * (1 - w), b.shape) if self.needs_grad[1] else None
        return ga, gb


class Where(Function):
    """z = a where cond else b (cond is a bool array, not differentiated)."""

    def forward(self, a, b, cond):
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return xp.where(cond, a, b)

    def backward(self, g):
        zero = xp.zeros((), dtype=g.dtype)
        ga = sum_to(xp.where(self.cond, g, zero), self.shapes[0]) if self.needs_grad[0] else None
        gb = sum_to(xp.where(self.cond, zero, g), self.shapes[1]) if self.needs_grad[1] else None
        return ga, gb


class Clip(Function):
    """z = min(max(a, lo), hi).  dz/da = 1 where lo <= a <= hi (bounds included, as PyTorch), else 0."""

    def forward(self, a, lo, hi):
        self.mask = xp.ones(a.shape, dtype=bool)
        if lo is not None:
            self.mask &= a >= lo
        if hi is not None:
            self.mask &= a <= hi
        return xp.clip(a, lo, hi)

    def backward(self, g):
        return (g * self.mask,)


class Cast(Function):
    """z = a converted to another dtype; the gradient is converted back."""

    changes_dtype = True

    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, g):
        return (g,)  # the engine casts it to the input's dtype


class Clone(Function):
    """z = a copy of a in its own memory (C order when ``contiguous``).  dz/da = 1."""

    def forward(self, a, contiguous):
        return xp.array(a, order="C" if contiguous else "K", copy=True)

    def backward(self, g):
        return (g,)


# ----------------------------------------------------------------- functions
def add(a, b) -> Tensor:
    """a + b, broadcasting."""
    return Add.apply(*operands(a, b))


def sub(a, b) -> Tensor:
    """a - b, broadcasting. Refused for two bool tensors (as NumPy and PyTorch)."""
    a, b = operands(a, b)
    if a.dtype == xp.bool_ and b.dtype == xp.bool_:
        raise TypeError("sub: cannot subtract two bool tensors (bool - bool). Convert first: a.long() - b.long() "
                        "or a.float() - b.float().")
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    return Mul.apply(*operands(a, b))


def div(a, b) -> Tensor:
    """a / b, broadcasting (true division: integers give float)."""
    a, b = operands(a, b)
    if not is_float_dtype(a.dtype) and not is_float_dtype(b.dtype):
        a, b = cast(a, default_float), cast(b, default_float)
    return Div.apply(a, b)


def neg(a) -> Tensor:
    """-a. Refused for a bool tensor (as NumPy and PyTorch)."""
    a = as_operand(a)
    if a.dtype == xp.bool_:
        raise TypeError("neg: cannot negate a bool tensor. Convert first: -x.long() or -x.float().")
    return Neg.apply(a)


def pow(a, b) -> Tensor:
    """a ** b. A number exponent is a constant; a tensor exponent is differentiated too."""
    if isinstance(b, numbers.Number) and not isinstance(b, bool) and isinstance(a, Tensor):
        b = b.item() if isinstance(b, xp.generic) else b  # NOTE: a NumPy scalar would promote float32 to float64
        if isinstance(b, float) and not is_float_dtype(a.dtype):
            a = cast(a, default_float)  # int tensor ** float: float32, as PyTorch
        elif isinstance(b, numbers.Integral) and b < 0 and not is_float_dtype(a.dtype):
            raise ValueError(f"pow: an integer tensor ({a.dtype}) to a negative integer power ({b}) is not an "
                             f"integer. Convert first: x.float() ** {b}.")
        return PowScalar.apply(a, p=b)
    return Pow.apply(*operands(a, b))


def exp(a) -> Tensor:
    """e ** a."""
    return Exp.apply(float_operand(a, "exp"))


def log(a) -> Tensor:
    """Natural logarithm."""
    return Log.apply(float_operand(a, "log"))


def sqrt(a) -> Tensor:
    """Square root."""
    return Sqrt.apply(float_operand(a, "sqrt"))


def abs(a) -> Tensor:  # mirrors numpy/torch
    """|a|; gradient 0 at a = 0."""
    return Abs.apply(as_operand(a))


def sign(a) -> Tensor:
    """-1, 0 or 1; zero gradient."""
    return Sign.apply(as_operand(a))


def tanh(a) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(float_operand(a, "tanh"))


def sigmoid(a) -> Tensor:
    """Logistic sigmoid 1 / (1 + e^-a), finite for any input."""
    return Sigmoid.apply(float_operand(a, "sigmoid"))


def relu(a) -> Tensor:
    """max(a, 0); gradient 0 at a = 0."""
    return ReLU.apply(as_operand(a))


def maximum(a, b) -> Tensor:
    """Elementwise maximum, broadcasting; ties split the gradient."""
    return Maximum.apply(*operands(a, b))


def minimum(a, b) -> Tensor:
    """Elementwise minimum, broadcasting; ties split the gradient."""
    return Minimum.apply(*operands(a, b))


def where(cond, a=None, b=None) -> Tensor:
    """Pick ``a`` where ``cond`` is true, else ``b`` (all three broadcast).

    ``where(cond)`` alone is ``nonzero(cond, as_tuple=True)``, as in PyTorch.
    """
    if a is None and b is None:
        from ..functional.discrete import nonzero

        return nonzero(cond, as_tuple=True)
    c = cond._array if isinstance(cond, Tensor) else xp.asarray(cond)
    if c.dtype != xp.bool_:
        raise TypeError(f"where: cond must be a bool tensor; got {c.dtype}. Use a comparison such as x > 0.")
    a, b = operands(a, b)
    return Where.apply(a, b, cond=c)


def clip(a, min=None, max=None) -> Tensor:  # PyTorch's names
    """Clamp into [min, max] (either may be None); gradient 1 inside, bounds included."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max.")
    # NOTE: NumPy scalar bounds would promote float32 to float64; Python numbers keep the input's dtype
    min, max = (v.item() if isinstance(v, xp.generic) else v for v in (min, max))
    a = as_operand(a)
    if any(isinstance(v, (Tensor, xp.ndarray)) for v in (min, max)):
        return _clip_by_tensors(a, min, max)
    if not is_float_dtype(a.dtype) and any(isinstance(v, float) for v in (min, max)):
        a = cast(a, default_float)  # int tensor clipped to a float bound: float32, as PyTorch
    return Clip.apply(a, lo=min, hi=max)


def _clip_by_tensors(a, lo, hi) -> Tensor:
    """``clamp(x, min=t, max=u)`` with tensor bounds, as PyTorch: the gradient goes to x where
    lo <= x <= hi (ties included), else to the bound that was taken; lo > hi gives hi. Composed
    of recorded ops (an ONNX trace follows the bounds)."""
    if lo is not None:
        lo = as_operand(lo)
        a = where(compare(a, lo, "lt"), lo, a)
    if hi is not None:
        hi = as_operand(hi)
        a = where(compare(a, hi, "gt"), hi, a)
    return a


def cast(a, dtype) -> Tensor:
    """Convert to ``dtype``. Differentiable between floating dtypes; to an integer dtype the result has no grad."""
    a = as_operand(a)
    dtype = xp.dtype(dtype)
    if a.dtype == dtype:
        return a
    if not is_float_dtype(dtype):
        out = Tensor._make(a._array.astype(dtype), False, None)
        if _autograd._RECORDING:
            _autograd.record_op("cast", (a,), {"dtype": dtype}, out)
        return out
    return Cast.apply(a, dtype=dtype)


def clone(a, contiguous: bool = False) -> Tensor:
    """A copy of ``a`` with its own memory; the gradient passes through (``Tensor.clone``)."""
    return Clone.apply(as_operand(a), contiguous=contiguous)


def floor_divide(a, b) -> Tensor:
    """a // b, rounded toward minus infinity (PyTorch's ``//``); no gradient (it is 0 almost everywhere)."""
    a, b = operands(a, b)
    out = Tensor._make(xp.asarray(xp.floor_divide(a._array, b._array)), False, None)
    if _autograd._RECORDING:
        _autograd.record_op("floor_divide", (a, b), {}, out)
    return out


def remainder(a, b) -> Tensor:
    """a % b with the sign of ``b`` (Python's and PyTorch's ``%``): a - floor(a / b) * b.

    Composed, so the gradient is PyTorch's: 1 for ``a``, -floor(a / b) for ``b``.
    """
    a, b = operands(a, b)
    return sub(a, mul(floor_divide(a, b), b))


_LOGICAL = {"and": xp.bitwise_and, "or": xp.bitwise_or, "xor": xp.bitwise_xor}


def logical(op: str, a, b=None) -> Tensor:
    """``&``, ``|``, ``^`` and ``~`` of bool tensors (logical) or integer tensors (bitwise); no gradient."""
    if b is None:
        a = as_operand(a)
        arrays = (a._array,)
    else:
        a, b = operands(a, b)
        arrays = (a._array, b._array)
    if any(x.dtype.kind not in "biu" for x in arrays):
        raise TypeError(f"{op}: only bool and integer tensors; got {[str(x.dtype) for x in arrays]}. "
                        "Compare first (x > 0) to get a bool tensor.")
    out = Tensor._make(xp.asarray(xp.invert(arrays[0]) if b is None else _LOGICAL[op](*arrays)), False, None)
    if _autograd._RECORDING:  # NOTE: an ONNX trace must see a mask made from the input (~(x == 0))
        _autograd.record_op("logical", (a,) if b is None else (a, b), {"op": op}, out)
    return out


_COMPARE = {"lt": xp.less, "le": xp.less_equal, "gt": xp.greater, "ge": xp.greater_equal,
            "eq": xp.equal, "ne": xp.not_equal}


def compare(a, b, op: str) -> Tensor:
    """Elementwise comparison (lt, le, gt, ge, eq, ne): a bool tensor without gradient."""
    a, b = operands(a, b)
    try:
        out = _COMPARE[op](a._array, b._array)
    except ValueError:
        raise ValueError(f"{op}: cannot compare shapes {a.shape} and {b.shape}.") from None
    out = Tensor._make(out, False, None)
    if _autograd._RECORDING:
        _autograd.record_op("compare", (a, b), {"op": op}, out)
    return out
