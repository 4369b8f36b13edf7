"""The graph keeps edges, not tensors: an intermediate whose last reference is dropped is freed
unless an op saved it (PyTorch's memory behaviour), and nothing else about backward changes."""

import gc
import weakref

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.versions import InplaceError


def _leaf(values=(0.5, -1.5, 2.0)):
    return nb.tensor(list(values), requires_grad=True)


def test_an_intermediate_nobody_saved_is_freed_when_the_user_drops_it():
    x = _leaf()
    h = x * 2  # Mul keeps x and 2, not its output
    y = h.relu()  # the reference ReLU keeps a mask; a kernel may keep its output, never its input
    ref = weakref.ref(h._array)
    del h
    gc.collect()
    assert ref() is None  # before: ReLU's record held the tensor, and the tensor its array
    (y * nb.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 6.0])


def test_a_saved_input_outlives_the_dropped_tensor_and_the_gradient_is_right(torch):
    def run(lib):
        x = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = x * 3
        y = h * h  # Mul keeps h's values
        del h
        (y * lib.tensor([1.0, -2.0, 0.5])).sum().backward()
        return x.grad.detach().numpy()

    np.testing.assert_allclose(run(nb), run(torch), rtol=1e-6)


def test_gradients_from_several_consumers_of_a_dropped_tensor_add_up():
    x = _leaf()
    h = x * 2
    a, b = h.exp(), h * 5  # two consumers share h's edge
    del h
    (a.sum() + b.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(2 * np.array([0.5, -1.5, 2.0])) + 5), rtol=1e-6)


def test_retain_grad_and_hooks_registered_after_the_tensor_was_used(torch):
    def run(lib):
        x = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = x * 2
        y = (h * h).sum()  # h used before retain_grad / register_hook
        seen = []
        h.retain_grad()
        h.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
        y.backward()
        return h.grad.detach().numpy(), seen[0]

    (g_nb, seen_nb), (g_t, seen_t) = run(nb), run(torch)
    np.testing.assert_allclose(g_nb, g_t)
    np.testing.assert_allclose(seen_nb, seen_t)


def test_a_hook_fires_even_after_its_tensor_was_dropped(torch):
    def run(lib):
        x = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = x * 2
        y = (h * lib.tensor([1.0, 2.0, 3.0])).sum()
        seen = []
        h.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
        del h
        y.backward()
        return seen

    assert len(run(nb)) == len(run(torch)) == 1
    np.testing.assert_allclose(run(nb)[0], run(torch)[0])


def test_in_place_change_through_a_detached_alias_of_a_dropped_saved_tensor_raises(torch):
    # PyTorch raises too: the alias shares the version counter and the memory Mul kept
    for lib, err in ((torch, RuntimeError), (nb, InplaceError)):
        x = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = x * 2
        y = h * h
        d = h.detach()
        del h
        d.add_(1)
        with pytest.raises(err, match="modified by an inplace operation"):
            y.sum().backward()


def test_retain_graph_backward_twice_through_dropped_intermediates():
    x = _leaf()
    h = x.exp()
    y = (h * 3).sum()
    del h
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_the_record_names_the_producing_op_through_the_edge():
    x = _leaf()
    h = x * 2
    y = h.relu()
    inp = y.grad_fn.inputs[0]
    assert type(inp.grad_fn).__name__ == "Mul" and inp.shape == (3,) and inp.dtype == np.float32
    del h
    gc.collect()
    assert y.grad_fn.inputs[0].shape == (3,)  # shape and dtype kept; the values are gone


@pytest.mark.parametrize("reference", [True, False])
def test_backward_never_rebuilds_the_values_of_a_dropped_intermediate(monkeypatch, reference):
    """The walk needs a dropped tensor's dtype, which its edge keeps; rebuilding a stand-in array
    for it (``Edge._array``) costs a NumPy ``broadcast_to`` per edge, ~8 % of a small MLP's step."""
    real = nb.autograd.Edge._array

    def values(self):
        if self._ref() is None and self._aref() is None:
            raise AssertionError("backward read the values of a dropped intermediate")
        return real.fget(self)

    monkeypatch.setattr(nb.autograd.Edge, "_array", property(values))
    with nb.reference_mode(reference):
        rng = np.random.default_rng(0)
        w1 = nb.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
        w2 = nb.tensor(rng.standard_normal((2, 4)).astype(np.float32), requires_grad=True)
        x = nb.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        loss = nb.functional.cross_entropy(nb.functional.linear(nb.functional.linear(x, w1).relu(), w2),
                                           nb.tensor([0, 1]))
        loss.backward()
    assert w1.grad.shape == (4, 3) and w2.grad.shape == (2, 4)
    assert float(np.abs(w1.grad.numpy()).sum()) > 0
