"""Batch norm and layer norm: fused ops (gradcheck, composed twins), F.* and nn.* parity with PyTorch,
running statistics, state dicts, the module contract, and validation."""

import numpy as np
import pytest
from contract import check_module
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.functional.normalization import batch_norm_composed, layer_norm_composed
from nnbasics.ops import norm as opnorm

ATOL, RTOL = 1e-5, 1e-4


def _t64(a, grad=True):
    return nb.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ------------------------------------------------------------------ gradchecks
@pytest.mark.parametrize("shape", [(5, 3, 4, 7), (7, 3), (5, 3, 2)])
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False), (False, True)])
def test_batch_norm_op_gradcheck_training(rng, shape, affine):
    x = _t64(rng.standard_normal(shape) * 2 + 0.5)
    C = shape[1]
    w = _t64(rng.standard_normal(C) + 1) if affine[0] else None
    b = _t64(rng.standard_normal(C)) if affine[1] else None
    args = [t for t in (x, w, b) if t is not None]

    def fn(*ts):
        it = iter(ts[1:])
        ww = next(it) if affine[0] else None
        bb = next(it) if affine[1] else None
        return opnorm.batch_norm(ts[0], ww, bb, training=True, eps=1e-5)

    nb.gradcheck(fn, *args, tol=1e-6)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_op_gradcheck_eval(rng, affine):
    x = _t64(rng.standard_normal((5, 3, 4, 7)))
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    w, b = (_t64(rng.standard_normal(3)), _t64(rng.standard_normal(3))) if affine else (None, None)
    args = [x] + ([w, b] if affine else [])

    def fn(*ts):
        ww, bb = (ts[1], ts[2]) if affine else (None, None)
        return opnorm.batch_norm(ts[0], ww, bb, rm, rv, training=False, momentum=0.0, eps=1e-5)

    nb.gradcheck(fn, *args, tol=1e-6)
    np.testing.assert_array_equal(rm, rm)  # eval never touches the statistics passed
    x2 = x.detach()
    before = rm.copy()
    opnorm.batch_norm(x2, None, None, rm, rv, training=False, momentum=0.5)
    np.testing.assert_array_equal(rm, before)


@pytest.mark.parametrize("shape,k", [((5, 7), 1), ((2, 3, 5, 4), 2), ((2, 3, 5, 4), 3), ((3, 4, 5), 1)])
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False)])
def test_layer_norm_op_gradcheck(rng, shape, k, affine):
    S = shape[len(shape) - k:]
    x = _t64(rng.standard_normal(shape) * 3 - 1)
    w = _t64(rng.standard_normal(S) + 1) if affine[0] else None
    b = _t64(rng.standard_normal(S)) if affine[1] else None
    args = [t for t in (x, w, b) if t is not None]

    def fn(*ts):
        it = iter(ts[1:])
        ww = next(it) if affine[0] else None
        bb = next(it) if affine[1] else None
        return opnorm.layer_norm(ts[0], k, ww, bb, eps=1e-5)

    nb.gradcheck(fn, *args, tol=1e-6)


def _grads_of(fn, *ts, seed=0):
    for t in ts:
        t.grad = None
    out = fn(*ts)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    (out * nb.tensor(g)).sum().backward()
    return out._array, [t.grad._array for t in ts]


def test_fused_batch_norm_matches_composed_twin(rng):
    x, w, b = _t64(rng.standard_normal((5, 3, 4, 7))), _t64(rng.standard_normal(3)), _t64(rng.standard_normal(3))
    y1, g1 = _grads_of(lambda x, w, b: opnorm.batch_norm(x, w, b, training=True), x, w, b)
    y2, g2 = _grads_of(lambda x, w, b: batch_norm_composed(x, w, b), x, w, b)
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    for a, c in zip(g1, g2):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-11)


def test_fused_layer_norm_matches_composed_twin(rng):
    x, w, b = _t64(rng.standard_normal((2, 3, 5, 4))), _t64(rng.standard_normal((5, 4))), _t64(rng.standard_normal((5, 4)))
    y1, g1 = _grads_of(lambda x, w, b: opnorm.layer_norm(x, 2, w, b), x, w, b)
    y2, g2 = _grads_of(lambda x, w, b: layer_norm_composed(x, 2, w, b), x, w, b)
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    for a, c in zip(g1, g2):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-11)


def test_variance_is_two_pass_and_float32_stays_float32(rng):
    # NOTE: E[x^2] - E[x]^2 in float32 loses the variance entirely at an offset of 3000
    x = (3000.0 + rng.standard_normal((64, 2, 5, 5))).astype(np.float32)
    ref = (x.astype(np.float64) - x.mean(axis=(0, 2, 3), dtype=np.float64, keepdims=True))
    ref /= np.sqrt(ref.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    y = opnorm.batch_norm(nb.tensor(x), training=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y._array, ref, atol=2e-3)
    z = opnorm.layer_norm(nb.tensor(x.reshape(64, 50)), 1)
    assert z.dtype == np.float32
    r2 = x.reshape(64, 50).astype(np.float64)
    r2 = (r2 - r2.mean(1, keepdims=True)) / np.sqrt(r2.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(z._array, r2, atol=2e-3)


# ------------------------------------------------------------ module parity
def _copy_params(ours, theirs, torch):
    with torch.no_grad():
        for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert n == tn
            tp.copy_(torch.from_numpy(p._array.copy()))


def _module_step_parity(ours, theirs, x, torch, seed):
    """One forward/backward in both; compare output and input, weight and bias gradients."""
    xt = torch.tensor(x, requires_grad=True)
    xn = nb.tensor(x, requires_grad=True)
    y, yt = ours(xn), theirs(xt)
    np.testing.assert_allclose(y._array, yt.detach().numpy(), atol=ATOL, rtol=RTOL)
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xn.grad._array, xt.grad.numpy(), atol=ATOL, rtol=RTOL, err_msg="grad input")
    for (n, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad._array, tp.grad.numpy(), atol=ATOL, rtol=RTOL, err_msg=f"grad {n}")
        p.grad = None
        tp.grad = None


def _compare_state(ours, theirs):
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        a, t = sd[k]._array, tsd[k].numpy()
        assert a.shape == t.shape and a.dtype == t.dtype, (k, a.shape, t.shape, a.dtype, t.dtype)
        np.testing.assert_allclose(a, t, atol=ATOL, rtol=RTOL, err_msg=k)


BN_CASES = [
    ("BatchNorm1d", (7, 3)),
    ("BatchNorm1d", (5, 3, 6)),
    ("BatchNorm2d", (5, 3, 4, 7)),
]


@pytest.mark.parametrize("cls,shape", BN_CASES)
@pytest.mark.parametrize("kw", [
    {}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
    {"track_running_stats": False}, {"affine": False, "track_running_stats": False},
])
def test_batch_norm_module_parity_train_then_eval(torch, rng, cls, shape, kw):
    ours, theirs = getattr(nn, cls)(3, **kw), getattr(torch.nn, cls)(3, **kw)
    if ours.affine:  # non-trivial affine parameters
        with nb.no_grad():
            ours.weight._array[...] = rng.uniform(0.5, 1.5, 3)
            ours.bias._array[...] = rng.standard_normal(3)
        _copy_params(ours, theirs, torch)
    for step in range(4):  # several steps: running statistics accumulate
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        _module_step_parity(ours, theirs, x, torch, seed=step)
        _compare_state(ours, theirs)
    ours.eval()
    theirs.eval()
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    _module_step_parity(ours, theirs, x, torch, seed=9)
    _compare_state(ours, theirs)  # eval changes no statistics


@pytest.mark.parametrize("cls,shape", BN_CASES)
def test_batch_norm_loads_torch_state_dict(torch, rng, cls, shape):
    theirs = getattr(torch.nn, cls)(3, momentum=0.2)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.normal_()
    for _ in range(3):  # torch-trained statistics
        theirs(torch.tensor((rng.standard_normal(shape) * 3 + 2).astype(np.float32)))
    ours = getattr(nn, cls)(3)
    ours.load_state_dict(theirs.state_dict())
    _compare_state(ours, theirs)
    assert ours.num_batches_tracked.dtype == np.int64 and int(ours.num_batches_tracked._array) == 3
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(nb.tensor(x))._array, theirs(torch.tensor(x)).detach().numpy(), atol=ATOL, rtol=RTOL)
    # and back: torch loads ours
    back = getattr(torch.nn, cls)(3)
    back.load_state_dict({k: torch.from_numpy(v._array.copy()) for k, v in ours.state_dict().items()})
    _compare_state(ours, back)


def test_batch_norm_buffers_and_keys_match_torch(torch):
    for kw in ({}, {"affine": False}, {"track_running_stats": False}):
        ours, theirs = nn.BatchNorm2d(4, **kw), torch.nn.BatchNorm2d(4, **kw)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]


@pytest.mark.parametrize("shape,S", [((4, 7), (7,)), ((2, 3, 5, 4), (5, 4)), ((2, 3, 5, 4), (3, 5, 4)), ((3, 5, 6), 6)])
@pytest.mark.parametrize("kw", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}])
def test_layer_norm_module_parity(torch, rng, shape, S, kw):
    ours, theirs = nn.LayerNorm(S, **kw), torch.nn.LayerNorm(S, **kw)
    if ours.weight is not None:
        with nb.no_grad():
            ours.weight._array[...] = rng.uniform(0.5, 1.5, ours.weight.shape)
            if ours.bias is not None:
                ours.bias._array[...] = rng.standard_normal(ours.bias.shape)
        _copy_params(ours, theirs, torch)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    _module_step_parity(ours, theirs, x, torch, seed=1)
    ours.eval()
    theirs.eval()
    _module_step_parity(ours, theirs, x, torch, seed=2)
    _compare_state(ours, theirs)


# ------------------------------------------------------------- functional
@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_parity(torch, rng, training):
    C = 3
    rm, rv = rng.standard_normal(C).astype(np.float32), rng.uniform(0.5, 2, C).astype(np.float32)
    rm_n, rv_n = nb.tensor(rm.copy()), nb.tensor(rv.copy())
    rm_t, rv_t = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    x = rng.standard_normal((5, C, 4, 7)) * 2 + 1
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    assert_parity(
        lambda x, w, b: F.batch_norm(x, rm_n, rv_n, w, b, training=training, momentum=0.25, eps=1e-4),
        lambda x, w, b: torch.nn.functional.batch_norm(x, rm_t, rv_t, w, b, training=training, momentum=0.25, eps=1e-4),
        x, w, b, torch=torch, atol=ATOL, rtol=RTOL,
    )
    np.testing.assert_allclose(rm_n._array, rm_t.numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(rv_n._array, rv_t.numpy(), atol=ATOL, rtol=RTOL)
    if training:
        assert not np.allclose(rm_n._array, rm)  # the statistics did move


def test_functional_layer_norm_and_normalize_parity(torch, rng):
    x = rng.standard_normal((2, 3, 5, 4))
    w, b = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    assert_parity(lambda x, w, b: F.layer_norm(x, (5, 4), w, b, eps=1e-4),
                  lambda x, w, b: torch.nn.functional.layer_norm(x, (5, 4), w, b, eps=1e-4),
                  x, w, b, torch=torch, atol=ATOL, rtol=RTOL)
    x[0, :, 0, 0] = 0  # an all-zero slice along dim 1: output 0, finite gradient
    for p, dim in ((2.0, 1), (1.0, -1), (3.0, (2, 3))):
        assert_parity(lambda x, p=p, dim=dim: F.normalize(x, p=p, dim=dim),
                      lambda x, p=p, dim=dim: torch.nn.functional.normalize(x, p=p, dim=dim),
                      x, torch=torch, atol=ATOL, rtol=RTOL)


# ---------------------------------------------------------------- contract
def test_contracts(rng):
    x2 = nb.tensor(rng.standard_normal((6, 3)).astype(np.float32))
    x3 = nb.tensor(rng.standard_normal((5, 3, 4)).astype(np.float32))
    x4 = nb.tensor(rng.standard_normal((5, 3, 4, 7)).astype(np.float32))
    check_module(lambda r: nn.BatchNorm1d(3), x2, expected_shape=(6, 3), param_names=["weight", "bias"],
                 bad_inputs=[(nb.randn(6, 4), r"BatchNorm1d\(3\).*\(N, 3\).*got shape \(6, 4\)"), x4])
    check_module(lambda r: nn.BatchNorm1d(3), x3, expected_shape=(5, 3, 4))
    check_module(lambda r: nn.BatchNorm2d(3), x4, expected_shape=(5, 3, 4, 7), param_names=["weight", "bias"],
                 bad_inputs=[(nb.randn(5, 2, 4, 7), r"\(N, 3, H, W\).*got shape \(5, 2, 4, 7\)"),
                             (x3, r"4-D.*got shape \(5, 3, 4\)")])
    check_module(lambda r: nn.BatchNorm2d(3, affine=False), x4, expected_shape=(5, 3, 4, 7), param_names=[])
    check_module(lambda r: nn.LayerNorm((4, 7)), x4, expected_shape=(5, 3, 4, 7), param_names=["weight", "bias"],
                 bad_inputs=[(nb.randn(5, 3, 7, 4), r"LayerNorm.*\(\*, 4, 7\).*got shape \(5, 3, 7, 4\)"),
                             nb.randn(7)])


# --------------------------------------------------------------- validation
def test_training_with_one_value_per_channel_raises():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size \(1, 3\)"):
        bn(nb.randn(1, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3)(nb.randn(1, 3, 1, 1))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(nb.randn(1, 3), None, None, training=True)
    assert int(bn.num_batches_tracked._array) == 0  # the failed call counted nothing
    bn.eval()
    assert bn(nb.randn(1, 3)).shape == (1, 3)  # eval mode: fine
    assert nn.BatchNorm2d(3)(nb.randn(1, 3, 2, 1)).shape == (1, 3, 2, 1)  # 2 values per channel


@pytest.mark.parametrize("make,match", [
    (lambda: nn.BatchNorm2d(0), "num_features"),
    (lambda: nn.BatchNorm2d(3, momentum=1.5), "momentum"),
    (lambda: nn.BatchNorm2d(3, eps=-1), "eps"),
    (lambda: nn.LayerNorm(()), "normalized_shape"),
    (lambda: nn.LayerNorm((3, 0)), "normalized_shape"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_functional_validation():
    x = nb.randn(4, 3, 5)
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(x, nb.zeros(4), nb.ones(3), training=True)
    with pytest.raises(ValueError, match="expected in eval mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"at least 2 dims"):
        F.batch_norm(nb.randn(4), None, None, training=True)
    with pytest.raises(ValueError, match=r"weight must have shape \(5,\)"):
        F.layer_norm(x, 5, weight=nb.ones(4))
    with pytest.raises(ValueError, match=r"expected input of shape \(\*, 3, 6\).*got shape \(4, 3, 5\)"):
        F.layer_norm(x, (3, 6))


def test_num_batches_tracked_counts_in_training_only():
    bn = nn.BatchNorm1d(2)
    for _ in range(3):
        bn(nb.randn(4, 2))
    bn.eval()
    bn(nb.randn(4, 2))
    assert bn.num_batches_tracked.dtype == np.int64
    assert int(bn.num_batches_tracked._array) == 3
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked._array) == 0 and np.all(bn.running_var._array == 1)
