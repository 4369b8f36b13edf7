"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from ..backend import xp
from .optimizer import Optimizer, check_nonneg, check_unit_interval, effective_grad, speed_flags

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, Coursera lecture 6e, 2012; centered form: Graves, 2013); PyTorch's update rule.

    .. math::
        g_t = \pm\nabla_\theta f + \lambda\theta_{t-1}, \qquad
        v_t = \alpha v_{t-1} + (1-\alpha) g_t^2, \\
        \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t, \qquad
        d_t = \sqrt{v_t - \bar g_t^2 \text{ if centered else } v_t} + \epsilon, \\
        b_t = \mu b_{t-1} + g_t / d_t, \qquad
        \theta_t = \theta_{t-1} - \gamma\,(b_t \text{ if } \mu > 0 \text{ else } g_t / d_t)

    Args:
        params: iterable of Parameters or of param-group dicts.
        lr: learning rate γ (>= 0).
        alpha: smoothing constant α of the running averages, in [0, 1).
        eps: ε added to the denominator (>= 0).
        weight_decay: L2 penalty λ added to the gradient (>= 0).
        momentum: momentum factor μ (>= 0).
        centered: normalise by the estimated variance (subtract the squared
            running mean of the gradient) instead of the raw second moment.
        maximize: ascend the objective instead of descending.

    State (per parameter): ``step`` (int), ``square_avg``; ``momentum_buffer`` when
    momentum > 0; ``grad_avg`` when centered (arrays of the parameter's shape).

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.ones(2))
        >>> opt = RMSprop([w], lr=0.01, momentum=0.9, centered=True)
        >>> (w * w).sum().backward(); opt.step()
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        speed_flags(type(self).__name__, differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": bool(centered),
                    "weight_decay": weight_decay, "maximize": bool(maximize)}
        super().__init__(params, defaults)

    def _check_hyperparams(self, group, where):
        for name in ("lr", "eps", "momentum", "weight_decay"):
            check_nonneg("RMSprop", name, group[name], where)
        check_unit_interval("RMSprop", "alpha", group["alpha"], where)

    def _update(self, param, grad, state, group):
        alpha, momentum = float(group["alpha"]), float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        g, _ = effective_grad(param, grad, float(group["weight_decay"]), group["maximize"])
        square_avg = state["square_avg"]
        tmp = xp.multiply(g, g)
        tmp *= 1.0 - alpha
        square_avg *= alpha
        square_avg += tmp  # v = α v + (1-α) g²
        if group["centered"]:
            grad_avg = state["grad_avg"]
            xp.subtract(g, grad_avg, out=tmp)
            tmp *= 1.0 - alpha
            grad_avg += tmp  # ḡ = ḡ + (1-α)(g - ḡ), PyTorch's lerp
            xp.multiply(grad_avg, grad_avg, out=tmp)
            xp.subtract(square_avg, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(square_avg, out=tmp)
        tmp += float(group["eps"])
        xp.divide(g, tmp, out=tmp)  # g / d
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += tmp
            xp.multiply(buf, float(group["lr"]), out=tmp)
        else:
            tmp *= float(group["lr"])
        param -= tmp
