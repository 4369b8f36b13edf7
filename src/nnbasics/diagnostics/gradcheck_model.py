r"""gradcheck_model: backprop's parameter gradients against central differences, layer by layer, in float64.

For each parameter p of a float64 deep copy of the model (the user's model is not touched), the
analytic gradient dL/dp from one backward pass is compared with the central difference

    n_i = (L(p + eps e_i) - L(p - eps e_i)) / (2 eps)

at up to ``max_coords`` coordinates i drawn without replacement by ``rng`` (all coordinates of
smaller parameters). The error of a coordinate is

    rel_i = |a_i - n_i| / max(|a_i|, |n_i|, floor)

relative for gradients above ``floor`` (1e-4), absolute below, so that float64 round-off
(~1e-10 in n_i for a loss of order 1 at eps = 1e-6) cannot fail a tiny gradient. A parameter is
``ok`` when its largest error is at most ``tol`` (1e-4): a correct backward gives ~1e-8, a wrong
one (a missing factor, a transposed weight) gives ~1e-1.

Randomness is frozen: every module holding a NumPy Generator in ``.rng`` (Dropout, Dropout2d,
AlphaDropout...) gets a fresh copy of the same generator state before every evaluation, so the
analytic pass and all 2 x coordinates perturbed passes draw identical dropout masks (seeding each
evaluation identically; the copy's generators are what is reset, never the user's). Batch norm in
train mode is deterministic given the batch; its running statistics change between evaluations
but do not enter a train-mode output.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import numpy as np

from .._validate import is_int, is_real
from ..autograd import enable_grad, no_grad
from ..nn.module import Module
from ..rng import as_generator
from ..tensor import Tensor, as_tensor
from .layers import first_tensor, layer_kind

__all__ = ["GradcheckReport", "GradcheckRow", "gradcheck_model"]


@dataclass
class GradcheckRow:
    """One parameter: its layer, how many coordinates were checked, and the worst errors."""

    layer: str
    param: str
    kind: str
    shape: tuple
    checked: int
    max_abs_error: float
    max_rel_error: float
    ok: bool


@dataclass
class GradcheckReport:
    """Result of :func:`gradcheck_model`: ``rows`` (one per parameter, in model order), ``tol``, ``ok``."""

    rows: list
    tol: float
    eps: float
    loss: float

    @property
    def ok(self) -> bool:
        """True when every checked parameter's max relative error is at most ``tol``."""
        return all(r.ok for r in self.rows)

    def by_layer(self) -> dict:
        """``{layer: max relative error over its parameters}``, in model order."""
        out = {}
        for r in self.rows:
            out[r.layer] = max(out.get(r.layer, 0.0), r.max_rel_error)
        return out

    def failing(self) -> list:
        """Names ``layer.param`` of the parameters whose gradient disagrees."""
        return [f"{r.layer}.{r.param}" for r in self.rows if not r.ok]

    def findings(self) -> list:
        return [f"layer {r.layer} ({r.kind}): the gradient of {r.param} disagrees with central differences "
                f"(max relative error {r.max_rel_error:.2g} > {self.tol:g}) — check the backward of this layer "
                "and of every op between it and the loss" for r in self.rows if not r.ok]

    def __str__(self) -> str:
        lines = [f"gradcheck: {'ok' if self.ok else 'FAILED'} (tol {self.tol:g}, eps {self.eps:g}, loss {self.loss:.6g})",
                 "", "| layer | param | kind | shape | checked | max abs error | max rel error | ok |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r.layer} | {r.param} | {r.kind} | {tuple(r.shape)} | {r.checked} | "
                         f"{r.max_abs_error:.2e} | {r.max_rel_error:.2e} | {'yes' if r.ok else 'NO'} |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from .stats import jsonable

        return jsonable({"ok": self.ok, "tol": self.tol, "eps": self.eps, "loss": self.loss,
                         "rows": [{**asdict(r), "shape": list(r.shape)} for r in self.rows]})


def _f64(a):
    a = a._array if isinstance(a, Tensor) else np.asarray(a)
    return as_tensor(a.astype(np.float64)) if np.issubdtype(a.dtype, np.floating) else as_tensor(a)


def gradcheck_model(model: Module, x, y, loss="cross_entropy", *, max_coords: int = 16, eps: float = 1e-6,
                    tol: float = 1e-4, floor: float = 1e-4, rng=0, train: bool | None = True) -> GradcheckReport:
    """Check every parameter gradient of ``model`` on one batch by central differences (see the module docstring).

    Args:
        model: the Module to check; it is deep-copied and converted to float64 (not modified).
        x, y: one batch and its targets (keep it small: each checked coordinate costs two forwards).
        loss: a loss name of ``fit`` ('cross_entropy', 'mse'...), a callable or an nn loss module.
        max_coords: coordinates checked per parameter at most, drawn by ``rng``.
        eps: finite-difference step.
        tol: largest accepted relative error.
        floor: denominators below it make the error absolute.
        rng: seed or Generator choosing the coordinates.
        train: True checks in train mode (dropout masks frozen, batch norm on batch statistics),
            False in eval mode, None in the model's current modes.

    Returns:
        GradcheckReport: ``.ok``, ``.rows`` (layer, param, checked, max errors, ok), ``.by_layer()``,
        ``.findings()``, ``str()`` markdown.

    Example:
        >>> import numpy as np
        >>> from nnbasics.models.mlp import mlp
        >>> net = mlp(in_features=3, hidden=[5], out_features=2, dropout=0.3, rng=0)
        >>> rep = gradcheck_model(net, np.ones((4, 3)), np.array([0, 1, 1, 0]))
        >>> rep.ok, [r.param for r in rep.rows]
        (True, ['weight', 'bias', 'weight', 'bias'])
    """
    owner = "gradcheck_model"
    if not isinstance(model, Module):
        raise TypeError(f"{owner}: model must be an nnbasics Module; got {type(model).__name__}.")
    if not is_int(max_coords) or max_coords < 1:
        raise ValueError(f"{owner}: max_coords must be an int >= 1. Got {max_coords!r}.")
    for name, v in (("eps", eps), ("tol", tol), ("floor", floor)):
        if not is_real(v) or not v > 0:
            raise ValueError(f"{owner}: {name} must be a positive number. Got {v!r}.")
    from ..training.fit import resolve_loss

    loss_fn = resolve_loss(loss)
    gen = as_generator(rng)
    net = copy.deepcopy(model).to(np.float64)
    if train is not None:
        net.train(bool(train))
    evaluate = _frozen_loss(net, loss_fn, _f64(x), _f64(y), owner)
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(f"{owner}: the model has no trainable parameter to check.")
    for _, p in named:
        p.grad = None
    with enable_grad():
        value = evaluate()
        value.backward()
    kinds = {n: layer_kind(m) for n, m in net.named_modules()}
    rows = []
    with no_grad():
        for full, p in named:
            layer, _, pname = full.rpartition(".")
            size = int(p._array.size)
            idx = np.arange(size) if size <= max_coords else np.sort(gen.choice(size, max_coords, replace=False))
            max_abs, max_rel = _check_coordinates(p, idx, evaluate, eps, floor)
            rows.append(GradcheckRow(layer=layer or kinds.get("", ""), param=pname, kind=kinds.get(layer, ""),
                                     shape=tuple(p.shape), checked=len(idx), max_abs_error=max_abs,
                                     max_rel_error=max_rel, ok=bool(max_rel <= tol)))
    return GradcheckReport(rows=rows, tol=float(tol), eps=float(eps), loss=float(value._array))


def _frozen_loss(net, loss_fn, xt, yt, owner):
    """``evaluate() -> loss Tensor`` of ``net`` on the batch, every module's random stream reset to its state now,
    so each evaluation draws the same dropout masks."""
    stochastic = [(m, copy.deepcopy(m.rng)) for m in net.modules()
                  if isinstance(getattr(m, "rng", None), np.random.Generator)]

    def evaluate():
        for m, state in stochastic:
            m.rng = copy.deepcopy(state)  # NOTE: same masks at every evaluation
        out = first_tensor(net(xt))
        if out is None:
            raise TypeError(f"{owner}: the model returned no Tensor; cannot compute a loss.")
        return loss_fn(out, yt)

    return evaluate


def _check_coordinates(p, idx, evaluate, eps, floor) -> tuple:
    """``(max |a - n|, max relative error)`` of parameter ``p``'s coordinates ``idx`` (flat): ``a`` its
    autograd gradient, ``n`` the central difference ``(L(w + eps) - L(w - eps)) / (2 eps)`` (inf if either is
    not finite)."""
    a_all = np.zeros(p.shape) if p.grad is None else np.asarray(p.grad._array, np.float64)
    max_abs = max_rel = 0.0
    for i in idx:
        pos = np.unravel_index(int(i), p.shape)
        orig = float(p._array[pos])
        p._array[pos] = orig + eps
        lp = float(evaluate()._array)
        p._array[pos] = orig - eps
        lm = float(evaluate()._array)
        p._array[pos] = orig
        n = (lp - lm) / (2 * eps)
        a = float(a_all.reshape(-1)[i])
        err = abs(a - n)
        max_abs = max(max_abs, err)
        max_rel = max(max_rel, err / max(abs(a), abs(n), floor))
        if not math.isfinite(n) or not math.isfinite(a):
            max_rel = math.inf
    return max_abs, max_rel
