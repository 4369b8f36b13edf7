"""models.mlp: MLPs by name (layout, PyTorch keys, every activation x init) and the init schemes."""

import math

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn
from nnbasics.models import build_model
from nnbasics.models.mlp import INIT_SCHEMES, apply_init, canonical_init, init_weight_, logreg, mlp

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "mish"]


def test_layout_and_pytorch_keys():
    net = mlp(in_features=3, hidden=[5, 7], out_features=2, activation="tanh", dropout=0.25, rng=0)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    assert net[0].weight.shape == (5, 3) and net[3].weight.shape == (7, 5) and net[6].weight.shape == (2, 7)
    assert net[2].p == 0.25


def test_image_shape_flattens_first():
    net = mlp(in_features=[1, 4, 5], hidden=[6], out_features=3, rng=0)
    assert isinstance(net[0], nn.Flatten) and net[1].in_features == 20
    assert net(nb.randn(2, 1, 4, 5, rng=1)).shape == (2, 3)


def test_forward_matches_torch(torch):
    net = mlp(in_features=3, hidden=[5, 7], out_features=2, activation="elu", init="he", rng=0).eval()
    ref = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ELU(), torch.nn.Linear(5, 7), torch.nn.ELU(),
                              torch.nn.Linear(7, 2))
    ref.load_state_dict({k: torch.tensor(v._array) for k, v in net.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(net(nb.tensor(x))._array, ref(torch.tensor(x)).detach().numpy(), atol=1e-5, rtol=1e-4)


def test_module_contract():
    x = nb.randn(6, 3, rng=0)
    check_module(lambda rng: mlp(in_features=3, hidden=[5, 7], out_features=2, activation="tanh", rng=rng), x,
                 expected_shape=(6, 2),
                 param_names=["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
    with pytest.raises(ValueError, match=r"Linear\(3, 5\) expected input of shape \(\*, 3\)"):
        mlp(in_features=3, hidden=[5, 7], out_features=2, rng=0)(nb.randn(6, 4, rng=1))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("init", ["xavier", "he", "lecun"])
def test_every_activation_and_init_builds_and_runs(activation, init):
    net = mlp(in_features=4, hidden=[6, 5], out_features=3, activation=activation, init=init, rng=0)
    out = net(nb.randn(7, 4, rng=1))
    assert out.shape == (7, 3) and np.isfinite(out._array).all()


def test_bias_false_and_activation_kwargs():
    net = mlp(in_features=3, hidden=[4], out_features=2, bias=False, activation="leaky_relu",
              activation_kwargs={"negative_slope": 0.2}, rng=0)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "2.weight"]
    assert net[1].negative_slope == 0.2


def test_per_layer_dropout_and_zero_rate_adds_no_layer():
    net = mlp(in_features=3, hidden=[4, 4], out_features=2, dropout=[0.0, 0.5], rng=0)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "ReLU", "Dropout", "Linear"]


# ------------------------------------------------------------------ inits
FAN_IN, FAN_OUT = 300, 400


@pytest.mark.parametrize("scheme, std", [
    ("normal", 1.0), ("small", 0.01), ("lecun", 1 / math.sqrt(FAN_IN)), ("lecun_normal", 1 / math.sqrt(FAN_IN)),
    ("lecun_uniform", 1 / math.sqrt(FAN_IN)), ("xavier", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("xavier_uniform", math.sqrt(2 / (FAN_IN + FAN_OUT))), ("he", math.sqrt(2 / FAN_IN)),
    ("he_uniform", math.sqrt(2 / FAN_IN)), ("orthogonal", 1 / math.sqrt(FAN_OUT)),
])
def test_init_scheme_has_its_documented_std(scheme, std):
    net = mlp(in_features=FAN_IN, hidden=[FAN_OUT], out_features=2, init=scheme, rng=0)
    w = net[0].weight._array
    assert w.shape == (FAN_OUT, FAN_IN)
    np.testing.assert_allclose(w.std(), std, rtol=0.03)
    assert abs(w.mean()) < 0.05 * std
    assert not net[0].bias._array.any()


def test_uniform_schemes_are_bounded_and_normal_ones_are_not():
    w = {s: mlp(in_features=FAN_IN, hidden=[FAN_OUT], out_features=2, init=s, rng=0)[0].weight._array
         for s in ("he_uniform", "he")}
    bound = math.sqrt(3 * 2 / FAN_IN)
    assert abs(w["he_uniform"]).max() <= bound
    assert abs(w["he"]).max() > bound


def test_zeros_and_default():
    z = mlp(in_features=5, hidden=[4], out_features=2, init="zeros", rng=0)
    assert not any(p._array.any() for p in z.parameters())
    d = mlp(in_features=5, hidden=[4], out_features=2, init="default", rng=0)
    assert abs(d[0].weight._array).max() <= 1 / math.sqrt(5) and d[0].bias._array.any()


def test_aliases_and_unknown_init_lists_the_valid_names():
    assert canonical_init("Kaiming") == "he" and canonical_init("glorot-uniform") == "xavier_uniform"
    assert canonical_init("torch") == "default"
    with pytest.raises(ValueError, match=r"unknown init scheme 'xavierr'.*Valid: default, zeros"):
        mlp(in_features=2, out_features=2, init="xavierr")
    assert set(INIT_SCHEMES) >= {"zeros", "normal", "small", "lecun", "xavier", "he", "default"}


def test_apply_init_reaches_every_layer_and_is_seeded():
    a = apply_init(mlp(in_features=3, hidden=[4, 5], out_features=2, rng=0), "xavier", rng=7)
    b = apply_init(mlp(in_features=3, hidden=[4, 5], out_features=2, rng=1), "xavier", rng=7)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va._array, vb._array)
    w = nb.zeros(3, 4)
    init_weight_(w, "normal", rng=0)
    assert w._array.any()
    with pytest.raises(ValueError, match="reset_parameters"):
        init_weight_(w, "default")


def test_same_seed_same_weights_other_seed_other_weights():
    def weights(seed):
        return mlp(in_features=3, hidden=[4], out_features=2, init="he", rng=seed)[0].weight._array

    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.array_equal(weights(3), weights(4))


def test_deep_relu_net_with_he_keeps_its_signal():
    net = mlp(in_features=64, hidden=[64] * 29, out_features=10, init="he", rng=0)
    h = nb.randn(256, 64, rng=1)
    for m in list(net)[:-1]:
        h = m(h)
    rms = float(np.sqrt((h._array ** 2).mean()))
    assert 0.2 < rms < 5.0, rms  # "small" would vanish (~1e-30), "normal" explode (~1e30)
    small = mlp(in_features=64, hidden=[64] * 29, out_features=10, init="small", rng=0)
    h = nb.randn(256, 64, rng=1)
    for m in list(small)[:-1]:
        h = m(h)
    assert float(np.abs(h._array).max()) < 1e-20


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden": [4, 0]}, "every hidden size must be a positive int"),
    ({"hidden": "64"}, "hidden must be a list"),
    ({"dropout": 1.0}, r"DROPPING a unit, in \[0, 1\)"),
    ({"dropout": [0.1, 0.2]}, "one rate per hidden layer"),
    ({"activation": "relux"}, "mlp: activation: .*valid names: step, sigmoid"),
    ({"in_features": 0}, "in_features"),
    ({"dtype": "int32"}, "dtype must be"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, match):
    args = {"in_features": 3, "hidden": [4], "out_features": 2, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        mlp(**args)


def test_batch_norm_goes_between_linear_and_activation():
    net = mlp(in_features=3, hidden=[4], out_features=2, batch_norm=True, rng=0)
    assert [type(m).__name__ for m in net] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert "1.running_mean" in net.state_dict()
    assert net(nb.randn(5, 3, rng=1)).shape == (5, 2)


def test_float64_for_gradient_checks():
    net = mlp(in_features=3, hidden=[4], out_features=2, activation="tanh", dtype="float64", rng=0)
    assert all(p.dtype == np.float64 for p in net.parameters())
    x = nb.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    nb.gradcheck(lambda x: net(x), x)


def test_registry_records_every_argument_and_logreg():
    net = build_model("mlp", in_features=3, hidden=(4,), out_features=2, rng=0)
    assert net.spec == {"model": "mlp", "in_features": 3, "out_features": 2, "hidden": [4], "activation": "relu",
                        "init": "default", "dropout": 0.0, "batch_norm": False, "bias": True,
                        "activation_kwargs": None, "dtype": None}
    lr = logreg(in_features=[2, 3], out_features=4, rng=0)
    assert [type(m).__name__ for m in lr] == ["Flatten", "Linear"] and lr[1].weight.shape == (4, 6)
