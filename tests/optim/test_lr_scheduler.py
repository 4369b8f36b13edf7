"""Learning-rate schedulers: the lr sequence equals torch.optim.lr_scheduler's over 30 steps."""

import math

import numpy as np
import pytest

from nnbasics import optim
from nnbasics.nn import Parameter
from nnbasics.optim import lr_scheduler

STEPS = 30
LRS = (0.1, 0.05)  # two param groups with different base lrs

SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[12, 3, 7, 7], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),  # past T_max: rises again
    "CosineAnnealingLR-eta0": lambda m, o: m.CosineAnnealingLR(o, T_max=25),
    "LinearLR-warmup": lambda m, o: m.LinearLR(o, start_factor=0.25, total_iters=6),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=20),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + 0.3 * e)),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 0.95**e, lambda e: 1 + (e % 3)]),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=20, eta_min=1e-3)],
        milestones=[5]),
    "SequentialLR-3": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=0.8), m.StepLR(o, step_size=3, gamma=0.5), m.LinearLR(o, 0.5, total_iters=4)],
        milestones=[4, 15]),
}


def nb_optimizer():
    return optim.SGD([{"params": [Parameter(np.zeros(2, dtype=np.float32))], "lr": LRS[0]},
                      {"params": [Parameter(np.zeros(3, dtype=np.float32))], "lr": LRS[1]}], lr=1.0)


def torch_optimizer(torch):
    return torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": LRS[0]},
                            {"params": [torch.zeros(3, requires_grad=True)], "lr": LRS[1]}], lr=1.0)


def lr_sequence(opt, sched, steps=STEPS, metrics=None):
    seq = []
    for t in range(steps):
        seq.append(sched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == seq[-1]
        opt.step()
        sched.step() if metrics is None else sched.step(metrics[t])
    seq.append(sched.get_last_lr())
    return np.array(seq, dtype=np.float64)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_matches_torch(torch, name):
    make = SCHEDULERS[name]
    opt = nb_optimizer()
    ours = lr_sequence(opt, make(lr_scheduler, opt))
    topt = torch_optimizer(torch)
    theirs = lr_sequence(topt, make(torch.optim.lr_scheduler, topt))
    # torch updates most lrs recursively, these are closed forms: equal up to rounding
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-13)
    assert np.ptp(ours[:, 0]) > 1e-3  # the schedule does change the lr


PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89999, 0.85, 0.86, 0.87, 0.85, 0.85, 0.84, 0.7, 0.7, 0.7,
                   0.71, 0.7, 0.69, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]

PLATEAU = {
    "min-rel": {"factor": 0.5, "patience": 2},
    "min-rel-threshold": {"factor": 0.5, "patience": 1, "threshold": 0.05},
    "min-abs-cooldown": {"factor": 0.3, "patience": 1, "threshold": 0.01, "threshold_mode": "abs", "cooldown": 3},
    "min-lr-per-group": {"factor": 0.5, "patience": 0, "min_lr": [0.02, 0.001]},
    "max-rel": {"mode": "max", "factor": 0.5, "patience": 2},
    "max-abs": {"mode": "max", "factor": 0.7, "patience": 1, "threshold": 0.02, "threshold_mode": "abs", "min_lr": 0.01},
    "eps": {"factor": 0.5, "patience": 0, "eps": 0.02},
}


@pytest.mark.parametrize("name", list(PLATEAU))
def test_reduce_lr_on_plateau_matches_torch(torch, name):
    kwargs = PLATEAU[name]
    opt = nb_optimizer()
    ours = lr_sequence(opt, lr_scheduler.ReduceLROnPlateau(opt, **kwargs), metrics=PLATEAU_METRICS)
    topt = torch_optimizer(torch)
    theirs = lr_sequence(topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs), metrics=PLATEAU_METRICS)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert ours[-1, 0] < ours[0, 0] or ours[-1, 1] < ours[0, 1]  # some reduction happened


def test_reduce_lr_on_plateau_sequence_by_hand():
    opt = nb_optimizer()
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1)
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # bad, bad -> halve; cooldown step ignored; bad, bad -> halve; cooldown; improvement
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_state_dict_round_trip(name):
    make = SCHEDULERS[name]
    opt = nb_optimizer()
    sched = make(lr_scheduler, opt)
    lr_sequence(opt, sched, steps=7)
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    expected = lr_sequence(opt, sched, steps=12)

    opt2 = nb_optimizer()
    sched2 = make(lr_scheduler, opt2)  # build the scheduler first, then load (as in PyTorch)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    np.testing.assert_array_equal(lr_sequence(opt2, sched2, steps=12), expected)
    assert "optimizer" not in sched_sd


def test_plateau_state_dict_round_trip():
    opt = nb_optimizer()
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=2)
    lr_sequence(opt, sched, steps=10, metrics=PLATEAU_METRICS)
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    expected = lr_sequence(opt, sched, steps=15, metrics=PLATEAU_METRICS[10:])
    opt2 = nb_optimizer()
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    np.testing.assert_array_equal(lr_sequence(opt2, sched2, steps=15, metrics=PLATEAU_METRICS[10:]), expected)


def test_step_with_epoch_jumps_to_the_closed_form():
    opt = nb_optimizer()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    sched.step(5)
    assert sched.last_epoch == 5
    np.testing.assert_allclose(sched.get_last_lr(), [0.05, 0.025])


def test_resume_needs_initial_lr():
    with pytest.raises(ValueError, match="initial_lr"):
        lr_scheduler.StepLR(nb_optimizer(), step_size=2, last_epoch=3)
    opt = nb_optimizer()
    lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5, last_epoch=3)  # initial_lr present: resumes at 4
    assert sched.last_epoch == 4 and math.isclose(sched.get_last_lr()[0], 0.025)


@pytest.mark.parametrize("make,error,message", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size of StepLR must be an int >= 1"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, -1]), ValueError, "milestone of MultiStepLR"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max of CosineAnnealingLR"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, r"start_factor of LinearLR .* \(0.0, 1.0\]"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError, "end_factor of LinearLR"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError, "expected 2 lr_lambdas"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "must be a function"),
    (lambda o: lr_scheduler.StepLR("sgd", step_size=2), TypeError, "needs an nnbasics Optimizer"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], milestones=[3]), ValueError,
     "len\\(milestones\\) == len\\(schedulers\\) - 1"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(nb_optimizer(), 2), lr_scheduler.StepLR(o, 2)],
                                         milestones=[3]), ValueError, "different optimizer"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor of ReduceLROnPlateau"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="lowest"), ValueError, "'min' or 'max'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "'rel' or 'abs'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError, "patience of ReduceLROnPlateau"),
])
def test_scheduler_validation(make, error, message):
    with pytest.raises(error, match=message):
        make(nb_optimizer())
