"""Learning-rate schedulers: PyTorch's names, arguments and step semantics, computed in closed form.

Each scheduler sets ``group["lr"]`` of every param group of its optimizer.
Call ``scheduler.step()`` once per epoch (or per iteration) *after*
``optimizer.step()``. Constructing a scheduler already performs step 0: it
records ``group["initial_lr"]`` (the base lr) and sets the lr for step 0.

Unlike PyTorch, which updates most lrs recursively from the current lr, these
compute ``lr = f(last_epoch, base_lr)`` with the pure functions of
:mod:`nnbasics.optim.schedules`, so the value at a step never depends on the
history of calls. The sequences are the same as PyTorch's (up to rounding) as
long as nothing else changes the lr. To combine schedules use
:class:`SequentialLR`, not two schedulers on one optimizer.

Example:
    >>> import nnbasics as nb
    >>> from nnbasics.optim import SGD
    >>> opt = SGD([nb.nn.Parameter(nb.zeros(1))], lr=0.1)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(sched.get_last_lr()[0])  # train one epoch with this lr, then:
    ...     opt.step(); sched.step()
    >>> lrs
    [0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import copy
import itertools
import math
from bisect import bisect_right

from .._validate import check_int, check_real, is_int
from . import schedules
from .optimizer import Optimizer

__all__ = ["ConstantLR", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR",
           "MultiStepLR", "MultiplicativeLR", "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR"]


def check_optimizer(owner, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner} needs an nnbasics Optimizer; got {type(optimizer).__name__}.")


class LRScheduler:
    """Base class: keeps ``last_epoch`` and ``base_lrs``; subclasses give the closed form ``_lr``.

    Args:
        optimizer: the Optimizer whose param groups' ``lr`` to set.
        last_epoch: the index of the last step done; -1 (default) starts fresh.
            Resuming with ``last_epoch >= 0`` needs ``initial_lr`` in every group
            (restored by ``optimizer.load_state_dict``).

    Attributes:
        base_lrs (list[float]): each group's ``initial_lr``.
        last_epoch (int): the step whose lr is now set.
    """

    _unsaved = ("optimizer",)

    def __init__(self, optimizer, last_epoch: int = -1):
        name = type(self).__name__
        check_optimizer(name, optimizer)
        if not is_int(last_epoch) or last_epoch < -1:
            raise ValueError(f"last_epoch of {name} must be an int >= -1. Got {last_epoch!r}.")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{name}: param_groups[{i}] has no 'initial_lr', needed to resume with last_epoch="
                        f"{last_epoch}. Load the optimizer's state dict first, or start with last_epoch=-1."
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._initial_step()

    def _initial_step(self) -> None:
        self.step()

    def _undo_initial_step(self) -> None:  # used by SequentialLR
        self.last_epoch -= 1

    def _lr(self, step: int, base_lr: float, group_index: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_lr(self) -> list:
        """The learning rates of step ``last_epoch``, one per param group (closed form)."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(
                f"{type(self).__name__} was built for {len(self.base_lrs)} param group(s) but the optimizer now has "
                f"{len(groups)}; build the scheduler after adding every param group."
            )
        return [self._lr(self.last_epoch, base, i) for i, base in enumerate(self.base_lrs)]

    def step(self, epoch: int | None = None) -> None:
        """Advance to the next step (or jump to ``epoch``) and set each group's lr."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else check_int(epoch, f"epoch of {type(self).__name__}", low=0)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        """The learning rates set by the last ``step`` (one per param group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (and functions), copied."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in self._unsaved}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        self.__dict__.update(copy.deepcopy(state_dict))


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps (:func:`~nnbasics.optim.schedules.step_lr`).

    Args:
        optimizer: the Optimizer.
        step_size: period of the decay in steps (> 0).
        gamma: decay factor (default 0.1).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = check_int(step_size, "step_size of StepLR", low=1)
        self.gamma = check_real(gamma, "gamma of StepLR")
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return schedules.step_lr(step, base_lr, self.step_size, self.gamma)


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone (:func:`~nnbasics.optim.schedules.multistep_lr`).

    Args:
        optimizer: the Optimizer.
        milestones: step indices (a milestone listed twice decays twice).
        gamma: decay factor (default 0.1).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = sorted(check_int(m, "a milestone of MultiStepLR", low=0) for m in milestones)
        self.gamma = check_real(gamma, "gamma of MultiStepLR")
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return schedules.multistep_lr(step, base_lr, self.milestones, self.gamma)


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every step (:func:`~nnbasics.optim.schedules.exponential_lr`).

    Args:
        optimizer: the Optimizer.
        gamma: decay factor per step.
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = check_real(gamma, "gamma of ExponentialLR")
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return schedules.exponential_lr(step, base_lr, self.gamma)


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the base lr to ``eta_min`` over ``T_max`` steps
    (:func:`~nnbasics.optim.schedules.cosine_annealing_lr`; it rises again after ``T_max``, as PyTorch's).

    Args:
        optimizer: the Optimizer.
        T_max: steps from the base lr down to ``eta_min`` (> 0).
        eta_min: the minimum lr (default 0).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = check_int(T_max, "T_max of CosineAnnealingLR", low=1)
        self.eta_min = check_real(eta_min, "eta_min of CosineAnnealingLR", low=0.0)
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return schedules.cosine_annealing_lr(step, base_lr, self.T_max, self.eta_min)


class LinearLR(LRScheduler):
    """Scale the lr by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then constant: warm-up (:func:`~nnbasics.optim.schedules.linear_warmup`).

    Args:
        optimizer: the Optimizer.
        start_factor: factor at step 0, in (0, 1] (default 1/3).
        end_factor: factor from step ``total_iters`` on, in [0, 1] (default 1).
        total_iters: length of the ramp in steps (> 0, default 5).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1):
        self.start_factor = check_real(start_factor, "start_factor of LinearLR", low=0.0, high=1.0, low_open=True)
        self.end_factor = check_real(end_factor, "end_factor of LinearLR", low=0.0, high=1.0)
        self.total_iters = check_int(total_iters, "total_iters of LinearLR", low=1)
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return schedules.linear_warmup(step, base_lr, self.total_iters, self.start_factor, self.end_factor)


class ConstantLR(LRScheduler):
    """Scale the lr by ``factor`` for the first ``total_iters`` steps, then the base lr (PyTorch's).

    Args:
        optimizer: the Optimizer.
        factor: the factor, in [0, 1] (default 1/3).
        total_iters: steps at the reduced lr (default 5).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        self.factor = check_real(factor, "factor of ConstantLR", low=0.0, high=1.0)
        self.total_iters = check_int(total_iters, "total_iters of ConstantLR", low=0)
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return base_lr * (self.factor if step < self.total_iters else 1.0)


class PolynomialLR(LRScheduler):
    """Decay to 0 over ``total_iters`` steps: ``base_lr * (1 - min(t, total_iters) / total_iters) ** power``.

    Args:
        optimizer: the Optimizer.
        total_iters: steps until the lr reaches 0 (default 5).
        power: the exponent (default 1: linear).
        last_epoch: -1 to start fresh.
    """

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self.total_iters = check_int(total_iters, "total_iters of PolynomialLR", low=1)
        self.power = check_real(power, "power of PolynomialLR")
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return base_lr * (1.0 - min(step, self.total_iters) / self.total_iters) ** self.power


class LambdaLR(LRScheduler):
    """Set the lr to ``base_lr * lr_lambda(step)``.

    Args:
        optimizer: the Optimizer.
        lr_lambda: a function of the step giving a factor, or a list of them, one per param group.
        last_epoch: -1 to start fresh.

    The functions are not saved by :meth:`state_dict`: pass them again when rebuilding.
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        check_optimizer("LambdaLR", optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}.")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        if not all(callable(f) for f in self.lr_lambdas):
            raise TypeError("lr_lambda of LambdaLR must be a function of the step (or a list of them).")
        super().__init__(optimizer, last_epoch)

    def _lr(self, step, base_lr, i):
        return base_lr * self.lr_lambdas[i](step)


class MultiplicativeLR(LambdaLR):
    """Multiply the lr by ``lr_lambda(t)`` at every step t >= 1: ``lr_t = base_lr * prod_{k=1..t} f(k)``.

    Args:
        optimizer: the Optimizer.
        lr_lambda: a function of the step giving a factor, or a list of them, one per param group.
        last_epoch: -1 to start fresh.
    """

    def _lr(self, step, base_lr, i):
        lr = base_lr
        for k in range(1, step + 1):
            lr *= self.lr_lambdas[i](k)
        return lr


class SequentialLR(LRScheduler):
    """Run ``schedulers[k]`` from ``milestones[k-1]`` on; each restarts from its step 0 at its milestone.

    Args:
        optimizer: the Optimizer (every scheduler must drive this one).
        schedulers: the schedulers, built beforehand on ``optimizer``.
        milestones: ``len(schedulers) - 1`` increasing step indices.
        last_epoch: -1 to start fresh.

    Example (5 warm-up steps, then cosine):
        >>> import nnbasics as nb
        >>> from nnbasics.optim import SGD
        >>> opt = SGD([nb.nn.Parameter(nb.zeros(1))], lr=1.0)
        >>> warm = LinearLR(opt, start_factor=0.2, total_iters=5)
        >>> cos = CosineAnnealingLR(opt, T_max=20)
        >>> sched = SequentialLR(opt, [warm, cos], milestones=[5])
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        check_optimizer("SequentialLR", optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler.")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(
                    f"SequentialLR: schedulers[{i}] is a {type(s).__name__}; only LRSchedulers can be sequenced "
                    "(ReduceLROnPlateau depends on a metric, not on the step)."
                )
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] drives a different optimizer than the one given.")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR expects len(milestones) == len(schedulers) - 1; got {len(milestones)} milestone(s) "
                f"for {len(schedulers)} scheduler(s)."
            )
        for m in milestones:
            check_int(m, "a milestone of SequentialLR", low=1)
        if any(a >= b for a, b in itertools.pairwise(milestones)):
            raise ValueError(f"milestones of SequentialLR must be strictly increasing. Got {milestones}.")
        self._schedulers, self._milestones = schedulers, [int(m) for m in milestones]
        self.optimizer = optimizer
        self.last_epoch = int(last_epoch) + 1
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        for group in optimizer.param_groups:  # undo the step 0 each scheduler performed when built
            group["lr"] = group["initial_lr"]
        for s in schedulers:
            s._undo_initial_step()
        first = schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_initial_step(self):
        for s in self._schedulers:
            s._undo_initial_step()

    def step(self) -> None:
        """Advance one step: step the scheduler of this phase (restarting it at its milestone)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler.step(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        sd = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        children = state_dict.pop("_schedulers")
        if len(children) != len(self._schedulers):
            raise ValueError(f"SequentialLR: the state dict holds {len(children)} schedulers, this one "
                             f"{len(self._schedulers)}.")
        self.__dict__.update(copy.deepcopy(state_dict))
        for s, sd in zip(self._schedulers, children):
            s.load_state_dict(sd)


class ReduceLROnPlateau:
    """Multiply the lr by ``factor`` when a metric has stopped improving for ``patience`` steps.

    Call ``scheduler.step(metric)`` after each validation. A value is an
    improvement when (mode "min") it is below ``best * (1 - threshold)``
    (``threshold_mode="rel"``) or ``best - threshold`` ("abs"); mode "max" mirrors it.
    After ``patience + 1`` steps without improvement each group's lr becomes
    ``max(lr * factor, min_lr)`` (changes smaller than ``eps`` are skipped), then
    ``cooldown`` steps pass before bad steps are counted again. PyTorch's semantics.

    Args:
        optimizer: the Optimizer.
        mode: "min" (loss) or "max" (accuracy).
        factor: lr multiplier, in [0, 1) (default 0.1).
        patience: bad steps tolerated before a reduction (int >= 0, default 10).
        threshold: smallest change counted as an improvement (>= 0, default 1e-4).
        threshold_mode: "rel" or "abs".
        cooldown: steps to wait after a reduction (int >= 0).
        min_lr: lower bound of the lr: one number, or one per param group.
        eps: smallest lr change applied (>= 0).

    Example:
        >>> import nnbasics as nb
        >>> from nnbasics.optim import SGD
        >>> opt = SGD([nb.nn.Parameter(nb.zeros(1))], lr=1.0)
        >>> sched = ReduceLROnPlateau(opt, factor=0.5, patience=1)
        >>> for loss in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9]:  # two bad steps (> patience) halve the lr, twice
        ...     sched.step(loss)
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8):
        owner = "ReduceLROnPlateau"
        check_optimizer(owner, optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode of {owner} must be 'min' or 'max'. Got {mode!r}.")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode of {owner} must be 'rel' or 'abs'. Got {threshold_mode!r}.")
        self.optimizer = optimizer
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor = check_real(factor, f"factor of {owner}", low=0.0, high=1.0, high_open=True)
        self.patience = check_int(patience, f"patience of {owner}", low=0)
        self.threshold = check_real(threshold, f"threshold of {owner}", low=0.0)
        self.cooldown = check_int(cooldown, f"cooldown of {owner}", low=0)
        self.eps = check_real(eps, f"eps of {owner}", low=0.0)
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"{owner}: expected {n} min_lrs (one per param group), got {len(min_lr)}.")
            self.min_lrs = [check_real(m, f"min_lr of {owner}", low=0.0) for m in min_lr]
        else:
            self.min_lrs = [check_real(min_lr, f"min_lr of {owner}", low=0.0)] * n
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (1.0 + self.threshold) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, metrics) -> None:
        """Record one value of the monitored metric (a number or a one-element Tensor)."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps during cooldown are ignored
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            raise ValueError(
                f"ReduceLROnPlateau was built for {len(self.min_lrs)} param group(s) but the optimizer now has "
                f"{len(groups)}; set scheduler.min_lrs to one value per group."
            )
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def get_last_lr(self) -> list:
        """The learning rates after the last ``step`` (one per param group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer, copied."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        self.__dict__.update(copy.deepcopy(state_dict))


# NOTE: the cyclic family lives in its own module (it builds on LRScheduler above); served here as in torch.
from .cyclic_lr import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR

__all__ += ["CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"]
