"""Numerical gradient checking by central differences in float64."""

from __future__ import annotations

from dataclasses import dataclass

from .autograd import no_grad
from .backend import xp
from .rng import as_generator
from .tensor import Tensor, as_tensor

__all__ = ["GradcheckError", "GradcheckResult", "gradcheck"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with the numerical one."""


@dataclass
class GradcheckResult:
    """Worst errors per checked input (indices into the inputs that require grad).

    ``max_rel_error[i]`` is max over elements of |a - n| / max(1, |a|, |n|), with
    ``a`` the analytic and ``n`` the numerical gradient: relative for large
    values, absolute for small ones.
    """

    max_abs_error: list
    max_rel_error: list
    input_index: list

    @property
    def worst(self) -> float:
        return max(self.max_rel_error, default=0.0)


def _scalar_of(fn, inputs, w):
    out = fn(*inputs)
    return float((xp.asarray(out._array, dtype=xp.float64) * w).sum())


def gradcheck(fn, *inputs, eps: float = 1e-6, tol: float = 1e-6, rng=0, raise_exception: bool = True):
    """Compare autograd's gradients of ``fn`` with central differences.

    The output is contracted with a random upstream gradient ``w`` (so the
    check sees more than ``sum``): L = sum(fn(*inputs) * w). Each input that
    requires grad is perturbed element by element, ±eps, in float64.

    Args:
        fn: callable taking ``inputs`` and returning a Tensor.
        *inputs: Tensors (float64 for those that require grad) and other arguments.
        eps: finite-difference step.
        tol: largest accepted error |a - n| / max(1, |a|, |n|).
        rng: seed or Generator for the upstream gradient.
        raise_exception: raise :class:`GradcheckError` on failure (else just return).

    Returns:
        GradcheckResult with the worst absolute and relative error per input.

    Example:
        >>> import nnbasics as nb
        >>> x = nb.randn(3, 4, rng=0, dtype="float64", requires_grad=True)
        >>> gradcheck(lambda t: (t * t).tanh(), x).worst < 1e-6
        True
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; create them with requires_grad=True.")
    for i in checked:
        if inputs[i].dtype != xp.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; central differences need float64. Use .double()."
            )
    for i in checked:
        inputs[i].grad = None
    out = fn(*inputs)
    w = as_generator(rng).standard_normal(out.shape)
    (out * as_tensor(w.astype(out.dtype))).sum().backward()
    abs_errs, rel_errs = [], []
    with no_grad():
        for i in checked:
            t = inputs[i]
            analytic = xp.zeros(t.shape) if t.grad is None else t.grad._array.astype(xp.float64)
            numeric = xp.empty(t.shape)
            flat = t._array.reshape(-1)  # a view: perturbing it perturbs t
            nflat = numeric.reshape(-1)
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                fp = _scalar_of(fn, inputs, w)
                flat[k] = orig - eps
                fm = _scalar_of(fn, inputs, w)
                flat[k] = orig
                nflat[k] = (fp - fm) / (2 * eps)
            diff = xp.abs(analytic - numeric)
            scale = xp.maximum(1.0, xp.maximum(xp.abs(analytic), xp.abs(numeric)))
            abs_errs.append(float(diff.max(initial=0.0)))
            rel_errs.append(float((diff / scale).max(initial=0.0)))
    result = GradcheckResult(abs_errs, rel_errs, checked)
    if raise_exception and result.worst > tol:
        rows = ", ".join(f"input {i}: {r:.3g}" for i, r in zip(checked, rel_errs))
        raise GradcheckError(f"gradcheck failed (tol {tol:g}); worst relative error per input: {rows}")
    return result
