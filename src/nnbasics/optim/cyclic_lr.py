"""Cyclic learning-rate schedulers: ``OneCycleLR``, ``CyclicLR``, ``CosineAnnealingWarmRestarts``.

PyTorch's names, arguments and sequences, computed in closed form from the step like the schedulers
of :mod:`nnbasics.optim.lr_scheduler`. Usually stepped once per *batch* (``OneCycleLR``,
``CyclicLR``) after ``optimizer.step()``. ``OneCycleLR`` and ``CyclicLR`` also cycle the momentum
(SGD's ``momentum``, or ``beta1`` of Adam-like optimizers) in the opposite direction to the lr,
as PyTorch does by default (``cycle_momentum=True``).

Example (the 1cycle policy over 10 steps):
    >>> import nnbasics as nb
    >>> from nnbasics.optim import SGD
    >>> opt = SGD([nb.nn.Parameter(nb.zeros(1))], lr=0.1, momentum=0.9)
    >>> sched = OneCycleLR(opt, max_lr=0.1, total_steps=10)
    >>> lrs = []
    >>> for _ in range(10):
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     opt.step(); sched.step()
    >>> lrs[:4]  # up from max_lr / 25 to max_lr over 30% of the steps, then down
    [0.004, 0.052, 0.1, 0.095]
"""

from __future__ import annotations

import math

from .._validate import check_int, check_real
from .lr_scheduler import LRScheduler, check_optimizer

__all__ = ["CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"]


def _anneal_cos(start: float, end: float, pct: float) -> float:
    """Cosine from ``start`` (pct 0) to ``end`` (pct 1): ``end + (start - end) / 2 * (1 + cos(pi pct))``."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def _per_group(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"expected {n} values of {name} (one per param group), got {len(value)}.")
        return [float(v) for v in value]
    return [float(value)] * n


def _momentum_key(optimizer, owner: str) -> str:
    """``"betas"`` (beta1 is cycled) or ``"momentum"``; a clear error for optimizers with neither."""
    defaults = getattr(optimizer, "defaults", {})
    if "betas" in defaults:
        return "betas"
    if "momentum" in defaults:
        return "momentum"
    raise ValueError(f"{owner}: optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
                     f"({type(optimizer).__name__} has neither); pass cycle_momentum=False.")


def _set_momentum(group: dict, key: str, value: float) -> None:
    if key == "betas":
        group["betas"] = (value, *tuple(group["betas"])[1:])
    else:
        group["momentum"] = value


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2018, https://arxiv.org/abs/1708.07120), as PyTorch's.

    The lr rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of the
    steps, then anneals to ``max_lr / div_factor / final_div_factor`` (``three_phase``: back to
    the initial lr first, then down to the minimum); the momentum moves the other way between
    ``max_momentum`` and ``base_momentum``. Step it after every batch; stepping more than
    ``total_steps`` times is an error, as in PyTorch.

    Args:
        optimizer: the Optimizer.
        max_lr: the peak lr (one number, or one per param group).
        total_steps: the number of steps of the cycle; or give ``epochs`` and ``steps_per_epoch``.
        pct_start: fraction of the steps spent increasing the lr (default 0.3).
        anneal_strategy: "cos" (default) or "linear".
        cycle_momentum: cycle SGD's momentum or Adam's beta1 (default True).
        base_momentum, max_momentum: the momentum's bounds (default 0.85, 0.95).
        div_factor: initial lr = max_lr / div_factor (default 25).
        final_div_factor: minimum lr = initial lr / final_div_factor (default 1e4).
        three_phase: the three-phase variant (default False).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        owner = "OneCycleLR"
        check_optimizer(owner, optimizer)
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(f"{owner}: give total_steps, or both epochs and steps_per_epoch.")
            total_steps = check_int(epochs, f"epochs of {owner}", low=1) * check_int(
                steps_per_epoch, f"steps_per_epoch of {owner}", low=1)
        self.total_steps = check_int(total_steps, f"total_steps of {owner}", low=1)
        pct_start = check_real(pct_start, f"pct_start of {owner}", low=0.0, high=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy of {owner} must be 'cos' or 'linear'. Got {anneal_strategy!r}.")
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                             "max_momentum"),
                            (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        groups = optimizer.param_groups
        n = len(groups)
        self.cycle_momentum = bool(cycle_momentum)
        self._momentum_key = _momentum_key(optimizer, owner) if self.cycle_momentum else None
        if last_epoch == -1:
            for group, peak in zip(groups, _per_group(max_lr, n, f"max_lr of {owner}")):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if self.cycle_momentum:
                for group, hi, lo in zip(groups, _per_group(max_momentum, n, "max_momentum"),
                                         _per_group(base_momentum, n, "base_momentum")):
                    _set_momentum(group, self._momentum_key, hi)
                    group["max_momentum"], group["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)

    def _point(self, step: int, group: dict):
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is "
                             f"{self.total_steps}.")
        anneal = _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
            if step <= end or i == len(self._phases) - 1:
                pct = (step - start) / (end - start)
                momentum = anneal(group[m0], group[m1], pct) if self.cycle_momentum else None
                return anneal(group[lr0], group[lr1], pct), momentum
            start = end
        raise AssertionError("unreachable")  # the last phase always returns

    def _lr(self, step, base_lr, i):
        return self._point(step, self.optimizer.param_groups[i])[0]

    def step(self, epoch=None) -> None:
        """Advance one step: set each group's lr (and momentum) of the new step."""
        super().step(epoch)
        if self.cycle_momentum:
            for group in self.optimizer.param_groups:
                _set_momentum(group, self._momentum_key, self._point(self.last_epoch, group)[1])


class CyclicLR(LRScheduler):
    """The lr cycles between ``base_lr`` and ``max_lr`` (Smith 2017, https://arxiv.org/abs/1506.01186).

    One cycle is ``step_size_up`` steps up and ``step_size_down`` (default: the same) down.
    ``mode``: "triangular" (constant amplitude), "triangular2" (halved every cycle) or "exp_range"
    (scaled by ``gamma ** step``); or a custom ``scale_fn`` of the cycle (``scale_mode="cycle"``)
    or of the step ("iterations"). The momentum cycles the other way between ``max_momentum`` and
    ``base_momentum``. PyTorch's semantics; it sets the lr of every group to ``base_lr`` when built.

    Args:
        optimizer: the Optimizer.
        base_lr, max_lr: the bounds (one number, or one per param group).
        step_size_up, step_size_down: steps of the rising and falling halves.
        mode, gamma, scale_fn, scale_mode: the amplitude policy (see above).
        cycle_momentum, base_momentum, max_momentum: momentum cycling (default on, 0.8 to 0.9).
        last_epoch: -1 to start fresh.
    """

    _unsaved = ("optimizer", "scale_fn")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        owner = "CyclicLR"
        check_optimizer(owner, optimizer)
        groups = optimizer.param_groups
        n = len(groups)
        up = float(check_real(step_size_up, f"step_size_up of {owner}", low=0.0, low_open=True))
        down = up if step_size_down is None else float(
            check_real(step_size_down, f"step_size_down of {owner}", low=0.0, low_open=True))
        self.total_size, self.step_ratio = up + down, up / (up + down)
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"mode of {owner} must be 'triangular', 'triangular2' or 'exp_range'. Got {mode!r}.")
        self.mode, self.gamma, self.scale_fn = mode, float(gamma), scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else ("iterations" if mode == "exp_range" else "cycle")
        self.max_lrs = _per_group(max_lr, n, f"max_lr of {owner}")
        if last_epoch == -1:
            for group, lr in zip(groups, _per_group(base_lr, n, f"base_lr of {owner}")):
                group["lr"] = lr
                group["initial_lr"] = lr
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self._momentum_key = _momentum_key(optimizer, owner)
            self.base_momentums = _per_group(base_momentum, n, "base_momentum")
            self.max_momentums = _per_group(max_momentum, n, "max_momentum")
            if last_epoch == -1:
                for group, hi, lo in zip(groups, self.max_momentums, self.base_momentums):
                    _set_momentum(group, self._momentum_key, hi)
                    group["max_momentum"], group["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)

    def _scale(self, x: float) -> float:
        if self.scale_fn is not None:
            return self.scale_fn(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _height(self, step: int) -> float:
        """Where the step is in its cycle times the amplitude scale: 0 at base, 1 at the peak."""
        cycle = math.floor(1 + step / self.total_size)
        x = 1.0 + step / self.total_size - cycle
        frac = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        return frac, self._scale(cycle if self.scale_mode == "cycle" else step)

    def _lr(self, step, base_lr, i):
        frac, scale = self._height(step)
        return base_lr + (self.max_lrs[i] - base_lr) * frac * scale

    def step(self, epoch=None) -> None:
        """Advance one step: set each group's lr (and momentum) of the new step."""
        super().step(epoch)
        if self.cycle_momentum:
            frac, scale = self._height(self.last_epoch)
            for group, lo, hi in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, self._momentum_key, hi - (hi - lo) * frac * scale)


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every ``T_i`` steps, ``T_i = T_0 * T_mult ** i`` (SGDR,
    Loshchilov & Hutter 2017, https://arxiv.org/abs/1608.03983):
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``.

    ``step()`` advances one epoch; ``step(epoch)`` takes a fractional epoch too
    (``scheduler.step(epoch + i / iters)`` inside the batch loop), as PyTorch's.

    Args:
        optimizer: the Optimizer.
        T_0: steps until the first restart (int > 0).
        T_mult: growth of the period after each restart (int >= 1, default 1).
        eta_min: the minimum lr (default 0).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        self.T_0 = check_int(T_0, "T_0 of CosineAnnealingWarmRestarts", low=1)
        self.T_mult = check_int(T_mult, "T_mult of CosineAnnealingWarmRestarts", low=1)
        self.eta_min = check_real(eta_min, "eta_min of CosineAnnealingWarmRestarts")
        self._epoch = float(max(last_epoch, 0))
        super().__init__(optimizer, last_epoch)

    def _cycle(self, epoch: float):
        """``(T_cur, T_i)`` at a (possibly fractional) epoch."""
        if epoch < self.T_0:
            return epoch, self.T_0
        if self.T_mult == 1:
            return epoch % self.T_0, self.T_0
        n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
        return epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1), self.T_0 * self.T_mult ** n

    def _lr(self, step, base_lr, i):
        t_cur, t_i = self._cycle(self._epoch)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    def step(self, epoch=None) -> None:
        """Advance one epoch, or go to ``epoch`` (a float >= 0 is allowed)."""
        if epoch is None:  # T_cur + 1 (a fractional epoch stays fractional), as PyTorch's
            self._epoch = 0.0 if self.last_epoch < 0 else self._epoch + 1
            self.last_epoch += 1
        else:
            epoch = check_real(epoch, "epoch of CosineAnnealingWarmRestarts", low=0.0)
            self._epoch, self.last_epoch = float(epoch), math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
