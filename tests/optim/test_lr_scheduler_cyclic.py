"""The cyclic schedulers and the small closed forms: lr (and momentum) sequences equal torch's."""

import numpy as np
import pytest

from nnbasics import optim
from nnbasics.nn import Parameter
from nnbasics.optim import lr_scheduler

STEPS = 24

SCHEDULERS = {
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[0.3, 0.2], total_steps=STEPS),
    "OneCycleLR-epochs-linear": lambda m, o: m.OneCycleLR(o, max_lr=0.5, epochs=4, steps_per_epoch=6, pct_start=0.25,
                                                          anneal_strategy="linear", div_factor=10.0),
    "OneCycleLR-three-phase": lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=STEPS, three_phase=True,
                                                        base_momentum=0.8, max_momentum=0.9),
    "OneCycleLR-no-momentum": lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=STEPS, cycle_momentum=False),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4, step_size_down=3),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2"),
    "CyclicLR-exp-range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range",
                                                  gamma=0.9),
    "CyclicLR-scale-fn": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                                 scale_fn=lambda x: 0.95 ** x, scale_mode="iterations"),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.001),
    "CosineAnnealingWarmRestarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=10, power=2.0),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.9 if e % 2 else 1.1),
}


def optimizers(module, Parameter_, zeros, kind):
    groups = [{"params": [Parameter_(zeros(2))], "lr": 0.1}, {"params": [Parameter_(zeros(3))], "lr": 0.05}]
    if kind == "adam":
        return module.Adam(groups, lr=1.0, betas=(0.9, 0.99))
    return module.SGD(groups, lr=1.0, momentum=0.9)


def sequence(opt, sched, steps=STEPS):
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in opt.param_groups] + [g.get("momentum", g.get("betas", (0.0,))[0])
                                                          for g in opt.param_groups])
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        opt.step()
        sched.step()
    return np.array(out, dtype=np.float64)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_sequence_matches_torch(torch, name, kind):
    make = SCHEDULERS[name]
    opt = optimizers(optim, Parameter, lambda n: np.zeros(n, np.float32), kind)
    ours = sequence(opt, make(lr_scheduler, opt))
    topt = optimizers(torch.optim, torch.nn.Parameter, torch.zeros, kind)
    theirs = sequence(topt, make(torch.optim.lr_scheduler, topt))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert np.ptp(ours[:, 0]) > 1e-3


def test_warm_restarts_fractional_epochs_match_torch(torch):
    """``scheduler.step(epoch + i / iters)`` inside the batch loop, as the PyTorch docs show."""
    def run(module, P, zeros):
        opt = module.SGD([P(zeros(2))], lr=0.1)
        sched = module.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        lrs = []
        for epoch in range(7):
            for i in range(4):
                sched.step(epoch + i / 4)
                lrs.append(opt.param_groups[0]["lr"])
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return lrs
    ours = run(optim, Parameter, lambda n: np.zeros(n, np.float32))
    theirs = run(torch.optim, torch.nn.Parameter, torch.zeros)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_one_cycle_refuses_a_step_past_the_end_and_optimizers_without_momentum():
    opt = optim.SGD([Parameter(np.zeros(2, np.float32))], lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.OneCycleLR(optim.Adagrad([Parameter(np.zeros(2, np.float32))]), max_lr=0.1, total_steps=3)
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
