"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, 2019, https://arxiv.org/abs/1711.05101); PyTorch's update rule.

    Weight decay is applied to the parameter directly, not through the gradient,
    so the adaptive denominator does not rescale it:

    .. math::
        \theta \leftarrow \theta\,(1 - \gamma\lambda), \quad\text{then the Adam step of}\ \theta
        \ \text{with}\ g_t = \pm\nabla_\theta f.

    Args:
        params: iterable of Parameters or of param-group dicts.
        lr: learning rate γ (>= 0).
        betas: (β1, β2), each in [0, 1).
        eps: ε added to the denominator (>= 0).
        weight_decay: decoupled decay λ (>= 0); default 1e-2 as PyTorch.
        amsgrad: use the running maximum of the second moment.
        maximize: ascend the objective instead of descending.

    State (per parameter): as :class:`Adam`.

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.ones(2))
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.1)
        >>> (w * w).sum().backward(); opt.step()
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, differentiable=differentiable)
