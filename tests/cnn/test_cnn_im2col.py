"""im2col / col2im: PyTorch's unfold / fold layout, adjointness, gradients, conv as a matrix product."""

from __future__ import annotations

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F

CASES = [
    {"kernel_size": (3, 2)},
    {"kernel_size": 2, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "dilation": (2, 1), "stride": (1, 2), "padding": (1, 0)},
]


@pytest.mark.parametrize("kw", CASES)
def test_im2col_matches_unfold(torch, rng, kw):
    x = rng.standard_normal((2, 3, 7, 5))
    assert_parity(lambda t: F.im2col(t, **kw), lambda t: torch.nn.functional.unfold(t, **kw), x, torch=torch)
    nb.gradcheck(lambda t: F.im2col(t, **kw), nb.tensor(x, requires_grad=True))


@pytest.mark.parametrize("kw", CASES)
def test_col2im_matches_fold(torch, rng, kw):
    x = nb.tensor(rng.standard_normal((2, 3, 7, 5)))
    cols = rng.standard_normal(F.im2col(x, **kw).shape)
    assert_parity(lambda c: F.col2im(c, (7, 5), **kw), lambda c: torch.nn.functional.fold(c, (7, 5), **kw),
                  cols, torch=torch)
    nb.gradcheck(lambda c: F.col2im(c, (7, 5), **kw), nb.tensor(cols, requires_grad=True))


def test_col2im_is_the_adjoint_of_im2col(rng):
    # <im2col(x), c> == <x, col2im(c)> for every x and c
    x = rng.standard_normal((2, 3, 7, 5))
    kw = {"kernel_size": (3, 2), "stride": (2, 1), "padding": 1}
    cols = F.im2col(x, **kw)._array
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose((cols * c).sum(), (x * F.col2im(c, (7, 5), **kw)._array).sum(), rtol=1e-10)


def test_convolution_is_a_matrix_product(rng):
    x = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    cols = F.im2col(x, (3, 2), padding=1)._array  # (N, C*kh*kw, OH*OW)
    y = (w.reshape(4, -1) @ cols).reshape(2, 4, 7, 6)
    np.testing.assert_allclose(F.conv2d(x, w, padding=1)._array, y, atol=1e-5, rtol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="expected input"):
        F.im2col(nb.zeros(3, 7, 5), 2)
    with pytest.raises(ValueError, match="at least as large"):
        F.im2col(nb.zeros(1, 3, 2, 5), 3)
    with pytest.raises(ValueError, match="columns"):
        F.col2im(nb.zeros(1, 12, 5), (7, 5), 2)
