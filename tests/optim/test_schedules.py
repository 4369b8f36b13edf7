"""Pure schedule functions: values by hand, agreement with the scheduler objects, validation."""

import itertools
import math

import numpy as np
import pytest

from nnbasics import optim
from nnbasics.nn import Parameter
from nnbasics.optim import lr_scheduler, schedules


def test_step_lr_values():
    assert [schedules.step_lr(t, 1.0, step_size=3, gamma=0.5) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_multistep_lr_counts_repeated_milestones():
    lrs = [schedules.multistep_lr(t, 1.0, milestones=[4, 2, 4], gamma=0.1) for t in range(6)]
    np.testing.assert_allclose(lrs, [1, 1, 0.1, 0.1, 1e-3, 1e-3])


def test_exponential_lr_values():
    np.testing.assert_allclose([schedules.exponential_lr(t, 2.0, gamma=0.5) for t in range(4)], [2, 1, 0.5, 0.25])


def test_cosine_annealing_endpoints_midpoint_and_period():
    def f(t):
        return schedules.cosine_annealing_lr(t, 1.0, T_max=8, eta_min=0.2)
    assert f(0) == 1.0 and f(8) == pytest.approx(0.2) and f(4) == pytest.approx(0.6)
    assert f(2) == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2)
    assert f(12) == pytest.approx(f(4)) and f(16) == pytest.approx(1.0)  # keeps going past T_max
    lrs = [f(t) for t in range(9)]
    assert all(a > b for a, b in itertools.pairwise(lrs))


def test_linear_warmup_ramp_then_constant():
    lrs = [schedules.linear_warmup(t, 0.4, warmup_steps=4, start_factor=0.25) for t in range(7)]
    np.testing.assert_allclose(lrs, [0.1, 0.175, 0.25, 0.325, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(schedules.linear_warmup(10, 1.0, 5, start_factor=1.0, end_factor=0.5), 0.5)


@pytest.mark.parametrize("fn,sched", [
    (lambda t, lr: schedules.step_lr(t, lr, 3, 0.7), lambda o: lr_scheduler.StepLR(o, 3, 0.7)),
    (lambda t, lr: schedules.cosine_annealing_lr(t, lr, 9, 0.01), lambda o: lr_scheduler.CosineAnnealingLR(o, 9, 0.01)),
    (lambda t, lr: schedules.linear_warmup(t, lr, 5, 0.2), lambda o: lr_scheduler.LinearLR(o, 0.2, total_iters=5)),
])
def test_scheduler_objects_follow_the_pure_functions(fn, sched):
    opt = optim.SGD([Parameter(np.zeros(1, dtype=np.float32))], lr=0.3)
    s = sched(opt)
    for t in range(15):
        assert s.get_last_lr() == [fn(t, 0.3)]
        s.step()


@pytest.mark.parametrize("call,message", [
    (lambda: schedules.step_lr(-1, 0.1, 2), "step must be an int >= 0"),
    (lambda: schedules.step_lr(1.5, 0.1, 2), "step must be an int >= 0"),
    (lambda: schedules.step_lr(1, 0.1, 0), "step_size of step_lr must be an int > 0"),
    (lambda: schedules.cosine_annealing_lr(1, 0.1, T_max=0), "T_max of cosine_annealing_lr"),
    (lambda: schedules.linear_warmup(1, 0.1, 0), "warmup_steps of linear_warmup"),
    (lambda: schedules.linear_warmup(1, 0.1, 5, start_factor=0.0), r"start_factor of linear_warmup .* \(0, 1\]"),
    (lambda: schedules.linear_warmup(1, 0.1, 5, end_factor=2.0), "end_factor of linear_warmup"),
    (lambda: schedules.exponential_lr(1, 0.1, gamma="x"), "gamma of exponential_lr must be a real number"),
])
def test_schedule_validation(call, message):
    with pytest.raises(ValueError, match=message):
        call()
