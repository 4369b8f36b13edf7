"""Learning-rate schedules as pure functions of the step: ``lr = f(step, base_lr, ...)``.

Closed forms, identical to PyTorch's schedulers (``nnbasics.optim.lr_scheduler``
wraps these). A pure function is easy to plot, test and reason about: nothing
depends on how many times something was called before.

Example:
    >>> [round(step_lr(t, 0.1, step_size=2, gamma=0.5), 3) for t in range(5)]
    [0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import math
from bisect import bisect_right

from .._validate import check_int, check_real

__all__ = ["cosine_annealing_lr", "exponential_lr", "linear_warmup", "multistep_lr", "step_lr"]


def step_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    r"""Decay by ``gamma`` every ``step_size`` steps: :math:`\eta_t = \eta_0\,\gamma^{\lfloor t / s \rfloor}`.

    Args:
        step: t, steps (or epochs) done so far (>= 0).
        base_lr: η0.
        step_size: s (> 0).
        gamma: multiplicative decay factor.

    Example:
        >>> step_lr(4, 1.0, step_size=2, gamma=0.5)
        0.25
    """
    t, s = check_int(step, "step", low=0), check_int(step_size, "step_size of step_lr", low=0, low_open=True)
    return base_lr * check_real(gamma, "gamma of step_lr") ** (t // s)


def multistep_lr(step: int, base_lr: float, milestones, gamma: float = 0.1) -> float:
    r"""Decay by ``gamma`` at each milestone: :math:`\eta_t = \eta_0\,\gamma^{\#\{m \le t\}}`.

    A milestone listed twice decays twice (as PyTorch's Counter of milestones).

    Args:
        step: t (>= 0).
        base_lr: η0.
        milestones: steps at which to decay (ints, any order).
        gamma: multiplicative decay factor.

    Example:
        >>> multistep_lr(5, 1.0, milestones=[2, 4], gamma=0.1)
        0.010000000000000002
    """
    t = check_int(step, "step", low=0)
    ms = sorted(check_int(m, "step", low=0) for m in milestones)
    return base_lr * check_real(gamma, "gamma of multistep_lr") ** bisect_right(ms, t)


def exponential_lr(step: int, base_lr: float, gamma: float) -> float:
    r"""Decay by ``gamma`` every step: :math:`\eta_t = \eta_0\,\gamma^t`.

    Example:
        >>> exponential_lr(2, 1.0, gamma=0.5)
        0.25
    """
    return base_lr * check_real(gamma, "gamma of exponential_lr") ** check_int(step, "step", low=0)


def cosine_annealing_lr(step: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    r"""Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` steps (SGDR without restarts).

    .. math::
        \eta_t = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})\big(1 + \cos(\pi t / T_{max})\big)

    Past ``T_max`` the cosine keeps going (the lr rises again), as in PyTorch.
    Loshchilov and Hutter, 2017, https://arxiv.org/abs/1608.03983.

    Args:
        step: t (>= 0).
        base_lr: η0.
        T_max: half-period in steps (> 0).
        eta_min: the minimum learning rate.

    Example:
        >>> cosine_annealing_lr(5, 1.0, T_max=10)
        0.5
    """
    t, T = check_int(step, "step", low=0), check_int(T_max, "T_max of cosine_annealing_lr", low=0, low_open=True)
    eta_min = check_real(eta_min, "eta_min of cosine_annealing_lr")
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T)) / 2


def linear_warmup(step: int, base_lr: float, warmup_steps: int, start_factor: float = 1.0 / 3,
                  end_factor: float = 1.0) -> float:
    r"""Linear change of the lr factor from ``start_factor`` to ``end_factor`` over ``warmup_steps``; then constant.

    .. math::
        \eta_t = \eta_0\Big(f_s + (f_e - f_s)\,\frac{\min(t, T)}{T}\Big)

    (PyTorch's ``LinearLR``; with ``end_factor=1`` this is the usual warm-up,
    Goyal et al., 2017, https://arxiv.org/abs/1706.02677.)

    Args:
        step: t (>= 0).
        base_lr: η0.
        warmup_steps: T (> 0).
        start_factor: f_s in (0, 1].
        end_factor: f_e in [0, 1].

    Example:
        >>> [linear_warmup(t, 1.0, warmup_steps=4, start_factor=0.25) for t in (0, 2, 4, 9)]
        [0.25, 0.625, 1.0, 1.0]
    """
    t, T = check_int(step, "step", low=0), check_int(warmup_steps, "warmup_steps of linear_warmup", low=0, low_open=True)
    fs = check_real(start_factor, "start_factor of linear_warmup", low=0.0, high=1.0)
    if fs == 0.0:
        raise ValueError("start_factor of linear_warmup must be in (0, 1]. Got 0.")
    fe = check_real(end_factor, "end_factor of linear_warmup", low=0.0, high=1.0)
    return base_lr * (fs + (fe - fs) * min(T, t) / T)
