"""The compiled 2x2 max-pool (kernels/pool_compiled.py, Numba): the NumPy kernel's values and
gradients to the bit, the reference's, on every layout, dtype, size, thread count and fusion case;
taken only where it applies; its loops also checked as plain Python (no Numba needed)."""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import threads
from nnbasics.kernels import conv_winograd, parallel, pool, pool_compiled, workspace
from nnbasics.ops import pool as ref_pool


@pytest.fixture(params=[1, 3], ids=["1 thread", "3 threads"])
def threaded(request, monkeypatch):
    """Big-array paths (workspace, pieces across threads) for small tests."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    old = threads._threads
    threads.set_num_threads(request.param)
    yield
    threads._threads = old


def _inputs(rng, shape, dtype):
    """Random values with ties (a zero window after a ReLU, equal pairs) and -0.0."""
    x = rng.standard_normal(shape).astype(dtype)
    x[:, :, :2, :2] = 0.0
    x[:, :1, 2:4, :] = 1.5
    x[0, 0, 0, 1] = -0.0
    return x


def _channels_last(t):
    return t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)


def _relu_output_used_twice(x):
    r = F.relu(x)
    return F.max_pool2d(r, 2).sum((2, 3)) + r.mean((2, 3))


LAYOUTS = {
    "NCHW": lambda t: t,
    "channels-last": _channels_last,
    "rows and columns swapped in memory": lambda t: t.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2),
}
NETS = {
    "pool": lambda x: F.max_pool2d(x, 2),
    "relu-pool (fused)": lambda x: F.max_pool2d(F.relu(x), 2),
    "relu-pool, relu output used twice": _relu_output_used_twice,
    "ceil_mode, even sizes": lambda x: F.max_pool2d(x, 2, ceil_mode=True) if x.shape[2] % 2 == 0 else F.max_pool2d(x, 2),
}


def _step(net, layout, x0, up, *, compiled, reference=False):
    """Output, input gradient, and the op classes that ran."""
    with nb.reference_mode(reference), nb.compiled_kernels(compiled):
        x = nb.tensor(x0.copy(), requires_grad=True)
        out = net(layout(x))
        ops = {type(out._ctx).__module__}
        out.backward(nb.tensor(up))
        return out._array.copy(), x.grad._array.copy(), ops


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("shape", [(3, 4, 6, 8), (2, 5, 7, 9)], ids=["even", "odd"])
def test_compiled_pool_equals_the_numpy_kernel_and_the_reference(numba, threaded, net, layout, dtype, shape):
    rng = np.random.default_rng(7)
    x0 = _inputs(rng, shape, dtype)
    out_shape = NETS[net](nb.tensor(x0)).shape
    up = rng.standard_normal(out_shape).astype(dtype)
    fast = _step(NETS[net], LAYOUTS[layout], x0, up, compiled=True)
    numpy_kernel = _step(NETS[net], LAYOUTS[layout], x0, up, compiled=False)
    reference = _step(NETS[net], LAYOUTS[layout], x0, up, compiled=False, reference=True)
    if net != "relu-pool, relu output used twice":
        assert fast[2] != numpy_kernel[2]  # the compiled kernel ran, then the NumPy one
    for a, b, c in zip(fast[:2], numpy_kernel[:2], reference[:2]):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)  # the same comparisons and products
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)


def test_the_compiled_kernel_is_the_one_that_runs(numba, threaded, kernels_on):
    x = nb.tensor(_inputs(np.random.default_rng(1), (2, 3, 4, 4), np.float32), requires_grad=True)
    with nb.compiled_kernels():
        y = F.max_pool2d(F.relu(x), 2)
    assert type(y._ctx) is pool_compiled.MaxPool2d
    assert y._ctx.saved_code[0].dtype == np.uint8 and y._ctx.saved_code[0].shape == y.shape


@pytest.mark.parametrize("case", ["3x3 windows", "stride 1", "padding", "float16", "ceil_mode, odd size", "off"])
def test_other_pools_stay_on_the_numpy_kernel(numba, case, kernels_on):
    x = nb.tensor(np.random.default_rng(2).standard_normal((2, 3, 7, 7)).astype(np.float32), requires_grad=True)
    kwargs = {"3x3 windows": {"kernel_size": 3}, "stride 1": {"kernel_size": 2, "stride": 1},
              "padding": {"kernel_size": 2, "padding": 1}, "float16": {"kernel_size": 2},
              "ceil_mode, odd size": {"kernel_size": 2, "ceil_mode": True}, "off": {"kernel_size": 2}}[case]
    if case == "float16":
        x = x.detach().to(nb.float16).requires_grad_()
    with nb.compiled_kernels(case != "off"):
        y = F.max_pool2d(x, **kwargs)
    assert type(y._ctx) is pool.MaxPool2d


def test_nan_and_inf_route_as_in_the_numpy_kernel(numba):
    x0 = np.array([[[[np.nan, 1.0, 2.0, np.inf], [0.5, 3.0, -np.inf, 1.0]]]], dtype=np.float32)
    up = np.array([[[[np.inf, -2.0]]]], dtype=np.float32)
    with np.errstate(invalid="ignore"):  # inf * 0 in the NumPy kernel's products (and the compiled ones)
        fast = _step(NETS["relu-pool (fused)"], LAYOUTS["NCHW"], x0, up, compiled=True)
        slow = _step(NETS["relu-pool (fused)"], LAYOUTS["NCHW"], x0, up, compiled=False)
    for a, b in zip(fast[:2], slow[:2]):
        np.testing.assert_array_equal(a, b)


def test_retain_graph_backward_twice_gives_the_same_gradient(numba, threaded, kernels_on):
    x = nb.tensor(_inputs(np.random.default_rng(3), (2, 3, 6, 6), np.float32), requires_grad=True)
    with nb.compiled_kernels():
        y = F.max_pool2d(F.relu(_channels_last(x)), 2).sum()
        y.backward(retain_graph=True)
        first = x.grad._array.copy()
        y.backward()
    np.testing.assert_array_equal(x.grad._array, 2 * first)


def test_a_cnn_trains_the_same_with_the_compiled_pool(numba, threaded, kernels_on, monkeypatch):
    # the pool's bits alone: the compiled Winograd convolution (another order of sums) stays off here
    monkeypatch.setattr(conv_winograd, "worth", lambda *args: False)

    def run(compiled):
        nb.manual_seed(0)
        model = nb.nn.Sequential(nb.nn.Conv2d(1, 4, 3, padding=1), nb.nn.ReLU(), nb.nn.MaxPool2d(2),
                                 nb.nn.Conv2d(4, 6, 3, padding=1), nb.nn.ReLU(), nb.nn.MaxPool2d(2),
                                 nb.nn.Flatten(), nb.nn.Linear(6 * 2 * 2, 3))
        opt = nb.optim.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(4)
        losses = []
        with nb.compiled_kernels(compiled):
            for _ in range(3):
                x = nb.tensor(rng.standard_normal((5, 1, 9, 9)).astype(np.float32))
                loss = F.cross_entropy(model(x), nb.tensor(rng.integers(0, 3, 5)))
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return losses, [p._array.copy() for p in model.parameters()]

    fast, slow = run(True), run(False)
    assert fast[0] == slow[0]
    for a, b in zip(fast[1], slow[1]):
        np.testing.assert_array_equal(a, b)


def test_reference_mode_switches_the_compiled_kernel_off(numba):
    x = nb.tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    with nb.compiled_kernels(), nb.reference_mode():
        y = F.max_pool2d(x, 2)
    assert type(y._ctx) is ref_pool.MaxPool2d


@pytest.mark.parametrize("layout", ["channels-last", "NCHW"])
def test_the_loops_as_plain_python_match_the_numpy_kernel(layout):
    """The algorithm itself, without Numba: the module's loops run as Python on a small batch."""
    rng = np.random.default_rng(5)
    x = _inputs(rng, (2, 3, 5, 7), np.float32)
    x[1, 2, 3, 4] = np.nan
    last = layout == "channels-last"
    if last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    y, code = np.empty((2, 3, 2, 3), np.float32), np.empty((2, 3, 2, 3), np.uint8)
    pool_compiled._forward(pool_compiled._as_windows(x, 2, 3, last), pool_compiled._as_cells(y, last),
                           pool_compiled._as_cells(code, last))
    want, masks = pool._max2x2_forward(x, 2, 3)
    np.testing.assert_array_equal(y, want)
    g = rng.standard_normal(y.shape).astype(np.float32)
    for relu in (False, True):
        gx = np.zeros(x.shape, np.float32)
        pool_compiled._backward(pool_compiled._as_cells(g, last), pool_compiled._as_cells(code, last),
                                pool_compiled._as_windows(gx, 2, 3, last), relu, np.float32(0), np.float32(1))
        g_in = g * (want > 0) if relu else g
        np.testing.assert_array_equal(gx, pool._max2x2_backward(g_in, masks, x.shape, last))
