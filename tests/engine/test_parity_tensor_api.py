"""PyTorch parity of the Tensor API that beginner scripts use (issue 13 §1): ``to``/``cpu``/``cuda``,
``__format__``, the constructors (``Tensor`` vs ``tensor`` vs ``from_numpy``), ``view(-1)``,
``contiguous``, ``scatter``/``gather``, ``manual_seed``, 0-d results, ``from nnbasics import *``.
"""

import subprocess
import sys

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb


# ---------------------------------------------------------------- to, cpu, cuda, device
def test_to_device_dtype_and_other(torch):
    for lib in (nb, torch):
        x = lib.tensor([1.5, -2.0], requires_grad=True)
        assert x.to("cpu") is x and x.cpu() is x and x.to(lib.device("cpu")) is x
        assert x.to(x) is x
        y = x.to(lib.float64)
        assert y.dtype == lib.float64 and y.requires_grad and not y.is_leaf
        assert x.to("cpu", lib.float64).dtype == lib.float64
        assert x.to(device="cpu", dtype=lib.float64).dtype == lib.float64
        assert x.to(lib.zeros(1, dtype=lib.int64)).dtype == lib.int64
        assert x.to(lib.float32, copy=True) is not x
        assert str(x.device) == "cpu" and x.device == lib.device("cpu") and not x.is_cuda
    assert_parity(lambda x: x.to(nb.float64) * 2, lambda x: x.to(torch.float64) * 2, np.array([1.0, -2.0]),
                  torch=torch, check_dtype=False)


@pytest.mark.parametrize("call", [
    lambda x: x.cuda(), lambda x: x.to("cuda"), lambda x: x.to("cuda:0"), lambda x: x.to(nb.device("cuda", 0)),
    lambda x: nb.zeros(2, device="cuda"), lambda x: nb.tensor([1.0], device="mps"),
])
def test_gpu_devices_raise_a_clear_error(call):
    with pytest.raises(nb.DeviceError, match="no GPU backend.*NumPy.*device='cpu'"):
        call(nb.ones(2))


def test_device_objects_compare_like_torch(torch):
    for lib in (nb, torch):
        d = lib.device("cuda:1")
        assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
        assert lib.device("cuda", 0) == lib.device("cuda:0") and lib.device("cpu") != lib.device("cuda")
        assert (lib.device("cpu") == "cpu") is False  # torch compares devices with devices only
    assert repr(nb.device("cpu")) == repr(torch.device("cpu"))


def test_type_names_and_conversions(torch):
    for lib in (nb, torch):
        x = lib.tensor([1.0, 2.0])
        assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
        assert x.type("torch.DoubleTensor").dtype == lib.float64
        assert x.double().dtype == lib.float64 and x.half().dtype == lib.float16 and x.byte().dtype == lib.uint8
        assert x.type_as(lib.tensor([1])).dtype == lib.int64


# ---------------------------------------------------------------- printing and numbers
def test_format_of_a_0d_tensor_is_its_number(torch):
    for lib in (nb, torch):
        loss = lib.tensor(0.123456789)
        assert f"{loss:.4f}" == "0.1235" and f"{loss:.9f}" == "0.123456791"
        assert f"{lib.tensor(3):d}" == "3" and f"{loss}" == str(loss.item())
        with pytest.raises(TypeError):
            f"{lib.tensor([0.5]):.2f}"


def test_0d_results_hold_0d_arrays_not_numpy_scalars():
    a, b = nb.tensor(1.0, requires_grad=True), nb.tensor(2.0)
    results = [a + b, a * b, a - b, a / b, -a, a ** 2, (a * b).sum(), nb.tensor([1.0, 2.0])[0], a.exp(), a.max(),
               nb.tensor([[1.0]]).mean(), nb.tensor([3.0, 1.0]).argmax(), nb.tensor([1.0, 2.0]).median()]
    for r in results:
        assert type(r._array) is np.ndarray and r._array.ndim == 0, type(r._array)
    (a * b + a).backward()
    assert type(a.grad._array) is np.ndarray
    assert np.asarray([results[0], results[1]]).shape == (2,)


def test_item_numel_nelement_dim(torch):
    for lib in (nb, torch):
        x = lib.zeros(2, 3, 4)
        assert (x.numel(), x.nelement(), lib.numel(x), x.dim(), x.size(1)) == (24, 24, 24, 3, 3)
        assert isinstance(lib.tensor([2.5]).item(), float) and isinstance(lib.tensor(3).item(), int)


# ---------------------------------------------------------------- constructors
def test_Tensor_constructor_is_torch_Tensor(torch):
    cases = [lambda lib: lib.Tensor([1, 2, 3]), lambda lib: lib.Tensor([[1.5, 2], [3, 4]]), lambda lib: lib.Tensor(2, 3),
             lambda lib: lib.Tensor(), lambda lib: lib.Tensor(np.array([1, 2])), lambda lib: lib.Tensor((4, 5)),
             lambda lib: lib.Tensor(np.array([1.0, 2.0])), lambda lib: lib.Tensor([True, False])]
    for make in cases:
        ours, theirs = make(nb), make(torch)
        assert ours.dtype == np.float32 and tuple(ours.shape) == tuple(theirs.shape)
        if ours.numel() and make is not cases[2]:
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(TypeError, match="sequence"):
        nb.Tensor(3.5)
    with pytest.raises(TypeError):
        torch.Tensor(3.5)


def test_Tensor_of_a_tensor_is_an_alias_in_the_graph(torch):
    for lib in (nb, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.Tensor(x)
        assert y is not x and y.requires_grad and not y.is_leaf
        (y * 3).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
        with lib.no_grad():
            y[0] = 9.0
        assert x[0].item() == 9.0  # same memory


def test_tensor_keeps_dtypes_and_copies(torch):
    a = np.array([1, 2], dtype=np.int32)
    for lib in (nb, torch):
        assert lib.tensor([1, 2]).dtype == lib.int64 and lib.tensor([1.0]).dtype == lib.float32
        assert lib.tensor([True]).dtype == lib.bool and lib.tensor(np.ones(2)).dtype == lib.float64
        t = lib.tensor(a)
        a[0] = 7
        assert t[0].item() == 1 and t.dtype == lib.int32
        a[0] = 1
    with pytest.warns(UserWarning, match=r"clone\(\)\.detach\(\)"):
        nb.tensor(nb.ones(2))


def test_from_numpy_and_as_tensor_share_memory(torch):
    for lib in (nb, torch):
        a = np.zeros(3)
        t = lib.from_numpy(a)
        a[1] = 4.0
        assert t.dtype == lib.float64 and t[1].item() == 4.0
        b = np.zeros(2, dtype=np.float32)
        u = lib.as_tensor(b)
        u[0] = 2.0
        assert b[0] == 2.0
    with pytest.raises(TypeError, match="ndarray"):
        nb.from_numpy([1.0, 2.0])


def test_factories_follow_torch_dtypes(torch):
    for lib in (nb, torch):
        assert lib.full((2,), 1).dtype == lib.int64 and lib.full((2,), 1.0).dtype == lib.float32
        assert lib.full((2,), True).dtype == lib.bool
        assert lib.arange(3).dtype == lib.int64 and lib.arange(3.0).dtype == lib.float32
        assert lib.linspace(0, 1, 5).dtype == lib.float32 and tuple(lib.eye(2, 3).shape) == (2, 3)
        assert lib.randint(0, 5, (3,)).dtype == lib.int64 and lib.randperm(4).dtype == lib.int64
        assert lib.zeros_like(lib.tensor([1, 2])).dtype == lib.int64
        x = lib.tensor([1.0, 2.0])
        assert x.new_zeros(3).dtype == lib.float32 and x.new_ones((2, 2)).shape == (2, 2)


# ---------------------------------------------------------------- views and copies
def test_view_with_minus_one_shares_memory_and_refuses_non_contiguous(torch):
    for lib in (nb, torch):
        x = lib.arange(12.0)
        v = x.view(3, -1)
        assert tuple(v.shape) == (3, 4) and tuple(x.view(-1, 2, 3).shape) == (2, 2, 3)
        v[0, 0] = 100.0
        assert x[0].item() == 100.0
        t = v.t()
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            t.view(-1)
        assert tuple(t.contiguous().view(-1).shape) == (12,) and t.reshape(-1).shape == (12,)
        assert not t.is_contiguous() and t.contiguous().is_contiguous() and v.contiguous() is v
    assert_parity(lambda x: x.view(-1, 2).t().contiguous() * 2, lambda x: x.view(-1, 2).t().contiguous() * 2,
                  np.arange(6.0), torch=torch)


def test_clone_chunk_repeat_expand_as(torch, rng):
    x = rng.standard_normal((2, 3))
    assert_parity(lambda x: x.clone() * 2, lambda x: x.clone() * 2, x, torch=torch)
    assert_parity(lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), x, torch=torch)
    assert_parity(lambda x: list(x.chunk(2, 1)), lambda x: list(x.chunk(2, 1)), x, torch=torch)
    assert_parity(lambda x: nb.chunk(x, 3, 0)[0] * 1, lambda x: torch.chunk(x, 3, 0)[0] * 1, x, torch=torch)
    assert_parity(lambda x: x[:1].expand_as(x) * x, lambda x: x[:1].expand_as(x) * x, x, torch=torch)


# ---------------------------------------------------------------- scatter, gather, masked_fill
def test_scatter_one_hot_as_the_course_writes_it(torch):
    y = np.array([2, 0, 1, 2])
    ours = nb.zeros(4, 3).scatter_(1, nb.tensor(y).unsqueeze(1), 1)
    theirs = torch.zeros(4, 3).scatter_(1, torch.tensor(y).unsqueeze(1), 1)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours = nb.zeros(4, 3).scatter(1, nb.tensor(y).view(-1, 1), value=2.5)
    np.testing.assert_array_equal(ours.numpy(), torch.zeros(4, 3).scatter(1, torch.tensor(y).view(-1, 1), 2.5))


def test_scatter_and_scatter_add_values_and_gradients(torch, rng):
    x, src = rng.standard_normal((3, 5)), rng.standard_normal((3, 3))
    idx = np.array([[0, 2, 4], [1, 3, 0], [4, 4, 2]])  # distinct per row: a scatter without collisions
    idx[2, 1] = 1
    assert_parity(lambda x, s, i: x.scatter(1, i, s), lambda x, s, i: x.scatter(1, i, s), x, src, idx, torch=torch)
    big = rng.standard_normal((4, 6))  # src larger than index: only its leading block is read (values only)
    np.testing.assert_allclose(nb.tensor(x).scatter(1, nb.tensor(idx), nb.tensor(big)).numpy(),
                               torch.tensor(x).scatter(1, torch.tensor(idx), torch.tensor(big)).numpy())
    rep = np.array([[0, 0, 1], [2, 2, 2], [4, 3, 4]])  # repeats: they add up
    assert_parity(lambda x, s, i: x.scatter_add(1, i, s), lambda x, s, i: x.scatter_add(1, i, s), x, src, rep,
                  torch=torch)
    assert_parity(lambda x, s, i: nb.scatter_add(x, 0, i, s), lambda x, s, i: torch.scatter_add(x, 0, i, s),
                  x.T.copy(), src.T.copy(), rep.T.copy(), torch=torch)


def test_gather_and_masked_fill(torch, rng):
    x = rng.standard_normal((3, 4))
    idx = np.array([[0, 3], [2, 2], [1, 0]])
    assert_parity(lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i), x, idx, torch=torch)
    assert_parity(lambda x, i: nb.gather(x, 0, i[:2] % 3), lambda x, i: torch.gather(x, 0, i[:2] % 3), x, idx,
                  torch=torch)
    assert_parity(lambda x: x.masked_fill(x > 0, -1e9), lambda x: x.masked_fill(x > 0, -1e9), x, torch=torch)
    assert_parity(lambda x: x.clone().masked_fill_(x < 0, 0.0), lambda x: x.clone().masked_fill_(x < 0, 0.0), x,
                  torch=torch)


# ---------------------------------------------------------------- arithmetic corners
def test_floor_divide_remainder_and_bit_ops(torch, rng):
    a, b = np.array([7, -7, 5, -5]), np.array([2, 2, -3, -3])
    for f in (lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b,
              lambda a, b: ~a, lambda a, b: a // 2, lambda a, b: 7 % b):
        np.testing.assert_array_equal(f(nb.tensor(a), nb.tensor(b)).numpy(), f(torch.tensor(a), torch.tensor(b)))
    m = np.array([True, False, True])
    r = m[::-1].copy()
    np.testing.assert_array_equal((~nb.tensor(m) | nb.tensor(r)).numpy(), (~torch.tensor(m) | torch.tensor(r)))
    x, y = rng.standard_normal(5) * 3, rng.uniform(0.5, 2.0, 5)
    assert_parity(lambda x, y: x % y, lambda x, y: x % y, x, y, torch=torch)


@pytest.mark.parametrize("args", [(0,), (0, True), (0, False), (1, False, True), (None,)], ids=str)
def test_std_var_positional_order_is_dim_unbiased_keepdim(torch, rng, args):
    x = rng.standard_normal((4, 3))
    assert_parity(lambda x: x.std(*args), lambda x: x.std(*args), x, torch=torch)
    assert_parity(lambda x: nb.var(x, *args), lambda x: torch.var(x, *args), x, torch=torch)
    assert_parity(lambda x: x.var(1, keepdim=True, correction=0), lambda x: x.var(1, keepdim=True, correction=0), x,
                  torch=torch)


def test_logsumexp_of_nothing_is_minus_infinity(torch):
    for lib in (nb, torch):
        assert lib.logsumexp(lib.zeros(0), 0).item() == -np.inf
        out = lib.logsumexp(lib.zeros(2, 0), 1)
        assert tuple(out.shape) == (2,) and bool((out == -np.inf).all())
    x = nb.zeros(2, 0, requires_grad=True)
    nb.logsumexp(x, 1).sum().backward()
    assert x.grad.shape == (2, 0)


# ---------------------------------------------------------------- seeding and the namespace
def test_manual_seed_makes_unseeded_draws_repeat():
    nb.manual_seed(123)
    a = (nb.randn(4), nb.rand(2), nb.randint(0, 10, (3,)), nb.zeros(3).normal_(), nb.nn.Linear(3, 2).weight)
    nb.manual_seed(123)
    b = (nb.randn(4), nb.rand(2), nb.randint(0, 10, (3,)), nb.zeros(3).normal_(), nb.nn.Linear(3, 2).weight)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.detach().numpy(), v.detach().numpy())
    assert nb.initial_seed() == 123
    nb.manual_seed(124)
    assert not np.array_equal(nb.randn(4).numpy(), a[0].numpy())
    with pytest.raises(ValueError, match="non-negative"):
        nb.manual_seed(-1)


def test_manual_seed_reaches_generators_already_held():
    drop = nb.nn.Dropout(0.5)  # holds the default generator (rng=None)
    x = nb.ones(50)
    nb.manual_seed(7)
    first = drop(x).numpy().copy()
    nb.manual_seed(7)
    np.testing.assert_array_equal(drop(x).numpy(), first)


def test_star_import_gives_every_public_op():
    code = ("from nnbasics import *\n"
            "names = [exp, log, max, min, matmul, cat, stack, sum, mean, tensor, zeros, no_grad, manual_seed, "
            "sort, topk, argmax, softmax, sigmoid, tanh, relu, where, gather, scatter, from_numpy, Tensor, device, "
            "float32, int64, reshape, transpose, squeeze, unsqueeze, clamp, abs, sqrt, pow, var, std]\n"
            "assert float(1.5) == 1.5 and int('3') == 3 and bool(0) is False  # builtins not shadowed\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert set(nb.__all__) <= set(dir(nb))
    for name in ("exp", "log", "max", "matmul", "cat", "stack", "sort", "topk", "scatter", "manual_seed"):
        assert name in nb.__all__


# ---------------------------------------------------------------- rounding, predicates, indices
@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc"])
def test_rounding_values_and_zero_gradient(torch, name):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.7, 3.2, -2.5])
    assert_parity(lambda t: getattr(t, name)() * 3 + t, lambda t: getattr(t, name)() * 3 + t, x, torch=torch)
    assert_parity(lambda t: getattr(nb, name)(t), lambda t: getattr(torch, name)(t), x, torch=torch)
    np.testing.assert_array_equal(nb.tensor([1.2345, -2.5678]).round(decimals=2).numpy(),
                                  torch.tensor([1.2345, -2.5678]).round(decimals=2).numpy())


def test_predicates_nonzero_where_one_hot(torch):
    v = np.array([[1.0, np.nan, -np.inf], [0.0, 2.0, np.inf]])
    for name in ("isnan", "isinf", "isfinite"):
        np.testing.assert_array_equal(getattr(nb.tensor(v), name)().numpy(), getattr(torch.tensor(v), name)().numpy())
    m = np.array([[0, 3, 0], [4, 0, 5]])
    np.testing.assert_array_equal(nb.tensor(m).nonzero().numpy(), torch.tensor(m).nonzero().numpy())
    for ours, theirs in zip(nb.where(nb.tensor(m) > 0), torch.where(torch.tensor(m) > 0), strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    y = np.array([2, 0, 1, 2])
    for k in (-1, 5):
        ours, theirs = nb.functional.one_hot(nb.tensor(y), k), torch.nn.functional.one_hot(torch.tensor(y), k)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert nb.allclose(nb.tensor([1.0, 2.0]), nb.tensor([1.0, 2.0 + 1e-9])) and not nb.tensor([1.0]).allclose(
        nb.tensor([1.1]))
