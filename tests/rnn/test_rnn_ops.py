"""The fused recurrent ops: gradient checks (float64, distinct sizes), composed twins, long sequences."""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics.ops.recurrent import gru_layer, lstm_layer, rnn_layer

T, N, I, H = 5, 3, 2, 7  # distinct on purpose: input_size != hidden_size, square shapes hide transposes
GATES = {"tanh": 1, "relu": 1, "lstm": 4, "gru": 3}


def _layer_inputs(kind, rng, bias=True, T=T, N=N, I=I, H=H, scale=0.5):
    G = GATES[kind]
    arrays = [rng.standard_normal((T, N, I)), rng.standard_normal((N, H))]
    if kind == "lstm":
        arrays.append(rng.standard_normal((N, H)))
    arrays += [rng.standard_normal((G * H, I)) * scale, rng.standard_normal((G * H, H)) * scale]
    if bias:
        arrays += [rng.standard_normal(G * H) * 0.3, rng.standard_normal(G * H) * 0.3]
    return [nb.tensor(a, requires_grad=True) for a in arrays]


def _layer_fn(kind, reverse):
    if kind == "lstm":
        return lambda *a: lstm_layer(*a, reverse=reverse)
    if kind == "gru":
        return lambda *a: gru_layer(*a, reverse=reverse)
    return lambda *a: rnn_layer(*a, nonlinearity=kind, reverse=reverse)


@pytest.mark.parametrize("kind", ["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_op_gradcheck(kind, reverse, bias, rng):
    """Every input (x, states, weights, biases); the random upstream gradient reaches every h_t and c_T."""
    inputs = _layer_inputs(kind, rng, bias)
    nb.gradcheck(_layer_fn(kind, reverse), *inputs, tol=1e-6)


def test_relu_layer_both_sides_of_the_kink(rng):
    """Pre-activations of both signs occur, and the gradient is 0 exactly where h = 0."""
    inputs = _layer_inputs("relu", rng)
    out = _layer_fn("relu", False)(*inputs)
    assert (out._array > 0).any() and (out._array == 0).any()
    nb.gradcheck(_layer_fn("relu", False), *inputs, tol=1e-6)


def _composed_sequence(kind, inputs, reverse):
    """The same layer as a Python loop of composed cells: the oracle of the fused op."""
    x, h = inputs[0], inputs[1]
    c = inputs[2] if kind == "lstm" else None
    params = inputs[3:] if kind == "lstm" else inputs[2:]
    outs = [None] * x.shape[0]
    for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
        if kind == "lstm":
            h, c = F.lstm_cell_composed(x[t], (h, c), *params)
        elif kind == "gru":
            h = F.gru_cell_composed(x[t], h, *params)
        else:
            h = F.rnn_cell_composed(x[t], h, *params, nonlinearity=kind)
        outs[t] = h
    seq = nb.ops.stack(outs, 0)
    if kind == "lstm":
        seq = nb.ops.concatenate([seq, c.unsqueeze(0)], dim=0)
    return seq


@pytest.mark.parametrize("kind", ["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_op_matches_composed_twin(kind, reverse, rng):
    inputs = _layer_inputs(kind, rng)
    twins = [nb.tensor(t._array.copy(), requires_grad=True) for t in inputs]
    fused = _layer_fn(kind, reverse)(*inputs)
    composed = _composed_sequence(kind, twins, reverse)
    np.testing.assert_allclose(fused._array, composed._array, rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(fused.shape)
    (fused * nb.tensor(w)).sum().backward()
    (composed * nb.tensor(w)).sum().backward()
    for k, (a, b) in enumerate(zip(inputs, twins)):
        np.testing.assert_allclose(a.grad._array, b.grad._array, rtol=1e-10, atol=1e-12, err_msg=f"input {k}")


@pytest.mark.parametrize("kind", ["tanh", "relu", "gru"])
def test_cell_functions_match_composed(kind, rng):
    inputs = _layer_inputs(kind, rng, T=1)
    x, h, params = inputs[0][0], inputs[1], inputs[2:]
    if kind == "gru":
        fused, composed = F.gru_cell(x, h, *params), F.gru_cell_composed(x, h, *params)
    else:
        fused = F.rnn_cell(x, h, *params, nonlinearity=kind)
        composed = F.rnn_cell_composed(x, h, *params, nonlinearity=kind)
    np.testing.assert_allclose(fused._array, composed._array, rtol=1e-12, atol=1e-12)


def test_lstm_cell_function_matches_composed(rng):
    x, h, c, *params = _layer_inputs("lstm", rng, T=1)
    (h1, c1), (h2, c2) = F.lstm_cell(x[0], (h, c), *params), F.lstm_cell_composed(x[0], (h, c), *params)
    np.testing.assert_allclose(h1._array, h2._array, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c1._array, c2._array, rtol=1e-12, atol=1e-12)


def test_one_graph_node_per_layer(rng):
    x, h, c, *params = _layer_inputs("lstm", rng, T=40)
    out = lstm_layer(x, h, c, *params)
    # the op's inputs are the leaves themselves: 40 steps, no per-step nodes in between
    assert [id(t) for t in out.grad_fn.inputs] == [id(t) for t in (x, h, c, *params)]


@pytest.mark.parametrize("kind", ["lstm", "gru", "tanh"])
def test_5000_step_sequence_trains(kind, rng):
    """No recursion limit, no per-step graph: a 5,000-step sequence backpropagates to the first input."""
    inputs = _layer_inputs(kind, rng, T=5000, N=2, I=3, H=4, scale=0.3)
    inputs = [nb.tensor(t._array.astype(np.float32), requires_grad=True) for t in inputs]
    out = _layer_fn(kind, False)(*inputs)
    out.sum().backward()
    for t in inputs:
        assert t.grad is not None and np.all(np.isfinite(t.grad._array))
    assert np.any(inputs[0].grad._array[-1] != 0)


def test_float32_stays_float32(rng):
    inputs = [nb.tensor(t._array.astype(np.float32), requires_grad=True) for t in _layer_inputs("lstm", rng)]
    out = lstm_layer(*inputs)
    out.sum().backward()
    assert out.dtype == np.float32
    assert all(t.grad.dtype == np.float32 for t in inputs)


def test_layer_function_errors(rng):
    x, h, c, w_ih, w_hh, b_ih, _ = _layer_inputs("lstm", rng)
    with pytest.raises(ValueError, match=r"expected w_ih"):
        lstm_layer(x, h, c, w_hh, w_hh)
    with pytest.raises(ValueError, match=r"expected initial state of shape \(3, 7\)"):
        lstm_layer(x, h[:2], c, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"\(T, N, input_size\)"):
        lstm_layer(x[0], h, c, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"both b_ih and b_hh"):
        lstm_layer(x, h, c, w_ih, w_hh, b_ih)
    with pytest.raises(ValueError, match=r"nonlinearity"):
        rnn_layer(x, h, w_ih[:7], w_hh[:7], nonlinearity="sigmoid")


@pytest.mark.parametrize("kind", ["tanh", "relu", "lstm", "gru"])
def test_backward_twice_with_retain_graph(kind, rng):
    """The engine frees saved arrays, not the op: with retain_graph=True a second backward adds the same
    gradients again (the saved activations were not consumed or overwritten by the first)."""
    inputs = _layer_inputs(kind, rng)
    loss = (_layer_fn(kind, False)(*inputs) * nb.tensor(rng.standard_normal((T + (kind == "lstm"), N, H)))).sum()
    loss.backward(retain_graph=True)
    first = [t.grad._array.copy() for t in inputs]
    loss.backward()
    for k, (t, g) in enumerate(zip(inputs, first)):
        np.testing.assert_allclose(t.grad._array, 2 * g, rtol=1e-12, err_msg=f"input {k}")
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
