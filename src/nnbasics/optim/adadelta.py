"""Adadelta: learning rates from running averages of squared gradients and of squared updates."""

from __future__ import annotations

from ..backend import xp
from .optimizer import Optimizer, check_nonneg, check_unit_interval, effective_grad, speed_flags

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012, https://arxiv.org/abs/1212.5701); PyTorch's update rule (with its ``lr``).

    .. math::
        g_t = \pm\nabla_\theta f + \lambda\theta_{t-1}, \qquad
        v_t = \rho v_{t-1} + (1-\rho) g_t^2, \\
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \qquad
        u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad
        \theta_t = \theta_{t-1} - \gamma \Delta_t

    with :math:`v_0 = u_0 = 0`. Zeiler's method has no learning rate (γ = 1, the default).

    Args:
        params: iterable of Parameters or of param-group dicts.
        lr: γ, scales the update (>= 0).
        rho: ρ, decay of both running averages, in [0, 1].
        eps: ε inside both square roots (>= 0).
        weight_decay: L2 penalty λ added to the gradient (>= 0).
        maximize: ascend the objective instead of descending.

    State (per parameter): ``step`` (int), ``square_avg`` (v), ``acc_delta`` (u), each the parameter's shape.

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.ones(2))
        >>> opt = Adadelta([w])
        >>> (w * w).sum().backward(); opt.step()
        >>> round(float(w[0]), 5)  # sqrt(eps) / sqrt(0.1 * 4 + eps) * 2 = 0.00316
        0.99684
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        speed_flags(type(self).__name__, differentiable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": bool(maximize)}
        super().__init__(params, defaults)

    def _check_hyperparams(self, group, where):
        for name in ("lr", "eps", "weight_decay"):
            check_nonneg("Adadelta", name, group[name], where)
        check_unit_interval("Adadelta", "rho", group["rho"], where)

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            state["acc_delta"] = xp.zeros_like(param)
        state["step"] += 1
        rho, eps, lr = float(group["rho"]), float(group["eps"]), float(group["lr"])
        g, _ = effective_grad(param, grad, float(group["weight_decay"]), group["maximize"])
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1.0 - rho) * (g * g)
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g  # NOTE: PyTorch's order: sqrt(u+eps) / sqrt(v+eps) * g
        u *= rho
        u += (1.0 - rho) * (delta * delta)
        delta *= lr
        param -= delta
