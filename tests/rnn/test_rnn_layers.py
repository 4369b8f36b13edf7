"""nn.RNN / nn.LSTM / nn.GRU: PyTorch parity in every configuration, gradient checks, contract, errors."""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn

T, N, I, H = 5, 3, 4, 6  # distinct sizes; input_size != hidden_size on purpose
ATOL, RTOL = 1e-5, 1e-4

MODES = {
    "rnn_tanh": (lambda mod, **kw: mod.RNN(I, H, nonlinearity="tanh", **kw)),
    "rnn_relu": (lambda mod, **kw: mod.RNN(I, H, nonlinearity="relu", **kw)),
    "lstm": (lambda mod, **kw: mod.LSTM(I, H, **kw)),
    "gru": (lambda mod, **kw: mod.GRU(I, H, **kw)),
}


def _np_state_dict(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _pair(torch, mode, **kw):
    """A torch layer and an nnbasics layer holding torch's weights (loaded strictly, keys identical)."""
    tm = MODES[mode](torch.nn, **kw)
    m = MODES[mode](nn, rng=0, **kw)
    assert list(m.state_dict()) == list(tm.state_dict())
    result = m.load_state_dict(_np_state_dict(tm), strict=True)
    if result is not None:
        assert not result[0] and not result[1]
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    return tm, m


def _run_both(torch, tm, m, x, states, lstm):
    """Forward both, backward the same random upstream gradient through output AND final states."""
    tx = torch.tensor(x, requires_grad=True)
    nx = nb.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    ns = [nb.tensor(s, requires_grad=True) for s in states]
    if lstm:
        t_out, (t_h, t_c) = tm(tx, tuple(ts) if ts else None)
        n_out, (n_h, n_c) = m(nx, tuple(ns) if ns else None)
        t_outs, n_outs = [t_out, t_h, t_c], [n_out, n_h, n_c]
    else:
        t_out, t_h = tm(tx, ts[0] if ts else None)
        n_out, n_h = m(nx, ns[0] if ns else None)
        t_outs, n_outs = [t_out, t_h], [n_out, n_h]
    gen = np.random.default_rng(7)
    grads = [gen.standard_normal(tuple(t.shape)).astype(np.float32) for t in t_outs]
    torch.autograd.backward(t_outs, [torch.from_numpy(g) for g in grads])
    loss = sum(((o * nb.tensor(g)).sum() for o, g in zip(n_outs[1:], grads[1:])), (n_outs[0] * nb.tensor(grads[0])).sum())
    loss.backward()
    for k, (o, t) in enumerate(zip(n_outs, t_outs)):
        assert o.shape == tuple(t.shape), f"output {k}: {o.shape} vs torch {tuple(t.shape)}"
        assert o.dtype == np.float32
        np.testing.assert_allclose(o._array, t.detach().numpy(), atol=ATOL, rtol=RTOL, err_msg=f"output {k}")
    np.testing.assert_allclose(nx.grad._array, tx.grad.numpy(), atol=ATOL, rtol=RTOL, err_msg="grad of input")
    for k, (s, t) in enumerate(zip(ns, ts)):
        np.testing.assert_allclose(s.grad._array, t.grad.numpy(), atol=ATOL, rtol=RTOL, err_msg=f"grad of state {k}")
    tparams = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad._array, tparams[name].grad.numpy(), atol=ATOL, rtol=RTOL,
                                   err_msg=f"grad of {name}")


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_states", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_parity_with_torch(torch, rng, mode, num_layers, bidirectional, batch_first, given_states, bias):
    tm, m = _pair(torch, mode, num_layers=num_layers, bidirectional=bidirectional,
                  batch_first=batch_first, bias=bias)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I)).astype(np.float32)
    D = 2 if bidirectional else 1
    n_states = (2 if mode == "lstm" else 1) if given_states else 0
    states = [rng.standard_normal((num_layers * D, N, H)).astype(np.float32) for _ in range(n_states)]
    _run_both(torch, tm, m, x, states, mode == "lstm")


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("given_states", [False, True])
def test_parity_unbatched(torch, rng, mode, given_states):
    """A 2-D (T, input_size) input, states (L*D, H), as PyTorch accepts."""
    tm, m = _pair(torch, mode, num_layers=2, bidirectional=True)
    x = rng.standard_normal((T, I)).astype(np.float32)
    n_states = (2 if mode == "lstm" else 1) if given_states else 0
    states = [rng.standard_normal((4, H)).astype(np.float32) for _ in range(n_states)]
    _run_both(torch, tm, m, x, states, mode == "lstm")


@pytest.mark.parametrize("mode", list(MODES))
def test_state_dict_loads_into_torch(torch, mode):
    """Our weights into torch (strict): the same outputs and final states from the same input."""
    m = MODES[mode](nn, num_layers=2, bidirectional=True, rng=3)
    tm = MODES[mode](torch.nn, num_layers=2, bidirectional=True)
    tm.load_state_dict({k: torch.from_numpy(v._array.copy()) for k, v in m.state_dict().items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((T, N, I)).astype(np.float32)
    (out, fin), (t_out, t_fin) = m(nb.tensor(x)), tm(torch.from_numpy(x))
    np.testing.assert_allclose(out._array, t_out.detach().numpy(), atol=ATOL, rtol=RTOL)
    fin, t_fin = (fin, t_fin) if mode == "lstm" else ((fin,), (t_fin,))
    for a, b in zip(fin, t_fin):
        np.testing.assert_allclose(a._array, b.detach().numpy(), atol=ATOL, rtol=RTOL)


def test_parameter_names_shapes_and_init():
    m = nn.LSTM(I, H, num_layers=2, bidirectional=True, rng=0)
    names = [n for n, _ in m.named_parameters()]
    expected = [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
                for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == expected
    assert m.weight_ih_l0.shape == (4 * H, I)
    assert m.weight_ih_l1.shape == (4 * H, 2 * H)
    assert m.weight_hh_l1_reverse.shape == (4 * H, H)
    bound = 1 / np.sqrt(H)
    for n, p in m.named_parameters():
        assert p.dtype == np.float32
        assert np.abs(p._array).max() <= bound, n
        assert np.abs(p._array).max() > 0.8 * bound, n  # drawn from the whole range, not a narrower one
    assert [n for n, _ in nn.GRU(I, H, bias=False, rng=0).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    a, b = nn.GRU(I, H, rng=5), nn.GRU(I, H, rng=5)
    np.testing.assert_array_equal(a.weight_hh_l0._array, b.weight_hh_l0._array)


@pytest.mark.parametrize("mode", list(MODES))
def test_module_gradcheck(mode, rng):
    """float64, 2 layers, bidirectional, given states: every input, state and parameter."""
    Tq, Nq, Iq, Hq = 4, 5, 2, 3  # smaller than the parity sizes (each parameter costs two forwards), still distinct
    kw = {"num_layers": 2, "bidirectional": True, "rng": 1, "dtype": "float64"}
    m = {"lstm": nn.LSTM, "gru": nn.GRU}.get(mode, nn.RNN)(Iq, Hq, **kw)
    if mode.startswith("rnn"):
        m = nn.RNN(Iq, Hq, nonlinearity=mode[4:], **kw)
    x = nb.tensor(rng.standard_normal((Tq, Nq, Iq)), requires_grad=True)
    states = [nb.tensor(rng.standard_normal((4, Nq, Hq)), requires_grad=True)
              for _ in range(2 if mode == "lstm" else 1)]

    def fn(x, *rest):
        st = rest[: len(states)]
        out, fin = m(x, tuple(st) if mode == "lstm" else st[0])
        parts = [out, *fin] if mode == "lstm" else [out, fin]
        return nb.ops.concatenate([p.reshape(-1) for p in parts], dim=0)

    nb.gradcheck(fn, x, *states, *m.parameters(), tol=1e-6)


def test_dropout_between_layers(torch, rng):
    """Training mode drops between layers (reproducibly from rng); eval mode is dropout-free, as torch's."""
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    a = nn.LSTM(I, H, num_layers=2, dropout=0.5, rng=0)
    b = nn.LSTM(I, H, num_layers=2, dropout=0.5, rng=0)
    tm = torch.nn.LSTM(I, H, num_layers=2, dropout=0.5)
    a.load_state_dict(_np_state_dict(tm))
    b.load_state_dict(_np_state_dict(tm))
    ya, yb = a(nb.tensor(x))[0]._array, b(nb.tensor(x))[0]._array
    np.testing.assert_array_equal(ya, yb)  # same seed, same masks
    tm.eval()
    a.eval()
    y_eval = a(nb.tensor(x))[0]._array
    np.testing.assert_allclose(y_eval, tm(torch.from_numpy(x))[0].detach().numpy(), atol=ATOL, rtol=RTOL)
    assert np.abs(ya - y_eval).max() > 1e-3  # dropout changed the training-mode output
    # one layer: nothing between layers to drop (torch warns; we apply none)
    c = nn.LSTM(I, H, dropout=0.5, rng=0)
    np.testing.assert_array_equal(c(nb.tensor(x))[0]._array, c.eval()(nb.tensor(x))[0]._array)


def test_input_size_differs_from_hidden_size():
    """The classic from-scratch bug: weights shaped (H, H) where (H, I) belongs. I=3, H=11."""
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        m = cls(3, 11, num_layers=2, rng=0)
        out, _ = m(nb.randn(4, 2, 3, rng=1))
        assert out.shape == (4, 2, 11)
        out.sum().backward()
        assert m.weight_ih_l0.grad.shape == m.weight_ih_l0.shape == (m.weight_ih_l0.shape[0], 3)


def test_input_without_grad_and_no_grad_mode(rng):
    m = nn.GRU(I, H, rng=0)
    x = nb.tensor(rng.standard_normal((T, N, I)).astype(np.float32))
    out, _ = m(x)
    out.sum().backward()
    assert x.grad is None and m.weight_ih_l0.grad is not None
    with nb.no_grad():
        out2, _ = m(x)
    assert not out2.requires_grad
    np.testing.assert_array_equal(out._array, out2._array)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_contract(mode, bidirectional):
    D = 2 if bidirectional else 1
    x = nb.randn(T, N, I, rng=0)
    state = (2 * D, N, H)
    expected = ((T, N, D * H), (state, state)) if mode == "lstm" else ((T, N, D * H), state)
    names = [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")[:D]
             for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    cls = type(MODES[mode](nn)).__name__
    bad = [
        (nb.randn(T, N, I + 1, rng=1), rf"{cls} expected input with {I} features \(input_size\)"),
        (nb.randn(2, T, N, I, rng=1), r"3-D batched input"),
        ((x, (nb.zeros(2 * D, N + 1, H),) * 2 if mode == "lstm" else nb.zeros(2 * D, N + 1, H)),
         r"expected h_0 of shape"),
    ]
    check_module(lambda rng: MODES[mode](nn, num_layers=2, bidirectional=bidirectional, rng=rng), x,
                 expected_shape=expected, param_names=names, bad_inputs=bad)


def test_error_messages():
    lstm = nn.LSTM(5, 8)
    with pytest.raises(ValueError, match=r"^LSTM expected input with 5 features \(input_size\), got \(7, 3, 4\)\.$"):
        lstm(nb.zeros(7, 3, 4))
    with pytest.raises(ValueError, match=r"LSTM expected c_0 of shape \(1, 3, 8\)"):
        lstm(nb.zeros(7, 3, 5), (nb.zeros(1, 3, 8), nb.zeros(1, 3, 7)))
    with pytest.raises(ValueError, match=r"LSTM expected hx as a tuple"):
        lstm(nb.zeros(7, 3, 5), nb.zeros(1, 3, 8))
    with pytest.raises(ValueError, match=r"GRU expected hx as one tensor"):
        nn.GRU(5, 8)(nb.zeros(7, 3, 5), (nb.zeros(1, 3, 8),))
    with pytest.raises(ValueError, match=r"LSTM expected a 3-D batched input \(N, T, input_size\)"):
        nn.LSTM(5, 8, batch_first=True)(nb.zeros(5))
    with pytest.raises(ValueError, match=r"at least one step"):
        lstm(nb.zeros(0, 3, 5))
    with pytest.raises(TypeError, match=r"floating-point"):
        lstm(nb.tensor(np.zeros((7, 3, 5), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"dropout of LSTM"):
        nn.LSTM(5, 8, dropout=1.0)
    with pytest.raises(ValueError, match=r"hidden_size of GRU"):
        nn.GRU(5, 0)
    with pytest.raises(ValueError, match=r"nonlinearity"):
        nn.RNN(5, 8, nonlinearity="sigmoid")


def test_repr():
    assert repr(nn.LSTM(5, 8, num_layers=2, batch_first=True)).startswith(
        "LSTM(5, 8, num_layers=2, batch_first=True)")
    assert "nonlinearity='relu'" in repr(nn.RNN(5, 8, nonlinearity="relu"))


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_dropout_acts_between_layers_only(mode, rng):
    """Training mode: output = layer1(dropout(layer0(x))) with the layer's own generator -- the inverted
    dropout of F.dropout on layer 0's outputs, nothing on the last layer's output or on the states."""
    x = nb.tensor(rng.standard_normal((T, N, I)).astype(np.float32))
    cls = nn.LSTM if mode == "lstm" else nn.GRU
    two = cls(I, H, num_layers=2, dropout=0.4, rng=0)
    l0, l1 = cls(I, H, rng=1), cls(H, H, rng=2)
    sd = two.state_dict()
    l0.load_state_dict({k: v for k, v in sd.items() if k.endswith("_l0")})
    l1.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items() if k.endswith("_l1")})
    gen = np.random.default_rng()
    gen.bit_generator.state = two.rng.bit_generator.state  # the masks two will draw
    out, fin = two(x)
    y0, fin0 = l0(x)
    y1, fin1 = l1(nb.functional.dropout(y0, 0.4, True, rng=gen))
    np.testing.assert_array_equal(out._array, y1._array)
    h, h0, h1 = (fin[0], fin0[0], fin1[0]) if mode == "lstm" else (fin, fin0, fin1)
    np.testing.assert_array_equal(h._array[0], h0._array[0])  # layer 0's final state: before dropout
    np.testing.assert_array_equal(h._array[1], h1._array[0])
    assert np.abs(out._array - l1(y0)[0]._array).max() > 1e-3  # the masks did change the output
