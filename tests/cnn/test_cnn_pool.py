"""Pooling: gradient checks (float64), PyTorch parity, contract and errors."""

from __future__ import annotations

import numpy as np
import pytest
from contract import check_module
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.kernels import workspace


@pytest.fixture(autouse=True)
def pooled(monkeypatch):
    """Every test here runs its arrays through the workspace pool (not only the big ones)."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)


MAX_CASES = [
    {"kernel_size": 2},
    {"kernel_size": (2, 3), "stride": (1, 2)},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 2, "stride": 2, "ceil_mode": True},  # odd sizes: a partial last window
    {"kernel_size": (3, 2), "stride": (2, 1), "dilation": (2, 1), "padding": (1, 0)},
]
AVG_CASES = [
    {"kernel_size": 2},
    {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1)},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 2, "stride": 2, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": (2, 3), "stride": 1, "padding": 1, "divisor_override": 5},
]


def _distinct(rng, shape):
    # distinct values, so central differences never straddle a change of the maximum
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) / n + 0.01 * rng.standard_normal(shape)).astype(np.float64)


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool2d_gradcheck_and_parity(torch, rng, kw):
    x = _distinct(rng, (2, 3, 7, 9))
    nb.gradcheck(lambda t: F.max_pool2d(t, **kw), nb.tensor(x, requires_grad=True))
    assert_parity(lambda t: F.max_pool2d(t, **kw), lambda t: torch.nn.functional.max_pool2d(t, **kw), x, torch=torch)


@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool2d_gradcheck_and_parity(torch, rng, kw):
    x = rng.standard_normal((2, 3, 7, 9))
    nb.gradcheck(lambda t: F.avg_pool2d(t, **kw), nb.tensor(x, requires_grad=True))
    assert_parity(lambda t: F.avg_pool2d(t, **kw), lambda t: torch.nn.functional.avg_pool2d(t, **kw), x, torch=torch)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(torch):
    # after a ReLU whole windows are 0: PyTorch gives each window's gradient to one element
    x = np.zeros((1, 2, 4, 6), dtype=np.float32)
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 3.0  # a tie inside one window
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}):
        assert_parity(lambda t, kw=kw: F.max_pool2d(t, **kw),
                      lambda t, kw=kw: torch.nn.functional.max_pool2d(t, **kw), x, torch=torch)


@pytest.mark.parametrize("hw", [(4, 6), (5, 7)])  # 2x2 windows cover the image / leave a row and column out
def test_max_pool_2x2_ties_in_every_order(torch, hw):
    # every pattern of maxima in a 2x2 window (ties across rows, columns and diagonals), on a
    # channels-last input like a convolution's output, with the gradient of every element distinct
    h, w = hw
    pats = np.array([[(m >> k) & 1 for k in range(4)] for m in range(16)], dtype=np.float32)  # 16 tie patterns
    x = np.zeros((2, 8, h, w), dtype=np.float32)
    for i in range(2 * 8):
        n, c = divmod(i, 8)
        for wi in range((h // 2) * (w // 2)):
            r, q = divmod(wi, w // 2)
            x[n, c, 2 * r:2 * r + 2, 2 * q:2 * q + 2] = pats[(i + wi) % 16].reshape(2, 2)
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # channels-last memory
    assert_parity(lambda t: F.max_pool2d(t, 2) * nb.tensor(np.arange(1.0, 1 + 2 * 8 * (h // 2) * (w // 2),
                                                                      dtype=np.float32).reshape(2, 8, h // 2, w // 2)),
                  lambda t: torch.nn.functional.max_pool2d(t, 2) * torch.arange(
                      1.0, 1 + 2 * 8 * (h // 2) * (w // 2)).reshape(2, 8, h // 2, w // 2),
                  x_cl, torch=torch)


def test_max_pool_backward_twice_with_retain_graph(rng):
    x = nb.tensor(rng.standard_normal((2, 3, 6, 4)).astype(np.float32), requires_grad=True)
    y = F.max_pool2d(F.relu(x), 2).sum()
    y.backward(retain_graph=True)
    first = x.grad._array.copy()
    y.backward()
    np.testing.assert_array_equal(x.grad._array, 2 * first)


@pytest.mark.parametrize("size", [(3, 2), (4, 4), (5, 7), (2, None), 1])
def test_adaptive_avg_pool2d(torch, rng, size):
    x = rng.standard_normal((2, 3, 7, 9))
    nb.gradcheck(lambda t: F.adaptive_avg_pool2d(t, size), nb.tensor(x, requires_grad=True))
    assert_parity(lambda t: F.adaptive_avg_pool2d(t, size),
                  lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size), x, torch=torch)


def test_global_avg_pool(torch, rng):
    x = rng.standard_normal((2, 3, 7, 5))
    assert_parity(lambda t: nn.GlobalAvgPool2d()(t), lambda t: t.mean(dim=(2, 3)), x, torch=torch)
    assert nn.GlobalAvgPool2d(keepdim=True)(nb.tensor(x)).shape == (2, 3, 1, 1)


def test_pool_modules_contract():
    x = nb.randn(2, 3, 7, 5, rng=0)
    small = (nb.randn(2, 3, 1, 5, rng=1), r"MaxPool2d expected input \(N, C, H, W\) with H, W >= 3, 3.*\(2, 3, 1, 5\)")
    check_module(lambda rng: nn.MaxPool2d(3, stride=2), x, expected_shape=(2, 3, 3, 2), param_names=[],
                 bad_inputs=[small, (nb.randn(7, 5, rng=1), r"\(7, 5\)")])
    check_module(lambda rng: nn.MaxPool2d(2, ceil_mode=True), x, expected_shape=(2, 3, 4, 3))
    check_module(lambda rng: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), x,
                 expected_shape=(2, 3, 4, 3), bad_inputs=[nb.randn(2, 3, rng=1)])
    check_module(lambda rng: nn.AdaptiveAvgPool2d((3, 2)), x, expected_shape=(2, 3, 3, 2),
                 bad_inputs=[nb.randn(2, 3, 7, 5, 1, rng=1)])
    check_module(lambda rng: nn.GlobalAvgPool2d(), x, expected_shape=(2, 3), bad_inputs=[nb.randn(3, 7, 5, rng=1)])


def test_unbatched_and_modules_match_functional(rng):
    x = nb.tensor(rng.standard_normal((3, 7, 5)).astype(np.float32))
    assert nn.MaxPool2d(2)(x).shape == (3, 3, 2)
    np.testing.assert_array_equal(nn.AvgPool2d(2, ceil_mode=True)(x)._array,
                                  F.avg_pool2d(x.reshape(1, 3, 7, 5), 2, ceil_mode=True)._array[0])


@pytest.mark.parametrize("make,pattern", [
    (lambda: nn.MaxPool2d(2, padding=2), "half"),
    (lambda: nn.AvgPool2d(0), "kernel_size"),
    (lambda: nn.MaxPool2d(2, return_indices=True), "return_indices"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), "divisor_override"),
])
def test_bad_pool_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


@pytest.mark.parametrize("g_layout", ["nchw", "channels_last", "padded_slice"])
def test_max_pool_2x2_backward_with_any_gradient_layout(rng, g_layout):
    # a channels-last input (a conv output) whose gradient arrives in another memory layout
    # (NCHW from flatten + linear, a slice of a padded channels-last buffer from the next conv)
    x_cl = np.ascontiguousarray(rng.standard_normal((3, 7, 9, 5)).astype(np.float32)).transpose(0, 3, 1, 2)
    g = rng.standard_normal((3, 5, 3, 4)).astype(np.float32)
    if g_layout == "channels_last":
        g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    elif g_layout == "padded_slice":
        buf = np.zeros((3, 5, 6, 5), dtype=np.float32)
        buf[:, 1:4, 1:5] = g.transpose(0, 2, 3, 1)
        g = buf[:, 1:4, 1:5].transpose(0, 3, 1, 2)
    t = nb.tensor(x_cl, requires_grad=True)
    F.max_pool2d(t, 2).backward(nb.tensor(g))
    expected = np.zeros((3, 5, 7, 9), dtype=np.float32)
    win = x_cl[:, :, :6, :8].reshape(3, 5, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 5, 3, 4, 4)
    first = win.argmax(axis=-1)  # row-major first maximum of each window
    n, c, i, j = np.indices(first.shape)
    expected[n, c, 2 * i + first // 2, 2 * j + first % 2] = g
    np.testing.assert_array_equal(t.grad._array, expected)
