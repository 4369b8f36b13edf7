"""Losses: float64 gradchecks, fused-vs-composed twins, PyTorch parity, stability, validation, modules.

Sizes are distinct per dimension (N=5, C=7, K-dim (5, 7, 3)) so a transposed gradient cannot
pass; inputs of losses with kinks (l1, hinge, BCE-with-logits' composed twin) are kept away
from the kink.
"""

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.functional.loss import (
    binary_cross_entropy_composed,
    binary_cross_entropy_with_logits_composed,
    cross_entropy_composed,
)

N, C, D = 5, 7, 3
REDUCTIONS = ["mean", "sum", "none"]
SEED = 20240612


def leaf(a):
    return nb.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def labels(rng, shape, ignore=None, n_ignored=0):
    y = rng.integers(0, C, shape)
    if ignore is not None and n_ignored:
        flat = y.reshape(-1)
        flat[rng.choice(flat.size, n_ignored, replace=False)] = ignore
    return y


def probs(rng, shape):
    p = rng.random(shape) + 0.1
    return p / p.sum(axis=1, keepdims=True)


CLASS_W = np.linspace(0.5, 2.0, C)

# (name, kwargs) for cross-entropy / nll options; ignore_index=3 also marks some labels 3 as ignored
CE_OPTIONS = [
    ("plain", {}),
    ("weight", {"weight": CLASS_W}),
    ("ignore", {"ignore_index": -100}),
    ("ignore_in_range", {"ignore_index": 3}),
    ("smoothing", {"label_smoothing": 0.2}),
    ("all", {"weight": CLASS_W, "ignore_index": -100, "label_smoothing": 0.15}),
]
CE_SHAPES = [("2d", (N, C), (N,)), ("kdim", (N, C, D), (N, D)), ("1d", (C,), ())]


def ce_case(rng, shape_name, opts):
    _, xshape, yshape = next(s for s in CE_SHAPES if s[0] == shape_name)
    x = rng.standard_normal(xshape) * 2
    ig = opts.get("ignore_index")
    n_ign = 0 if (ig is None or yshape == ()) else 2
    y = labels(rng, yshape, ig, n_ign)
    return x, y


def _kw(opts, lib=None, dtype=np.float64):
    """Options with the weight as a tensor of ``lib`` (nnbasics when None, else torch)."""
    kw = dict(opts)
    if "weight" in kw:
        kw["weight"] = nb.tensor(kw["weight"].astype(dtype)) if lib is None else lib.tensor(kw["weight"], dtype=lib.float32)
    return kw


# ---------------------------------------------------------------- gradchecks
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [s[0] for s in CE_SHAPES])
@pytest.mark.parametrize("opt", [o[0] for o in CE_OPTIONS])
def test_cross_entropy_gradcheck(opt, shape, reduction):
    rng = np.random.default_rng(SEED)
    opts = dict(CE_OPTIONS)[opt]
    x, y = ce_case(rng, shape, opts)
    kw = _kw(opts)
    nb.gradcheck(lambda t: F.cross_entropy(t, y, reduction=reduction, **kw), leaf(x))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", ["2d", "kdim"])
@pytest.mark.parametrize("opts", [{}, {"weight": CLASS_W}, {"label_smoothing": 0.3, "weight": CLASS_W}],
                         ids=["plain", "weight", "smooth_weight"])
def test_cross_entropy_probability_targets_gradcheck(opts, shape, reduction):
    rng = np.random.default_rng(SEED)
    xshape = (N, C) if shape == "2d" else (N, C, D)
    x, t = rng.standard_normal(xshape), probs(rng, xshape)
    kw = _kw(opts)
    nb.gradcheck(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **kw), leaf(x), leaf(t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [s[0] for s in CE_SHAPES])
@pytest.mark.parametrize("opt", ["plain", "weight", "ignore", "ignore_in_range"])
def test_nll_loss_gradcheck(opt, shape, reduction):
    rng = np.random.default_rng(SEED)
    opts = dict(CE_OPTIONS)[opt]
    x, y = ce_case(rng, shape, opts)
    nb.gradcheck(lambda t: F.nll_loss(t, y, reduction=reduction, **_kw(opts)), leaf(x))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["noweight", "weight"])
def test_binary_cross_entropy_gradcheck(weighted, reduction):
    rng = np.random.default_rng(SEED)
    x, t = rng.uniform(0.05, 0.95, (N, C)), rng.random((N, C))
    w = nb.tensor(rng.uniform(0.5, 2, (C,))) if weighted else None
    w = None if w is None else w.double()
    nb.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction), leaf(x), leaf(t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True], ids=["nopos", "pos"])
@pytest.mark.parametrize("weighted", [False, True], ids=["noweight", "weight"])
def test_bce_with_logits_gradcheck(weighted, pos_weight, reduction):
    rng = np.random.default_rng(SEED)
    x, t = rng.standard_normal((N, C)) * 3, rng.random((N, C))
    x[0, 0] = 0.0  # the fused op is smooth at 0 (no |x| kink)
    w = nb.tensor(rng.uniform(0.5, 2, (N, 1)), dtype=np.float64) if weighted else None
    pw = nb.tensor(rng.uniform(0.5, 3, (C,)), dtype=np.float64) if pos_weight else None
    nb.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw), leaf(x), leaf(t))


def away_from_zero(rng, shape, margin=0.05):
    d = rng.standard_normal(shape)
    d[np.abs(d) < margin] += np.sign(d[np.abs(d) < margin] + 1e-12) * 2 * margin
    return d


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", ["mse", "l1", "huber", "huber_delta", "smooth_l1", "smooth_l1_beta", "smooth_l1_zero"])
def test_regression_gradcheck(loss, reduction):
    rng = np.random.default_rng(SEED)
    shape = (N, C, D)
    t = rng.standard_normal(shape)
    d = away_from_zero(rng, shape) * 1.5  # both sides of 0 and of +-delta / +-beta
    thresh = {"huber": 1.0, "huber_delta": 0.7, "smooth_l1": 1.0, "smooth_l1_beta": 0.4}.get(loss)
    if thresh is not None:
        near = np.abs(np.abs(d) - thresh) < 0.01
        d[near] *= 1.1
        assert (np.abs(d) < thresh).any() and (np.abs(d) > thresh).any()
    fn = {
        "mse": lambda a, b: F.mse_loss(a, b, reduction=reduction),
        "l1": lambda a, b: F.l1_loss(a, b, reduction=reduction),
        "huber": lambda a, b: F.huber_loss(a, b, reduction),
        "huber_delta": lambda a, b: F.huber_loss(a, b, reduction, delta=0.7),
        "smooth_l1": lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction),
        "smooth_l1_beta": lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.4),
        "smooth_l1_zero": lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.0),
    }[loss]
    nb.gradcheck(fn, leaf(t + d), leaf(t))


def margin_case(rng, shape, margin):
    """Scores whose hinge arguments margin - x[y] + x[j] are all at least 0.05 from the kink."""
    x = rng.standard_normal(shape)
    y = rng.integers(0, shape[-1], shape[:-1])
    x2, y2 = x.reshape(-1, shape[-1]), y.reshape(-1)
    for i, yi in enumerate(y2):
        x2[i, yi] += 1.0  # some classes inside the margin, some beyond it
        z = margin - x2[i, yi] + x2[i]
        near = (np.abs(z) < 0.05) & (np.arange(shape[-1]) != yi)
        x2[i, near] += 0.2
    z = margin - x2[np.arange(len(y2)), y2][:, None] + x2
    assert (z > 0.05).sum() > len(y2) and (z < -0.05).any()  # both sides of the kink
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 1.0, False), (1, 0.5, True), (2, 1.5, True)])
def test_multi_margin_gradcheck(p, margin, weighted, reduction):
    rng = np.random.default_rng(SEED)
    x, y = margin_case(rng, (N, C), margin)
    w = nb.tensor(CLASS_W) if weighted else None
    nb.gradcheck(lambda a: F.multi_margin_loss(a, y, p, margin, w, reduction=reduction), leaf(x))


def test_multi_margin_1d_gradcheck():
    rng = np.random.default_rng(SEED)
    x, y = margin_case(rng, (C,), 1.0)
    out = F.multi_margin_loss(nb.tensor(x), y)
    assert out.shape == ()
    nb.gradcheck(lambda a: F.multi_margin_loss(a, y, 2, reduction="none"), leaf(x))


# ---------------------------------------------------------------- fused vs composed twins
def assert_twins(fused, composed, *arrays):
    ins_f = [leaf(a) for a in arrays]
    ins_c = [leaf(a) for a in arrays]
    out_f, out_c = fused(*ins_f), composed(*ins_c)
    np.testing.assert_allclose(out_f._array, out_c._array, rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(out_f.shape)
    out_f.backward(g)
    out_c.backward(g)
    for a, b in zip(ins_f, ins_c):
        np.testing.assert_allclose(a.grad._array, b.grad._array, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [s[0] for s in CE_SHAPES])
@pytest.mark.parametrize("opt", [o[0] for o in CE_OPTIONS])
def test_cross_entropy_fused_matches_composed(opt, shape, reduction):
    rng = np.random.default_rng(SEED)
    opts = dict(CE_OPTIONS)[opt]
    x, y = ce_case(rng, shape, opts)
    kw = _kw(opts)
    assert_twins(lambda t: F.cross_entropy(t, y, reduction=reduction, **kw),
                 lambda t: cross_entropy_composed(t, y, reduction=reduction, **kw), x)


def test_ops_softmax_cross_entropy_is_unreduced_weighted_loss():
    rng = np.random.default_rng(SEED)
    x, y = rng.standard_normal((N, C)), labels(rng, (N,), -100, 1)
    w = nb.tensor(CLASS_W)
    per = nb.ops.loss.softmax_cross_entropy(leaf(x), y, w, label_smoothing=0.1)
    np.testing.assert_allclose(per._array, cross_entropy_composed(leaf(x), y, w, reduction="none",
                                                                label_smoothing=0.1)._array, rtol=1e-12)
    assert per._array[y == -100] == 0.0


def test_bce_fused_matches_composed():
    rng = np.random.default_rng(SEED)
    assert_twins(nb.ops.loss.binary_cross_entropy, binary_cross_entropy_composed, rng.uniform(0.02, 0.98, (N, C)), rng.random((N, C)))


@pytest.mark.parametrize("pos_weight", [None, "vector"])
def test_bce_with_logits_fused_matches_composed(pos_weight):
    rng = np.random.default_rng(SEED)
    x = away_from_zero(rng, (N, C)) * 3  # the composed twin has the |x| kink at 0
    pw = None if pos_weight is None else nb.tensor(rng.uniform(0.5, 3, (C,)), dtype=np.float64)
    assert_twins(lambda a, b: nb.ops.loss.binary_cross_entropy_with_logits(a, b, pw),
                 lambda a, b: binary_cross_entropy_with_logits_composed(a, b, pw), x, rng.random((N, C)))


# ---------------------------------------------------------------- PyTorch parity (float32)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [s[0] for s in CE_SHAPES])
@pytest.mark.parametrize("opt", [o[0] for o in CE_OPTIONS])
def test_cross_entropy_parity(torch, opt, shape, reduction):
    rng = np.random.default_rng(SEED)
    opts = dict(CE_OPTIONS)[opt]
    x, y = ce_case(rng, shape, opts)
    kw_nb, kw_t = _kw(opts, dtype=np.float32), _kw(opts, torch)
    assert_parity(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **kw_nb),
                  lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction, **kw_t),
                  x, y, torch=torch)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", ["2d", "kdim", "1d"])
@pytest.mark.parametrize("opts", [{}, {"weight": CLASS_W}, {"label_smoothing": 0.3, "weight": CLASS_W}],
                         ids=["plain", "weight", "smooth_weight"])
def test_cross_entropy_probability_targets_parity(torch, opts, shape, reduction):
    rng = np.random.default_rng(SEED)
    xshape = {"2d": (N, C), "kdim": (N, C, D), "1d": (C,)}[shape]
    x = rng.standard_normal(xshape)
    t = probs(rng, xshape) if shape != "1d" else probs(rng, (1, C))[0]
    kw_nb, kw_t = _kw(opts, dtype=np.float32), _kw(opts, torch)
    assert_parity(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **kw_nb),
                  lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction, **kw_t),
                  x, t, torch=torch)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [s[0] for s in CE_SHAPES])
@pytest.mark.parametrize("opt", ["plain", "weight", "ignore", "ignore_in_range"])
def test_nll_loss_parity(torch, opt, shape, reduction):
    rng = np.random.default_rng(SEED)
    opts = dict(CE_OPTIONS)[opt]
    x, y = ce_case(rng, shape, opts)
    kw_nb, kw_t = _kw(opts, dtype=np.float32), _kw(opts, torch)
    assert_parity(lambda a, b: F.nll_loss(a, b, reduction=reduction, **kw_nb),
                  lambda a, b: torch.nn.functional.nll_loss(a, b, reduction=reduction, **kw_t),
                  x, y, torch=torch)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["noweight", "weight"])
def test_binary_cross_entropy_parity(torch, weighted, reduction):
    rng = np.random.default_rng(SEED)
    x, t = rng.uniform(0.05, 0.95, (N, C)), rng.random((N, C))
    w = rng.uniform(0.5, 2, (C,)).astype(np.float32) if weighted else None
    assert_parity(
        lambda a, b: F.binary_cross_entropy(a, b, None if w is None else nb.tensor(w), reduction=reduction),
        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, None if w is None else torch.tensor(w),
                                                              reduction=reduction),
        x, t, torch=torch)


def test_binary_cross_entropy_clamps_like_torch(torch):
    # probabilities exactly 0 and 1: the log clamp at -100 and PyTorch's clamped gradient denominator
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.5], dtype=np.float32)
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.3], dtype=np.float32)
    assert_parity(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                  lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"),
                  x, t, torch=torch, requires_grad=[True, False])
    out = F.binary_cross_entropy(nb.tensor(x), nb.tensor(t), reduction="none")
    np.testing.assert_allclose(out._array[:4], [0, 100, 100, 0], atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True], ids=["nopos", "pos"])
@pytest.mark.parametrize("weighted", [False, True], ids=["noweight", "weight"])
def test_bce_with_logits_parity(torch, weighted, pos_weight, reduction):
    rng = np.random.default_rng(SEED)
    x, t = rng.standard_normal((N, C)) * 3, rng.random((N, C))
    x[0, :2] = 0.0
    w = rng.uniform(0.5, 2, (N, 1)).astype(np.float32) if weighted else None
    pw = rng.uniform(0.5, 3, (C,)).astype(np.float32) if pos_weight else None

    def nb_t(a):
        return None if a is None else nb.tensor(a)

    def th_t(a):
        return None if a is None else torch.tensor(a)

    assert_parity(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, nb_t(w), reduction=reduction, pos_weight=nb_t(pw)),
        lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, th_t(w), reduction=reduction,
                                                                          pos_weight=th_t(pw)),
        x, t, torch=torch)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss,kw", [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {}),
                                     ("huber_loss", {"delta": 0.6}), ("smooth_l1_loss", {}),
                                     ("smooth_l1_loss", {"beta": 0.4}), ("smooth_l1_loss", {"beta": 0.0})],
                         ids=["mse", "l1", "huber", "huber_delta", "smooth_l1", "smooth_l1_beta", "smooth_l1_zero"])
def test_regression_parity(torch, loss, kw, reduction):
    rng = np.random.default_rng(SEED)
    t = rng.standard_normal((N, C, D))
    x = t + away_from_zero(rng, (N, C, D)) * 1.5
    assert_parity(lambda a, b: getattr(F, loss)(a, b, reduction=reduction, **kw),
                  lambda a, b: getattr(torch.nn.functional, loss)(a, b, reduction=reduction, **kw),
                  x, t, torch=torch)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 1.0, False), (1, 0.5, True), (2, 1.5, True)])
def test_multi_margin_parity(torch, p, margin, weighted, reduction):
    rng = np.random.default_rng(SEED)
    x, y = margin_case(rng, (N, C), margin)
    w = CLASS_W.astype(np.float32) if weighted else None
    assert_parity(
        lambda a, b: F.multi_margin_loss(a, b, p, margin, None if w is None else nb.tensor(w), reduction=reduction),
        lambda a, b: torch.nn.functional.multi_margin_loss(a, b, p, margin, None if w is None else torch.tensor(w),
                                                           reduction=reduction),
        x, y, torch=torch)


def test_multi_margin_1d_parity(torch):
    rng = np.random.default_rng(SEED)
    x, y = margin_case(rng, (C,), 1.0)
    assert_parity(lambda a, b: F.multi_margin_loss(a, b, 2), lambda a, b: torch.nn.functional.multi_margin_loss(a, b, 2),
                  x, np.asarray(y), torch=torch)


def test_cross_entropy_all_ignored_is_nan_like_torch(torch):
    x = np.zeros((3, 4), dtype=np.float32)
    y = np.full(3, -100)
    ours = F.cross_entropy(nb.tensor(x), y)
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y))
    assert np.isnan(ours.item()) and np.isnan(theirs.item())
    assert F.cross_entropy(nb.tensor(x), y, reduction="sum").item() == 0.0


# ---------------------------------------------------------------- stability at +-1e4
BIG = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 0.0]], dtype=np.float32)


@pytest.mark.parametrize("opts", [{}, {"weight": np.array([1.0, 2.0, 0.5, 1.5])}, {"label_smoothing": 0.1},
                                  {"weight": np.array([1.0, 2.0, 0.5, 1.5]), "label_smoothing": 0.2}],
                         ids=["plain", "weight", "smooth", "weight_smooth"])
def test_cross_entropy_stable_at_huge_logits(opts):
    y = np.array([1, 0, 2])
    kw = {k: (nb.tensor(v.astype(np.float32)) if k == "weight" else v) for k, v in opts.items()}
    x = nb.tensor(BIG, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.cross_entropy(x, y, reduction="sum", **kw)
        loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad._array))
    # reference in float64 from the composed twin (log_softmax is stable in float64 too)
    ref_x = leaf(BIG)
    kw64 = {k: (nb.tensor(v.astype(np.float64)) if k == "weight" else v) for k, v in opts.items()}
    ref = cross_entropy_composed(ref_x, y, reduction="sum", **kw64)
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad._array, ref_x.grad._array, atol=1e-6)
    if not opts:
        np.testing.assert_allclose(loss.item(), 2e4 + np.log(4) + (2e4 + np.log(2)), rtol=1e-6)


def test_cross_entropy_kdim_stable_at_huge_logits():
    x = nb.tensor(np.stack([BIG, -BIG], axis=2).transpose(0, 1, 2), requires_grad=True)  # (3, 4, 2)
    y = np.array([[1, 1], [0, 3], [2, 0]])
    loss = F.cross_entropy(x, y)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad._array))
    ref_x = leaf(x._array)
    ref = cross_entropy_composed(ref_x, y)
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad._array, ref_x.grad._array, atol=1e-6)


def test_bce_with_logits_stable_at_huge_logits():
    x = nb.tensor([1e4, 1e4, -1e4, -1e4, 0.0], requires_grad=True)
    t = nb.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss._array, [0, 1e4, 1e4, 0, np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(x.grad._array, [0, 1, -1, 0, -0.5], atol=1e-7)  # sigmoid(x) - y
    x.grad = None
    pw = nb.tensor([3.0, 3.0, 3.0, 3.0, 3.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=pw)
        loss.sum().backward()
    np.testing.assert_allclose(loss._array, [0, 1e4, 3e4, 0, 3 * np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(x.grad._array, [0, 1, -3, 0, -1.5], atol=1e-7)  # (1-y) - (1+2y) sigmoid(-x)


# ---------------------------------------------------------------- validation
def test_cross_entropy_float_labels_say_long():
    x = nb.zeros(N, C)
    with pytest.raises(TypeError, match=r"long\(\).*got a float|float target of shape \(5,\).*long\(\)"):
        F.cross_entropy(x, nb.tensor([0.0, 1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(TypeError, match=r"integers.*float32.*long\(\)"):
        F.nll_loss(x, nb.tensor([0.0, 1.0, 2.0, 3.0, 4.0]))


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss, F.multi_margin_loss])
def test_class_target_shape_and_range(fn):
    x = nb.zeros(N, C)
    with pytest.raises(ValueError, match=r"must have shape \(5,\).*got \(4,\)"):
        fn(x, np.arange(4))
    with pytest.raises(ValueError, match=r"must be in \[0, 6\] for 7 classes.*got 7"):
        fn(x, np.array([0, 1, 7, 2, 3]))
    with pytest.raises(ValueError, match=r"got -1"):
        fn(x, np.array([0, 1, -1, 2, 3]))


def test_ignore_index_is_not_a_range_error():
    x = nb.zeros(N, C)
    F.cross_entropy(x, np.array([0, -100, 6, 2, 3]))
    F.nll_loss(x, np.array([0, 99, 6, 2, 3]), ignore_index=99)
    with pytest.raises(ValueError, match="ignore_index=99"):
        F.cross_entropy(x, np.array([0, -100, 6, 2, 3]), ignore_index=99)


def test_kdim_target_shape_message():
    with pytest.raises(ValueError, match=r"shape \(5, 3\).*got \(5, 7\)"):
        F.cross_entropy(nb.zeros(N, C, D), np.zeros((N, C), dtype=np.int64))


def test_probability_target_shape():
    with pytest.raises(TypeError, match="probability targets must have the input's shape"):
        F.cross_entropy(nb.zeros(N, C), nb.zeros(N, C + 1))


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_bce_rejects_int_targets_and_wrong_shape(fn):
    x = nb.full((N, C), 0.5)
    with pytest.raises(TypeError, match=r"floating.*got dtype int64.*float\(\)"):
        fn(x, np.ones((N, C), dtype=np.int64))
    with pytest.raises(ValueError, match=r"target shape \(5, 1\) must equal input shape \(5, 7\)"):
        fn(x, nb.zeros(N, 1))


def test_bce_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(nb.tensor([0.5, 1.5]), nb.tensor([0.0, 1.0]))


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss])
def test_regression_rejects_broadcasting(fn):
    with pytest.raises(ValueError, match=r"target shape \(5,\) must equal input shape \(5, 1\)"):
        fn(nb.zeros(N, 1), nb.zeros(N))


ALL_LOSSES = [
    (F.cross_entropy, lambda: (nb.zeros(N, C), np.zeros(N, dtype=np.int64))),
    (F.nll_loss, lambda: (nb.zeros(N, C), np.zeros(N, dtype=np.int64))),
    (F.multi_margin_loss, lambda: (nb.zeros(N, C), np.zeros(N, dtype=np.int64))),
    (F.binary_cross_entropy, lambda: (nb.full((N,), 0.5), nb.zeros(N))),
    (F.binary_cross_entropy_with_logits, lambda: (nb.zeros(N), nb.zeros(N))),
    (F.mse_loss, lambda: (nb.zeros(N), nb.zeros(N))),
    (F.l1_loss, lambda: (nb.zeros(N), nb.zeros(N))),
    (F.huber_loss, lambda: (nb.zeros(N), nb.zeros(N))),
    (F.smooth_l1_loss, lambda: (nb.zeros(N), nb.zeros(N))),
]


@pytest.mark.parametrize("fn,make", ALL_LOSSES, ids=[f.__name__ for f, _ in ALL_LOSSES])
def test_unknown_reduction_lists_the_valid_ones(fn, make):
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'; got 'avg'"):
        fn(*make(), reduction="avg")
    for r, shape in (("mean", ()), ("sum", ()), ("none", (N,))):
        assert fn(*make(), reduction=r).shape == shape


def test_option_validation():
    x = nb.zeros(N, C)
    y = np.zeros(N, dtype=np.int64)
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(7,\); got \(6,\)"):
        F.cross_entropy(x, y, weight=nb.ones(C - 1))
    with pytest.raises(ValueError, match=r"label_smoothing must be a float in \[0, 1\]; got 1.5"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="p must be 1 or 2; got 3"):
        F.multi_margin_loss(x, y, p=3)
    with pytest.raises(ValueError, match="delta must be a positive number; got 0"):
        F.huber_loss(nb.zeros(3), nb.zeros(3), delta=0)
    with pytest.raises(ValueError, match="beta must be a non-negative number; got -1"):
        F.smooth_l1_loss(nb.zeros(3), nb.zeros(3), beta=-1)
    with pytest.raises(ValueError, match=r"pos_weight of shape \(6,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, nb.zeros(N, C), pos_weight=nb.ones(C - 1))
    with pytest.raises(TypeError, match="input must be floating point"):
        F.cross_entropy(nb.tensor(np.zeros((N, C), dtype=np.int64)), y)


# ---------------------------------------------------------------- modules
MODULES = [
    ("CrossEntropyLoss", {"weight": CLASS_W, "label_smoothing": 0.1, "ignore_index": 2}, "cls"),
    ("CrossEntropyLoss", {"reduction": "sum"}, "cls"),
    ("NLLLoss", {"weight": CLASS_W, "reduction": "none"}, "cls"),
    ("BCELoss", {"weight": np.linspace(0.5, 1.5, C)}, "prob"),
    ("BCEWithLogitsLoss", {"pos_weight": np.linspace(0.5, 3, C), "reduction": "sum"}, "logit"),
    ("MSELoss", {}, "reg"),
    ("L1Loss", {"reduction": "none"}, "reg"),
    ("HuberLoss", {"delta": 0.5}, "reg"),
    ("SmoothL1Loss", {"beta": 0.3}, "reg"),
    ("MultiMarginLoss", {"p": 2, "margin": 0.7, "weight": CLASS_W}, "margin"),
]


def module_inputs(kind, rng):
    if kind == "cls":
        return rng.standard_normal((N, C)), rng.integers(0, C, (N,))
    if kind == "margin":
        return margin_case(rng, (N, C), 0.7)
    if kind == "prob":
        return rng.uniform(0.05, 0.95, (N, C)), rng.random((N, C))
    if kind == "logit":
        return rng.standard_normal((N, C)), rng.random((N, C))
    t = rng.standard_normal((N, C))
    return t + away_from_zero(rng, (N, C)), t


@pytest.mark.parametrize("name,kw,kind", MODULES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MODULES)])
def test_loss_module_parity(torch, name, kw, kind):
    rng = np.random.default_rng(SEED)
    x, t = module_inputs(kind, rng)
    nb_kw = {k: (nb.tensor(v.astype(np.float32)) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    t_kw = {k: (torch.tensor(v, dtype=torch.float32) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    ours, theirs = getattr(nn, name)(**nb_kw), getattr(torch.nn, name)(**t_kw)
    assert_parity(ours, theirs, x, t, torch=torch)
    if isinstance(ours, nn.Module) and hasattr(ours, "state_dict"):
        assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("name", sorted({m[0] for m in MODULES}))
def test_loss_module_validates_reduction_at_construction(name):
    with pytest.raises(ValueError, match=rf"{name}: reduction must be one of 'mean', 'sum', 'none'; got 'avg'"):
        getattr(nn, name)(reduction="avg")


def test_loss_module_option_validation():
    with pytest.raises(ValueError, match="`label_smoothing` of CrossEntropyLoss must be in"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="`delta` of HuberLoss"):
        nn.HuberLoss(delta=-1.0)
    with pytest.raises(ValueError, match="`beta` of SmoothL1Loss"):
        nn.SmoothL1Loss(beta=-1.0)
    with pytest.raises(ValueError, match="`p` of MultiMarginLoss must be 1 or 2"):
        nn.MultiMarginLoss(p=0)


def test_loss_modules_have_no_parameters_and_repr():
    m = nn.CrossEntropyLoss(weight=nb.ones(C), reduction="sum")
    assert list(m.parameters()) == []
    assert [n for n, _ in m.named_buffers()] == ["weight"]
    assert repr(m) == "CrossEntropyLoss(reduction='sum')"
