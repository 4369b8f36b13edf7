"""Winograd F(2x2, 3x3) convolutions (kernels/conv_winograd.py: NumPy blocks, and compiled ones in
kernels/winograd_loops.py): the reference op's values and gradients within float rounding on every
size, padding, layout, dtype, thread count and gradient need, both ways; taken exactly where it
applies and where its measured thresholds say; its filter transforms each other's adjoint."""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import threads
from nnbasics.kernels import conv_winograd, fastblas, parallel, winograd_loops, workspace

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


WINOGRAD = "nnbasics.kernels.conv_winograd"


@pytest.fixture
def spied(monkeypatch):
    """Records which blocks ran: "numpy" or "compiled" (a set, emptied by the test as it likes)."""
    ran = set()
    numpy_forward, numpy_backward, compiled_blocks = (conv_winograd._numpy_forward_block,
                                                      conv_winograd._numpy_backward_block, winograd_loops.blocks)

    def spy(f, name):
        def wrapped(*args, **kwargs):
            ran.add(name)
            return f(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(conv_winograd, "_numpy_forward_block", spy(numpy_forward, "numpy"))
    monkeypatch.setattr(conv_winograd, "_numpy_backward_block", spy(numpy_backward, "numpy"))
    monkeypatch.setattr(winograd_loops, "blocks", spy(compiled_blocks, "compiled"))
    return ran


@pytest.fixture
def blocks_run(spied, monkeypatch):
    """Every shape the kernel applies to takes Winograd (the measured thresholds off); :func:`spied`."""
    monkeypatch.setattr(conv_winograd, "worth", lambda *args: True)
    return spied


def _expected_blocks(compiled, dtype):
    """The blocks that must run: the compiled ones where the switch is on and the kernels call BLAS directly."""
    return {"compiled"} if compiled and fastblas.raw(dtype) is not None else {"numpy"}


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


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy blocks", "compiled blocks"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize(("shape", "o", "padding"), SHAPES)
def test_winograd_equals_the_reference(numba, threaded, kernels_on, blocks_run, shape, o, padding, head, layout,
                                       dtype, compiled):
    rng = np.random.default_rng(3)
    x0, w0, b0 = _inputs(rng, shape, o, dtype)
    with nb.no_grad():
        y_shape = F.conv2d(LAYOUTS[layout](nb.tensor(x0)), nb.tensor(w0), padding=padding).shape
    up = rng.standard_normal(y_shape).astype(dtype)
    kw = {"padding": padding, "layout": layout, "head": head, "needs": "xwb"}
    blocks_run.clear()  # (the shape's probe ran the NumPy blocks)
    fast, module = _run(x0, w0, b0, up, compiled=compiled, **kw)
    ref, ref_module = _run(x0, w0, b0, up, compiled=False, reference=True, **kw)
    assert module == WINOGRAD and ref_module == "nnbasics.ops.conv"
    assert blocks_run == _expected_blocks(compiled, dtype)
    _close(fast, ref, dtype, f"{shape} {o} {padding}")


@pytest.mark.parametrize(("needs", "bias"), [("x", True), ("w", True), ("b", True), ("xw", True), ("wb", True),
                                           ("", True), ("x", False), ("w", False), ("xw", False)])
@pytest.mark.parametrize("compiled", [False, True], ids=["numpy blocks", "compiled blocks"])
def test_winograd_computes_what_is_needed(numba, threaded, kernels_on, blocks_run, needs, bias, compiled):
    """The first layer (no input gradient), a frozen layer (input gradient only), inference."""
    rng = np.random.default_rng(5)
    x0, w0, b0 = _inputs(rng, (3, 5, 7, 6), 6, np.float32, bias)
    up = rng.standard_normal((3, 6, 7, 6)).astype(np.float32)
    kw = {"padding": 1, "layout": "NCHW", "head": "weighted sum", "needs": needs}
    fast, module = _run(x0, w0, b0, up, compiled=compiled, **kw)
    ref, _ = _run(x0, w0, b0, up, compiled=False, reference=True, **kw)
    assert module == (WINOGRAD if needs else None) and blocks_run == _expected_blocks(compiled, np.float32)
    assert len(fast) == 1 + len(needs)
    _close(fast, ref, np.float32, f"needs {needs!r}")


@pytest.mark.parametrize(("compiled", "graph", "c", "o"), [
    (True, "no grad", conv_winograd.MIN_CHANNELS_FORWARD - 1, 8),
    (True, "first layer", conv_winograd.MIN_CHANNELS_FORWARD - 1, 8),
    (False, "no grad", conv_winograd.NUMPY_MIN_CHANNELS_FORWARD[0] - 1, 32),
    (False, "first layer", conv_winograd.NUMPY_MIN_CHANNELS_FORWARD[0], 31),
    (False, "inner layer", conv_winograd.NUMPY_MIN_CHANNELS[0] - 1, 32),
    (False, "inner layer", conv_winograd.NUMPY_MIN_CHANNELS[0], 31),
])
def test_below_the_thresholds_the_im2col_kernel_runs(numba, kernels_on, spied, monkeypatch, compiled, graph, c, o):
    """Layers Winograd would not speed up (worth's measured thresholds) get the im2col kernel's bits."""
    rng = np.random.default_rng(4)
    x0, w0, b0 = _inputs(rng, (2, c, 6, 5), o, np.float32)
    out = {}
    for im2col in (True, False):
        if im2col:
            monkeypatch.setattr(conv_winograd, "worth", lambda *args: False)
        else:
            monkeypatch.undo()
        with nb.compiled_kernels(compiled), nb.no_grad() if graph == "no grad" else nb.enable_grad():
            x = nb.tensor(x0, requires_grad=graph == "inner layer")
            w = nb.tensor(w0, requires_grad=graph != "no grad")
            y = F.conv2d(x, w, nb.tensor(b0), padding=1)
            if graph != "no grad":
                y.sum().backward()
            out[im2col] = [y._array.copy()] + [t.grad._array.copy() for t in (x, w) if t.grad is not None]
    assert not spied  # no Winograd blocks ran either time
    for a, b in zip(out[True], out[False], strict=True):
        np.testing.assert_array_equal(a, b)


def test_worth_follows_the_measured_thresholds():
    lo_c, lo_o = conv_winograd.NUMPY_MIN_CHANNELS
    assert conv_winograd.worth(lo_c, lo_o, True, False) and not conv_winograd.worth(lo_c - 1, lo_o, True, False)
    assert not conv_winograd.worth(lo_c, lo_o - 1, True, False)
    fc, fo = conv_winograd.NUMPY_MIN_CHANNELS_FORWARD
    assert conv_winograd.worth(fc, fo, False, False) and not conv_winograd.worth(fc - 1, fo, False, False)
    m, mf = conv_winograd.MIN_CHANNELS, conv_winograd.MIN_CHANNELS_FORWARD
    assert conv_winograd.worth(m, 1, True, True) and not conv_winograd.worth(m - 1, 1000, True, True)
    assert conv_winograd.worth(mf, 1, False, True) and not conv_winograd.worth(mf - 1, 1000, False, True)


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy blocks", "compiled blocks"])
def test_winograd_output_without_a_graph_is_the_same(numba, kernels_on, blocks_run, compiled):
    rng = np.random.default_rng(6)
    x0, w0, b0 = _inputs(rng, (2, 8, 9, 7), 5, np.float32)
    with nb.compiled_kernels(compiled):
        with nb.no_grad():
            y0 = F.conv2d(nb.tensor(x0), nb.tensor(w0), nb.tensor(b0), padding=1)._array.copy()
        y1 = F.conv2d(nb.tensor(x0, requires_grad=True), nb.tensor(w0), nb.tensor(b0), padding=1)._array
    np.testing.assert_array_equal(y0, y1)
    assert blocks_run == _expected_blocks(compiled, np.float32)


@pytest.mark.parametrize(("what", "kw", "shape", "wshape", "dtype"), [
    ("stride 2", {"stride": 2, "padding": 1}, (2, 8, 6, 6), (4, 8, 3, 3), np.float32),
    ("dilation 2", {"dilation": 2, "padding": 2}, (2, 8, 6, 6), (4, 8, 3, 3), np.float32),
    ("groups 2", {"groups": 2, "padding": 1}, (2, 16, 6, 6), (4, 8, 3, 3), np.float32),
    ("5x5 kernel", {"padding": 2}, (2, 8, 6, 6), (4, 8, 5, 5), np.float32),
    ("3x2 kernel", {"padding": 1}, (2, 8, 6, 6), (4, 8, 3, 2), np.float32),
    ("too few channels", {"padding": 1}, (2, conv_winograd.MIN_CHANNELS - 1, 6, 6),
     (4, conv_winograd.MIN_CHANNELS - 1, 3, 3), np.float32),
    ("float16", {"padding": 1}, (2, 8, 6, 6), (4, 8, 3, 3), np.float16),
])
@pytest.mark.parametrize("compiled", [False, True], ids=["numpy blocks", "compiled blocks"])
def test_winograd_is_not_taken_where_it_does_not_apply(numba, kernels_on, blocks_run, what, kw, shape, wshape, dtype,
                                                       compiled):
    x = nb.tensor(np.ones(shape, dtype), requires_grad=True)
    w = nb.tensor(np.ones(wshape, dtype), requires_grad=True)
    with nb.compiled_kernels(compiled):
        y = F.conv2d(x, w, **kw)
    assert type(y.grad_fn).__module__ != WINOGRAD and not blocks_run, what


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy blocks", "compiled blocks"])
def test_winograd_backward_twice_with_retain_graph(numba, threaded, kernels_on, blocks_run, compiled):
    rng = np.random.default_rng(8)
    x0, w0, b0 = _inputs(rng, (2, 8, 6, 5), 4, np.float32)
    with nb.compiled_kernels(compiled):
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


def test_lab_cnn_trains_alike_with_winograd(numba, kernels_on, spied):
    """A few Adam steps of a CNN with two 3x3 layers (the second, 8 -> 16 channels, takes the compiled
    Winograd blocks, and im2col without them): the losses agree to float32 rounding."""
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
            # (where the kernels call no BLAS directly, the NumPy blocks' thresholds hold: im2col)
            assert spied == ({"compiled"} if on and fastblas.raw(np.float32) is not None else set())
            spied.clear()
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
    assert losses[True][-1] < losses[True][0]


@pytest.mark.parametrize("forward_compiled", [False, True])
def test_forward_and_backward_may_run_on_different_blocks(numba, kernels_on, blocks_run, forward_compiled):
    """The switch flipped between forward and backward: both blocks save and read the same arrays."""
    rng = np.random.default_rng(12)
    x0, w0, b0 = _inputs(rng, (2, 8, 7, 6), 6, np.float32)
    up = rng.standard_normal((2, 6, 7, 6)).astype(np.float32)
    with nb.compiled_kernels(forward_compiled):
        x, w = nb.tensor(x0, requires_grad=True), nb.tensor(w0, requires_grad=True)
        y = F.conv2d(x, w, nb.tensor(b0), padding=1)
    with nb.compiled_kernels(not forward_compiled):
        (y * nb.tensor(up)).sum().backward()
    ref, _ = _run(x0, w0, None if b0 is None else b0, up, padding=1, layout="NCHW", head="weighted sum",
                  needs="xw", compiled=False, reference=True)
    _close([y._array, x.grad._array, w.grad._array], ref, np.float32, "switched")
    assert blocks_run == _expected_blocks(True, np.float32) | {"numpy"}
