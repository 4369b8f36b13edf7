"""PyTorch parity of the torch-named surface around Tensor (issue 13 §1, the audit): the
implicit softmax dim, ``inplace=`` activations and dropouts, the deprecated ``size_average``/
``reduce`` loss arguments, the deprecated ``nn.init`` names, ``generator=``, optimizer switches,
``Adam(decoupled_weight_decay=True)``, version bumps by ``step()``, layers' ``device=``.
"""

import functools
import operator
import warnings

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb
import nnbasics.data as nbdata
import nnbasics.functional as F
from nnbasics import nn


# ---------------------------------------------------------------- softmax without dim
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)], ids=str)
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
def test_softmax_without_dim_uses_torchs_legacy_choice_and_warns(torch, rng, which, shape):
    x = rng.standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        ours = getattr(F, which)(nb.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        theirs = getattr(torch.nn.functional, which)(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    module = {"softmax": nn.Softmax, "log_softmax": nn.LogSoftmax}[which]
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        np.testing.assert_allclose(module()(nb.tensor(x)).numpy(), theirs.numpy(), rtol=1e-6)
    assert_parity(lambda t: getattr(F, which)(t, dim=0, dtype=nb.float64),
                  lambda t: getattr(torch.nn.functional, which)(t, dim=0, dtype=torch.float64), x, torch=torch)


# ---------------------------------------------------------------- inplace=True
ACTIVATIONS = ["ReLU", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU", "Mish", "Hardtanh", "ReLU6", "Hardsigmoid"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_inplace_activation_modules_change_their_input_as_torch(torch, rng, name):
    x = rng.standard_normal((3, 4)) * 4

    def run(lib):
        w = lib.tensor(x, requires_grad=True)
        h = w * 1.5
        out = getattr(lib.nn, name)(inplace=True)(h)
        assert out is h  # the input itself, changed
        (out * lib.tensor(x)).sum().backward()
        return h.detach().numpy(), w.grad.numpy()

    for a, b in zip(run(nb), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert repr(getattr(nn, name)(inplace=True)) == repr(getattr(torch.nn, name)(inplace=True))
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


def test_inplace_on_a_leaf_that_requires_grad_refuses_as_torch(torch):
    for lib in (nb, torch):
        with pytest.raises(RuntimeError, match="leaf"):
            lib.nn.functional.relu(lib.tensor([1.0, -1.0], requires_grad=True), inplace=True)


def test_inplace_dropout(torch):
    for lib in (nb, torch):
        x = lib.ones(200, 10)
        y = lib.nn.functional.dropout(x, 0.5, True, True)
        assert y is x and set(np.unique(x.numpy()).tolist()) == {0.0, 2.0}
        m = lib.nn.Dropout(0.3, True)
        assert m.inplace and repr(m) == "Dropout(p=0.3, inplace=True)"
        m.eval()
        z = lib.ones(3)
        assert m(z) is z


# ---------------------------------------------------------------- deprecated loss arguments
LEGACY = [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True},
          {"size_average": False, "reduce": False}, {"size_average": None, "reduce": True}]


@pytest.mark.parametrize("kw", LEGACY, ids=str)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"])
def test_size_average_and_reduce_map_onto_reduction_as_torch(torch, rng, name, kw):
    if name in ("cross_entropy", "nll_loss"):
        a, b = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    else:
        a, b = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0.0, 1.0, (4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_parity(lambda x, y: getattr(F, name)(x, y, **kw), lambda x, y: getattr(torch.nn.functional, name)(x, y, **kw),
                      a, b, torch=torch, requires_grad=[True, False])
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        getattr(F, name)(nb.tensor(a), nb.tensor(b), **kw)


@pytest.mark.parametrize("cls", ["MSELoss", "L1Loss", "BCELoss", "CrossEntropyLoss", "NLLLoss", "SmoothL1Loss",
                                 "BCEWithLogitsLoss", "MultiMarginLoss"])
def test_loss_modules_take_torchs_positional_order(torch, cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = getattr(nn, cls)(size_average=False), getattr(torch.nn, cls)(size_average=False)
    assert ours.reduction == theirs.reduction == "sum"
    if cls in ("CrossEntropyLoss", "NLLLoss"):
        ours, theirs = getattr(nn, cls)(None, None, 2), getattr(torch.nn, cls)(None, None, 2)
        assert ours.ignore_index == theirs.ignore_index == 2


# ---------------------------------------------------------------- nn.init
@pytest.mark.parametrize("old", ["uniform", "normal", "constant", "xavier_uniform", "xavier_normal",
                                 "kaiming_uniform", "kaiming_normal", "orthogonal"])
def test_deprecated_init_names_warn_and_work_as_torch(torch, old):
    args = (0.5,) if old == "constant" else ()
    with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated in favor of `nn.init.{old}_`"):
        out = getattr(nn.init, old)(nb.zeros(4, 6), *args)
    with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated"):
        getattr(torch.nn.init, old)(torch.zeros(4, 6), *args)
    assert out.shape == (4, 6) and (old == "constant" or float(out.abs().sum()) > 0)


def test_init_takes_generator_and_bumps_the_version():
    a, b = nb.zeros(5, 4), nb.zeros(5, 4)
    nn.init.kaiming_uniform_(a, generator=np.random.default_rng(3))
    nn.init.kaiming_uniform_(b, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a._version == 1


# ---------------------------------------------------------------- optimizers
@pytest.mark.parametrize("name, kw", [("SGD", {"momentum": 0.9, "foreach": False, "fused": None}),
                                      ("Adam", {"foreach": True, "capturable": False, "fused": None}),
                                      ("AdamW", {"foreach": None, "capturable": False}),
                                      ("RMSprop", {"foreach": None, "capturable": False}),
                                      ("Adagrad", {"foreach": None, "fused": None}),
                                      ("Adadelta", {"foreach": None, "capturable": False})])
def test_optimizers_accept_torchs_implementation_switches(name, kw):
    w = nn.Parameter(nb.ones(3))
    opt = getattr(nb.optim, name)([w], lr=0.1, **kw)
    (w * w).sum().backward()
    opt.step()
    assert w._version == 1  # step() changes the parameter in place: its version moves, as in torch
    with pytest.raises(NotImplementedError, match="differentiable"):
        getattr(nb.optim, name)([w], lr=0.1, differentiable=True)


def test_adam_decoupled_weight_decay_is_adamw_as_in_torch(torch, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    results = []
    for lib in (nb, torch):
        p = lib.nn.Parameter(lib.tensor(x))
        opt = lib.optim.Adam([p], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        results.append(p.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


def test_optimizer_step_between_forward_and_backward_is_caught_where_torch_catches_it(torch):
    for lib in (nb, torch):
        w = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        opt = lib.optim.SGD([w], lr=0.1)
        loss = (w * w).sum()  # keeps w
        w.grad = lib.ones(2)
        opt.step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


# ---------------------------------------------------------------- device= on layers
@pytest.mark.parametrize("make", [lambda d: nn.Linear(2, 3, device=d), lambda d: nn.Conv2d(1, 2, 3, device=d),
                                  lambda d: nn.BatchNorm1d(4, device=d), lambda d: nn.LayerNorm(4, device=d),
                                  lambda d: nn.Embedding(5, 2, device=d), lambda d: nn.LSTM(2, 3, device=d),
                                  lambda d: nn.GRUCell(2, 3, device=d)])
def test_layers_take_device_cpu_and_refuse_cuda(make):
    make("cpu")
    make(nb.device("cpu"))
    with pytest.raises(nb.DeviceError, match="no GPU backend"):
        make("cuda")


# ---------------------------------------------------------------- data
def test_dataloader_and_random_split_take_torchs_argument_names():
    ds = nbdata.TensorDataset(np.arange(10.0)[:, None], np.arange(10))
    a = [b[1].tolist() for b in nbdata.DataLoader(ds, 4, shuffle=True, generator=np.random.default_rng(1),
                                                    num_workers=2, pin_memory=True)]
    b = [b[1].tolist() for b in nbdata.DataLoader(ds, 4, shuffle=True, rng=np.random.default_rng(1))]
    assert a == b and sorted(functools.reduce(operator.iadd, a, [])) == list(range(10))
    assert len(list(nbdata.DataLoader(ds, 3, shuffle=None))) == 4
    parts = nbdata.random_split(ds, [0.7, 0.3], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [7, 3]
