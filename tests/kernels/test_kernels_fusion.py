"""ReLU -> 2x2 max-pool: the pool kernel masks its gradient for the ReLU kernel (kernels/fusion.py)
only where that changes nothing anyone can see; every case equals the reference path exactly."""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import threads
from nnbasics.kernels import parallel, pool, pool_compiled, workspace


def _count_fused(monkeypatch, calls):
    """Append to ``calls`` for each fused pool backward: the NumPy kernel's ``g * mask``, or the
    compiled kernel's backward asked to apply the mask (NNBASICS_COMPILED=numba runs this file too)."""
    inner = pool._mul_mask
    monkeypatch.setattr(pool, "_mul_mask", lambda g, m: calls.append(1) or inner(g, m))
    inner_compiled = pool_compiled.max2x2_backward

    def compiled_backward(g, code, shape, last, relu):
        if relu:
            calls.append(1)
        return inner_compiled(g, code, shape, last, relu)

    monkeypatch.setattr(pool_compiled, "max2x2_backward", compiled_backward)


@pytest.fixture(params=[1, 3], ids=["1 thread", "3 threads"])
def fused_calls(request, monkeypatch):
    """Big-array paths for small tests; counts the fused backward passes of the pool kernel."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    old = threads._threads
    threads.set_num_threads(request.param)
    calls = []
    _count_fused(monkeypatch, calls)
    yield calls
    threads._threads = old


def relu_then_pool(x):
    return F.max_pool2d(F.relu(x), 2), []


def channels_last_input(x):
    return F.max_pool2d(F.relu(x.permute(0, 2, 3, 1).permute(0, 3, 1, 2) * 1.0), 2), []


def relu_output_also_used_elsewhere(x):
    r = F.relu(x)
    return F.max_pool2d(r, 2).sum((2, 3)) + r.mean((2, 3)), []


def retain_grad_on_the_relu_output(x):
    r = F.relu(x)
    r.retain_grad()
    return F.max_pool2d(r, 2), [r]


def a_hook_on_the_relu_output(x):
    r = F.relu(x)
    r.register_hook(lambda g: g * 2.0)
    return F.max_pool2d(r, 2), []


def in_place_change_between_relu_and_pool(x):
    r = F.relu(x)
    r.mul_(-1.0)
    return F.max_pool2d(r, 2), []


# (function of the input returning (output, tensors whose .grad to compare), fused path expected?)
SCENARIOS = {f.__name__: (f, fused) for f, fused in [
    (relu_then_pool, True), (channels_last_input, True), (relu_output_also_used_elsewhere, True),
    (retain_grad_on_the_relu_output, False), (a_hook_on_the_relu_output, False),
    (in_place_change_between_relu_and_pool, False)]}


def _run(fn, x0, up, reference):
    with nb.reference_mode(reference):
        x = nb.tensor(x0.copy(), requires_grad=True)
        out, extra = fn(x)
        out.backward(nb.tensor(up.astype(np.float32)))
        return [out._array.copy(), x.grad._array.copy()] + [t.grad._array.copy() for t in extra]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fused_backward_equals_the_reference(name, fused_calls):
    fn, fused = SCENARIOS[name]
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((3, 4, 6, 8)).astype(np.float32)
    x0[:, :, :2, :2] = -1.0  # whole windows after the ReLU are 0: ties, and a zero maximum
    shape = fn(nb.tensor(x0, requires_grad=True))[0].shape
    up = rng.standard_normal(shape)
    fast = _run(fn, x0, up, reference=False)
    assert bool(fused_calls) == fused, f"fused path taken: {bool(fused_calls)}, expected {fused}"
    ref = _run(fn, x0, up, reference=True)
    for f, r in zip(fast, ref):
        np.testing.assert_array_equal(f, r)


def test_the_relu_output_is_freed_after_the_pool_and_backward_still_fused(fused_calls, monkeypatch, kernels_on):
    import gc
    import weakref

    from nnbasics.kernels import elementwise

    passed_on = []
    inner = elementwise.ReLU.backward

    def spy(self, g):
        grads = inner(self, g)
        passed_on.append(grads[0] is g)
        return grads

    monkeypatch.setattr(elementwise.ReLU, "backward", spy)

    x = nb.tensor(np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32), requires_grad=True)
    r = F.relu(x)
    ref = weakref.ref(r._array)
    y = F.max_pool2d(r, 2)
    del r
    gc.collect()
    assert ref() is None  # the pool keeps its input's layout, not its input
    y.sum().backward()
    assert fused_calls and passed_on == [True]  # no full-size `g * mask` of its own: the pool's array went on


def test_small_arrays_take_one_numpy_call_each_and_still_fuse(monkeypatch, kernels_on):
    """Below parallel.MIN_ELEMENTS the ReLU kernel skips the workspace and the threads (a small MLP's
    layer: ~3 us a call less); its output is still noted for the pool, and the values are the
    reference's (PyTorch's sign of zero: relu(-0.0) is -0.0)."""
    from nnbasics.kernels import elementwise

    monkeypatch.setattr(elementwise, "parallel_for", lambda *a, **k: pytest.fail("a small ReLU went to the threads"))
    calls = []
    _count_fused(monkeypatch, calls)
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((3, 4, 6, 8)).astype(np.float32)
    x0[0, 0, 0, :2] = -0.0
    up = rng.standard_normal((3, 4, 3, 4))
    fast = _run(relu_then_pool, x0, up, reference=False)
    assert calls  # the pool masked the ReLU's gradient: fused
    ref = _run(relu_then_pool, x0, up, reference=True)
    for f, r in zip(fast, ref):
        np.testing.assert_array_equal(f, r)
    with nb.reference_mode(False):
        y = F.relu(nb.tensor(x0[0, 0], requires_grad=True))
    if elementwise._CLIP_RELU:  # NumPy 2's clip keeps -0.0 (as PyTorch does); NumPy 1's maximum gives 0.0
        assert np.signbit(y._array[0, :2]).all()
    assert y._array.flags.c_contiguous
