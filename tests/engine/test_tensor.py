"""Tensor API: constructors and their dtypes, rng handling, attributes, operators."""

import operator

import numpy as np
import pytest

import nnbasics as nb


# ------------------------------------------------------------------ constructor dtypes
@pytest.mark.parametrize("data,dtype,shape", [
    (1.5, np.float32, ()),
    ([1.0, 2.0], np.float32, (2,)),
    ([[1.0, 2], [3, 4]], np.float32, (2, 2)),
    (3, np.int64, ()),
    ([1, 2, 3], np.int64, (3,)),
    (True, np.bool_, ()),
    (np.zeros((2, 3)), np.float64, (2, 3)),
    (np.zeros(3, dtype=np.float16), np.float16, (3,)),
    (np.arange(3, dtype=np.int32), np.int32, (3,)),
    (np.arange(3, dtype=np.uint8), np.uint8, (3,)),
], ids=["float", "float_list", "mixed_list", "int", "int_list", "bool", "nd_f64", "nd_f16", "nd_i32", "nd_u8"])
def test_tensor_dtypes(data, dtype, shape):
    t = nb.tensor(data)
    assert t.dtype == dtype and t.shape == shape


def test_tensor_copies_but_Tensor_shares():
    a = np.ones(3)
    t = nb.tensor(a)
    a[0] = 5.0
    assert t._array[0] == 1.0 and t.dtype == np.float64
    u = nb.from_numpy(a)
    a[1] = 7.0
    assert u._array[1] == 7.0 and u.dtype == np.float64
    f = np.ones(3, dtype=np.float32)
    v = nb.Tensor(f)  # torch.Tensor shares a float32 array, converts any other to float32
    f[2] = 9.0
    assert v._array[2] == 9.0
    assert nb.Tensor(a).dtype == np.float32 and not np.shares_memory(nb.Tensor(a)._array, a)


def test_tensor_dtype_argument_and_as_tensor():
    assert nb.tensor([1, 2], dtype=nb.float64).dtype == np.float64
    assert nb.tensor([1.0], dtype="float16").dtype == np.float16
    x = nb.tensor([1.0, 2.0])
    assert nb.as_tensor(x) is x
    assert nb.as_tensor(x, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("make,shape,dtype", [
    (lambda: nb.zeros(2, 3), (2, 3), np.float32),
    (lambda: nb.zeros((2, 3)), (2, 3), np.float32),
    (lambda: nb.ones(5, dtype=nb.float64), (5,), np.float64),
    (lambda: nb.ones([3, 2], dtype="int64"), (3, 2), np.int64),
    (lambda: nb.full((2, 5), 7.5), (2, 5), np.float32),
    (lambda: nb.full(3, 2, dtype=nb.int32), (3,), np.int32),
    (lambda: nb.arange(5), (5,), np.int64),
    (lambda: nb.arange(1, 7, 2), (3,), np.int64),
    (lambda: nb.arange(0.0, 1.0, 0.25), (4,), np.float32),
    (lambda: nb.arange(3, dtype=nb.float64), (3,), np.float64),
    (lambda: nb.randn(2, 3, rng=0), (2, 3), np.float32),
    (lambda: nb.randn((3, 5), rng=0, dtype=nb.float64), (3, 5), np.float64),
    (lambda: nb.rand(7, rng=0), (7,), np.float32),
    (lambda: nb.zeros_like(nb.ones(2, 3, dtype=nb.float64)), (2, 3), np.float64),
    (lambda: nb.ones_like(np.zeros((3, 2), dtype=np.int32)), (3, 2), np.int32),
    (lambda: nb.zeros_like(nb.ones(2), dtype=nb.float16), (2,), np.float16),
    (lambda: nb.zeros(), (), np.float32),
], ids=["zeros", "zeros_tuple", "ones_f64", "ones_list_int", "full", "full_int", "arange", "arange_step",
        "arange_float", "arange_dtype", "randn", "randn_tuple_f64", "rand", "zeros_like", "ones_like_nd",
        "zeros_like_dtype", "zeros_0d"])
def test_constructors(make, shape, dtype):
    t = make()
    assert t.shape == shape and t.dtype == dtype and not t.requires_grad


def test_constructor_values():
    np.testing.assert_array_equal(nb.arange(1, 7, 2)._array, [1, 3, 5])
    np.testing.assert_array_equal(nb.full((2,), 7.5)._array, [7.5, 7.5])
    np.testing.assert_array_equal(nb.zeros(2)._array, [0, 0])
    np.testing.assert_array_equal(nb.ones_like(nb.zeros(3))._array, [1, 1, 1])
    r = nb.rand(1000, rng=1)._array
    assert r.min() >= 0.0 and r.max() < 1.0
    z = nb.randn(4000, rng=1, dtype=nb.float64)._array
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1


@pytest.mark.parametrize("make", [
    lambda **kw: nb.zeros(2, 3, **kw), lambda **kw: nb.ones(3, **kw), lambda **kw: nb.full((2,), 1.0, **kw),
    lambda **kw: nb.randn(3, rng=0, **kw), lambda **kw: nb.rand(3, rng=0, **kw),
    lambda **kw: nb.tensor([1.0, 2.0], **kw), lambda **kw: nb.arange(0.0, 3.0, **kw),
    lambda **kw: nb.zeros_like(nb.ones(2), **kw), lambda **kw: nb.ones_like(nb.ones(2), **kw),
], ids=["zeros", "ones", "full", "randn", "rand", "tensor", "arange", "zeros_like", "ones_like"])
def test_constructors_accept_requires_grad(make):
    t = make(requires_grad=True)
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("make", [
    lambda: nb.tensor([1, 2], requires_grad=True),
    lambda: nb.Tensor(np.arange(3), dtype=nb.int64, requires_grad=True),
    lambda: nb.zeros(3, dtype=nb.int64, requires_grad=True),
    lambda: nb.arange(3, requires_grad=True),
    lambda: nb.tensor([True], requires_grad=True),
    lambda: nb.tensor([1, 2]).requires_grad_(),
], ids=["tensor", "Tensor", "zeros", "arange", "bool", "requires_grad_"])
def test_requires_grad_on_non_float_raises_type_error_naming_dtype(make):
    with pytest.raises(TypeError, match=r"int64|bool") as info:
        make()
    assert ".float()" in str(info.value)


def test_tensor_from_strings_raises():
    with pytest.raises(TypeError, match="numbers"):
        nb.tensor(["a", "b"])


# ------------------------------------------------------------------ rng
@pytest.mark.parametrize("fn", [nb.randn, nb.rand], ids=["randn", "rand"])
def test_rng_int_seed_is_reproducible(fn):
    np.testing.assert_array_equal(fn(3, 5, rng=42)._array, fn(3, 5, rng=42)._array)
    assert not np.array_equal(fn(3, 5, rng=42)._array, fn(3, 5, rng=43)._array)


@pytest.mark.parametrize("fn", [nb.randn, nb.rand], ids=["randn", "rand"])
def test_rng_generator_advances_and_reproduces(fn):
    g = np.random.default_rng(7)
    a, b = fn(4, rng=g)._array, fn(4, rng=g)._array
    assert not np.array_equal(a, b)  # the caller's stream advances
    g2 = np.random.default_rng(7)
    np.testing.assert_array_equal(fn(4, rng=g2)._array, a)
    np.testing.assert_array_equal(fn(4, rng=g2)._array, b)


@pytest.mark.parametrize("fn", [nb.randn, nb.rand], ids=["randn", "rand"])
def test_rng_none_gives_fresh_entropy_and_leaves_global_state(fn):
    before = np.random.get_state()[1].copy()
    a, b = fn(8, rng=None)._array, fn(8)._array
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_rng_int_matches_as_generator():
    g = nb.as_generator(3)
    expected = g.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(nb.randn(2, 3, rng=3)._array, expected)


@pytest.mark.parametrize("bad", [np.random.RandomState(0), 1.5, "seed", True], ids=["RandomState", "float", "str", "bool"])
def test_rng_rejects_other_types(bad):
    with pytest.raises(TypeError, match="Generator"):
        nb.randn(2, rng=bad)


def test_rng_negative_seed_raises():
    with pytest.raises(ValueError, match="non-negative"):
        nb.rand(2, rng=-1)


# ------------------------------------------------------------------ attributes and conversions
def test_shape_dtype_ndim_size():
    t = nb.zeros(2, 3, 5)
    assert t.shape == (2, 3, 5) and t.ndim == 3 and t.dtype == np.float32
    assert t.size() == (2, 3, 5) and t.size(1) == 3 and t.numel() == 30 and t.dim() == 3 and len(t) == 2


def test_item():
    assert nb.tensor([[2.5]]).item() == 2.5
    assert isinstance(nb.tensor(3).item(), int)
    assert float(nb.tensor(1.5)) == 1.5 and int(nb.tensor(4)) == 4
    with pytest.raises(ValueError, match="3 elements"):
        nb.tensor([1.0, 2.0, 3.0]).item()


def test_numpy_raises_if_requires_grad_and_detach_fixes_it():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    arr = d.numpy()
    assert isinstance(arr, np.ndarray)
    arr[0] = 9.0  # detach shares memory, as PyTorch
    assert x._array[0] == 9.0
    np.testing.assert_array_equal(np.asarray(nb.tensor([3.0])), [3.0])


def test_detach_cuts_the_graph():
    x = nb.tensor([2.0], requires_grad=True)
    y = x * x
    z = y.detach() * x  # d/dx = y (the detached factor is a constant)
    z.sum().backward()
    assert x.grad.item() == 4.0


def test_is_leaf_grad_fn_and_requires_grad_propagation():
    x = nb.tensor([1.0], requires_grad=True)
    c = nb.tensor([1.0])
    y = x * c
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None and y.requires_grad
    assert (c * 2).is_leaf and not (c * 2).requires_grad


def test_repr_mentions_grad_state():
    assert "requires_grad=True" in repr(nb.tensor([1.0], requires_grad=True))
    assert "grad_fn=<Mul>" in repr(nb.tensor([1.0], requires_grad=True) * 2)
    assert "float64" in repr(nb.tensor(np.ones(2)))


def test_bool_of_multi_element_tensor_raises():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(nb.tensor([1.0, 2.0]))
    assert bool(nb.tensor([1.0]))


# ------------------------------------------------------------------ comparisons
CMP = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]


@pytest.mark.parametrize("op", CMP, ids=lambda o: o.__name__)
def test_comparisons_return_bool_without_grad(op):
    a = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = nb.tensor([2.0, 2.0, 2.0])
    for other, ref in ((b, b._array), (2.0, 2.0), (2, 2), (np.array([2.0, 2.0, 2.0]), 2.0)):
        out = op(a, other)
        assert isinstance(out, nb.Tensor) and out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out._array, op(a._array, ref))
    rev = op(np.array([2.0, 2.0, 2.0]), a)  # reflected
    assert isinstance(rev, nb.Tensor)
    np.testing.assert_array_equal(rev._array, op(np.full(3, 2.0), a._array))


def test_tensor_stays_hashable_despite_elementwise_eq():
    a, b = nb.tensor([1.0]), nb.tensor([1.0])
    assert len({a, b}) == 2


# ------------------------------------------------------------------ operators and dtypes
ARITH = [
    ("add", operator.add), ("sub", operator.sub), ("mul", operator.mul), ("truediv", operator.truediv),
    ("pow", operator.pow),
]


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(2.5), np.int64(3)], ids=["int", "float", "np_f64", "np_i64"])
@pytest.mark.parametrize("name,op", ARITH, ids=[n for n, _ in ARITH])
def test_python_scalars_keep_float32(name, op, scalar):
    x = nb.tensor([1.0, 2.0, 4.0])
    for out, ref in ((op(x, scalar), op(x._array, np.float32(scalar))), (op(scalar, x), op(np.float32(scalar), x._array))):
        assert isinstance(out, nb.Tensor) and out.dtype == np.float32
        np.testing.assert_allclose(out._array, ref, rtol=1e-6)


def test_int_tensor_with_python_float_gives_float32_and_int_division_gives_float32():
    i = nb.tensor([1, 2, 3])
    assert (i * 1.5).dtype == np.float32
    assert (i + 1).dtype == np.int64
    assert (i / 2).dtype == np.float32
    np.testing.assert_allclose((i / 2)._array, [0.5, 1.0, 1.5])


@pytest.mark.parametrize("name,op", ARITH + [("matmul", operator.matmul)], ids=[n for n, _ in ARITH] + ["matmul"])
def test_ndarray_op_tensor_uses_reflected_ops(name, op):
    a = np.array([[1.0, 2.0], [3.0, 0.5]], dtype=np.float32)
    x = nb.tensor([[2.0, 1.0], [0.5, 4.0]], requires_grad=True)
    out = op(a, x)
    assert isinstance(out, nb.Tensor) and out.requires_grad
    np.testing.assert_allclose(out._array, op(a, x._array), rtol=1e-6)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == (2, 2)


def test_unary_operators_and_method_mirrors():
    x = nb.tensor([-1.0, 2.0])
    np.testing.assert_array_equal((-x)._array, [1.0, -2.0])
    assert (+x) is x
    np.testing.assert_array_equal(abs(x)._array, [1.0, 2.0])
    np.testing.assert_allclose(x.add(1).mul(2).sub(1).div(2)._array, [-0.5, 2.5])
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    assert not nb.tensor([1.5], requires_grad=True).long().requires_grad
    assert x.amax().item() == 2.0 and x.amin().item() == -1.0
    assert x.argmax().item() == 1 and x.argmin().item() == 0


def test_iteration_and_len():
    t = nb.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = list(t)
    assert len(rows) == 3 and rows[2].shape == (2,)
    with pytest.raises(TypeError):
        len(nb.tensor(1.0))


# ------------------------------------------------------------------ in-place
def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.zero_()
    with pytest.raises(RuntimeError, match="no_grad"):
        w[0] = 5.0
    with nb.no_grad():
        w.copy_(nb.tensor([3.0, 4.0]))
        w[1] = 7.0
        w.fill_(w._array + 1)
    np.testing.assert_array_equal(w._array, [4.0, 8.0])
    c = nb.zeros(3)
    c[1:] = 2.0
    np.testing.assert_array_equal(c._array, [0.0, 2.0, 2.0])


def test_copy_shape_mismatch_names_shapes():
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
        nb.zeros(2).copy_(nb.ones(3))


def test_np_array_copies_and_np_asarray_shares():
    # np.array(t) must be new memory (NumPy 2 passes copy=True and trusts __array__);
    # before the fix it aliased the tensor, so a snapshot of weights changed with them.
    t = nb.tensor([1.0, 2.0])
    snapshot = np.array(t)
    snapshot[0] = 5.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    view = np.asarray(t)
    view[1] = 7.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 7.0])
    assert np.array(t, dtype=np.float64).dtype == np.float64
