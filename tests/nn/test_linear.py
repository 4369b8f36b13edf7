"""nn.Linear and nn.Identity: shapes, init, validation, gradcheck, PyTorch parity, contract."""

import math

import numpy as np
import pytest
from contract import check_module
from parity import assert_parity

import nnbasics as nb
from nnbasics import nn

ATOL, RTOL = 1e-5, 1e-4


# --------------------------------------------------------------------- shapes
@pytest.mark.parametrize("shape", [(7, 3), (2, 5, 3), (2, 1, 5, 3), (3,)])
def test_shapes(shape):
    m = nn.Linear(3, 4, rng=0)
    x = nb.randn(*shape, rng=1)
    y = m(x)
    assert y.shape == shape[:-1] + (4,)
    np.testing.assert_allclose(y._array, x._array @ m.weight._array.T + m.bias._array, rtol=1e-6, atol=1e-6)


def test_no_bias_registered_as_none():
    m = nn.Linear(3, 4, bias=False, rng=0)
    assert "bias" in m._parameters and m.bias is None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert list(m.state_dict()) == ["weight"]
    x = nb.randn(2, 3, rng=1)
    np.testing.assert_allclose(m(x)._array, x._array @ m.weight._array.T, rtol=1e-6)


def test_layout_dtype_and_repr():
    m = nn.Linear(3, 5, rng=0)
    assert m.weight.shape == (5, 3) and m.bias.shape == (5,)
    assert m.weight.dtype == np.float32 and isinstance(m.weight, nn.Parameter)
    assert nn.Linear(3, 5, rng=0, dtype="float64").weight.dtype == np.float64
    assert repr(m) == "Linear(in_features=3, out_features=5, bias=True)"
    assert repr(nn.Linear(3, 5, bias=False)) == "Linear(in_features=3, out_features=5, bias=False)"


# ----------------------------------------------------------------------- init
def test_init_bound_and_moments():
    n_in, n_out = 400, 300
    m = nn.Linear(n_in, n_out, rng=0)
    k = 1 / math.sqrt(n_in)
    w, b = m.weight._array, m.bias._array
    assert np.abs(w).max() <= k and np.abs(b).max() <= k
    assert np.abs(w).max() > 0.99 * k  # the whole interval is used, not a narrower one
    np.testing.assert_allclose(w.mean(), 0.0, atol=0.02 * k)
    np.testing.assert_allclose(w.var(), k**2 / 3, rtol=0.02)  # U(-k, k) has variance k^2/3


def test_init_is_kaiming_uniform_a_sqrt5():
    # bound = gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a^2)), a = sqrt(5)
    n_in = 7
    gain = math.sqrt(2 / (1 + 5))
    m = nn.Linear(n_in, 2000, rng=3)
    np.testing.assert_allclose(np.abs(m.weight._array).max(), gain * math.sqrt(3 / n_in), rtol=1e-3)


def test_init_rng_explicit():
    a, b, c = nn.Linear(5, 3, rng=0), nn.Linear(5, 3, rng=0), nn.Linear(5, 3, rng=1)
    np.testing.assert_array_equal(a.weight._array, b.weight._array)
    np.testing.assert_array_equal(a.bias._array, b.bias._array)
    assert not np.array_equal(a.weight._array, c.weight._array)
    g = np.random.default_rng(0)
    d, e = nn.Linear(5, 3, rng=g), nn.Linear(5, 3, rng=g)  # one stream: successive draws differ
    assert not np.array_equal(d.weight._array, e.weight._array)
    w0 = a.weight._array.copy()
    a.reset_parameters()  # draws on from the kept Generator
    assert not np.array_equal(a.weight._array, w0)
    a.reset_parameters(rng=0)
    np.testing.assert_array_equal(a.weight._array, w0)


def test_reset_parameters_keeps_objects():
    m = nn.Linear(5, 3, rng=0)
    w, b = m.weight, m.bias
    m.reset_parameters(rng=4)
    assert m.weight is w and m.bias is b


# ----------------------------------------------------------------- validation
@pytest.mark.parametrize("args", [(0, 3), (3, 0), (2.5, 3), (True, 3), (3, -1)])
def test_bad_sizes(args):
    with pytest.raises(ValueError, match="of Linear must be a positive int"):
        nn.Linear(*args)


def test_bad_dtype():
    with pytest.raises(TypeError, match="floating point"):
        nn.Linear(3, 2, dtype="int32")


@pytest.mark.parametrize("shape", [(5, 4), (2, 5, 2), ()])
def test_wrong_last_dim_message(shape):
    m = nn.Linear(3, 2, rng=0)
    with pytest.raises(ValueError) as info:
        m(nb.randn(*shape, rng=0) if shape else nb.tensor(1.0))
    msg = str(info.value)
    assert "Linear" in msg and "(*, 3)" in msg and str(tuple(shape)) in msg, msg


# ------------------------------------------------------------------ gradients
def test_gradcheck_float64():
    m = nn.Linear(5, 3, rng=0).double()
    x = nb.randn(2, 7, 5, rng=1, dtype="float64", requires_grad=True)
    nb.gradcheck(lambda x, w, b: m(x), x, m.weight, m.bias)
    m2 = nn.Linear(5, 3, bias=False, rng=0, dtype="float64")
    nb.gradcheck(lambda x, w: m2(x), nb.randn(2, 5, rng=2, dtype="float64", requires_grad=True), m2.weight)


# --------------------------------------------------------------------- parity
def _torch_linear(torch, n_in, n_out, bias=True):
    return torch.nn.Linear(n_in, n_out, bias=bias)


@pytest.mark.parametrize("shape", [(7, 5), (2, 7, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_parity_nnbasics_weights_into_torch(torch, rng, shape, bias):
    m = nn.Linear(5, 3, bias=bias, rng=0)
    tm = _torch_linear(torch, 5, 3, bias)
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in m.state_dict().items()})
    assert_parity(m, tm, rng.standard_normal(shape), torch=torch, atol=ATOL, rtol=RTOL)
    for n, p in m.named_parameters():
        tp = dict(tm.named_parameters())[n]
        np.testing.assert_allclose(p.grad._array, tp.grad.numpy(), atol=ATOL, rtol=RTOL, err_msg=f"grad of {n}")


@pytest.mark.parametrize("shape", [(7, 5), (2, 7, 5)])
def test_parity_torch_state_dict_loads_directly(torch, rng, shape):
    tm = _torch_linear(torch, 5, 3)
    m = nn.Linear(5, 3, rng=0)
    m.load_state_dict(tm.state_dict())  # torch tensors, duck-typed
    np.testing.assert_array_equal(m.weight._array, tm.weight.detach().numpy())
    np.testing.assert_array_equal(m.bias._array, tm.bias.detach().numpy())
    assert m.weight.dtype == np.float32
    assert_parity(m, tm, rng.standard_normal(shape), torch=torch, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(m.weight.grad._array, tm.weight.grad.numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(m.bias.grad._array, tm.bias.grad.numpy(), atol=ATOL, rtol=RTOL)


def test_parity_torch_state_dict_wrong_size_is_rejected(torch):
    tm = _torch_linear(torch, 5, 3)
    with pytest.raises(ValueError, match=r"'weight': checkpoint \(3, 5\), module \(3, 4\)"):
        nn.Linear(4, 3, rng=0).load_state_dict(tm.state_dict())


def test_state_dict_keys_match_torch(torch):
    assert list(nn.Linear(5, 3).state_dict()) == list(_torch_linear(torch, 5, 3).state_dict())
    net = nn.Sequential(nn.Linear(5, 4), nn.Identity(), nn.Linear(4, 3, bias=False))
    tnet = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Identity(), torch.nn.Linear(4, 3, bias=False))
    assert list(net.state_dict()) == list(tnet.state_dict())
    net.load_state_dict(tnet.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(net(nb.tensor(x))._array, tnet(torch.from_numpy(x)).detach().numpy(),
                               atol=ATOL, rtol=RTOL)


# ------------------------------------------------------------------- identity
def test_identity():
    x = nb.randn(2, 3, rng=0, requires_grad=True)
    m = nn.Identity(54, unused="ok")
    assert m(x) is x
    assert list(m.parameters()) == [] and repr(m) == "Identity()"


# ------------------------------------------------------------------- contract
@pytest.mark.parametrize("bias", [True, False])
def test_contract_linear(bias):
    check_module(lambda rng: nn.Linear(5, 3, bias=bias, rng=rng), nb.randn(2, 7, 5, rng=0),
                 expected_shape=(2, 7, 3), param_names=["weight", "bias"] if bias else ["weight"],
                 bad_inputs=[nb.randn(2, 7, 3, rng=1), (nb.randn(4, rng=1), r"\(\*, 5\).*\(4,\)")])


def test_contract_identity():
    check_module(lambda rng: nn.Identity(), nb.randn(2, 3, rng=0), expected_shape=(2, 3), param_names=[])
