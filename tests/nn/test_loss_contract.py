"""The module contract (tests/contract.py) on every loss module."""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn

N, C = 5, 7
LOGITS = nb.randn(N, C, rng=0)
LABELS = nb.tensor(np.array([0, 3, 6, 2, 1]))
PROBS = nb.rand(N, 3, rng=1) * 0.9 + 0.05
BITS = nb.tensor((np.arange(N * 3).reshape(N, 3) % 2).astype(np.float32))
REAL = nb.randn(N, 3, rng=2)

CASES = {
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(), (LOGITS, LABELS), (LOGITS, nb.tensor([0, 1, 2]))),
    "NLLLoss": (lambda: nn.NLLLoss(), (LOGITS.log_softmax(1), LABELS), (LOGITS, nb.tensor([0, 1, 9, 2, 1]))),
    "BCELoss": (lambda: nn.BCELoss(), (PROBS, BITS), (PROBS, BITS[:, :2])),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), (REAL, BITS), (REAL, BITS[:2])),
    "MSELoss": (lambda: nn.MSELoss(), (REAL, PROBS), (REAL, PROBS[:, :2])),
    "L1Loss": (lambda: nn.L1Loss(), (REAL, PROBS), (REAL, PROBS[:4])),
    "HuberLoss": (lambda: nn.HuberLoss(), (REAL, PROBS), (REAL, PROBS[:, :1])),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(), (REAL, PROBS), (REAL, PROBS[:, :1])),
    "MultiMarginLoss": (lambda: nn.MultiMarginLoss(), (LOGITS, LABELS), (LOGITS, nb.tensor([0, 1]))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_loss_module_contract(name):
    make, good, bad = CASES[name]
    check_module(lambda rng: make(), good, expected_shape=(), param_names=[], bad_inputs=[bad], trains=False)
