"""ConvTranspose1d/2d and F.conv_transpose1d/2d: outputs and every gradient equal torch's (float64)."""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn

CASES = [  # (N, C_in, H, W), C_out, kernel, kwargs
    ((2, 3, 5, 7), 4, (3, 2), {}),
    ((2, 3, 5, 7), 4, 3, {"stride": 2}),
    ((2, 4, 5, 3), 6, (4, 3), {"stride": (2, 3), "padding": (1, 2), "output_padding": (1, 2)}),
    ((3, 4, 3, 5), 2, 3, {"stride": 2, "padding": 0, "output_padding": 1}),  # output_padding past the padding
    ((2, 4, 5, 6), 6, 3, {"groups": 2, "dilation": (2, 1), "padding": 1}),
    ((1, 2, 4, 4), 3, 2, {"stride": 3, "dilation": 2, "output_padding": 1, "bias": False}),
    ((2, 3, 6, 5), 5, 4, {"stride": 2, "padding": 1}),  # the DCGAN upsampling block
]


@pytest.mark.parametrize("shape,cout,kernel,kwargs", CASES)
def test_conv_transpose2d_matches_torch(torch, shape, cout, kernel, kwargs):
    rng = np.random.default_rng(0)
    kwargs = dict(kwargs)
    bias = kwargs.pop("bias", True)
    groups = kwargs.get("groups", 1)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal(shape)
    w = rng.standard_normal((shape[1], cout // groups, *k))
    b = rng.standard_normal(cout) if bias else None
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, **kwargs)
    up = rng.standard_normal(tuple(ty.shape))  # a random upstream gradient
    (ty * torch.tensor(up)).sum().backward()
    nx, nw = nb.tensor(x, requires_grad=True), nb.tensor(w, requires_grad=True)
    nbias = nb.tensor(b, requires_grad=True) if bias else None
    ny = F.conv_transpose2d(nx, nw, nbias, **kwargs)
    (ny * nb.tensor(up)).sum().backward()
    np.testing.assert_allclose(ny.numpy() if not ny.requires_grad else ny.detach().numpy(), ty.detach().numpy(),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(nw.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    if bias:
        np.testing.assert_allclose(nbias.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv_transpose1d_and_unbatched_match_torch(torch):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4, 7)), rng.standard_normal((4, 5, 3)), rng.standard_normal(5)
    kwargs = {"stride": 2, "padding": 1, "output_padding": 1}
    ours = F.conv_transpose1d(nb.tensor(x), nb.tensor(w), nb.tensor(b), **kwargs).numpy()
    theirs = torch.nn.functional.conv_transpose1d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kwargs)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)
    x2, w2 = rng.standard_normal((4, 5, 6)), rng.standard_normal((4, 3, 2, 2))
    ours = F.conv_transpose2d(nb.tensor(x2), nb.tensor(w2), stride=2).numpy()
    theirs = torch.nn.functional.conv_transpose2d(torch.tensor(x2), torch.tensor(w2), stride=2)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)


def test_module_state_dict_moves_both_ways_and_output_size(torch):
    t = torch.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
    m = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, rng=0)
    assert [k for k in m.state_dict()] == [k for k in t.state_dict()]
    assert tuple(m.weight.shape) == tuple(t.weight.shape) == (8, 4, 4, 4)
    m.load_state_dict({k: nb.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 8, 7, 7)).astype(np.float32)
    np.testing.assert_allclose(m(nb.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    assert m(nb.tensor(x), output_size=(15, 15)).shape == tuple(t(torch.tensor(x), output_size=[15, 15]).shape)
    with pytest.raises(ValueError, match="output size"):
        m(nb.tensor(x), output_size=(20, 20))
    assert repr(m) == repr(t)


def test_default_init_bound_uses_torchs_fan_in():
    """torch computes fan_in from weight.size(1) = out_channels/groups (times the kernel area)."""
    m = nn.ConvTranspose2d(64, 2, 3, rng=0)
    bound = 1 / np.sqrt(2 * 9)
    w = m.weight.detach().numpy()
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.9 * bound


def test_bad_arguments_say_what_to_fix():
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        F.conv_transpose2d(nb.ones(1, 2, 3, 3), nb.ones(2, 2, 3, 3), stride=1, output_padding=1)
    with pytest.raises(ValueError, match=r"expected input \(N, 2, H, W\)"):
        F.conv_transpose2d(nb.ones(1, 3, 3, 3), nb.ones(2, 2, 3, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)
