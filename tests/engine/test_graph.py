"""The backward engine: accumulation, graph shapes, release, grad modes, hooks, dtypes."""

import numpy as np
import pytest

import nnbasics as nb


def scalar(v, dtype=np.float64):
    return nb.tensor(np.array([v], dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ accumulation
def test_x_times_x_at_3_gives_6():
    x = scalar(3.0)
    (x * x).sum().backward()
    assert x.grad.item() == 6.0


def test_2x_plus_5x_gives_7():
    x = scalar(1.5)
    (2 * x + 5 * x).sum().backward()
    assert x.grad.item() == 7.0


def test_diamond_graph_gets_both_paths():
    # x -> a = x^2, b = 3x -> y = a * b = 3x^3 ; dy/dx = 9x^2
    x = scalar(2.0)
    a = x * x
    b = x * 3
    (a * b).sum().backward()
    assert x.grad.item() == pytest.approx(36.0)


def test_reused_intermediate_and_inputs():
    # y = h + h * h with h = x * w: dy/dx = (1 + 2h) w, dy/dw = (1 + 2h) x
    x, w = scalar(0.5), scalar(-3.0)
    h = x * w
    (h + h * h).sum().backward()
    assert x.grad.item() == pytest.approx((1 + 2 * -1.5) * -3.0)
    assert w.grad.item() == pytest.approx((1 + 2 * -1.5) * 0.5)


def test_same_tensor_as_both_operands_of_many_ops():
    x = nb.tensor([1.0, 2.0, 4.0], requires_grad=True)
    (x / x + x @ x + nb.maximum(x, x) + x - x).sum().backward()
    # d(x/x) = 0; x@x is a scalar broadcast over 3 entries: 3 * 2x; d max(x, x) = 1/2 + 1/2; + x - x: 0
    np.testing.assert_allclose(x.grad._array, 6 * x._array + 1.0)


def test_deep_chain_of_100000_ops_has_no_recursion_limit():
    x = scalar(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1e-5
    y.sum().backward()
    assert x.grad.item() == 1.0
    assert y.item() == pytest.approx(2.0)


def test_long_multiplicative_chain_gradient_value():
    x = scalar(1.0)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0001**20_000, rel=1e-9)


# ------------------------------------------------------------------ graph release
def test_second_backward_raises_mentioning_retain_graph():
    x = scalar(3.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_second_backward_through_shared_subgraph_raises():
    x = scalar(3.0)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2).sum().backward()


def test_retain_graph_allows_two_backwards_that_accumulate():
    x = scalar(3.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert x.grad.item() == 6.0
    y.backward()
    assert x.grad.item() == 12.0


def test_gradients_accumulate_across_two_backward_calls():
    x = nb.tensor([1.0, -2.0], requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad._array, 2 * x._array + 3)


def test_graph_frees_saved_arrays_after_backward():
    x = scalar(2.0)
    y = x.exp()
    z = y.sum()
    z.backward()
    assert y.grad_fn.released and z.grad_fn.released


# ------------------------------------------------------------------ root gradient
def test_backward_of_non_scalar_without_grad_raises():
    x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        (x * 2).backward()


def test_backward_with_explicit_grad():
    x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(np.array([1.0, 0.5, -1.0]))
    np.testing.assert_allclose(x.grad._array, [2.0, 2.0, -6.0])
    x.grad = None
    (x * 2).backward(nb.tensor([1.0, 1.0, 2.0]))
    np.testing.assert_allclose(x.grad._array, [2.0, 2.0, 4.0])


def test_backward_with_grad_of_wrong_shape_raises():
    x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        (x * 2).backward(np.ones(2))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad"):
        nb.tensor([1.0]).sum().backward()


def test_one_element_non_scalar_root_gets_implicit_grad():
    x = nb.tensor([[2.0]], requires_grad=True)
    (x * x).backward()
    assert x.grad.shape == (1, 1) and x.grad.item() == 4.0


def test_user_grad_array_is_not_aliased():
    g = np.array([1.0, 2.0])
    x = nb.tensor([0.0, 0.0], requires_grad=True)
    x.backward(g)
    x.grad._array[0] = 99.0
    assert g[0] == 1.0


# ------------------------------------------------------------------ grad modes
def test_no_grad_context():
    x = scalar(1.0)
    with nb.no_grad():
        y = x * 2
        assert not nb.is_grad_enabled()
    assert nb.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_as_decorator():
    @nb.no_grad()
    def f(t):
        assert not nb.is_grad_enabled()
        return t * 2

    x = scalar(1.0)
    assert not f(x).requires_grad
    assert nb.is_grad_enabled()
    assert f.__name__ == "f"


def test_enable_grad_inside_no_grad():
    x = scalar(1.0)
    with nb.no_grad():
        with nb.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad
    y.sum().backward()
    assert x.grad.item() == 2.0


def test_set_grad_enabled():
    x = scalar(1.0)
    with nb.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with nb.set_grad_enabled(True):
        assert (x * 2).requires_grad


def test_mode_restored_after_exception():
    with pytest.raises(KeyError), nb.no_grad():
        raise KeyError("boom")
    assert nb.is_grad_enabled()

    @nb.no_grad()
    def bad():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        bad()
    assert nb.is_grad_enabled()

    with nb.no_grad():
        with pytest.raises(KeyError), nb.enable_grad():
            raise KeyError("inner")
        assert not nb.is_grad_enabled()
    assert nb.is_grad_enabled()


def test_no_input_requiring_grad_records_nothing():
    a = nb.tensor([1.0, 2.0])
    y = (a * 3).exp()
    assert not y.requires_grad and y.grad_fn is None


# ------------------------------------------------------------------ hooks, retain_grad
def test_register_hook_observes():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g._array.copy()))
    (x * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad._array, [3.0, 3.0])


def test_register_hook_replaces_gradient_on_non_leaf():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    # dL/dh = 2h = [6, 12] -> hooked to [60, 120] -> dL/dx = 3 * that
    np.testing.assert_allclose(x.grad._array, [180.0, 360.0])


def test_register_hook_replaces_gradient_on_leaf():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad._array, [3.0, 3.0])


def test_hook_remove():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1) or g * 0)
    handle.remove()
    (x * 2).sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad._array, [2.0, 2.0])
    handle.remove()  # removing twice is harmless


def test_hook_sees_total_gradient_once():
    x = nb.tensor([1.0], requires_grad=True)
    h = x * 1.0
    seen = []
    h.register_hook(lambda g: seen.append(g.item()))
    (h * 2 + h * 5).sum().backward()
    assert seen == [7.0]


def test_retain_grad_on_non_leaf():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    m = h * h
    m.sum().backward()
    np.testing.assert_allclose(h.grad._array, 2 * h._array)
    np.testing.assert_allclose(x.grad._array, 6 * h._array)
    assert m.grad is None  # not retained


def test_non_leaf_grad_is_none_without_retain_grad():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.sum().backward()
    assert h.grad is None and x.grad is not None


# ------------------------------------------------------------------ leaf grads: dtype and independence
FLOAT32_GRAPHS = {
    "python_scalars": lambda x: (x * 2.5 + 1.0 - 0.5 / (x * x + 1.0)).sum(),
    "pow": lambda x: ((x * x + 1.0) ** 0.5 + x**2 + 2.0**x).sum(),
    "mean_var_std": lambda x: x.mean() + x.var() + x.std(correction=0) + x.var(1).sum(),
    "softmax_lse": lambda x: (x.softmax(1) * 3.0).sum() + x.logsumexp() + x.log_softmax(0).mean(),
    "sigmoid_tanh_relu": lambda x: (x.sigmoid() * x.tanh() + x.relu() * 0.1).sum(),
    "numpy_scalars": lambda x: (x * np.float64(2.0) + np.float64(1.0)).sum(),
    "max_min_clip": lambda x: x.max() + x.min(0).values.sum() + x.clip(-0.3, 0.3).sum() + nb.maximum(x, 0.1).sum(),
    "float64_ndarray_constant": lambda x: (x * np.full((2, 3), 0.5)).sum(),
    "float64_tensor_operand": lambda x: (x * nb.tensor(np.ones(3))).sum(),
}


@pytest.mark.parametrize("name", list(FLOAT32_GRAPHS))
def test_leaf_grad_dtype_equals_parameter_dtype(name):
    x = nb.randn(2, 3, rng=0, requires_grad=True)
    assert x.dtype == np.float32
    out = FLOAT32_GRAPHS[name](x)
    out.backward()
    assert x.grad.dtype == np.float32
    if not name.startswith("float64"):  # NumPy 2 scalar promotion must not leak float64 either
        assert out.dtype == np.float32


def test_float64_leaf_keeps_float64_grad_when_mixed_with_float32():
    a = nb.tensor(np.ones(3), requires_grad=True)  # float64 ndarray keeps its dtype
    b = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)  # float32
    (a * b).sum().backward()
    assert a.grad.dtype == np.float64 and b.grad.dtype == np.float32


def test_grads_of_distinct_leaves_are_independent_copies():
    a = nb.tensor([1.0, 2.0], requires_grad=True)
    b = nb.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad._array[0] = 100.0
    assert b.grad._array[0] == 1.0


def test_grad_of_leaf_used_twice_is_independent_of_other_leaves():
    a = nb.tensor([1.0, 2.0], requires_grad=True)
    b = nb.tensor([3.0, 4.0], requires_grad=True)
    (a + a + b).sum().backward()
    np.testing.assert_array_equal(a.grad._array, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad._array, [1.0, 1.0])
    b.grad._array[:] = -5.0
    np.testing.assert_array_equal(a.grad._array, [2.0, 2.0])


@pytest.mark.parametrize("make", [
    lambda x: x.reshape(2, 3),
    lambda x: x.expand(2, 6).sum(0),
    lambda x: x.sum() * nb.ones(6),
    lambda x: x.astype(np.float32).astype(np.float64),
], ids=["reshape_view", "broadcast_view", "sum_broadcast", "cast"])
def test_leaf_grad_owns_its_memory(make):
    # grads that are views of an upstream array must be copied before a leaf keeps them
    x = nb.tensor(np.arange(6.0), requires_grad=True)
    y = nb.tensor(np.arange(6.0), requires_grad=True)
    out = make(x)
    h = out.reshape(-1)
    h.retain_grad()
    (h + y).sum().backward()
    before = (x.grad._array.copy(), y.grad._array.copy(), h.grad._array.copy())
    x.grad._array[...] = 7.0
    np.testing.assert_array_equal(y.grad._array, before[1])
    np.testing.assert_array_equal(h.grad._array, before[2])
    y.grad._array[...] = -7.0
    np.testing.assert_array_equal(h.grad._array, before[2])


def test_custom_function_backward_engine_sums_broadcast_free_gradients():
    class Double(nb.Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return (g * 2,)

    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = Double.apply(x)
    (Double.apply(y) + y).sum().backward()
    np.testing.assert_array_equal(x.grad._array, [6.0, 6.0])
