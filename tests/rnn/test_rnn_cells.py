"""nn.RNNCell / nn.LSTMCell / nn.GRUCell: PyTorch parity, gradient checks, contract, errors."""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn

N, I, H = 3, 4, 6
ATOL, RTOL = 1e-5, 1e-4
CELLS = {
    "rnn_tanh": lambda mod, **kw: mod.RNNCell(I, H, nonlinearity="tanh", **kw),
    "rnn_relu": lambda mod, **kw: mod.RNNCell(I, H, nonlinearity="relu", **kw),
    "lstm": lambda mod, **kw: mod.LSTMCell(I, H, **kw),
    "gru": lambda mod, **kw: mod.GRUCell(I, H, **kw),
}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
@pytest.mark.parametrize("unbatched", [False, True])
def test_parity_with_torch(torch, rng, kind, bias, given_state, unbatched):
    tm = CELLS[kind](torch.nn, bias=bias)
    m = CELLS[kind](nn, bias=bias, rng=0)
    m.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}, strict=True)
    lead = () if unbatched else (N,)
    x = rng.standard_normal(lead + (I,)).astype(np.float32)
    states = [rng.standard_normal(lead + (H,)).astype(np.float32) for _ in range(2 if kind == "lstm" else 1)]
    tx, nx = torch.tensor(x, requires_grad=True), nb.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    ns = [nb.tensor(s, requires_grad=True) for s in states]
    if kind == "lstm":
        t_out = list(tm(tx, tuple(ts) if given_state else None))
        n_out = list(m(nx, tuple(ns) if given_state else None))
    else:
        t_out = [tm(tx, ts[0] if given_state else None)]
        n_out = [m(nx, ns[0] if given_state else None)]
    gen = np.random.default_rng(3)
    grads = [gen.standard_normal(tuple(t.shape)).astype(np.float32) for t in t_out]
    torch.autograd.backward(t_out, [torch.from_numpy(g) for g in grads])
    loss = (n_out[0] * nb.tensor(grads[0])).sum()
    for o, g in zip(n_out[1:], grads[1:]):
        loss = loss + (o * nb.tensor(g)).sum()
    loss.backward()
    for k, (o, t) in enumerate(zip(n_out, t_out)):
        assert o.shape == tuple(t.shape)
        np.testing.assert_allclose(o._array, t.detach().numpy(), atol=ATOL, rtol=RTOL, err_msg=f"output {k}")
    np.testing.assert_allclose(nx.grad._array, tx.grad.numpy(), atol=ATOL, rtol=RTOL)
    if given_state:
        for s, t in zip(ns, ts):
            np.testing.assert_allclose(s.grad._array, t.grad.numpy(), atol=ATOL, rtol=RTOL)
    tparams = dict(tm.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(tparams)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad._array, tparams[name].grad.numpy(), atol=ATOL, rtol=RTOL, err_msg=name)


@pytest.mark.parametrize("kind", list(CELLS))
def test_gradcheck(kind, rng):
    m = CELLS[kind](nn, rng=2, dtype="float64")
    x = nb.tensor(rng.standard_normal((N, I)), requires_grad=True)
    states = [nb.tensor(rng.standard_normal((N, H)), requires_grad=True) for _ in range(2 if kind == "lstm" else 1)]

    def fn(x, *rest):
        if kind == "lstm":
            h, c = m(x, (rest[0], rest[1]))
            return nb.ops.concatenate([h, c], dim=1)
        return m(x, rest[0])

    nb.gradcheck(fn, x, *states, *m.parameters(), tol=1e-6)


def test_cell_steps_match_the_layer(rng):
    """Unrolling LSTMCell over time gives nn.LSTM's outputs (same weights, suffix-free names)."""
    layer = nn.LSTM(I, H, rng=0)
    cell = nn.LSTMCell(I, H, rng=1)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = nb.tensor(rng.standard_normal((5, N, I)).astype(np.float32))
    out, (_, c_n) = layer(x)
    h = c = None
    for t in range(5):
        h, c = cell(x[t], None if h is None else (h, c))
        np.testing.assert_allclose(h._array, out._array[t], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(c._array, c_n._array[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", list(CELLS))
def test_contract(kind):
    x = nb.randn(N, I, rng=0)
    expected = ((N, H), (N, H)) if kind == "lstm" else (N, H)
    cls = type(CELLS[kind](nn)).__name__
    bad_state = (x, (nb.zeros(N, H + 1), nb.zeros(N, H))) if kind == "lstm" else (x, nb.zeros(N, H + 1))
    bad = [
        (nb.randn(N, I + 2, rng=1), rf"{cls} expected input with {I} features \(input_size\)"),
        (nb.randn(2, N, I, rng=1), rf"expected input of shape \(N, {I}\)"),
        (bad_state, r"expected h(x)? of shape \(3, 6\)"),
    ]
    check_module(lambda rng: CELLS[kind](nn, rng=rng), x, expected_shape=expected,
                 param_names=["weight_ih", "weight_hh", "bias_ih", "bias_hh"], bad_inputs=bad)


def test_cell_errors_and_repr():
    with pytest.raises(ValueError, match=r"LSTMCell expected hx as a tuple \(h, c\)"):
        nn.LSTMCell(I, H)(nb.zeros(N, I), nb.zeros(N, H))
    with pytest.raises(ValueError, match=r"nonlinearity"):
        nn.RNNCell(I, H, nonlinearity="gelu")
    assert repr(nn.RNNCell(I, H, nonlinearity="relu", bias=False)) == "RNNCell(4, 6, bias=False, nonlinearity='relu')"
    assert [n for n, _ in nn.GRUCell(I, H, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]
