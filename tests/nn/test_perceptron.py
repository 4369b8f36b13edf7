"""nn.Perceptron: step output, the perceptron rule, convergence on separable data, failure on XOR."""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def _separable(n, dim, rng, margin=0.1):
    """Points with |w*.x + b*| >= margin, labelled by the side of a random hyperplane."""
    w, b = rng.standard_normal(dim), 0.3
    X = rng.standard_normal((4 * n, dim))
    z = (X @ w + b) / np.linalg.norm(w)
    keep = np.abs(z) >= margin
    return X[keep][:n].astype(np.float32), (z[keep][:n] > 0).astype(np.int64)


def test_output_is_step_of_net_input():
    p = nn.Perceptron(3, rng=0)
    x = nb.randn(7, 3, rng=1)
    z = x._array @ p.weight._array[0] + p.bias._array[0]
    y = p(x)
    assert y.shape == (7,) and y.dtype == np.float32 and not y.requires_grad
    np.testing.assert_array_equal(y._array, (z >= 0).astype(np.float32))
    np.testing.assert_allclose(p.net_input(x)._array, z, rtol=1e-6, atol=1e-6)
    assert p.predict(x).dtype == np.int64 and set(p.predict(x).tolist()) <= {0, 1}
    assert p(nb.randn(2, 5, 3, rng=2)).shape == (2, 5)


def test_step_at_zero_is_one():
    p = nn.Perceptron(2, rng=0)
    with nb.no_grad():
        p.weight.fill_(0.0)
        p.bias.fill_(0.0)
    assert p.predict(XOR_X).tolist() == [1, 1, 1, 1]
    with nb.no_grad():
        p.bias.fill_(-1e-6)
    assert p.predict(XOR_X).tolist() == [0, 0, 0, 0]


def test_parameters_and_state_dict():
    p = nn.Perceptron(4, rng=0)
    assert [(n, t.shape) for n, t in p.named_parameters()] == [("weight", (1, 4)), ("bias", (1,))]
    q = nn.Perceptron(4, rng=1)
    q.load_state_dict(p.state_dict())
    x = nb.randn(9, 4, rng=3)
    np.testing.assert_array_equal(q(x)._array, p(x)._array)
    assert repr(p) == "Perceptron(in_features=4, lr=1.0)"


def test_rule_one_update_by_hand():
    p = nn.Perceptron(2, lr=0.5, rng=0)
    with nb.no_grad():
        p.weight.copy_([[1.0, -1.0]])
        p.bias.copy_([0.25])
    # x = (0, 1): z = -1 + 0.25 < 0 -> y_hat = 0; target 1 -> w += 0.5 * x, b += 0.5
    history = p.fit(np.array([[0.0, 1.0]]), np.array([1]), epochs=1)
    assert history == [1]
    np.testing.assert_allclose(p.weight._array, [[1.0, -0.5]])
    np.testing.assert_allclose(p.bias._array, [0.75])
    # a correct prediction changes nothing
    p.fit(np.array([[1.0, 0.0]]), np.array([1]), epochs=1)
    np.testing.assert_allclose(p.weight._array, [[1.0, -0.5]])
    # a false positive subtracts: x = (2, 0): z = 2.75 >= 0 -> y_hat = 1; target 0
    p.fit(np.array([[2.0, 0.0]]), np.array([0]), epochs=1)
    np.testing.assert_allclose(p.weight._array, [[0.0, -0.5]])
    np.testing.assert_allclose(p.bias._array, [0.25])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_converges_on_separable_data(seed):
    rng = np.random.default_rng(seed)
    X, y = _separable(200, 5, rng)
    p = nn.Perceptron(5, rng=seed)
    history = p.fit(X, y, epochs=200)
    assert len(history) == 200
    first_clean = history.index(0)
    assert all(h == 0 for h in history[first_clean:])
    assert history[0] > 0
    assert p.score(X, y) == 1.0


@pytest.mark.parametrize("labels", [[0, 0, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]])
def test_converges_on_and_or_nand(labels):
    p = nn.Perceptron(2, rng=0)
    p.fit(XOR_X, np.array(labels), epochs=50)
    assert p.predict(XOR_X).tolist() == labels


@pytest.mark.parametrize("seed, lr, shuffle", [(0, 1.0, False), (1, 0.1, True), (2, 3.0, True), (3, 0.01, False)])
def test_never_solves_xor(seed, lr, shuffle):
    p = nn.Perceptron(2, lr=lr, rng=seed)
    history = p.fit(XOR_X, np.array([0, 1, 1, 0]), epochs=100, shuffle=shuffle)
    assert min(history) >= 1  # at least one mistake in every epoch
    assert p.score(XOR_X, [0, 1, 1, 0]) <= 0.75


def test_lr_only_scales_weights_from_zero_init():
    rng = np.random.default_rng(5)
    X, y = _separable(50, 3, rng)
    runs = []
    for lr in (1.0, 0.1):
        p = nn.Perceptron(3, lr=lr, rng=0)
        with nb.no_grad():
            p.weight.fill_(0.0)
            p.bias.fill_(0.0)
        runs.append((p.fit(X, y, epochs=30), p.weight._array.copy(), p.bias._array.copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_allclose(runs[1][1], 0.1 * runs[0][1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(runs[1][2], 0.1 * runs[0][2], rtol=1e-5, atol=1e-6)


def test_shuffle_is_seeded():
    X, y = _separable(60, 4, np.random.default_rng(9))
    h = [nn.Perceptron(4, rng=3).fit(X, y, epochs=5, shuffle=True) for _ in range(2)]
    assert h[0] == h[1]


def test_validation():
    with pytest.raises(ValueError, match="in_features of Perceptron"):
        nn.Perceptron(0)
    with pytest.raises(ValueError, match="lr of Perceptron"):
        nn.Perceptron(2, lr=0.0)
    p = nn.Perceptron(2, rng=0)
    with pytest.raises(ValueError, match=r"expected X of shape \(N, 2\); got shape \(4, 3\)"):
        p.fit(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"expected y of shape \(4,\)"):
        p.fit(XOR_X, np.zeros(3))
    with pytest.raises(ValueError, match="labels in {0, 1}"):
        p.fit(XOR_X, np.array([-1, 1, 1, -1]))
    with pytest.raises(ValueError, match="epochs"):
        p.fit(XOR_X, np.array([0, 1, 1, 0]), epochs=0)
    with pytest.raises(ValueError, match=r"Perceptron\(in_features=2\) expected input of shape \(\*, 2\)"):
        p(nb.zeros(4, 3))


def test_contract():
    check_module(lambda rng: nn.Perceptron(3, rng=rng), nb.randn(7, 3, rng=0), expected_shape=(7,),
                 param_names=["weight", "bias"], trains=False,
                 bad_inputs=[nb.randn(7, 2, rng=1), (nb.randn(7, 4, rng=1), r"\(\*, 3\).*\(7, 4\)")])
