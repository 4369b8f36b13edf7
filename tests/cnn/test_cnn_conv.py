"""Conv1d / Conv2d: gradient checks (float64), PyTorch parity (forward and every gradient), contract, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from contract import check_module
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.kernels import conv as conv_kernel
from nnbasics.kernels import workspace

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on its own padded copy

# (input shape, weight shape, kwargs): odd sizes, non-square kernels, stride + padding, dilation,
# groups (incl. depthwise), 'same' with even kernels, 'valid', one input channel.
CONV2D_CASES = [
    ((2, 3, 7, 5), (4, 3, 3, 2), {"padding": 1}),
    ((2, 3, 7, 5), (5, 3, 2, 3), {"stride": 2, "padding": (1, 2)}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"stride": (2, 3), "padding": 1, "dilation": (1, 2)}),
    ((3, 2, 7, 5), (4, 2, 2, 2), {"padding": "same"}),
    ((2, 3, 6, 7), (2, 3, 4, 3), {"padding": "same", "dilation": (1, 2)}),
    ((2, 3, 5, 7), (4, 3, 3, 2), {"padding": "valid"}),
    ((2, 4, 5, 7), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 4, 7, 5), (4, 1, 3, 2), {"groups": 4, "stride": 2, "padding": 1}),  # depthwise
    ((2, 1, 7, 5), (3, 1, 3, 3), {"padding": 1}),  # one input channel (the K-major path)
    ((2, 1, 7, 6), (3, 1, 2, 3), {"stride": 2, "dilation": 2, "padding": (2, 1)}),
    ((2, 3, 5, 6), (4, 3, 2, 3), {"padding": (2, 1)}),  # stride 1, padding beyond the kernel's reach
]
IDS = [f"{x}x{w}-{kw}" for x, w, kw in CONV2D_CASES]


@pytest.fixture(autouse=True)
def pooled(monkeypatch):
    """Every test here runs its arrays through the workspace pool (not only the big ones)."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)


def _arrays(rng, xs, ws, dtype):
    return (rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype),
            rng.standard_normal(ws[0]).astype(dtype))


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES, ids=IDS)
def test_conv2d_gradcheck(rng, xs, ws, kw):
    x, w, b = (nb.tensor(a, requires_grad=True) for a in _arrays(rng, xs, ws, np.float64))
    nb.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES, ids=IDS)
def test_conv2d_parity(torch, rng, xs, ws, kw):
    assert_parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw),
                  *_arrays(rng, xs, ws, np.float32), torch=torch)


def test_conv2d_without_bias_and_input_grad(torch, rng):
    x, w, _ = _arrays(rng, (2, 3, 7, 5), (4, 3, 3, 2), np.float32)
    assert_parity(lambda x, w: F.conv2d(x, w, stride=2, padding=1),
                  lambda x, w: torch.nn.functional.conv2d(x, w, stride=2, padding=1), x, w, torch=torch,
                  requires_grad=[False, True])


def test_conv2d_output_feeds_further_ops(torch, rng):
    # the channels-last view conv2d returns must behave as any (N, C, H, W) tensor downstream
    x, w, b = _arrays(rng, (2, 3, 7, 5), (4, 3, 3, 2), np.float32)
    w2 = rng.standard_normal((2, 4, 2, 2)).astype(np.float32)

    def nb_fn(x, w, b, w2):
        h = F.max_pool2d(F.conv2d(x, w, b, padding=1).relu(), 2, ceil_mode=True)
        return F.conv2d(h, w2, padding=1).reshape(2, -1)

    def t_fn(x, w, b, w2):
        tf = torch.nn.functional
        h = tf.max_pool2d(tf.relu(tf.conv2d(x, w, b, padding=1)), 2, ceil_mode=True)
        return tf.conv2d(h, w2, padding=1).reshape(2, -1)

    assert_parity(nb_fn, t_fn, x, w, b, w2, torch=torch)


@pytest.mark.parametrize("block_bytes", [1, 2 * 25 * 3 * 4])  # 1 image per block; 2, 2 and a ragged 1
@pytest.mark.usefixtures("kernels_on")
def test_input_gradient_in_image_blocks(torch, rng, monkeypatch, block_bytes):
    # the input gradient is built block by block over the images: blocks must join seamlessly
    monkeypatch.setattr(conv_kernel, "_GX_BLOCK_BYTES", block_bytes)
    kw = {"stride": (1, 2), "padding": (1, 2), "dilation": (2, 1)}
    x, w, b = _arrays(rng, (5, 3, 7, 6), (4, 3, 3, 2), np.float32)
    assert_parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw),
                  x, w, b, torch=torch)
    x, w, b = _arrays(rng, (3, 4, 7, 6), (6, 2, 3, 2), np.float32)
    assert_parity(lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
                  lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1, groups=2), x, w, b, torch=torch)


CONV1D_CASES = [
    ((2, 3, 9), (4, 3, 3), {"padding": 1}),
    ((2, 3, 11), (5, 3, 2), {"stride": 2, "padding": 1, "dilation": 2}),
    ((3, 2, 7), (4, 2, 4), {"padding": "same"}),
    ((2, 4, 9), (6, 2, 3), {"groups": 2, "stride": 3}),
]


@pytest.mark.parametrize("xs,ws,kw", CONV1D_CASES)
def test_conv1d_gradcheck_and_parity(torch, rng, xs, ws, kw):
    arrays64 = [nb.tensor(a, requires_grad=True) for a in _arrays(rng, xs, ws, np.float64)]
    nb.gradcheck(lambda x, w, b: F.conv1d(x, w, b, **kw), *arrays64)
    assert_parity(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw),
                  *_arrays(rng, xs, ws, np.float32), torch=torch)


def test_conv2d_module_parity_and_state_dict(torch, rng):
    m = nn.Conv2d(3, 4, (3, 2), stride=2, padding="valid", dilation=(2, 1), rng=0)
    tm = torch.nn.Conv2d(3, 4, (3, 2), stride=2, padding="valid", dilation=(2, 1))
    tm.load_state_dict({k: torch.tensor(v._array) for k, v in m.state_dict().items()})
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight", "bias"]
    x = rng.standard_normal((2, 3, 9, 6)).astype(np.float32)
    assert_parity(lambda x: m(x), lambda x: tm(x), x, torch=torch)
    m.zero_grad()
    tm.zero_grad()
    m(nb.tensor(x)).sum().backward()
    tm(torch.tensor(x)).sum().backward()
    np.testing.assert_allclose(m.weight.grad._array, tm.weight.grad.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(m.bias.grad._array, tm.bias.grad.numpy(), atol=1e-5, rtol=1e-4)


def test_conv1d_module_parity(torch, rng):
    m = nn.Conv1d(3, 4, 4, padding="same", bias=False, rng=1)
    tm = torch.nn.Conv1d(3, 4, 4, padding="same", bias=False)
    tm.load_state_dict({k: torch.tensor(v._array) for k, v in m.state_dict().items()})
    x = rng.standard_normal((2, 3, 9)).astype(np.float32)
    assert_parity(lambda x: m(x), lambda x: tm(x), x, torch=torch)
    assert m.bias is None and list(m.state_dict()) == ["weight"]


def test_unbatched_input(torch, rng):
    m = nn.Conv2d(3, 4, 3, padding=1, rng=0)
    x = rng.standard_normal((3, 7, 5)).astype(np.float32)
    y = m(nb.tensor(x))
    assert y.shape == (4, 7, 5)
    np.testing.assert_allclose(y._array, m(nb.tensor(x[None]))._array[0], atol=1e-6)
    m1 = nn.Conv1d(3, 4, 3, rng=0)
    assert m1(nb.zeros(3, 9)).shape == (4, 7)


def test_conv2d_contract():
    x = nb.randn(2, 3, 7, 5, rng=0)
    check_module(lambda rng: nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, rng=rng), x,
                 expected_shape=(2, 4, 4, 3), param_names=["weight", "bias"],
                 bad_inputs=[
                     (nb.randn(2, 4, 7, 5, rng=1), r"\(N, 3, H, W\).*\(2, 4, 7, 5\)"),  # wrong channel count
                     (nb.randn(2, 3, 7, rng=1), r"\(2, 3, 7\)"),  # wrong ndim
                 ])
    big = nb.randn(2, 3, 7, 7, rng=0)
    check_module(lambda rng: nn.Conv2d(3, 2, 5, rng=rng), big, expected_shape=(2, 2, 3, 3),
                 bad_inputs=[(nb.randn(2, 3, 4, 7, rng=1), (r"Conv2d expected input \(N, 3, H, W\) with H, W >= 5, 5"
                                                          r".*\(2, 3, 4, 7\)"))])


def test_conv1d_contract():
    check_module(lambda rng: nn.Conv1d(3, 4, 3, dilation=2, groups=1, rng=rng), nb.randn(2, 3, 9, rng=0),
                 expected_shape=(2, 4, 5), param_names=["weight", "bias"],
                 bad_inputs=[nb.randn(2, 2, 9, rng=1), (nb.randn(2, 3, 4, rng=1), r"L >= 5.*\(2, 3, 4\)")])


def test_depthwise_contract():
    check_module(lambda rng: nn.Conv2d(4, 8, 3, padding="same", groups=4, bias=False, rng=rng),
                 nb.randn(2, 4, 5, 7, rng=0), expected_shape=(2, 8, 5, 7), param_names=["weight"])


def test_init_matches_torch_default_bounds():
    m = nn.Conv2d(6, 8, (3, 2), groups=2, rng=0)
    bound = 1 / math.sqrt(3 * 3 * 2)  # fan_in = in/groups * kh * kw
    w, b = m.weight._array, m.bias._array
    assert w.shape == (8, 3, 3, 2) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound
    same = nn.Conv2d(6, 8, (3, 2), groups=2, rng=0)
    np.testing.assert_array_equal(same.weight._array, w)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"padding": "same", "stride": 2}, "strided"),
    ({"padding": "full"}, "padding"),
    ({"groups": 4}, "divisible"),
    ({"kernel_size": 0}, "kernel_size"),
    ({"padding_mode": "reflect"}, "padding_mode"),
])
def test_bad_constructor_arguments(kwargs, pattern):
    args = {"in_channels": 6, "out_channels": 6, "kernel_size": 3} | kwargs
    with pytest.raises(ValueError, match=pattern):
        nn.Conv2d(**args)


def test_functional_errors_name_the_function():
    with pytest.raises(ValueError, match=r"conv2d expected input \(N, 3, H, W\).*\(2, 4, 5, 5\)"):
        F.conv2d(nb.zeros(2, 4, 5, 5), nb.zeros(2, 3, 3, 3))
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(nb.zeros(2, 3, 5, 5, dtype="float64"), nb.zeros(2, 3, 3, 3))
    with pytest.raises(ValueError, match="bias"):
        F.conv2d(nb.zeros(2, 3, 5, 5), nb.zeros(2, 3, 3, 3), nb.zeros(3))


def test_first_layer_skips_input_gradient():
    # an input that needs no gradient gets none, and the weights still get theirs
    m = nn.Conv2d(1, 3, 3, padding=1, rng=0)
    x = nb.randn(2, 1, 7, 5, rng=0)
    m(x).sum().backward()
    assert x.grad is None and m.weight.grad is not None


@pytest.mark.parametrize("blocks", [(1, 1), (3 * 5 * 6 * 2 * 3 * 4 * 4 + 1, 3 * 5 * 6 * 2 * 3 * 3 * 4 + 1)])
@pytest.mark.usefixtures("kernels_on")
def test_conv2d_in_image_blocks(torch, rng, monkeypatch, blocks):
    # the forward and weight gradient (im2col rows) and the stride-1 input gradient (a
    # convolution of dY with the flipped kernel) walk the images in blocks of im2col matrix:
    # 1 image per block; 3, 3 and a ragged 1
    monkeypatch.setattr(conv_kernel, "_GXC_BLOCK_BYTES", blocks[0])
    monkeypatch.setattr(conv_kernel, "_ROWS_BLOCK_BYTES", blocks[1])
    x, w, b = _arrays(rng, (7, 3, 5, 6), (4, 3, 2, 3), np.float32)
    kw = {"padding": 1, "dilation": (2, 1)}
    assert_parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw),
                  x, w, b, torch=torch)


@pytest.mark.parametrize("split", [4, 7])  # 70 output positions: 17 blocks of 4 and a ragged 2 / 10 of 7
@pytest.mark.usefixtures("kernels_on")
def test_one_channel_weight_grad_summed_over_blocks(torch, rng, monkeypatch, split):
    # the one-channel (K-major) weight gradient is a sum of GEMMs over blocks of positions
    monkeypatch.setattr(conv_kernel, "_SPLIT_K", split)
    for b_on in (True, False):
        x, w, b = _arrays(rng, (2, 1, 7, 5), (3, 1, 3, 3), np.float32)
        if b_on:
            assert_parity(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                          lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1), x, w, b, torch=torch)
        else:
            assert_parity(lambda x, w: F.conv2d(x, w, padding=1),
                          lambda x, w: torch.nn.functional.conv2d(x, w, padding=1), x, w, torch=torch)
