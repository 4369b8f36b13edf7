"""nn.Embedding and F.embedding: PyTorch parity (padding_idx, repeated indices), gradcheck, errors."""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn

V, D = 7, 5


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_parity_with_torch(torch, rng, padding_idx):
    tm = torch.nn.Embedding(V, D, padding_idx=padding_idx)
    m = nn.Embedding(V, D, padding_idx=padding_idx, rng=0)
    m.load_state_dict({"weight": tm.weight.detach().numpy().copy()}, strict=True)
    idx = np.array([[2, 3, 3, 0], [6, 2, 3, 2], [1, 1, 1, 6]])  # repeated ids accumulate
    out, t_out = m(nb.tensor(idx)), tm(torch.from_numpy(idx))
    np.testing.assert_array_equal(out._array, t_out.detach().numpy())
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    t_out.backward(torch.from_numpy(g))
    np.testing.assert_allclose(m.weight.grad._array, tm.weight.grad.numpy(), atol=1e-5, rtol=1e-4)
    if padding_idx is not None:
        assert not m.weight.grad._array[padding_idx].any()
        assert m.padding_idx == padding_idx % V


def test_init_matches_torch_distribution():
    m = nn.Embedding(400, 50, padding_idx=3, rng=0)
    w = m.weight._array
    assert w.dtype == np.float32
    assert not w[3].any()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02  # N(0, 1)


def test_gradcheck(rng):
    w = nb.tensor(rng.standard_normal((V, D)), requires_grad=True)
    idx = nb.tensor(np.array([[4, 0, 4], [6, 4, 1]]))
    nb.gradcheck(lambda w: F.embedding(idx, w), w, tol=1e-6)
    w.grad = None
    F.embedding(idx, w, padding_idx=4).sum().backward()
    expected = np.zeros((V, D))
    for i in (0, 6, 1):
        expected[i] += 1
    np.testing.assert_array_equal(w.grad._array, expected)  # row 4 (three uses) gets nothing


def test_empty_and_scalar_indices(rng):
    m = nn.Embedding(V, D, rng=0)
    assert m(nb.tensor(np.zeros((0, 3), dtype=np.int64))).shape == (0, 3, D)
    np.testing.assert_array_equal(m(nb.tensor(5))._array, m.weight._array[5])


def test_errors():
    m = nn.Embedding(V, D)
    for bad in ([0, 7], [-1, 2]):
        with pytest.raises(IndexError, match=r"num_embeddings = 7"):
            m(nb.tensor(bad))
        with pytest.raises(ValueError, match=r"expected indices in \[0, 7\)"):
            m(nb.tensor(bad))
    with pytest.raises(TypeError, match=r"integer indices"):
        m(nb.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"padding_idx"):
        nn.Embedding(V, D, padding_idx=7)
    with pytest.raises(ValueError, match=r"num_embeddings of Embedding"):
        nn.Embedding(0, D)


def test_from_pretrained():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    m = nn.Embedding.from_pretrained(w)
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(nb.tensor([3, 0]))._array, w[[3, 0]])
    w[0, 0] = 100  # a copy was taken
    assert m.weight._array[0, 0] == 0
    m2 = nn.Embedding.from_pretrained(np.ones((4, 3)), freeze=False, padding_idx=1)
    assert m2.weight.requires_grad and m2.weight.dtype == np.float64
    assert m2.weight._array[1].tolist() == [1.0, 1.0, 1.0]  # kept, as in PyTorch
    with pytest.raises(ValueError, match=r"expected a 2-D"):
        nn.Embedding.from_pretrained(np.ones(3))


def test_contract():
    idx = nb.tensor(np.array([[0, 3, 3], [6, 1, 2]]))
    check_module(lambda rng: nn.Embedding(V, D, padding_idx=1, rng=rng), idx, expected_shape=(2, 3, D),
                 param_names=["weight"],
                 bad_inputs=[(nb.tensor([1, 7]), r"num_embeddings = 7"), (nb.tensor([-2]), r"\[0, 7\)")])
    assert repr(nn.Embedding(V, D, padding_idx=1)) == "Embedding(7, 5, padding_idx=1)"
