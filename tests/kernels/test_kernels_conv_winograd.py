"""Winograd F(2x2, 3x3) convolutions (kernels/conv_winograd.py, compiled with Numba): the reference
op's values and gradients within float rounding on every size, padding, layout, dtype, thread
count and gradient need; taken exactly where it applies; its filter transforms each other's adjoint."""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import threads
from nnbasics.kernels import conv_winograd, fastblas, parallel, workspace

#: Normwise tolerance: largest |kernel - reference| <= TOL x largest |reference| (the transforms'
#: additions round in another order than im2col's sums; measured up to 7e-7 in float32).
TOL = {np.float32: 3e-6, np.float64: 1e-12}


@pytest.fixture(params=[1, 3], ids=["1 thread", "3 threads"])
def threaded(request, monkeypatch):
    """Big-array paths (workspace, images split across threads, several blocks) for small tests."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(conv_winograd, "BLOCK_BYTES", 1)  # one image per block: block seams tested
    old = threads._threads
    threads.set_num_threads(request.param)
    yield
    threads._threads = old


def _channels_last(t):
    return t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)


LAYOUTS = {
    "NCHW": lambda t: t,
    "channels-last": _channels_last,
    "strided slice": lambda t: t[:, :, ::2, :],
}
#: What follows the convolution: the gradient arriving in backward is NCHW (a weighted sum) or
#: channels-last (ReLU and max-pool keep the convolution's memory layout).
HEADS = {
    "weighted sum": lambda y, up: (y * up).sum(),
    "relu, max-pool": lambda y, up: _relu_pool(y, up),
}


def _relu_pool(y, up):
    """ReLU then a 2x2 max-pool (just the ReLU where the output has a single row or column)."""
    r = F.relu(y)
    if min(y.shape[2:]) < 2:
        return (r * up).sum()
    return (F.max_pool2d(r, 2) * up[:, :, : y.shape[2] // 2, : y.shape[3] // 2]).sum()
# (N, C, H, W), O, padding: odd and even sizes, one-tile images, padding 0 to 3, uneven padding
SHAPES = [
    ((2, 4, 6, 6), 4, 1),
    ((3, 9, 7, 5), 5, 1),
    ((1, 16, 9, 4), 8, 2),
    ((2, 8, 5, 9), 3, 0),
    ((2, 8, 3, 3), 4, (1, 0)),
    ((2, 12, 4, 6), 6, "same"),
    ((1, 8, 2, 2), 2, 3),
]


def _expected_module(dtype):
    """The kernel that must run: the Winograd one where the kernels call BLAS directly."""
    return "nnbasics.kernels.conv_winograd" if fastblas.raw(dtype) is not None else "nnbasics.kernels.conv"


def _run(x0, w0, b0, up0, *, padding, layout, head, needs, compiled, reference=False):
    """Output and the gradients of (x, w, b) that ``needs`` names; the op's module."""
    with nb.reference_mode(reference), nb.compiled_kernels(compiled):
        x = nb.tensor(x0.copy(), requires_grad="x" in needs)
        w = nb.tensor(w0.copy(), requires_grad="w" in needs)
        b = None if b0 is None else nb.tensor(b0.copy(), requires_grad="b" in needs)
        y = F.conv2d(LAYOUTS[layout](x), w, b, padding=padding)
        module = type(y.grad_fn).__module__ if y.grad_fn is not None else None
        out = y._array.copy()
        if needs:
            HEADS[head](y, nb.tensor(up0)).backward()
        grads = [t.grad._array.copy() for t, n in ((x, "x"), (w, "w"), (b, "b")) if n in needs]
        return [out, *grads], module


def _close(fast, ref, dtype, what):
    for i, (f, r) in enumerate(zip(fast, ref)):
        assert f.shape == r.shape and f.dtype == r.dtype, (what, i)
        err, scale = np.abs(f - r).max(initial=0), np.abs(r).max(initial=0)
        assert err <= TOL[dtype] * scale, f"{what}, array {i}: |winograd - reference| {err:.3g} > {TOL[dtype]} x {scale:.3g}"


def _inputs(rng, shape, o, dtype, bias=True):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((o, shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize(("shape", "o", "padding"), SHAPES)
def test_winograd_equals_the_reference(numba, threaded, kernels_on, shape, o, padding, head, layout, dtype):
    rng = np.random.default_rng(3)
    x0, w0, b0 = _inputs(rng, shape, o, dtype)
    with nb.no_grad():
        y_shape = F.conv2d(LAYOUTS[layout](nb.tensor(x0)), nb.tensor(w0), padding=padding).shape
    up = rng.standard_normal(y_shape).astype(dtype)
    kw = {"padding": padding, "layout": layout, "head": head, "needs": "xwb"}
    fast, module = _run(x0, w0, b0, up, compiled=True, **kw)
    ref, ref_module = _run(x0, w0, b0, up, compiled=False, reference=True, **kw)
    assert module == _expected_module(dtype) and ref_module == "nnbasics.ops.conv"
    _close(fast, ref, dtype, f"{shape} {o} {padding}")


@pytest.mark.parametrize(("needs", "bias"), [("x", True), ("w", True), ("b", True), ("xw", True), ("wb", True),
                                           ("", True), ("x", False), ("w", False), ("xw", False)])
def test_winograd_computes_what_is_needed(numba, threaded, kernels_on, needs, bias):
    """The first layer (no input gradient), a frozen layer (input gradient only), inference."""
    rng = np.random.default_rng(5)
    x0, w0, b0 = _inputs(rng, (3, conv_winograd.MIN_CHANNELS_FORWARD, 7, 6), 6, np.float32, bias)
    up = rng.standard_normal((3, 6, 7, 6)).astype(np.float32)
    kw = {"padding": 1, "layout": "NCHW", "head": "weighted sum", "needs": needs}
    fast, module = _run(x0, w0, b0, up, compiled=True, **kw)
    ref, _ = _run(x0, w0, b0, up, compiled=False, reference=True, **kw)
    assert module == (_expected_module(np.float32) if needs else None)
    assert len(fast) == 1 + len(needs)
    _close(fast, ref, np.float32, f"needs {needs!r}")


@pytest.mark.parametrize("graph", ["no grad", "first layer"])
def test_few_channels_without_input_gradient_run_the_im2col_kernel(numba, kernels_on, graph):
    """Below MIN_CHANNELS_FORWARD, where the input needs no gradient, the im2col kernel's bits."""
    rng = np.random.default_rng(4)
    x0, w0, b0 = _inputs(rng, (2, conv_winograd.MIN_CHANNELS_FORWARD - 1, 6, 5), 4, np.float32)
    out = {}
    for on in (False, True):
        with nb.compiled_kernels(on), nb.no_grad() if graph == "no grad" else nb.enable_grad():
            w = nb.tensor(w0, requires_grad=graph != "no grad")
            y = F.conv2d(nb.tensor(x0), w, nb.tensor(b0), padding=1)
            if graph != "no grad":
                y.sum().backward()
            out[on] = (y._array.copy(), None if w.grad is None else w.grad._array.copy())
    np.testing.assert_array_equal(out[True][0], out[False][0])
    if graph != "no grad":
        np.testing.assert_array_equal(out[True][1], out[False][1])


def test_winograd_output_without_a_graph_is_the_same(numba, kernels_on):
    rng = np.random.default_rng(6)
    x0, w0, b0 = _inputs(rng, (2, conv_winograd.MIN_CHANNELS_FORWARD, 9, 7), 5, np.float32)
    with nb.compiled_kernels():
        with nb.no_grad():
            y0 = F.conv2d(nb.tensor(x0), nb.tensor(w0), nb.tensor(b0), padding=1)._array.copy()
        y1 = F.conv2d(nb.tensor(x0, requires_grad=True), nb.tensor(w0), nb.tensor(b0), padding=1)._array
    np.testing.assert_array_equal(y0, y1)


@pytest.mark.parametrize(("what", "kw", "shape", "wshape", "dtype"), [
    ("stride 2", {"stride": 2, "padding": 1}, (2, 8, 6, 6), (4, 8, 3, 3), np.float32),
    ("dilation 2", {"dilation": 2, "padding": 2}, (2, 8, 6, 6), (4, 8, 3, 3), np.float32),
    ("groups 2", {"groups": 2, "padding": 1}, (2, 16, 6, 6), (4, 8, 3, 3), np.float32),
    ("5x5 kernel", {"padding": 2}, (2, 8, 6, 6), (4, 8, 5, 5), np.float32),
    ("3x2 kernel", {"padding": 1}, (2, 8, 6, 6), (4, 8, 3, 2), np.float32),
    ("too few channels", {"padding": 1}, (2, conv_winograd.MIN_CHANNELS - 1, 6, 6), (4, conv_winograd.MIN_CHANNELS - 1, 3, 3), np.float32),
    ("float16", {"padding": 1}, (2, 8, 6, 6), (4, 8, 3, 3), np.float16),
])
def test_winograd_is_not_taken_where_it_does_not_apply(numba, kernels_on, what, kw, shape, wshape, dtype):
    x = nb.tensor(np.ones(shape, dtype), requires_grad=True)
    w = nb.tensor(np.ones(wshape, dtype), requires_grad=True)
    with nb.compiled_kernels():
        y = F.conv2d(x, w, **kw)
    assert type(y.grad_fn).__module__ != "nnbasics.kernels.conv_winograd", what


def test_winograd_only_with_the_compiled_kernels_on(numba, kernels_on):
    x = nb.tensor(np.ones((2, 8, 6, 6), np.float32), requires_grad=True)
    w = nb.tensor(np.ones((4, 8, 3, 3), np.float32), requires_grad=True)
    with nb.compiled_kernels(False):
        assert type(F.conv2d(x, w, padding=1).grad_fn).__module__ == "nnbasics.kernels.conv"
    with nb.compiled_kernels():
        assert type(F.conv2d(x, w, padding=1).grad_fn).__module__ == _expected_module(np.float32)


def test_winograd_backward_twice_with_retain_graph(numba, threaded, kernels_on):
    rng = np.random.default_rng(8)
    x0, w0, b0 = _inputs(rng, (2, 8, 6, 5), 4, np.float32)
    with nb.compiled_kernels():
        x, w = nb.tensor(x0, requires_grad=True), nb.tensor(w0, requires_grad=True)
        loss = (F.relu(F.conv2d(x, w, nb.tensor(b0), padding=1)) ** 2).sum()
        loss.backward(retain_graph=True)
        first = x.grad._array.copy(), w.grad._array.copy()
        loss.backward()
    np.testing.assert_array_equal(x.grad._array, first[0] * 2)
    np.testing.assert_array_equal(w.grad._array, first[1] * 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_filter_transforms_are_each_others_adjoint(dtype):
    """<U(w), dU> = <w, filter_grad(dU)>: backward's dW is the gradient of forward's transform;
    and U of a filter with one nonzero tap is G's columns' outer product."""
    rng = np.random.default_rng(9)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    du = rng.standard_normal((16, 3, 5)).astype(dtype)
    u = conv_winograd.filter_transform(w)
    assert u.shape == (16, 3, 5) and u.flags.c_contiguous
    lhs, rhs = float((u * du).sum()), float((w * conv_winograd.filter_grad(du)).sum())
    assert abs(lhs - rhs) <= TOL[dtype] * 100 * max(1.0, abs(lhs))
    one = np.zeros((1, 1, 3, 3), dtype)
    one[0, 0, 1, 2] = 1.0
    g = np.asarray(conv_winograd._G)
    np.testing.assert_array_equal(conv_winograd.filter_transform(one).reshape(4, 4), np.outer(g[:, 1], g[:, 2]))


@pytest.mark.parametrize(("hw", "padding", "expected"), [
    ((14, 14), (1, 1, 1, 1), (14, 14, 7, 7, (1, 1, 1, 1))),
    ((7, 5), (1, 1, 1, 1), (7, 5, 4, 3, (1, 2, 1, 2))),
    ((5, 9), (0, 0, 0, 0), (3, 7, 2, 4, (0, 1, 0, 1))),
    ((3, 3), (1, 0, 1, 0), (2, 2, 1, 1, (1, 0, 1, 0))),
])
def test_tiling_covers_the_output_with_2x2_tiles(hw, padding, expected):
    oh, ow, th, tw, (pt, pb, pl, pr) = conv_winograd.tiling(hw, padding)
    assert (oh, ow, th, tw, (pt, pb, pl, pr)) == expected
    assert hw[0] + pt + pb == 2 * th + 2 and hw[1] + pl + pr == 2 * tw + 2  # the tiles' input rows, columns
    assert pb >= padding[1] and pr >= padding[3]


def test_lab_cnn_trains_alike_with_winograd(numba, kernels_on):
    """A few Adam steps of a CNN with two 3x3 layers: the losses of both paths agree to float32 rounding."""
    from nnbasics import nn
    from nnbasics.optim import Adam

    losses = {}
    for on in (False, True):
        with nb.compiled_kernels(on):
            gen = np.random.default_rng(0)
            net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, rng=gen), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Conv2d(8, 16, 3, padding=1, rng=gen), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Flatten(), nn.Linear(16 * 3 * 3, 10, rng=gen))
            opt = Adam(net.parameters(), lr=1e-2)
            x = nb.tensor(gen.standard_normal((16, 1, 12, 12)).astype(np.float32))
            t = nb.tensor(gen.integers(0, 10, 16))
            run = []
            for _ in range(5):
                opt.zero_grad()
                loss = F.cross_entropy(net(x), t)
                loss.backward()
                opt.step()
                run.append(loss.item())
            losses[on] = run
            second = type(net[3](net[2](net[1](net[0](x)))).grad_fn).__module__
            assert second == (_expected_module(np.float32) if on else "nnbasics.kernels.conv")
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
    assert losses[True][-1] < losses[True][0]
