"""Dropout, Dropout2d, AlphaDropout and Monte-Carlo dropout.

Statistical checks use large tensors and tolerances of about 5 standard errors, with fixed
seeds, so they are deterministic and still fail for a wrong p, a wrong scale or a
keep/drop mix-up.
"""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn

BIG = (400, 500)  # 200,000 elements: standard error of a fraction <= 0.0012


def frac_zero(t):
    return float((t._array == 0).mean())


# ---------------------------------------------------------------- statistics
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_drop_fraction_is_p_and_inverted_scaling_keeps_the_mean(p):
    x = nb.ones(*BIG)
    y = F.dropout(x, p, rng=0)
    assert abs(frac_zero(y) - p) < 0.006
    kept = y._array[y._array != 0]
    np.testing.assert_allclose(kept, np.float32(1 / (1 - p)), rtol=1e-6)  # scaled by 1/(1-p)
    assert abs(y._array.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / x.numel())  # E[y] = x


def test_inverted_scaling_keeps_the_expectation_of_random_inputs():
    rng = np.random.default_rng(0)
    x = nb.tensor(rng.uniform(1, 2, BIG).astype(np.float32))
    ys = [F.dropout(x, 0.4, rng=s)._array for s in range(5)]
    np.testing.assert_allclose(np.mean(ys), x._array.mean(), rtol=0.01)


def test_classic_scaling_unscaled_in_training_and_scaled_at_eval():
    p = 0.3
    x = nb.tensor(np.random.default_rng(1).uniform(1, 2, BIG).astype(np.float32))
    y = F.dropout(x, p, rng=0, scaling="classic")
    kept = y._array != 0
    np.testing.assert_array_equal(y._array[kept], x._array[kept])  # no scaling in training
    assert abs(frac_zero(y) - p) < 0.006
    ev = F.dropout(x, p, training=False, scaling="classic")
    np.testing.assert_allclose(ev._array, x._array * (1 - p), rtol=1e-6)  # (1 - p) at test time
    np.testing.assert_allclose(y._array.mean(), ev._array.mean(), rtol=0.01)  # train expectation = eval output
    m = nn.Dropout(p, scaling="classic", rng=0).eval()
    np.testing.assert_allclose(m(x)._array, x._array * (1 - p), rtol=1e-6)


def test_eval_and_training_false_are_identity():
    x = nb.randn(3, 5, rng=0)
    assert F.dropout(x, 0.5, training=False) is x
    m = nn.Dropout(0.5, rng=0)
    assert m.eval()(x) is x
    assert F.dropout(x, 0.0, rng=0) is x  # p = 0 draws nothing
    m.train()
    assert frac_zero(m(nb.ones(*BIG))) > 0.45


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_mask_precision(dtype):
    x = nb.tensor(np.ones((5, 7), dtype=dtype), requires_grad=True)
    y = F.dropout(x, 0.5, rng=0)
    assert y.dtype == dtype
    fn = y.grad_fn
    assert type(fn).__name__ == "Mul"  # one op on the graph
    mask = fn.inputs[1]
    assert mask.dtype == dtype and not mask.requires_grad  # float32 mask for float32 input, no float64 temporaries


# ---------------------------------------------------------------- gradient
def test_gradient_is_mask_times_scale():
    rng = np.random.default_rng(3)
    x = nb.tensor(rng.uniform(0.5, 1.5, (5, 7)).astype(np.float32), requires_grad=True)
    p = 0.4
    y = F.dropout(x, p, rng=7)
    g = rng.standard_normal((5, 7)).astype(np.float32)
    y.backward(g)
    mask = (y._array != 0).astype(np.float32)
    assert 0 < mask.sum() < mask.size
    np.testing.assert_allclose(x.grad._array, g * mask / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(y._array, x._array * mask / (1 - p), rtol=1e-6)


@pytest.mark.parametrize("scaling", ["inverted", "classic"])
def test_dropout_gradcheck(scaling):
    x = nb.tensor(np.random.default_rng(0).standard_normal((5, 7, 3)), requires_grad=True)
    nb.gradcheck(lambda t: F.dropout(t, 0.3, rng=11, scaling=scaling), x)  # same seed: same mask each call
    nb.gradcheck(lambda t: F.dropout(t, 0.3, training=False, scaling=scaling), x)


# ---------------------------------------------------------------- randomness
def test_rng_reproducibility():
    x = nb.ones(7, 11)
    np.testing.assert_array_equal(F.dropout(x, 0.5, rng=5)._array, F.dropout(x, 0.5, rng=5)._array)
    assert not np.array_equal(F.dropout(x, 0.5, rng=5)._array, F.dropout(x, 0.5, rng=6)._array)
    a, b = nn.Dropout(0.5, rng=3), nn.Dropout(0.5, rng=3)
    seq_a = [a(x)._array for _ in range(3)]
    seq_b = [b(x)._array for _ in range(3)]
    for u, v in zip(seq_a, seq_b):
        np.testing.assert_array_equal(u, v)  # same seed: same sequence of masks
    assert not np.array_equal(seq_a[0], seq_a[1])  # successive calls differ
    gen = np.random.default_rng(9)
    c = nn.Dropout(0.5, rng=gen)
    assert c.rng is gen  # a Generator is used as given (its stream advances)


# ---------------------------------------------------------------- keep_prob and validation
def test_keep_prob_is_converted():
    m = nn.Dropout(keep_prob=0.8, rng=0)
    assert m.p == pytest.approx(0.2)
    assert abs(frac_zero(m(nb.ones(*BIG))) - 0.2) < 0.006  # keep 80%, TF1's tf.nn.dropout(x, 0.8)
    y = F.dropout(nb.ones(*BIG), keep_prob=0.9, rng=0)
    assert abs(frac_zero(y) - 0.1) < 0.006
    np.testing.assert_allclose(y._array[y._array != 0], np.float32(1 / 0.9), rtol=1e-6)
    assert F.dropout(nb.ones(3), keep_prob=1.0, rng=0)._array.tolist() == [1.0, 1.0, 1.0]
    assert "p=0.5" in repr(nn.Dropout()) and nn.Dropout().p == 0.5


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_p_and_keep_prob_together_are_refused(p):
    with pytest.raises(ValueError, match="either `p`.*or `keep_prob`.*not both"):
        nn.Dropout(p, keep_prob=0.8)
    with pytest.raises(ValueError, match="not both"):
        F.dropout(nb.ones(3), p, keep_prob=0.8)


@pytest.mark.parametrize("p", [1.5, 1.0, -0.1])
def test_invalid_p(p):
    with pytest.raises(ValueError, match=rf"^`p` of Dropout must be in \[0, 1\)\. Got {p}\."):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=rf"`p` of dropout must be in \[0, 1\)\. Got {p}\."):
        F.dropout(nb.ones(3), p)
    with pytest.raises(ValueError, match=rf"`p` of AlphaDropout must be in \[0, 1\)\. Got {p}\."):
        nn.AlphaDropout(p)


def test_invalid_p_message_exact():
    with pytest.raises(ValueError) as info:
        nn.Dropout(1.5)
    assert str(info.value).startswith("`p` of Dropout must be in [0, 1). Got 1.5.")
    assert "keep_prob" in str(info.value)  # p >= 1 hints at the TF1 convention


def test_invalid_keep_prob_scaling_and_types():
    with pytest.raises(ValueError, match=r"`keep_prob` of Dropout must be in \(0, 1\]\. Got 0"):
        nn.Dropout(keep_prob=0)
    with pytest.raises(ValueError, match=r"`keep_prob` of dropout must be in \(0, 1\]\. Got 1.5"):
        F.dropout(nb.ones(3), keep_prob=1.5)
    with pytest.raises(TypeError, match="`p` of Dropout must be a number"):
        nn.Dropout("0.5")
    with pytest.raises(ValueError, match="`scaling` of Dropout must be 'inverted' or 'classic'"):
        nn.Dropout(0.5, scaling="tf1")
    with pytest.raises(TypeError, match="floating point"):
        F.dropout(nb.tensor([1, 2, 3]), 0.5)


# ---------------------------------------------------------------- Dropout2d
def test_dropout2d_drops_whole_channels():
    x = nb.ones(40, 50, 3, 2)
    y = nn.Dropout2d(0.3, rng=0)(x)
    per_channel = y._array.reshape(40, 50, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel != 0).all(-1))  # all or nothing per channel
    assert abs((per_channel[..., 0] == 0).mean() - 0.3) < 0.04  # 2,000 channels: s.e. 0.01
    np.testing.assert_allclose(y._array[y._array != 0], np.float32(1 / 0.7), rtol=1e-6)
    assert nn.Dropout2d(0.3).eval()(x) is x
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\); got shape \(5,\)"):
        F.dropout2d(nb.ones(5), 0.3)  # (a 2-D input is dropped element-wise, as PyTorch: test_dropout2d_flat_input)
    assert F.dropout2d(nb.ones(3, 4, 5), 0.5, rng=0).shape == (3, 4, 5)


# ---------------------------------------------------------------- AlphaDropout
@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(p):
    x = nb.tensor(np.random.default_rng(0).standard_normal(BIG).astype(np.float32))  # SELU's fixed point N(0, 1)
    y = nn.AlphaDropout(p, rng=1)(x)
    assert abs(float(y._array.mean())) < 0.01
    assert abs(float(y._array.var()) - 1.0) < 0.015
    assert y.dtype == np.float32
    # and it does change things: about p of the values sit at the one "dropped" constant
    _, counts = np.unique(y._array, return_counts=True)
    assert abs(counts.max() / y.numel() - p) < 0.006


def test_alpha_dropout_on_selu_activations():
    # the SELU output of N(0, 1) pre-activations has mean 0, variance 1; alpha dropout keeps them
    z = np.random.default_rng(2).standard_normal(BIG)
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    s = (lam * np.where(z > 0, z, alpha * np.expm1(z))).astype(np.float32)
    y = F.alpha_dropout(nb.tensor(s), 0.1, training=True, rng=3)
    np.testing.assert_allclose([y._array.mean(), y._array.var()], [s.mean(), s.var()], atol=0.015)


def test_alpha_dropout_matches_torch_in_distribution(torch):
    p = 0.2
    x = np.random.default_rng(4).standard_normal(BIG).astype(np.float32)
    ours = F.alpha_dropout(nb.tensor(x), p, training=True, rng=0)._array
    theirs = torch.nn.functional.alpha_dropout(torch.tensor(x), p, training=True).numpy()
    alpha_p = 1.7580993408473766
    a = 1 / np.sqrt((alpha_p**2 * p + 1) * (1 - p))
    b = alpha_p * a * p
    for out in (ours, theirs):
        kept = np.isclose(out, a * x + b, atol=1e-5)
        np.testing.assert_allclose(out[~kept], -alpha_p * a + b, atol=1e-5)  # every dropped unit
        assert abs((~kept).mean() - p) < 0.006
    np.testing.assert_allclose([ours.mean(), ours.var()], [theirs.mean(), theirs.var()], atol=0.015)


def test_alpha_dropout_eval_default_and_gradient():
    x = nb.randn(5, 7, rng=0)
    assert F.alpha_dropout(x, 0.3) is x  # training=False by default, as torch.nn.functional.alpha_dropout
    m = nn.AlphaDropout(0.3, rng=0)
    assert m.eval()(x) is x
    x64 = nb.tensor(np.random.default_rng(1).standard_normal((5, 7, 3)), requires_grad=True)
    nb.gradcheck(lambda t: F.alpha_dropout(t, 0.3, training=True, rng=5), x64)
    x64.grad = None
    y = F.alpha_dropout(x64, 0.3, training=True, rng=5)
    y.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766**2 * 0.3 + 1) * 0.7)
    assert set(np.round(np.unique(x64.grad._array), 12)) == {0.0, round(a, 12)}


# ---------------------------------------------------------------- module contract
@pytest.mark.parametrize("cls", ["Dropout", "AlphaDropout", "Dropout2d"])
def test_module_contract(cls):
    x = nb.randn(5, 7, 3, 2, rng=0)
    check_module(lambda rng: getattr(nn, cls)(0.3, rng=rng), x, expected_shape=(5, 7, 3, 2), param_names=[])


# ---------------------------------------------------------------- MC dropout
class ModeSpy(nn.Module):
    """Identity that records the mode it ran in (stands for batch norm: must be in eval)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(self.training)
        return x


def mc_model():
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.Dropout(0.5, rng=1), ModeSpy(), nn.Linear(4, 2, rng=2))


def test_mc_dropout_shapes_modes_and_restore():
    model = mc_model()
    model.train()
    model[1].eval()  # a mixed starting state must come back exactly
    before = [m.training for m in model.modules()]
    x = nb.randn(6, 3, rng=0)
    mean, var = nn.mc_dropout_predict(model, x, T=30, rng=0)
    assert mean.shape == (6, 2) and var.shape == (6, 2)
    assert mean.dtype == np.float32 and var.dtype == np.float32
    assert not mean.requires_grad and not var.requires_grad
    assert np.all(var._array >= 0) and var._array.max() > 0  # the passes differ
    assert model[2].seen == [False] * 30  # non-dropout modules ran in eval
    assert [m.training for m in model.modules()] == before  # every mode restored


def test_mc_dropout_statistics_match_the_passes():
    model = nn.Sequential(nn.Dropout(0.5, rng=0), nn.Linear(3, 2, rng=1))
    x = nb.randn(4, 3, rng=2)
    mean, var = nn.mc_dropout_predict(model, x, T=5, rng=7)
    # the same five passes by hand, with the same Generator
    gen = np.random.default_rng(7)
    outs = []
    with nb.no_grad():
        for _ in range(5):
            outs.append(model[1](F.dropout(x, 0.5, rng=gen))._array.astype(np.float64))
    np.testing.assert_allclose(mean._array, np.mean(outs, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var._array, np.var(outs, 0), rtol=1e-4, atol=1e-6)  # population variance
    # inverted dropout before a linear layer: the MC mean tends to the eval output
    m_big, _ = nn.mc_dropout_predict(model, x, T=2000, rng=8)
    with nb.no_grad():
        ev = model.eval()(x)._array
    np.testing.assert_allclose(m_big._array, ev, atol=0.1)


def test_mc_dropout_rng_reproducible_and_module_rng_untouched():
    model = mc_model()
    x = nb.randn(6, 3, rng=0)
    state = model[1].rng.bit_generator.state
    a = nn.mc_dropout_predict(model, x, T=4, rng=3)
    b = nn.mc_dropout_predict(model, x, T=4, rng=3)
    np.testing.assert_array_equal(a[0]._array, b[0]._array)
    np.testing.assert_array_equal(a[1]._array, b[1]._array)
    assert model[1].rng.bit_generator.state == state
    nn.mc_dropout_predict(model, x, T=4)  # rng=None: the module's own Generator advances
    assert model[1].rng.bit_generator.state != state


def test_mc_dropout_restores_modes_on_error_and_validates():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    model = nn.Sequential(nn.Dropout(0.5), Boom()).eval()
    with pytest.raises(RuntimeError, match="boom"):
        nn.mc_dropout_predict(model, nb.ones(2, 3), T=3)
    assert not any(m.training for m in model.modules())
    assert nb.is_grad_enabled()
    with pytest.raises(ValueError, match="T must be an int >= 2"):
        nn.mc_dropout_predict(mc_model(), nb.ones(2, 3), T=1)
    with pytest.raises(ValueError, match="no Dropout"):
        nn.mc_dropout_predict(nn.Sequential(nn.Linear(3, 2)), nb.ones(2, 3))
    with pytest.raises(TypeError, match="must be an nnbasics Module"):
        nn.mc_dropout_predict(lambda t: t, nb.ones(2, 3))
