"""Adadelta stepped side by side with torch.optim.Adadelta: the same trajectory (float64 and float32)."""

import numpy as np
import pytest
from test_optimizer_parity import assert_same_trajectory, make_problem, run_nb, run_torch

import nnbasics as nb
from nnbasics.optim import Adadelta

CONFIGS = [
    ({"lr": 1.0}, None),
    ({"lr": 0.5, "rho": 0.5}, {"lr": 0.5}),
    ({"lr": 1.0, "eps": 1e-2}, {"lr": 1.0}),
    ({"lr": 1.0, "weight_decay": 0.3}, {"lr": 1.0}),
    ({"lr": 2.0, "maximize": True}, {"lr": 2.0}),
]


@pytest.mark.parametrize("kwargs, ablated", CONFIGS)
def test_adadelta_matches_torch(torch, kwargs, ablated):
    ours, opt = run_nb("Adadelta", kwargs)
    theirs, _ = run_torch(torch, "Adadelta", kwargs)
    assert_same_trajectory(ours, theirs, rtol=1e-7, atol=1e-10)
    if ablated is not None:
        without, _ = run_torch(torch, "Adadelta", ablated)
        assert max(np.abs(x - y).max() for (x, _), (y, _) in zip(theirs, without)) > 1e-6
    assert np.abs(theirs[-1][0] - make_problem(np.float64)[0]).max() > 1e-3
    assert sorted(opt.state_dict()["state"][0]) == ["acc_delta", "square_avg", "step"]


def test_adadelta_float32_stays_float32(torch):
    ours, _ = run_nb("Adadelta", {"lr": 1.0}, dtype=np.float32)
    theirs, _ = run_torch(torch, "Adadelta", {"lr": 1.0}, dtype=np.float32)
    assert_same_trajectory(ours, theirs, rtol=1e-4, atol=1e-6)


def test_adadelta_rejects_bad_hyperparameters():
    w = nb.nn.Parameter(nb.ones(2))
    for bad in ({"lr": -1.0}, {"rho": 1.5}, {"eps": -1e-6}, {"weight_decay": -0.1}):
        with pytest.raises(ValueError, match="Adadelta"):
            Adadelta([w], **bad)
