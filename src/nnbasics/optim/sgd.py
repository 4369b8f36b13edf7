"""Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay."""

from __future__ import annotations

from ..backend import xp
from .optimizer import Optimizer, check_nonneg, effective_grad, speed_flags

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum; PyTorch's update rule.

    .. math::
        g_t = \pm\nabla_\theta f + \lambda\theta_{t-1}, \qquad
        b_t = \mu b_{t-1} + (1-\tau) g_t \;(b_1 = g_1), \\
        \theta_t = \theta_{t-1} - \gamma\,(g_t + \mu b_t \text{ if nesterov else } b_t)

    With ``momentum=0`` this is plain ``θ -= lr * g``. Note the momentum form is
    PyTorch's (lr applied after the buffer), not Sutskever et al.'s (lr inside it);
    they differ only when lr changes during training.

    Args:
        params: iterable of Parameters or of param-group dicts.
        lr: learning rate γ (>= 0).
        momentum: momentum factor μ (>= 0).
        dampening: dampening τ of the momentum (>= 0); must be 0 with Nesterov.
        weight_decay: L2 penalty λ added to the gradient (>= 0).
        nesterov: Nesterov momentum (Sutskever et al., 2013); needs momentum > 0.
        maximize: ascend the objective instead of descending.

    State (per parameter): ``momentum_buffer`` (shape of the parameter) when momentum != 0.

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.ones(2))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        speed_flags(type(self).__name__, differentiable)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": bool(nesterov), "maximize": bool(maximize)}
        super().__init__(params, defaults)

    def _check_hyperparams(self, group, where):
        for name in ("lr", "momentum", "dampening", "weight_decay"):
            check_nonneg("SGD", name, group[name], where)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"nesterov of SGD{where} requires momentum > 0 and dampening = 0. "
                f"Got momentum={group['momentum']!r}, dampening={group['dampening']!r}."
            )

    def _update(self, param, grad, state, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])
        g, owned = effective_grad(param, grad, float(group["weight_decay"]), group["maximize"])
        if momentum != 0.0:
            buf = state.get("momentum_buffer")
            if buf is None:  # b_1 = g_1
                buf = state["momentum_buffer"] = g if owned else g.copy()
                owned = False  # g is now the buffer
            else:
                damp = 1.0 - float(group["dampening"])
                buf *= momentum
                buf += g if damp == 1.0 else damp * g
            if group["nesterov"]:
                d = xp.multiply(buf, momentum)
                d += g
                g, owned = d, True
            else:
                g, owned = buf, False
        if owned:
            g *= lr
            param -= g
        else:
            param -= lr * g
