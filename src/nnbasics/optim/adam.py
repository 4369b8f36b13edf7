"""Adam: adaptive moment estimation, with the AMSGrad variant and L2 or decoupled weight decay."""

from __future__ import annotations

from ..backend import xp
from .optimizer import Optimizer, check_nonneg, check_unit_interval, effective_grad, speed_flags

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015, https://arxiv.org/abs/1412.6980); PyTorch's update rule.

    .. math::
        g_t = \pm\nabla_\theta f + \lambda\theta_{t-1}, \qquad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \\
        \hat v_t = \max(\hat v_{t-1}, v_t) \text{ if amsgrad else } v_t, \qquad
        \theta_t = \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    ``weight_decay`` here is the L2 penalty added to the gradient (so it is
    rescaled by the adaptive denominator); for decoupled decay use :class:`AdamW`.

    Args:
        params: iterable of Parameters or of param-group dicts.
        lr: learning rate γ (>= 0).
        betas: (β1, β2), decay rates of the first and second moments, each in [0, 1).
        eps: ε added to the denominator (>= 0).
        weight_decay: L2 penalty λ added to the gradient (>= 0).
        amsgrad: use the running maximum of v (Reddi, Kale and Kumar, 2018,
            https://openreview.net/forum?id=ryQu7f-RZ).
        maximize: ascend the objective instead of descending.

    State (per parameter): ``step`` (int), ``exp_avg``, ``exp_avg_sq``, and
    ``max_exp_avg_sq`` when amsgrad (arrays of the parameter's shape).

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.ones(2))
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(float(w[0]), 4)  # Adam's first step has length ~lr
        0.9
    """

    _decoupled = False  # AdamW sets True: θ ← θ(1 - γλ) before the Adam step

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        speed_flags(type(self).__name__, differentiable)
        if decoupled_weight_decay:  # PyTorch's Adam(decoupled_weight_decay=True) is AdamW's update
            self._decoupled = True
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas of {type(self).__name__} must be a pair (beta1, beta2). Got {betas!r}.")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": bool(amsgrad), "maximize": bool(maximize)}
        super().__init__(params, defaults)

    def _check_hyperparams(self, group, where):
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            check_nonneg(name, key, group[key], where)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas of {name}{where} must be a pair (beta1, beta2). Got {betas!r}.")
        check_unit_interval(name, "betas[0]", betas[0], where)
        check_unit_interval(name, "betas[1]", betas[1], where)

    def _update(self, param, grad, state, group):
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
        amsgrad = group["amsgrad"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if amsgrad:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]

        if self._decoupled:
            if wd != 0.0:
                param *= 1.0 - lr * wd
            g, owned = effective_grad(param, grad, 0.0, group["maximize"])
        else:
            g, owned = effective_grad(param, grad, wd, group["maximize"])

        # NOTE: one scratch array per step; every other operation is in place.
        tmp = xp.multiply(g, g)
        tmp *= 1.0 - beta2
        v *= beta2
        v += tmp  # v = β2 v + (1-β2) g²
        if owned:  # g is ours: reuse it for m's update
            g -= m
            g *= 1.0 - beta1
            m += g
        else:
            xp.subtract(g, m, out=tmp)
            tmp *= 1.0 - beta1
            m += tmp  # m = m + (1-β1)(g - m), PyTorch's lerp
        if amsgrad:
            vmax = state["max_exp_avg_sq"]
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        step_size = lr / (1.0 - beta1**step)
        xp.sqrt(v, out=tmp)
        tmp /= (1.0 - beta2**step) ** 0.5
        tmp += float(group["eps"])
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        param -= tmp
