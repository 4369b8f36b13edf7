"""PyTorch parity of ``Tensor.data`` and ``Tensor.numpy()`` (issue 13 §1).

In torch, ``.data`` is a tensor over the same memory, cut from the graph: edits through it
change the original and are invisible to autograd; assigning it replaces the storage.
``.numpy()`` shares memory and refuses a tensor that requires grad. Each test runs the same
steps in both libraries and compares what the user can observe.
"""

import numpy as np
import pytest

import nnbasics as nb


def _both(torch):
    """A leaf that requires grad in each library, from the same values."""
    v = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    return nb.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)


def test_data_is_a_detached_tensor_over_the_same_memory(torch):
    ours, theirs = _both(torch)
    d, td = ours.data, theirs.data
    assert isinstance(d, nb.Tensor) and type(td) is torch.Tensor
    assert (d.requires_grad, d.is_leaf, d.grad_fn) == (td.requires_grad, td.is_leaf, td.grad_fn) == (False, True, None)
    assert d is not ours
    assert np.shares_memory(d.numpy(), ours.detach().numpy())


def test_edits_through_data_change_the_original(torch):
    ours, theirs = _both(torch)
    ours.data[1] = 7.0
    theirs.data[1] = 7.0
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    assert ours.requires_grad and theirs.requires_grad


def test_data_arithmetic_gives_values_not_graph(torch):
    ours, theirs = _both(torch)
    a, b = (ours.data > 0.5).float(), (theirs.data > 0.5).float()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not a.requires_grad and not b.requires_grad
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())


def test_edit_through_data_is_invisible_to_autograd(torch):
    # y = x * x saves x; editing x through .data afterwards is not detected (torch's documented trap)
    ours, theirs = _both(torch)
    y, ty = (ours * ours).sum(), (theirs * theirs).sum()
    ours.data[0] = 10.0
    theirs.data[0] = 10.0
    y.backward()
    ty.backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())  # both use the edited value


def test_data_setter_replaces_the_storage(torch):
    ours, theirs = _both(torch)
    new = np.arange(5, dtype=np.float32)
    src, tsrc = nb.tensor(new), torch.tensor(new)
    ours.data = src
    theirs.data = tsrc
    assert tuple(ours.shape) == tuple(theirs.shape) == (5,)
    assert ours.requires_grad and theirs.requires_grad
    src[0] = 9.0
    tsrc[0] = 9.0  # the storage is shared with the assigned tensor, not copied
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    (ours * 2).sum().backward()
    (theirs * 2).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_data_setter_refuses_an_integer_tensor_for_a_tensor_that_requires_grad():
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        w.data = nb.tensor([1, 2])
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0])  # a failed assignment changes nothing


def test_numpy_shares_memory_and_refuses_requires_grad(torch):
    ours, theirs = _both(torch)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        ours.numpy()
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        theirs.numpy()
    a, ta = ours.detach().numpy(), theirs.detach().numpy()
    a[2] = -1.0
    ta[2] = -1.0
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    np.testing.assert_array_equal(ours.detach().numpy(), [1.0, -2.0, -1.0])


def test_data_numpy_of_a_parameter_gives_the_values(torch):
    lin = nb.nn.Linear(3, 2, rng=0)
    w = lin.weight.data.numpy()
    assert w.shape == (2, 3) and np.shares_memory(w, lin.weight.detach().numpy())
