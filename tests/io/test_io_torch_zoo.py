"""PyTorch interop for the zoo models: nnbasics -> safetensors -> torch and torch -> safetensors -> nnbasics.

The torch side is the twin from ``to_torch`` (built from a differently seeded model, so the
weights come from the file), plus one hand-written torch ``Sequential`` for lab-cnn so the
architecture is checked against torch code written independently. Eval mode; float32
parity tolerance (atol 1e-5, rtol 1e-4).
"""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.io import load_safetensors, save_torch_safetensors, to_torch
from nnbasics.models import build_model

TOL = {"atol": 1e-5, "rtol": 1e-4}

# name: (build_model kwargs, input maker)
ZOO = {
    "lab-cnn": ({}, lambda rng: rng.standard_normal((2, 1, 28, 28)).astype(np.float32)),
    "lenet5": ({}, lambda rng: rng.standard_normal((2, 1, 28, 28)).astype(np.float32)),
    "lenet5-classic": ({"activation": "tanh", "pool": "avg", "image_size": 32},
                       lambda rng: rng.standard_normal((2, 1, 32, 32)).astype(np.float32)),
    "char-lstm": ({"vocab_size": 11, "embedding_dim": 4, "hidden_size": 6, "num_layers": 2, "dropout": 0.2},
                  lambda rng: rng.integers(0, 11, (3, 9))),
    "char-gru": ({"vocab_size": 11, "embedding_dim": 4, "hidden_size": 6}, lambda rng: rng.integers(0, 11, (3, 9))),
    "mlp": ({"in_features": [1, 4, 4], "out_features": 3, "hidden": [8, 5], "activation": "gelu", "dropout": 0.2,
             "batch_norm": True},
            lambda rng: rng.standard_normal((6, 1, 4, 4)).astype(np.float32)),
}


def _name(case):
    return case.removesuffix("-classic")


def _arrays(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _arrays(o)]
    return [out._array if isinstance(out, nb.Tensor) else out.detach().numpy()]


def _compare(m, tm, x, torch):
    with nb.no_grad():
        got = _arrays(m(nb.tensor(x)))
    with torch.no_grad():
        expected = _arrays(tm(torch.from_numpy(x)))
    assert len(got) == len(expected) >= 1
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, **TOL)


def _warm(m, x):
    """Run train-mode passes so batch-norm running stats move away from their init."""
    m.train()
    with nb.no_grad():
        for k in range(2):
            m(nb.tensor(x * (k + 1) if x.dtype.kind == "f" else x))
    m.eval()


@pytest.mark.parametrize("case", list(ZOO))
def test_zoo_nnbasics_to_torch(case, torch, tmp_path, rng):
    from safetensors.torch import load_file

    kw, make_x = ZOO[case]
    m = build_model(_name(case), rng=0, **kw)
    _warm(m, make_x(rng))
    path = save_torch_safetensors(m, tmp_path / f"{case}.safetensors")
    tm = to_torch(build_model(_name(case), rng=1, **kw)).eval()
    tm.load_state_dict(load_file(path), strict=True)
    _compare(m, tm, make_x(rng), torch)


@pytest.mark.parametrize("case", list(ZOO))
def test_zoo_torch_to_nnbasics(case, torch, tmp_path, rng):
    from safetensors.torch import save_file

    kw, make_x = ZOO[case]
    tm = to_torch(build_model(_name(case), rng=1, **kw))
    for mod in tm.modules():  # torch's own initialization, not nnbasics' weights
        if hasattr(mod, "reset_parameters") and mod is not tm:
            mod.reset_parameters()
    tm.train()
    with torch.no_grad():
        tm(torch.from_numpy(make_x(rng)))  # batch-norm running stats (where there are any)
    tm.eval()
    path = str(tmp_path / f"{case}.safetensors")
    save_file(tm.state_dict(), path)
    m = build_model(_name(case), rng=2, **kw)
    load_safetensors(m, path)
    m.eval()
    _compare(m, tm, make_x(rng), torch)


def test_lab_cnn_file_loads_into_a_hand_written_torch_model(torch, tmp_path, rng):
    from safetensors.torch import load_file

    t = torch.nn
    hand = t.Sequential(t.Conv2d(1, 32, 3, padding=1), t.ReLU(), t.MaxPool2d(2), t.Conv2d(32, 64, 3, padding=1),
                        t.ReLU(), t.MaxPool2d(2), t.Dropout(0.3), t.Flatten(), t.Linear(3136, 10))
    m = build_model("lab-cnn", rng=3).eval()
    hand.load_state_dict(load_file(save_torch_safetensors(m, tmp_path / "cnn.safetensors")), strict=True)
    _compare(m, hand.eval(), rng.standard_normal((2, 1, 28, 28)).astype(np.float32), torch)
