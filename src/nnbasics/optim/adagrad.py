"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from ..backend import xp
from .optimizer import Optimizer, check_nonneg, effective_grad, speed_flags

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan and Singer, 2011, https://jmlr.org/papers/v12/duchi11a.html); PyTorch's update rule.

    .. math::
        g_t = \pm\nabla_\theta f + \lambda\theta_{t-1}, \qquad
        \tilde\gamma_t = \frac{\gamma}{1 + (t-1)\eta}, \\
        s_t = s_{t-1} + g_t^2 \;(s_0 = \text{initial\_accumulator\_value}), \qquad
        \theta_t = \theta_{t-1} - \tilde\gamma_t \frac{g_t}{\sqrt{s_t} + \epsilon}

    Args:
        params: iterable of Parameters or of param-group dicts.
        lr: learning rate γ (>= 0).
        lr_decay: η, decays the learning rate as γ / (1 + (t-1)η) (>= 0).
        weight_decay: L2 penalty λ added to the gradient (>= 0).
        initial_accumulator_value: starting value s_0 of the sum of squares (>= 0).
        eps: ε added to the denominator (>= 0).
        maximize: ascend the objective instead of descending.

    State (per parameter): ``step`` (int), ``sum`` (shape of the parameter).

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.ones(2))
        >>> opt = Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(float(w[0]), 4)  # first step moves every coordinate by lr
        0.9
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        speed_flags(type(self).__name__, differentiable)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "maximize": bool(maximize)}
        super().__init__(params, defaults)

    def _check_hyperparams(self, group, where):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_nonneg("Adagrad", name, group[name], where)

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(param, float(group["initial_accumulator_value"]))
        state["step"] += 1
        step, acc = state["step"], state["sum"]
        g, _ = effective_grad(param, grad, float(group["weight_decay"]), group["maximize"])
        clr = float(group["lr"]) / (1.0 + (step - 1) * float(group["lr_decay"]))
        tmp = xp.multiply(g, g)
        acc += tmp
        xp.sqrt(acc, out=tmp)
        tmp += float(group["eps"])
        xp.divide(g, tmp, out=tmp)
        tmp *= clr
        param -= tmp
