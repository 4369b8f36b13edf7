"""The workspace pool: an array is handed out again only once nothing else holds it."""

from __future__ import annotations

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics.kernels import workspace

pytestmark = pytest.mark.usefixtures("kernels_on")  # the kernels' own machinery, in any mode


@pytest.fixture(autouse=True)
def small_pool(monkeypatch):
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    workspace.clear()
    yield
    workspace.clear()


def test_live_arrays_are_never_handed_out_twice():
    a = workspace.empty((3, 5), np.float32)
    b = workspace.empty((3, 5), np.float32)
    assert a is not b
    view = b[1:].T  # a view keeps its base alive
    del b
    c = workspace.empty((3, 5), np.float32)
    assert c is not a and c.base is None and view.base is not c
    held = [a]  # a list, a dict, a Tensor: any reference counts
    del a
    assert workspace.empty((3, 5), np.float32) is not held[0]


def test_dead_arrays_are_reused_and_keys_are_shape_and_dtype():
    a = workspace.empty((3, 5), np.float32)
    first = id(a)
    del a
    assert id(workspace.empty((3, 5), np.float32)) == first
    assert workspace.empty((5, 3), np.float32).shape == (5, 3)
    d = workspace.empty((3, 5), np.float64)
    assert d.dtype == np.float64 and d.flags.c_contiguous


def test_pool_is_bounded(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_BYTES", 4 * 1000 * 4)
    kept = [workspace.empty((1000,), np.float32) for _ in range(6)]
    assert len({id(k) for k in kept}) == 6  # all alive: all distinct, though the pool holds at most 4
    assert workspace._bytes <= workspace.MAX_BYTES
    np.testing.assert_array_equal(workspace.zeros((7, 3), np.float32), np.zeros((7, 3), np.float32))


def test_results_held_by_the_user_survive_later_calls(rng):
    x = nb.tensor(rng.standard_normal((2, 3, 7, 5)).astype(np.float32))
    w = nb.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y1 = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
    saved = y1._array.copy()
    y1.sum().backward()
    g1 = w.grad._array.copy()
    for _ in range(3):  # the same shapes again: the pool reuses whatever is free
        w.grad = None
        F.max_pool2d(F.relu(F.conv2d(x * 2.0, w, padding=1)), 2).sum().backward()
    np.testing.assert_array_equal(y1._array, saved)
    np.testing.assert_allclose(w.grad._array, 2 * g1, rtol=1e-5, atol=1e-5)


def test_empty_like_keeps_the_memory_layout():
    cl = np.empty((2, 6, 7, 3), np.float32).transpose(0, 3, 1, 2)  # channels-last (N, C, H, W)
    for a in (cl, cl[:, :, 1:5, 2:6]):
        e = workspace.empty_like(a)
        assert e.shape == a.shape and e.dtype == a.dtype
        assert np.argsort(e.strides).tolist() == np.argsort(a.strides).tolist()
        assert e.base is not None and e.base.flags.c_contiguous
    b = workspace.empty_like(cl, np.bool_)
    assert b.dtype == np.bool_ and b.strides == (126, 1, 21, 3)
    c = workspace.empty_like(np.empty((4, 5), np.float64))
    assert c.shape == (4, 5) and c.flags.c_contiguous


def test_relu_keeps_channels_last_and_its_saved_mask_survives_reuse(rng):
    a = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    a[0, 0, 0, 0] = 0.0  # the kink: gradient 0, as PyTorch
    x = nb.tensor(a.transpose(0, 3, 1, 2), requires_grad=True)  # channels-last (N, C, H, W)
    y = F.relu(x)
    assert np.argsort(y._array.strides).tolist() == np.argsort(x._array.strides).tolist()
    np.testing.assert_array_equal(y._array, np.maximum(x._array, 0))
    for _ in range(3):  # other ReLUs of the same shape in between must not touch y's saved mask
        F.relu(nb.tensor(-x._array, requires_grad=True)).sum().backward()
    g = rng.standard_normal(x.shape).astype(np.float32)
    y.backward(nb.tensor(g), retain_graph=True)
    np.testing.assert_array_equal(x.grad._array, g * (x._array > 0))
    y.backward(nb.tensor(g))
    np.testing.assert_array_equal(x.grad._array, 2 * g * (x._array > 0))


def test_relu_without_recording_builds_no_mask(rng):
    x = nb.tensor(rng.standard_normal((3, 4, 5)).astype(np.float32), requires_grad=True)
    with nb.no_grad():
        y = F.relu(x)
    np.testing.assert_array_equal(y._array, np.maximum(x._array, 0))
    assert not y.requires_grad
